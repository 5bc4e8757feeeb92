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
	// estimator's per-round terms over √n (CLT) for IPS, Clipped-IPS, DM,
	// DR, Switch-DR and DRos, and of its influence function (delta
	// method) for SNIPS and SNDR. With Model set, the estimators that use
	// the model refit it on every resample instead (RefitInterval).
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
	// Lambda is DRos's shrinkage λ (weights become λw/(w² + λ)). 0 (the
	// default) chooses it from {∞, 10m², m², m²/10, m²/100, m²/1000}, m
	// the largest weight, by the same rule as τ: the smallest SE(λ)² +
	// B(λ)², B an empirical Bernstein upper bound on the bias |E[(w −
	// ŵ)(r − q̂)]|. +Inf makes DRos equal to DR.
	Lambda float64
	// Clip is Clipped-IPS's λ (weights become min(w, λ)). 0 (the default)
	// chooses it from ∞ and the 50/75/90/95/99th percentiles of the
	// positive weights above 1 by the same rule, with the bias term (w −
	// λ)₊r. +Inf makes Clipped-IPS equal to IPS.
	Clip float64
	// Model, when not nil, is the reward model of DM and the doubly
	// robust estimators (DR, SNDR, Switch-DR, DRos), and Round.Qhat is
	// ignored. The estimators fit it themselves, cross-fitted: the rounds
	// are split into Folds folds at random (PCG(Seed, 0xF01D)) and round
	// i is predicted by the model fitted on the other folds. The
	// intervals of those estimators then come from a bootstrap that
	// refits the model on every resample (Bootstrap resamples, or Refits
	// when Bootstrap is 0), so that they include the reward model's own
	// estimation error; see RefitInterval.
	Model RewardModel
	// Folds is the number of cross-fitting folds for Model; 0 means 2.
	Folds int
	// Refits is the number of refitting bootstrap resamples when Model is
	// set and Bootstrap is 0; 0 means 200.
	Refits int
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
	if o.Folds == 0 {
		o.Folds = 2
	}
	if o.Refits == 0 {
		o.Refits = 200
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
	case math.IsNaN(o.Lambda) || o.Lambda < 0, math.IsNaN(o.Clip) || o.Clip < 0:
		return o, fmt.Errorf("%w: lambda %v, clip %v: must not be negative", ErrInvalidOptions, o.Lambda, o.Clip)
	case o.Folds < 2, o.Refits < 100:
		return o, fmt.Errorf("%w: %d folds, %d refits: use at least 2 folds and 100 refits", ErrInvalidOptions, o.Folds, o.Refits)
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
	// whose weight exceeded it (model only); both 0 otherwise. For
	// Clipped-IPS, Switched is the fraction of rounds whose weight was
	// clipped.
	Tau      float64 `json:"tau,omitempty"`
	Switched float64 `json:"switched,omitempty"`
	// Lambda is DRos's shrinkage λ or Clipped-IPS's clipping level λ, 0
	// otherwise. A DRos λ of 0 means ∞ (no shrinkage: DR), and a clipping
	// level of MaxWeight clips nothing (IPS).
	Lambda float64 `json:"lambda,omitempty"`
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
	if e < IPS || e > ClippedIPS {
		return Estimate{}, fmt.Errorf("%w: unknown estimator %d", ErrInvalidOptions, int(e))
	}
	ev, err := newEvaluation(rs, o)
	if err != nil {
		return Estimate{}, err
	}
	if e.NeedsModel() && ev.d.dm == nil {
		return Estimate{}, fmt.Errorf("%s: %w", e, ErrNoRewardModel)
	}
	ests, err := ev.estimates([]Estimator{e})
	if err != nil {
		return Estimate{}, err
	}
	return ests[0], nil
}

// EvaluateAll runs every estimator that the rounds allow, in report order:
// all of AllEstimators when every round has a Qhat or Options.Model is
// set, IPS, SNIPS and Clipped-IPS otherwise.
func EvaluateAll(rs []Round, o Options) ([]Estimate, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	ev, err := newEvaluation(rs, o)
	if err != nil {
		return nil, err
	}
	return ev.estimates(ev.available())
}

