package clv

import (
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/mat"
)

// TestGradients checks the analytic gradients of both log-likelihoods
// against central finite differences, for histories with x = 0 and x > 0.
func TestGradients(t *testing.T) {
	bg := BGNBD{R: 0.4, Alpha: 3, A: 0.8, B: 2.2}
	gg := GammaGamma{P: 5, Q: 3, Gamma: 12}
	hs := []History{{X: 0, T: 30}, {X: 1, TX: 2, T: 30, MeanSpend: 10}, {X: 7, TX: 25.5, T: 38, MeanSpend: 41.2}}
	for _, h := range hs {
		g := make([]float64, 4)
		bg.logLik(h, g)
		num := fd.Gradient(nil, func(v []float64) float64 { return bgnbdOf(v).LogLikelihood(h) }, bg.vector(), &fd.Settings{Formula: fd.Central})
		for i := range g {
			if math.Abs(g[i]-num[i]) > 1e-6*max(1, math.Abs(num[i])) {
				t.Errorf("BG/NBD %+v: gradient[%d] = %.9g, numerical %.9g", h, i, g[i], num[i])
			}
		}
		if h.X == 0 {
			continue
		}
		g = make([]float64, 3)
		gg.logLik(h, g)
		num = fd.Gradient(nil, func(v []float64) float64 { return gammaGammaOf(v).LogLikelihood(h) }, gg.vector(), &fd.Settings{Formula: fd.Central})
		for i := range g {
			if math.Abs(g[i]-num[i]) > 1e-6*max(1, math.Abs(num[i])) {
				t.Errorf("Gamma-Gamma %+v: gradient[%d] = %.9g, numerical %.9g", h, i, g[i], num[i])
			}
		}
	}
}

// TestHypergeo: the expectations stay finite and monotone for x in the
// hundreds, where the direct ₂F₁ series overflows, and the scaled ₂F₁
// agrees with values from mpmath (hyp2f1 at 40 digits).
func TestHypergeo(t *testing.T) {
	bg := BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	prev := 0.0
	for _, x := range []int{50, 100, 200, 400, 800} {
		h := History{X: x, TX: 38.5, T: 38.5} // just bought: P(alive) near 1
		e := bg.ConditionalExpectedPurchases(520, h)
		// the purchase rate given x purchases in T is about x/T; ten years ahead
		if math.IsNaN(e) || e <= prev || e > float64(x)/38.5*520 {
			t.Errorf("x = %d: E[Y(520)] = %v (previous %v)", x, e, prev)
		}
		prev = e
	}
	// (1−z)^(r+x) ₂F₁(r+x, b+x; a+b+x−1; z), z = t/(α+T+t), from
	// mpmath.hyp2f1 with mp.dps = 40
	for _, c := range []struct{ x, T, t, want float64 }{
		{0, 38.5, 39, 1.01833730544271},
		{2, 38.5, 39, 1.08337984754671},
		{50, 38.5, 520, 1.69111042071836},
		{400, 38.5, 520, 1.70209669684656},
		{800, 38.5, 520, 1.70289798026214},
		{3, 1, 5000, 3.68900983368564},
		{0, 0, 100000, 3.7619771800321},
	} {
		z := c.t / (bg.Alpha + c.T + c.t)
		got := hyp2f1Scaled(bg.R+c.x, bg.B+c.x, bg.A+bg.B+c.x-1, z, bg.R+c.x)
		if math.Abs(got-c.want) > 1e-12*c.want {
			t.Errorf("x %v T %v t %v: %.15g, mpmath %.15g", c.x, c.T, c.t, got, c.want)
		}
	}
}

