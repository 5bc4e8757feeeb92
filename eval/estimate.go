package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Options tunes the estimators. The zero value means the defaults below.
type Options struct {
	// Level is the confidence level of the intervals; 0 means 0.95.
	Level float64
	// Bootstrap is the number of percentile-bootstrap resamples of the
	// rounds; 0 (the default) gives analytic intervals instead: the
	// estimate ± the Student t(n−1) quantile × the standard error, where
	// the standard error is the sample standard deviation of the
	// estimator's per-round terms over √n (CLT) for IPS, DM, DR and
	// Switch-DR, and of its influence function (delta method) for SNIPS
	// and SNDR.
	Bootstrap int
	// Seed seeds the bootstrap's generator (PCG(Seed, Seed)).
	Seed uint64
	// Tau is Switch-DR's weight threshold τ: rounds with weight above τ
	// use the reward model alone. 0 (the default) chooses τ from the
	// candidates {0, the 50/75/90/95/99th percentiles of the weights, the
	// largest weight} by the smallest estimated MSE, SE(τ)² + B(τ)², where
	// B(τ) is a 95% empirical Bernstein upper bound on the bias |E[w(r −
	// q̂)·1{w > τ}]| (the Open Bandit Pipeline's "mse" tuning with
	// use_bias_upper_bound, after Su et al. 2020, "Adaptive estimator
	// selection for off-policy evaluation"). A τ that switches off a
	// noisy, possibly biased part must pay for it in B, so the rule falls
	// back to DR unless the switched part is clearly negligible; the
	// interval is still conditional on the chosen τ. +Inf makes Switch-DR
	// equal to DR.
	Tau float64
	// MaxWeight is the importance weight above which a warning is raised;
	// 0 means 100 (one round standing for a hundred on-policy rounds).
	MaxWeight float64
	// MinESSFraction is the fraction of the rounds below which a small
	// effective sample size raises a warning; 0 means 0.1.
	MinESSFraction float64
}

func (o Options) withDefaults() (Options, error) {
	if o.Level == 0 {
		o.Level = 0.95
	}
	if o.MaxWeight == 0 {
		o.MaxWeight = 100
	}
	if o.MinESSFraction == 0 {
		o.MinESSFraction = 0.1
	}
	switch {
	case !(o.Level > 0 && o.Level < 1):
		return o, fmt.Errorf("%w: level %v not in (0, 1)", ErrInvalidOptions, o.Level)
	case o.Bootstrap < 0 || (o.Bootstrap > 0 && o.Bootstrap < 100):
		return o, fmt.Errorf("%w: bootstrap %d: use 0 (analytic) or at least 100 resamples", ErrInvalidOptions, o.Bootstrap)
	case math.IsNaN(o.Tau) || o.Tau < 0:
		return o, fmt.Errorf("%w: tau %v is negative", ErrInvalidOptions, o.Tau)
	case !(o.MaxWeight > 0), !(o.MinESSFraction > 0 && o.MinESSFraction <= 1):
		return o, fmt.Errorf("%w: max weight %v, min ESS fraction %v", ErrInvalidOptions, o.MaxWeight, o.MinESSFraction)
	}
	return o, nil
}

// Estimate is an estimator's estimate of the target policy's value.
type Estimate struct {
	// Estimator is the estimator's name (Estimator.String).
	Estimator string `json:"estimator"`
	// Value is the point estimate.
	Value float64 `json:"value"`
	// SE is its standard error: analytic, or the standard deviation of
	// the bootstrap replicates.
	SE float64 `json:"se"`
	// Lo and Hi bound the confidence interval at Level.
	Lo    float64 `json:"ci_lo"`
	Hi    float64 `json:"ci_hi"`
	Level float64 `json:"level"`
	// Interval says how the interval was computed.
	Interval string `json:"interval"`
	// N is the number of rounds.
	N int `json:"n"`
	// ESS is the Kish effective sample size of the importance weights,
	// (Σw)²/Σw²; for DM, which uses no weights, it is N.
	ESS float64 `json:"ess"`
	// MaxWeight is the largest importance weight (0 for DM).
	MaxWeight float64 `json:"max_weight"`
	// Tau is Switch-DR's threshold, and Switched the fraction of rounds
	// whose weight exceeded it (model only); both 0 otherwise.
	Tau      float64 `json:"tau,omitempty"`
	Switched float64 `json:"switched,omitempty"`
	// Warnings say why the estimate may not be trusted: extreme weights,
	// a small ESS, a mean weight far from 1, missing support.
	Warnings []string `json:"warnings,omitempty"`
}

