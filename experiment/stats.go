package experiment

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Interval is a point estimate with a two-sided interval at Level, and
// the name of the method that produced it.
type Interval struct {
	Estimate float64 `json:"estimate"`
	Lo       float64 `json:"lo"`
	Hi       float64 `json:"hi"`
	Level    float64 `json:"level"`
	Method   string  `json:"method"`
}

// Contains reports whether x lies in [Lo, Hi].
func (iv Interval) Contains(x float64) bool { return x >= iv.Lo && x <= iv.Hi }

// Excludes0 reports whether the interval lies wholly above or below 0.
func (iv Interval) Excludes0() bool { return iv.Lo > 0 || iv.Hi < 0 }

// Summary is a sample mean with its standard error and the number of
// independent units behind it (for degrees of freedom).
type Summary struct {
	Mean float64
	SE   float64
	N    int
}

// zQuantile returns the standard normal quantile of a two-sided interval
// at level (1.959964 for 0.95).
func zQuantile(level float64) float64 {
	return distuv.UnitNormal.Quantile(1 - (1-level)/2)
}

// normalSF is P(Z > z) for a standard normal Z.
func normalSF(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

// WilsonInterval returns the Wilson score interval of a proportion of x
// successes in n trials (Wilson 1927): the p whose score test at level
// does not reject. Unlike Wald it stays inside [0, 1] and behaves near 0.
func WilsonInterval(x, n, level float64) Interval {
	if n <= 0 {
		return Interval{Level: level, Method: "Wilson score"}
	}
	z := zQuantile(level)
	p := x / n
	z2 := z * z
	c := (p + z2/(2*n)) / (1 + z2/n)
	h := z / (1 + z2/n) * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	return Interval{Estimate: p, Lo: max(0, c-h), Hi: min(1, c+h), Level: level, Method: "Wilson score"}
}

// WaldDiff returns the Wald interval of the difference of two proportions,
// treatment minus control: (pt − pc) ± z·√(pc(1−pc)/nc + pt(1−pt)/nt).
func WaldDiff(xc, nc, xt, nt, level float64) Interval {
	pc, pt := xc/nc, xt/nt
	d := pt - pc
	h := zQuantile(level) * math.Sqrt(pc*(1-pc)/nc+pt*(1-pt)/nt)
	return Interval{Estimate: d, Lo: d - h, Hi: d + h, Level: level, Method: "Wald"}
}

// NewcombeDiff returns Newcombe's hybrid score interval of the difference
// of two proportions, treatment minus control (Newcombe 1998, "Interval
// estimation for the difference between independent proportions", method
// 10): from the Wilson intervals [lc, uc] and [lt, ut] of each arm,
//
//	lo = d − √((pt−lt)² + (uc−pc)²),  hi = d + √((ut−pt)² + (pc−lc)²).
//
// It keeps near-nominal coverage where Wald does not (small counts, rates
// near 0 or 1).
func NewcombeDiff(xc, nc, xt, nt, level float64) Interval {
	pc, pt := xc/nc, xt/nt
	c := WilsonInterval(xc, nc, level)
	t := WilsonInterval(xt, nt, level)
	d := pt - pc
	return Interval{
		Estimate: d,
		Lo:       d - math.Sqrt(sq(pt-t.Lo)+sq(c.Hi-pc)),
		Hi:       d + math.Sqrt(sq(t.Hi-pt)+sq(pc-c.Lo)),
		Level:    level,
		Method:   "Newcombe hybrid score",
	}
}

// WelchDiff returns Welch's interval of the difference of two means,
// treatment minus control: d ± t(ν)·√(SEc² + SEt²) with the Welch–
// Satterthwaite degrees of freedom ν = (SEc²+SEt²)² / (SEc⁴/(nc−1) +
// SEt⁴/(nt−1)).
func WelchDiff(c, t Summary, level float64) Interval {
	d := t.Mean - c.Mean
	vc, vt := c.SE*c.SE, t.SE*t.SE
	se := math.Sqrt(vc + vt)
	out := Interval{Estimate: d, Lo: d, Hi: d, Level: level, Method: "Welch t"}
	if se == 0 {
		return out
	}
	df := welchDF(vc, vt, c.N, t.N)
	q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(1 - (1-level)/2)
	out.Lo, out.Hi = d-q*se, d+q*se
	return out
}

func welchDF(vc, vt float64, nc, nt int) float64 {
	den := 0.0
	if nc > 1 {
		den += vc * vc / float64(nc-1)
	}
	if nt > 1 {
		den += vt * vt / float64(nt-1)
	}
	if den == 0 {
		return 1
	}
	return max(1, (vc+vt)*(vc+vt)/den)
}

// RelativeLift returns the relative lift t.Mean/c.Mean − 1 with a normal
// interval whose standard error comes from the delta method for a ratio
// of independent means:
//
//	SE² = SEt²/mc² + mt²·SEc²/mc⁴.
//
// The interval is undefined (zero width, Method says why) when the
// control mean is 0.
func RelativeLift(c, t Summary, level float64) Interval {
	if c.Mean == 0 {
		return Interval{Level: level, Method: "undefined: the control mean is 0"}
	}
	r := t.Mean/c.Mean - 1
	se := relSE(c, t)
	h := zQuantile(level) * se
	return Interval{Estimate: r, Lo: r - h, Hi: r + h, Level: level, Method: "delta method"}
}

func relSE(c, t Summary) float64 {
	mc2 := c.Mean * c.Mean
	return math.Sqrt(t.SE*t.SE/mc2 + t.Mean*t.Mean*c.SE*c.SE/(mc2*mc2))
}

// ChiSquareGOF tests observed counts against expected shares (normalised
// to sum to 1) with Pearson's chi-square goodness-of-fit statistic, and
// returns it, its degrees of freedom (categories − 1) and the p-value.
func ChiSquareGOF(observed []int, shares []float64) (chi2 float64, df int, p float64, err error) {
	if len(observed) != len(shares) || len(observed) < 2 {
		return 0, 0, 1, fmt.Errorf("%w: %d counts for %d shares", ErrInvalidOptions, len(observed), len(shares))
	}
	var total, sum float64
	for i, s := range shares {
		if !(s > 0) || math.IsInf(s, 0) {
			return 0, 0, 1, fmt.Errorf("%w: share %d is %v", ErrInvalidOptions, i, s)
		}
		sum += s
		total += float64(observed[i])
	}
	if total == 0 {
		return 0, len(observed) - 1, 1, nil
	}
	for i, o := range observed {
		e := total * shares[i] / sum
		chi2 += sq(float64(o)-e) / e
	}
	df = len(observed) - 1
	return chi2, df, distuv.ChiSquared{K: float64(df)}.Survival(chi2), nil
}

// MixtureLogLR returns the log of the mixture likelihood ratio Λ of the
// mixture sequential probability ratio test (mSPRT) of Johari, Koomen,
// Pekelis & Walsh (2017, "Peeking at A/B tests: why it matters, and what
// to do about it", KDD; Operations Research 2022) for H0: θ = θ0, given an
// estimate d ~ N(θ, v) of a difference in means and a normal mixing
// distribution N(θ0, τ²) over the alternative:
//
//	Λ = √(v/(v+τ²)) · exp(τ²(d−θ0)² / (2v(v+τ²))).
//
// With n observations per arm and per-pair variance V, v = V/n and this is
// the paper's two-stream formula. It returns 0 (Λ = 1) when v ≤ 0.
func MixtureLogLR(d, v, tau2, theta0 float64) float64 {
	if !(v > 0) || !(tau2 > 0) {
		return 0
	}
	return 0.5*math.Log(v/(v+tau2)) + tau2*sq(d-theta0)/(2*v*(v+tau2))
}

// ConfidenceSequenceHalfWidth is the half-width of the always-valid
// interval that the mSPRT implies at this look: the θ0 with Λ(θ0) < 1/α,
//
//	d ± √( 2v(v+τ²)/τ² · (log(1/α) + ½·log((v+τ²)/v)) ).
func ConfidenceSequenceHalfWidth(v, tau2, alpha float64) float64 {
	if !(v > 0) || !(tau2 > 0) {
		return 0
	}
	return math.Sqrt(2 * v * (v + tau2) / tau2 * (math.Log(1/alpha) + 0.5*math.Log((v+tau2)/v)))
}

// SequentialTest is an always-valid test of a difference in means that
// may be looked at any number of times: each Look updates the running
// p-value pₙ = min(pₙ₋₁, 1/Λₙ) and the running intersection of the
// confidence sequence, so P(ever p < α | H0) ≤ α however often one looks
// (Johari et al. 2017, §4). The zero value is not usable; set Tau2 and
// Alpha. A SequentialTest is not safe for concurrent use.
type SequentialTest struct {
	// Tau2 is τ², the variance of the normal mixing distribution, in the
	// metric's units squared. It should be of the order of the squared
	// effects one cares about; the test is valid for any fixed τ² > 0.
	Tau2 float64
	// Alpha is the level of the confidence sequence (0.05 for 95%).
	Alpha float64

	looks  int
	p      float64
	lo, hi float64
}

// Look adds a look at the estimate d with variance v (for example the
// difference of two arms' means and the sum of their squared standard
// errors) and returns the running always-valid p-value for θ = 0 and the
// running confidence sequence [lo, hi].
func (s *SequentialTest) Look(d, v float64) (p, lo, hi float64) {
	if s.looks == 0 {
		s.p, s.lo, s.hi = 1, math.Inf(-1), math.Inf(1)
	}
	s.looks++
	if v > 0 && s.Tau2 > 0 {
		s.p = min(s.p, math.Exp(-MixtureLogLR(d, v, s.Tau2, 0)))
		h := ConfidenceSequenceHalfWidth(v, s.Tau2, s.Alpha)
		s.lo, s.hi = max(s.lo, d-h), min(s.hi, d+h)
		if s.lo > s.hi { // the running intersection emptied: keep the latest
			s.lo, s.hi = d-h, d+h
		}
	}
	return s.p, s.lo, s.hi
}

// Looks returns the number of looks so far.
func (s *SequentialTest) Looks() int { return s.looks }

// ProbBeatBeta returns P(X_t > X_c) for independent X_c ~ Beta(ac, bc) and
// X_t ~ Beta(at, bt): the Bayesian probability that the treatment's rate
// beats the control's. When at or ac is an integer up to 1e6 it is the
// exact finite sum (Miller 2015, "Formulas for Bayesian A/B testing";
// Cook 2005)
//
//	P = Σ_{i=0}^{at−1} B(ac+i, bc+bt) / ((bt+i) · B(1+i, bt) · B(ac, bc)),
//
// summed over the smaller integer side; otherwise numerical integration
// of f_t(x)·F_c(x) by Simpson's rule on 4,000 panels.
func ProbBeatBeta(ac, bc, at, bt float64) float64 {
	isInt := func(a float64) bool { return a == math.Trunc(a) && a >= 1 && a <= 1e6 }
	switch {
	case isInt(at) && (!isInt(ac) || at <= ac):
		return clamp01(betaBeatSum(ac, bc, at, bt))
	case isInt(ac):
		return clamp01(1 - betaBeatSum(at, bt, ac, bc))
	}
	return clamp01(betaBeatIntegral(ac, bc, at, bt))
}

// betaBeatSum is P(X_b > X_a) by the finite sum over i < ab (ab integer).
func betaBeatSum(aa, ba, ab, bb float64) float64 {
	lbA := lbeta(aa, ba)
	var s float64
	for i := 0.0; i < ab; i++ {
		s += math.Exp(lbeta(aa+i, ba+bb) - math.Log(bb+i) - lbeta(1+i, bb) - lbA)
	}
	return s
}

func betaBeatIntegral(ac, bc, at, bt float64) float64 {
	ft := distuv.Beta{Alpha: at, Beta: bt}
	fc := distuv.Beta{Alpha: ac, Beta: bc}
	// integrate where f_t has its mass
	m, sd := ft.Mean(), ft.StdDev()
	a, b := max(0, m-12*sd), min(1, m+12*sd)
	const n = 4000
	h := (b - a) / n
	var s float64
	for i := 0; i <= n; i++ {
		x := a + float64(i)*h
		w := 2.0
		switch {
		case i == 0 || i == n:
			w = 1
		case i%2 == 1:
			w = 4
		}
		s += w * ft.Prob(x) * fc.CDF(x)
	}
	// mass of f_t above b, where F_c ≈ 1
	return s*h/3 + ft.Survival(b)
}

func lbeta(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab
}

// ProbBeatNormal returns P(θt > θc) under independent normal posteriors
// N(mean, SE²) (flat priors): Φ((mt − mc)/√(SEc² + SEt²)).
func ProbBeatNormal(c, t Summary) float64 {
	se := math.Hypot(c.SE, t.SE)
	d := t.Mean - c.Mean
	if se == 0 {
		switch {
		case d > 0:
			return 1
		case d < 0:
			return 0
		}
		return 0.5
	}
	return 1 - normalSF(d/se)
}

// SampleSizePerArm returns the number of units per arm that a two-sided
// fixed-horizon z-test at level needs to detect a difference delta with
// the given power, for per-unit standard deviations sdc and sdt:
// (z₁₋α/₂ + z_power)² (sdc² + sdt²) / delta².
func SampleSizePerArm(sdc, sdt, delta, level, power float64) float64 {
	if delta == 0 {
		return math.Inf(1)
	}
	z := zQuantile(level) + distuv.UnitNormal.Quantile(power)
	return z * z * (sdc*sdc + sdt*sdt) / (delta * delta)
}

func sq(x float64) float64 { return x * x }

func clamp01(x float64) float64 { return min(1, max(0, x)) }
