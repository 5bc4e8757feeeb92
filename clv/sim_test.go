package clv_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"nextbest/clv"
)

// simulate draws n customers from the BG/NBD and Gamma-Gamma models
// (the generative story of FHL 2005 §3 and Fader & Hardie 2013): each
// customer's first purchase is at time 0 and the calibration period ends
// T later, T uniform on [Tmin, Tmax]; while alive the customer buys at
// rate λ ~ Gamma(r, α) and drops out after each repeat purchase with
// probability p ~ Beta(a, b); each repeat purchase is worth
// Gamma(shape p, rate ν), ν ~ Gamma(q, γ).
func simulate(rng *rand.Rand, n int, bg clv.BGNBD, gg clv.GammaGamma, tMin, tMax float64) []clv.History {
	src := rand.NewPCG(rng.Uint64(), rng.Uint64())
	lambda := distuv.Gamma{Alpha: bg.R, Beta: bg.Alpha, Src: src}
	drop := distuv.Beta{Alpha: bg.A, Beta: bg.B, Src: src}
	nu := distuv.Gamma{Alpha: gg.Q, Beta: gg.Gamma, Src: src}
	out := make([]clv.History, n)
	for i := range out {
		T := tMin + (tMax-tMin)*rng.Float64()
		l, p := lambda.Rand(), drop.Rand()
		spend := distuv.Gamma{Alpha: gg.P, Beta: nu.Rand(), Src: src}
		h := clv.History{T: T}
		sum := 0.0
		for t := 0.0; ; {
			t += rng.ExpFloat64() / l
			if t > T {
				break
			}
			h.X++
			h.TX = t
			sum += spend.Rand()
			if rng.Float64() < p {
				break
			}
		}
		if h.X > 0 {
			h.MeanSpend = sum / float64(h.X)
		}
		out[i] = h
	}
	return out
}

// simParams are the true parameters of the simulation tests: CDNOW-like
// (a < 1, few repeat buyers) but with a faster purchase rate so that a
// few thousand customers identify every parameter.
var (
	simBG = clv.BGNBD{R: 0.5, Alpha: 5, A: 0.7, B: 2.5}
	simGG = clv.GammaGamma{P: 6, Q: 4, Gamma: 15}
)

// TestFitRecoversSimulatedParameters fits customers drawn from known
// parameters (fixed seed) and requires each estimate within 3 of its
// standard errors of the truth. If the estimator is unbiased and its
// standard errors right, each |estimate − truth|/SE is about |N(0,1)|;
// the chance that any of the seven exceeds 3 is below 7 × 0.0027 ≈ 2%,
// and, the seed being fixed, a pass stays a pass: a failure means the
// likelihood, the gradient or the Hessian is wrong, for which the ratios
// are typically tens.
func TestFitRecoversSimulatedParameters(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	hs := simulate(rng, 5000, simBG, simGG, 26, 52)
	bg, err := clv.FitBGNBD(hs)
	if err != nil {
		t.Fatal(err)
	}
	gg, err := clv.FitGammaGamma(hs)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, est, se, truth float64) {
		t.Helper()
		z := (est - truth) / se
		t.Logf("%-5s truth %7.3f  estimate %7.3f  SE %6.3f  z %+.2f", name, truth, est, se, z)
		if !(math.Abs(z) < 3) {
			t.Errorf("%s = %.4f (SE %.4f), truth %.4f: %.1f standard errors off", name, est, se, truth, z)
		}
	}
	check("r", bg.Params.R, bg.SE.R, simBG.R)
	check("alpha", bg.Params.Alpha, bg.SE.Alpha, simBG.Alpha)
	check("a", bg.Params.A, bg.SE.A, simBG.A)
	check("b", bg.Params.B, bg.SE.B, simBG.B)
	check("p", gg.Params.P, gg.SE.P, simGG.P)
	check("q", gg.Params.Q, gg.SE.Q, simGG.Q)
	check("gamma", gg.Params.Gamma, gg.SE.Gamma, simGG.Gamma)
	t.Logf("%d customers, %d repeat buyers", bg.Customers, gg.Customers)
}

// TestStandardErrorCoverage refits 40 simulated data sets of 2,000
// customers and counts how often the 95% Wald interval (estimate ± 1.96
// SE) covers the truth, over the seven parameters: 280 intervals. With
// exact standard errors the coverage is 0.95 ± 0.013 (binomial SD, more
// since the parameters of one fit are correlated); at this size the
// Gamma-Gamma estimates of p and γ are visibly skewed (strongly
// correlated, only their ratio is well determined), so the natural-scale
// interval covers a little less (0.92 with this seed; the log-scale one,
// logged for comparison, about as much). The test requires at least 0.88 —
// standard errors off by a factor of 1.3 give about 0.86 — and at most
// 0.99 (standard errors too large by 1.3 give 0.99).
func TestStandardErrorCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("refits many data sets")
	}
	const reps, n = 40, 2000
	rng := rand.New(rand.NewPCG(2, 2))
	names := []string{"r", "alpha", "a", "b", "p", "q", "gamma"}
	truth := []float64{simBG.R, simBG.Alpha, simBG.A, simBG.B, simGG.P, simGG.Q, simGG.Gamma}
	covered := make([]int, len(names))
	coveredLog := make([]int, len(names))
	for range reps {
		hs := simulate(rng, n, simBG, simGG, 26, 52)
		bg, err := clv.FitBGNBD(hs)
		if err != nil {
			t.Fatal(err)
		}
		gg, err := clv.FitGammaGamma(hs)
		if err != nil {
			t.Fatal(err)
		}
		est := []float64{bg.Params.R, bg.Params.Alpha, bg.Params.A, bg.Params.B, gg.Params.P, gg.Params.Q, gg.Params.Gamma}
		se := []float64{bg.SE.R, bg.SE.Alpha, bg.SE.A, bg.SE.B, gg.SE.P, gg.SE.Q, gg.SE.Gamma}
		for i := range est {
			if math.Abs(est[i]-truth[i]) <= 1.96*se[i] {
				covered[i]++
			}
			// on log scale: SE(ln θ) = SE(θ)/θ by the delta method
			if math.Abs(math.Log(est[i]/truth[i])) <= 1.96*se[i]/est[i] {
				coveredLog[i]++
			}
		}
	}
	total, totalLog := 0, 0
	for i, c := range covered {
		t.Logf("%-5s covered %d/%d (log scale %d/%d)", names[i], c, reps, coveredLog[i], reps)
		total += c
		totalLog += coveredLog[i]
	}
	all := float64(reps * len(names))
	cov := float64(total) / all
	t.Logf("all: %d/%.0f = %.3f (log scale %.3f)", total, all, cov, float64(totalLog)/all)
	if cov < 0.88 || cov > 0.99 {
		t.Errorf("95%% Wald intervals cover the truth %.3f of the time, want 0.88–0.99", cov)
	}
}