// Evaluate estimates the target policy's value from rs with estimator e.
func Evaluate(rs []Round, e Estimator, o Options) (Estimate, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Estimate{}, err
	}
	if e < IPS || e > SwitchDR {
		return Estimate{}, fmt.Errorf("%w: unknown estimator %d", ErrInvalidOptions, int(e))
	}
	d, err := prepare(rs, o)
	if err != nil {
		return Estimate{}, err
	}
	if e.NeedsModel() && d.dm == nil {
		return Estimate{}, fmt.Errorf("%s: %w", e, ErrNoRewardModel)
	}
	return d.estimate(e, o)
}

// EvaluateAll runs every estimator that the rounds allow, in report order:
// all six when every round has a Qhat, IPS and SNIPS otherwise.
func EvaluateAll(rs []Round, o Options) ([]Estimate, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	d, err := prepare(rs, o)
	if err != nil {
		return nil, err
	}
	var out []Estimate
	for _, e := range AllEstimators() {
		if e.NeedsModel() && d.dm == nil {
			continue
		}
		est, err := d.estimate(e, o)
		if err != nil {
			return nil, err
		}
		out = append(out, est)
	}
	return out, nil
}

// prepared holds the per-round terms every estimator is a function of.
type prepared struct {
	n      int
	w, r   []float64 // importance weight and reward of the logged action
	dm, qa []float64 // q̂ᵢ(π) and q̂(xᵢ,aᵢ); nil without a reward model
	ess    float64
	maxW   float64
	// weightWarn and supportWarn are shared by the estimators that use
	// weights, and by all, respectively.
	weightWarn  []string
	supportWarn []string
}

func prepare(rs []Round, o Options) (*prepared, error) {
	n := len(rs)
	if n < 2 {
		return nil, fmt.Errorf("%w: got %d", ErrTooFewRounds, n)
	}
	d := &prepared{n: n, w: make([]float64, n), r: make([]float64, n)}
	model := true
	for i := range rs {
		if err := rs[i].Validate(i); err != nil {
			return nil, err
		}
		if rs[i].Qhat == nil {
			model = false
		}
	}
	if model {
		d.dm, d.qa = make([]float64, n), make([]float64, n)
	}
	var sw, sw2 float64
	for i := range rs {
		r := &rs[i]
		w := r.Target[r.Logged] / r.Propensity
		d.w[i], d.r[i] = w, r.Reward
		sw += w
		sw2 += w * w
		d.maxW = max(d.maxW, w)
		if model {
			d.dm[i] = dot(r.Target, r.Qhat)
			d.qa[i] = r.Qhat[r.Logged]
		}
	}
	if sw2 > 0 {
		d.ess = sw * sw / sw2
	}

	// Weight diagnostics.
	if d.maxW > o.MaxWeight {
		d.weightWarn = append(d.weightWarn, fmt.Sprintf("extreme weights: the largest importance weight is %.4g (> %g)", d.maxW, o.MaxWeight))
	}
	if d.ess < o.MinESSFraction*float64(n) {
		d.weightWarn = append(d.weightWarn, fmt.Sprintf("small effective sample size: ESS %.0f is %.1f%% of %d rounds (< %g%%); the interval may be too narrow",
			d.ess, 100*d.ess/float64(n), n, 100*o.MinESSFraction))
	}
	// With full support E[w] = Σ_a π(a|x) = 1, so the mean weight is a
	// control variate: far from 1 means wrong propensities or targets, or
	// missing support. 4 standard errors: a false alarm about once in
	// 16,000 honest data sets.
	mw, sdw := stat.MeanStdDev(d.w, nil)
	if sew := sdw / math.Sqrt(float64(n)); sew > 0 && math.Abs(mw-1) > 4*sew {
		d.weightWarn = append(d.weightWarn, fmt.Sprintf("mean importance weight %.4f differs from 1 by %.1f standard errors: propensities or target probabilities may be wrong, or support is missing",
			mw, math.Abs(mw-1)/sew))
	}
	if m, how := unsupportedMass(rs); m > 0 {
		d.supportWarn = append(d.supportWarn, fmt.Sprintf("missing support: the target puts %.3g%% of its mass on actions %s; no estimator learns their rewards from the data (IPS/SNIPS count them as 0, DM/DR extrapolate the model)",
			100*m, how))
	}
	return d, nil
}