// evaluation is one set of rounds prepared for estimation under one set
// of options: the per-round terms and, with a reward model, its folds.
type evaluation struct {
	rs   []Round
	o    Options
	d    *prepared
	fold []int             // cross-fitting fold of each round; nil without Options.Model
	fits []RewardPredictor // the model fitted on each fold's complement
}

func newEvaluation(rs []Round, o Options) (*evaluation, error) {
	ev := &evaluation{rs: rs, o: o}
	var err error
	if o.Model == nil {
		ev.d, err = prepare(rs, o)
		return ev, err
	}
	ev.d, err = prepareWith(rs, o, false)
	if err != nil {
		return nil, err
	}
	ev.fold = folds(len(rs), o.Folds, o.Seed)
	dm, qa := make([]float64, len(rs)), make([]float64, len(rs))
	if ev.fits, err = crossFitTerms(rs, o.Model, ev.fold, o.Folds, nil, dm, qa, make([]float64, 0, 16), nil); err != nil {
		return nil, err
	}
	ev.d.dm, ev.d.qa = dm, qa
	return ev, nil
}

// available is every estimator the rounds allow, in report order.
func (ev *evaluation) available() []Estimator {
	var out []Estimator
	for _, e := range AllEstimators() {
		if e.NeedsModel() && ev.d.dm == nil {
			continue
		}
		out = append(out, e)
	}
	return out
}