func TestPredict(t *testing.T) {
	m := Model{BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}, GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}}
	h := History{X: 3, TX: 30, T: 38, MeanSpend: 30}
	// no discount: CLV = E[Y(H)] · E[Z], whatever the step
	for _, step := range []float64{1, 4.33, 52, 100} {
		p, err := Predict(m, h, Horizon{Length: 52, Step: step})
		if err != nil {
			t.Fatal(err)
		}
		want := m.BGNBD.ConditionalExpectedPurchases(52, h) * m.Spend.ConditionalMeanSpend(h)
		if math.Abs(p.CLV-want) > 1e-9*want || p.ExpectedPurchases != m.BGNBD.ConditionalExpectedPurchases(52, h) {
			t.Errorf("step %v: CLV %v, want %v", step, p.CLV, want)
		}
	}
	// discounting lowers it, by at most the last step's factor
	p0, _ := Predict(m, h, AnnualHorizon(52, 0, 0))
	p1, _ := Predict(m, h, AnnualHorizon(52, 0, 0.10))
	if !(p1.CLV < p0.CLV && p1.CLV > p0.CLV/1.1) {
		t.Errorf("10%% a year over a year: %v, undiscounted %v", p1.CLV, p0.CLV)
	}
	// a lapsed customer (long silence) is worth less than a recent one
	lapsed, _ := Predict(m, History{X: 3, TX: 5, T: 38, MeanSpend: 30}, AnnualHorizon(52, 0, 0.1))
	if !(lapsed.PAlive < p1.PAlive && lapsed.CLV < p1.CLV) {
		t.Errorf("lapsed %+v, recent %+v", lapsed, p1)
	}
	// hand check of one step: E[Y(52)] · E[Z] / 1.1
	one, _ := Predict(m, h, Horizon{Length: 52, Step: 52, Discount: 0.1})
	if math.Abs(one.CLV-p0.CLV/1.1) > 1e-9*p0.CLV {
		t.Errorf("one step: %v, want %v", one.CLV, p0.CLV/1.1)
	}
	for _, c := range []struct {
		m    Model
		hz   Horizon
		want error
	}{
		{m, Horizon{Length: 0, Step: 1}, ErrInvalidOptions},
		{m, Horizon{Length: 1, Step: -1}, ErrInvalidOptions},
		{m, Horizon{Length: 1e9, Step: 1}, ErrInvalidOptions},
		{m, Horizon{Length: 1, Step: 1, Discount: -1}, ErrInvalidOptions},
		{Model{BGNBD{1, 1, 1, 1}, m.Spend}, Horizon{Length: 1, Step: 1}, ErrInvalidModel},
		{Model{m.BGNBD, GammaGamma{1, 0.5, 1}}, Horizon{Length: 1, Step: 1}, ErrInvalidModel},
		{Model{BGNBD{math.NaN(), 1, 1, 1}, m.Spend}, Horizon{Length: 1, Step: 1}, ErrInvalidModel},
	} {
		if _, err := Predict(c.m, h, c.hz); !errors.Is(err, c.want) {
			t.Errorf("%+v %+v: got %v, want %v", c.m, c.hz, err, c.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Predict(m, h, AnnualHorizon(52, 0, 0.1)) }); n != 0 {
		t.Errorf("Predict allocates %v times", n)
	}
}

// TestHessianAgreesWithGradient: the fd Hessian that the standard errors
// come from matches the finite-difference Jacobian of the analytic
// gradient, an independent route, at the CDNOW optimum.
func TestHessianAgreesWithGradient(t *testing.T) {
	hs := readFixtureHistories(t)
	ll := func(theta, grad []float64) float64 {
		s := 0.0
		for _, h := range hs {
			s += bgnbdOf(theta).logLik(h, grad)
		}
		return s
	}
	est, info, err := maximize(ll, []float64{1, 30, 1, 1}, len(hs))
	if err != nil {
		t.Fatal(err)
	}
	// Jacobian of the gradient of −ln L in u = ln θ
	grad := func(dst, u []float64) {
		th := expAll(u)
		g := make([]float64, len(u))
		ll(th, g)
		for i := range dst {
			dst[i] = -g[i] * th[i]
		}
	}
	u := make([]float64, len(est))
	for i, v := range est {
		u[i] = math.Log(v)
	}
	var jac mat.Dense
	jac.ReuseAs(4, 4)
	fd.Jacobian(&jac, grad, u, &fd.JacobianSettings{Formula: fd.Central})
	var inv mat.Dense
	if err := inv.Inverse(&jac); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		se := est[i] * math.Sqrt(inv.At(i, i))
		if got := math.Sqrt(info.Cov[i][i]); math.Abs(got-se) > 1e-4*se {
			t.Errorf("SE[%d]: Hessian route %.7g, Jacobian-of-gradient route %.7g", i, got, se)
		}
	}
}

// readFixtureHistories reads the histories of testdata/cdnow_summary.csv.
func readFixtureHistories(t *testing.T) []History {
	t.Helper()
	data, err := os.ReadFile("testdata/cdnow_summary.csv")
	if err != nil {
		t.Fatal(err)
	}
	var hs []History
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
		f := strings.Split(line, ",")
		x, _ := strconv.Atoi(f[1])
		tx, _ := strconv.ParseFloat(f[2], 64)
		T, _ := strconv.ParseFloat(f[3], 64)
		hs = append(hs, History{X: x, TX: tx / 7, T: T / 7})
	}
	return hs
}