// unsupportedMass is the target's mean probability of actions the logger
// cannot take (where Round.Logging is known) or, otherwise, never took in
// the rounds of the same position and action count.
func unsupportedMass(rs []Round) (float64, string) {
	// key identifies "the same action" across rounds: by position, and
	// either the candidate's shared id or its index among n candidates
	type key struct{ pos, n, a int }
	id := func(r *Round, i int) key {
		if r.Actions != nil {
			return key{r.Position, -1, r.Actions[i]}
		}
		return key{r.Position, len(r.Target), i}
	}
	logged := map[key]bool{}
	for i := range rs {
		r := &rs[i]
		if r.Logging == nil {
			logged[id(r, r.Logged)] = true
		}
	}
	var m float64
	var known, inferred bool
	for i := range rs {
		r := &rs[i]
		if r.Logging != nil {
			for a, p := range r.Logging {
				if p == 0 && r.Target[a] > 0 {
					m += r.Target[a]
					known = true
				}
			}
			continue
		}
		for a, p := range r.Target {
			if p > 0 && !logged[id(r, a)] {
				m += p
				inferred = true
			}
		}
	}
	how := "the logging policy cannot take"
	switch {
	case known && inferred:
		how = "the logging policy cannot take or never took"
	case inferred:
		how = "never logged in their position"
	}
	return m / float64(len(rs)), how
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// sums are the sufficient statistics of every estimator over a multiset
// of rounds.
type sums struct {
	n                         float64
	w, wr, dm, wres, switched float64
}

func (d *prepared) sums(idx []int, tau float64) sums {
	var s sums
	add := func(i int) {
		w := d.w[i]
		s.w += w
		s.wr += w * d.r[i]
		if d.dm != nil {
			res := w * (d.r[i] - d.qa[i])
			s.dm += d.dm[i]
			s.wres += res
			if w <= tau {
				s.switched += res
			}
		}
	}
	if idx == nil {
		for i := 0; i < d.n; i++ {
			add(i)
		}
		s.n = float64(d.n)
	} else {
		for _, i := range idx {
			add(i)
		}
		s.n = float64(len(idx))
	}
	return s
}

// value is estimator e's point estimate from s; ok is false when it is
// undefined (a self-normalised estimator with Σw = 0).
func (s sums) value(e Estimator) (v float64, ok bool) {
	switch e {
	case IPS:
		return s.wr / s.n, true
	case SNIPS:
		return s.wr / s.w, s.w > 0
	case DM:
		return s.dm / s.n, true
	case DR:
		return (s.dm + s.wres) / s.n, true
	case SNDR:
		return s.dm/s.n + s.wres/s.w, s.w > 0
	case SwitchDR:
		return (s.dm + s.switched) / s.n, true
	}
	panic("BUG: eval: unknown estimator")
}

// influence writes estimator e's per-round influence terms into psi: the
// terms whose sample variance over n is the estimator's asymptotic
// variance (up to a constant shift, which does not change it).
func (d *prepared) influence(e Estimator, s sums, tau float64, psi []float64) {
	wbar := s.w / s.n
	for i := range psi {
		w, r := d.w[i], d.r[i]
		switch e {
		case IPS:
			psi[i] = w * r
		case SNIPS:
			// V = Σwr/Σw; dV = (wr − V·w)/w̄ per round.
			psi[i] = w * (r - s.wr/s.w) / wbar
		case DM:
			psi[i] = d.dm[i]
		case DR:
			psi[i] = d.dm[i] + w*(r-d.qa[i])
		case SNDR:
			psi[i] = d.dm[i] + w*(r-d.qa[i]-s.wres/s.w)/wbar
		case SwitchDR:
			psi[i] = d.dm[i]
			if w <= tau {
				psi[i] += w * (r - d.qa[i])
			}
		}
	}
}

func (d *prepared) analytic(e Estimator, tau float64) (v, se float64, err error) {
	s := d.sums(nil, tau)
	v, ok := s.value(e)
	if !ok {
		return 0, 0, fmt.Errorf("%s: %w", e, ErrNoOverlap)
	}
	psi := make([]float64, d.n)
	d.influence(e, s, tau, psi)
	return v, stat.StdDev(psi, nil) / math.Sqrt(float64(d.n)), nil
}

// chooseTau is the Options.Tau rule.
func (d *prepared) chooseTau() float64 {
	sorted := slices.Clone(d.w)
	slices.Sort(sorted)
	cands := []float64{0}
	for _, p := range []float64{0.5, 0.75, 0.9, 0.95, 0.99} {
		cands = append(cands, stat.Quantile(p, stat.Empirical, sorted, nil))
	}
	cands = append(cands, d.maxW)
	slices.Sort(cands)
	cands = slices.Compact(cands)
	best, bestMSE := d.maxW, math.Inf(1)
	b := make([]float64, d.n)
	// From the largest τ down, so that ties keep the less biased one.
	for i := len(cands) - 1; i >= 0; i-- {
		tau := cands[i]
		_, se, _ := d.analytic(SwitchDR, tau)
		// Switch-DR's bias is −E[w(r − q̂)·1{w > τ}]: bound it with
		// probability 1 − δ from the per-round terms.
		for j := range b {
			b[j] = 0
			if d.w[j] > tau {
				b[j] = d.w[j] * (d.r[j] - d.qa[j])
			}
		}
		bias := biasBound(b, tauDelta)
		if mse := se*se + bias*bias; mse < bestMSE {
			best, bestMSE = tau, mse
		}
	}
	return best
}

// tauDelta is the δ of the bias bound in the τ rule, as in the Open
// Bandit Pipeline's use_bias_upper_bound default.
const tauDelta = 0.05

// biasBound is the empirical Bernstein upper bound (Maurer & Pontil 2009,
// theorem 4) on |E[b]| from a sample b: |b̄| + √(2·Var(b)·ln(2/δ)/n) +
// 7·range(b)·ln(2/δ)/(3(n−1)), which holds with probability 1 − δ.
func biasBound(b []float64, delta float64) float64 {
	n := float64(len(b))
	lo, hi := slices.Min(b), slices.Max(b)
	m, v := stat.MeanVariance(b, nil)
	l := math.Log(2 / delta)
	return math.Abs(m) + math.Sqrt(2*v*l/n) + 7*(hi-lo)*l/(3*(n-1))
}

func (d *prepared) estimate(e Estimator, o Options) (Estimate, error) {
	est := Estimate{Estimator: e.String(), Level: o.Level, N: d.n, ESS: d.ess, MaxWeight: d.maxW}
	tau := math.Inf(1)
	if e == SwitchDR {
		tau = o.Tau
		if tau == 0 {
			tau = d.chooseTau()
		}
		tau = min(tau, d.maxW) // τ ≥ max w is DR; keep it finite for JSON
		est.Tau = tau
		var k int
		for _, w := range d.w {
			if w > tau {
				k++
			}
		}
		est.Switched = float64(k) / float64(d.n)
	}
	if e == DM {
		est.ESS, est.MaxWeight = float64(d.n), 0
	} else {
		est.Warnings = append(est.Warnings, d.weightWarn...)
	}
	est.Warnings = append(est.Warnings, d.supportWarn...)

	v, se, err := d.analytic(e, tau)
	if err != nil {
		return Estimate{}, err
	}
	est.Value, est.SE = v, se
	alpha := 1 - o.Level
	if o.Bootstrap == 0 {
		q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(d.n - 1)}.Quantile(1 - alpha/2)
		est.Lo, est.Hi = v-q*se, v+q*se
		switch e {
		case SNIPS, SNDR:
			est.Interval = "delta method, t(n-1)"
		case DM:
			est.Interval = "CLT, t(n-1), model taken as exact"
		default:
			est.Interval = "CLT, t(n-1)"
		}
	} else {
		reps, dropped := d.bootstrap(e, tau, o)
		if len(reps) < o.Bootstrap/2 {
			return Estimate{}, fmt.Errorf("%s: %w in %d of %d bootstrap resamples", e, ErrNoOverlap, dropped, o.Bootstrap)
		}
		est.SE = stat.StdDev(reps, nil)
		slices.Sort(reps)
		est.Lo = stat.Quantile(alpha/2, stat.LinInterp, reps, nil)
		est.Hi = stat.Quantile(1-alpha/2, stat.LinInterp, reps, nil)
		est.Interval = fmt.Sprintf("percentile bootstrap, B=%d, seed=%d", o.Bootstrap, o.Seed)
		if dropped > 0 {
			est.Warnings = append(est.Warnings, fmt.Sprintf("%d bootstrap resamples had no weight on the target and were dropped", dropped))
		}
	}
	if e == SwitchDR {
		est.Interval += ", given tau"
	}
	return est, nil
}

// bootstrap returns the estimator's value on o.Bootstrap resamples of the
// rounds (with replacement), and how many were undefined.
func (d *prepared) bootstrap(e Estimator, tau float64, o Options) (reps []float64, dropped int) {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed))
	idx := make([]int, d.n)
	reps = make([]float64, 0, o.Bootstrap)
	for range o.Bootstrap {
		for j := range idx {
			idx[j] = rng.IntN(d.n)
		}
		v, ok := d.sums(idx, tau).value(e)
		if !ok {
			dropped++
			continue
		}
		reps = append(reps, v)
	}
	return reps, dropped
}