// estimates computes es, sharing one refitting bootstrap among those
// that need the reward model when Options.Model is set.
func (ev *evaluation) estimates(es []Estimator) ([]Estimate, error) {
	out := make([]Estimate, len(es))
	var refit []int // indices into es
	for j, e := range es {
		rf := ev.refit(e)
		est, err := ev.d.estimate(e, ev.o, !rf)
		if err != nil {
			return nil, err
		}
		out[j] = est
		if rf {
			refit = append(refit, j)
		}
	}
	if len(refit) == 0 {
		return out, nil
	}
	specs := make([]estSpec, len(refit))
	for k, j := range refit {
		specs[k] = estSpec{e: es[j], hp: out[j].hyper()}
	}
	reps, dropped, err := ev.refitBootstrap(specs)
	if err != nil {
		return nil, err
	}
	for k, j := range refit {
		if err := out[j].setRefitInterval(reps[k], dropped[k], ev.refits(), ev.o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// refit says whether e's interval comes from the refitting bootstrap:
// with Options.Model, DM's always and the doubly robust estimators' when
// Options.Bootstrap asks for a bootstrap.
func (ev *evaluation) refit(e Estimator) bool {
	return ev.o.Model != nil && e.NeedsModel() && (e == DM || ev.o.Bootstrap > 0)
}

// refits is the number of refitting resamples.
func (ev *evaluation) refits() int {
	if ev.o.Bootstrap > 0 {
		return ev.o.Bootstrap
	}
	return ev.o.Refits
}

// hyper is the tuning of the estimators that have one.
type hyper struct {
	tau    float64 // Switch-DR
	lambda float64 // DRos
	clip   float64 // Clipped-IPS
}

// noHyper leaves every estimator untuned: Switch-DR, DRos and Clipped-IPS
// equal DR, DR and IPS.
var noHyper = hyper{tau: math.Inf(1), lambda: math.Inf(1), clip: math.Inf(1)}

// hyper is the tuning est was computed with.
func (est *Estimate) hyper() hyper {
	hp := noHyper
	switch est.Estimator {
	case SwitchDR.String():
		hp.tau = est.Tau
	case DRos.String():
		if est.Lambda > 0 {
			hp.lambda = est.Lambda
		}
	case ClippedIPS.String():
		hp.clip = est.Lambda
	}
	return hp
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

func prepare(rs []Round, o Options) (*prepared, error) { return prepareWith(rs, o, true) }

// prepareWith is prepare; useQhat says whether to read Round.Qhat.
func prepareWith(rs []Round, o Options, useQhat bool) (*prepared, error) {
	n := len(rs)
	if n < 2 {
		return nil, fmt.Errorf("%w: got %d", ErrTooFewRounds, n)
	}
	d := &prepared{n: n, w: make([]float64, n), r: make([]float64, n)}
	model := useQhat
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

// shrink is DRos's shrunk weight λw/(w² + λ); λ = +Inf leaves w.
func shrink(w, lambda float64) float64 {
	if math.IsInf(lambda, 1) {
		return w
	}
	if w == 0 {
		return 0
	}
	return lambda * w / (w*w + lambda)
}

// sums are the sufficient statistics of every estimator over a multiset
// of rounds.
type sums struct {
	n                         float64
	w, wr, dm, wres, switched float64
	clip, dros                float64 // Σ min(w, λ)·r and Σ ŵ·(r − q̂)
	r                         float64 // Σ r: the logging policy's realised reward
}

// add adds a round counted m times: weight w, reward r and, when model,
// q̂ᵢ(π) = dm and q̂(xᵢ,aᵢ) = qa. With m = 1 the arithmetic is that of
// an unweighted sum exactly (1·x = x).
func (s *sums) add(w, r, dm, qa float64, model bool, hp hyper, m float64) {
	s.n += m
	s.r += m * r
	s.w += m * w
	s.wr += m * w * r
	s.clip += m * min(w, hp.clip) * r
	if model {
		res := w * (r - qa)
		s.dm += m * dm
		s.wres += m * res
		if w <= hp.tau {
			s.switched += m * res
		}
		s.dros += m * shrink(w, hp.lambda) * (r - qa)
	}
}

func (d *prepared) sums(idx []int, hp hyper) sums {
	var s sums
	model := d.dm != nil
	var dm, qa float64
	if idx == nil {
		for i := 0; i < d.n; i++ {
			if model {
				dm, qa = d.dm[i], d.qa[i]
			}
			s.add(d.w[i], d.r[i], dm, qa, model, hp, 1)
		}
		s.n = float64(d.n)
	} else {
		for _, i := range idx {
			if model {
				dm, qa = d.dm[i], d.qa[i]
			}
			s.add(d.w[i], d.r[i], dm, qa, model, hp, 1)
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
	case DRos:
		return (s.dm + s.dros) / s.n, true
	case ClippedIPS:
		return s.clip / s.n, true
	}
	panic("BUG: eval: unknown estimator")
}

// influence writes estimator e's per-round influence terms into psi: the
// terms whose sample variance over n is the estimator's asymptotic
// variance (up to a constant shift, which does not change it).
func (d *prepared) influence(e Estimator, s sums, hp hyper, psi []float64) {
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
			if w <= hp.tau {
				psi[i] += w * (r - d.qa[i])
			}
		case DRos:
			psi[i] = d.dm[i] + shrink(w, hp.lambda)*(r-d.qa[i])
		case ClippedIPS:
			psi[i] = min(w, hp.clip) * r
		}
	}
}

func (d *prepared) analytic(e Estimator, hp hyper) (v, se float64, err error) {
	s := d.sums(nil, hp)
	v, ok := s.value(e)
	if !ok {
		return 0, 0, fmt.Errorf("%s: %w", e, ErrNoOverlap)
	}
	psi := make([]float64, d.n)
	d.influence(e, s, hp, psi)
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
		hp := noHyper
		hp.tau = tau
		_, se, _ := d.analytic(SwitchDR, hp)
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

// chooseShrinkage is the Options.Lambda (e = DRos) and Options.Clip (e =
// ClippedIPS) rule: the candidate with the smallest SE² + B², B the
// empirical Bernstein bound on the bias, from the least biased down so
// that ties keep the less biased.
func (d *prepared) chooseShrinkage(e Estimator) float64 {
	var cands []float64 // from the least biased (+Inf) down
	switch e {
	case DRos:
		m2 := d.maxW * d.maxW
		cands = []float64{math.Inf(1), 10 * m2, m2, m2 / 10, m2 / 100, m2 / 1000}
	case ClippedIPS:
		var pos []float64
		for _, w := range d.w {
			if w > 0 {
				pos = append(pos, w)
			}
		}
		cands = []float64{math.Inf(1)}
		if len(pos) > 0 {
			slices.Sort(pos)
			for _, p := range []float64{0.99, 0.95, 0.9, 0.75, 0.5} {
				if q := stat.Quantile(p, stat.Empirical, pos, nil); q > 1 && q < d.maxW && q < cands[len(cands)-1] {
					cands = append(cands, q)
				}
			}
		}
	default:
		panic("BUG: eval: chooseShrinkage of " + e.String())
	}
	best, bestMSE := math.Inf(1), math.Inf(1)
	b := make([]float64, d.n)
	for _, lam := range cands {
		if lam == 0 {
			continue
		}
		hp := noHyper
		for j := range b {
			w := d.w[j]
			if e == DRos {
				hp.lambda = lam
				b[j] = (w - shrink(w, lam)) * (d.r[j] - d.qa[j])
			} else {
				hp.clip = lam
				b[j] = max(w-lam, 0) * d.r[j]
			}
		}
		_, se, _ := d.analytic(e, hp)
		bias := 0.0
		if !math.IsInf(lam, 1) {
			bias = biasBound(b, tauDelta)
		}
		if mse := se*se + bias*bias; mse < bestMSE {
			best, bestMSE = lam, mse
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

// estimate computes estimator e's value, SE, tuning and warnings and, if
// withInterval, its interval (analytic or the fixed-model bootstrap);
// otherwise the caller sets the interval.
func (d *prepared) estimate(e Estimator, o Options, withInterval bool) (Estimate, error) {
	est := Estimate{Estimator: e.String(), Level: o.Level, N: d.n, ESS: d.ess, MaxWeight: d.maxW}
	hp := noHyper
	switch e {
	case SwitchDR:
		tau := o.Tau
		if tau == 0 {
			tau = d.chooseTau()
		}
		tau = min(tau, d.maxW) // τ ≥ max w is DR; keep it finite for JSON
		hp.tau, est.Tau = tau, tau
		var k int
		for _, w := range d.w {
			if w > tau {
				k++
			}
		}
		est.Switched = float64(k) / float64(d.n)
	case DRos:
		lam := o.Lambda
		if lam == 0 {
			lam = d.chooseShrinkage(DRos)
		}
		hp.lambda = lam
		if !math.IsInf(lam, 1) { // ∞ is reported as 0, for JSON
			est.Lambda = lam
		}
	case ClippedIPS:
		lam := o.Clip
		if lam == 0 {
			lam = d.chooseShrinkage(ClippedIPS)
		}
		lam = min(lam, d.maxW) // clipping at or above max w is IPS
		hp.clip, est.Lambda = lam, lam
		var k int
		for _, w := range d.w {
			if w > lam {
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

	v, se, err := d.analytic(e, hp)
	if err != nil {
		return Estimate{}, err
	}
	est.Value, est.SE = v, se
	if !withInterval {
		return est, nil
	}
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
		reps, dropped := d.bootstrap(e, hp, o)
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
	est.Interval += est.tuningNote()
	return est, nil
}

// tuningNote says which tuning an interval is conditional on.
func (est *Estimate) tuningNote() string {
	switch est.Estimator {
	case SwitchDR.String():
		return ", given tau"
	case DRos.String(), ClippedIPS.String():
		return ", given lambda"
	}
	return ""
}

// paired is spec's value from s: estimator e's, minus the mean logged
// reward when sp.paired.
func (sp estSpec) value(s sums) (float64, bool) {
	v, ok := s.value(sp.e)
	if sp.paired {
		v -= s.r / s.n
	}
	return v, ok
}

// bootstrap returns the estimator's value on o.Bootstrap resamples of the
// rounds (with replacement), and how many were undefined.
func (d *prepared) bootstrap(e Estimator, hp hyper, o Options) (reps []float64, dropped int) {
	return d.bootstrapSpec(estSpec{e: e, hp: hp}, o)
}

// bootstrapSpec is bootstrap for a spec (which may be paired).
func (d *prepared) bootstrapSpec(sp estSpec, o Options) (reps []float64, dropped int) {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed))
	idx := make([]int, d.n)
	reps = make([]float64, 0, o.Bootstrap)
	for range o.Bootstrap {
		for j := range idx {
			idx[j] = rng.IntN(d.n)
		}
		v, ok := sp.value(d.sums(idx, sp.hp))
		if !ok {
			dropped++
			continue
		}
		reps = append(reps, v)
	}
	return reps, dropped
}
