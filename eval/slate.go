package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"nextbest/decide"
)

// SlotConditionals is a slate policy in one context, given slot by slot:
// the distribution of the next slot's candidate given the candidates in
// the earlier slots. That is how the engine draws a ranking (decide.Slate)
// and what it logs, one conditional propensity per slot.
type SlotConditionals interface {
	// Next writes into dst, of length M (the context's candidates
	// 0..M−1), the probability that the policy puts each candidate in
	// slot len(prefix) given the candidates prefix in slots
	// 0..len(prefix)−1; the candidates of prefix get 0. Implementations
	// must not retain dst or prefix.
	Next(dst []float64, prefix []int)
}

// MaxSlates bounds the slates NewSlateDist enumerates for one context:
// M!/(M−L)! for a policy that gives every candidate a positive
// probability (20 candidates and 4 slots are 116,280 slates).
const MaxSlates = 1 << 18

// SlateDist is a slate policy's distribution over the rankings of L of M
// candidates in one context, reduced to what the pseudo-inverse
// estimator needs. With 1ₛ ∈ {0,1}^{L·M} the indicator of slate s (entry
// j·M + a is 1 when candidate a is in slot j):
//
//	Marginal  θ = E[1ₛ],      L·M values: P(slot j holds candidate a)
//	Gram      Γ = E[1ₛ 1ₛᵀ],  (L·M)² values: P(slot j holds a and slot k holds b)
//
// A SlateDist is read-only once built; rounds may share one.
type SlateDist struct {
	M, L     int
	Marginal []float64
	Gram     []float64
	// Slates is the number of slates of positive probability.
	Slates int
}

// NewSlateDist computes the exact marginal and pairwise probabilities of
// the slates of l of m candidates that the policy c draws slot by slot:
// it enumerates every slate of positive probability, the probability of
// each the product of its conditionals. It returns an error wrapping
// ErrInvalidRound when a conditional is not a distribution over the
// candidates left, and one wrapping ErrInvalidOptions past MaxSlates.
func NewSlateDist(m, l int, c SlotConditionals) (*SlateDist, error) {
	if m < 1 || l < 1 || l > m {
		return nil, fmt.Errorf("%w: a slate of %d slots over %d candidates", ErrInvalidOptions, l, m)
	}
	d := &SlateDist{M: m, L: l, Marginal: make([]float64, l*m), Gram: make([]float64, l*m*l*m)}
	prefix := make([]int, 0, l)
	probs := make([][]float64, l) // the conditionals at each depth
	for k := range probs {
		probs[k] = make([]float64, m)
	}
	lm := l * m
	var walk func(p float64) error
	walk = func(p float64) error {
		k := len(prefix)
		if k == l {
			d.Slates++
			if d.Slates > MaxSlates {
				return fmt.Errorf("%w: more than %d slates of %d slots over %d candidates have positive probability", ErrInvalidOptions, MaxSlates, l, m)
			}
			for j, a := range prefix {
				ja := j*m + a
				d.Marginal[ja] += p
				for i, b := range prefix {
					d.Gram[ja*lm+i*m+b] += p
				}
			}
			return nil
		}
		q := probs[k]
		clear(q)
		c.Next(q, prefix)
		var sum float64
		for a, v := range q {
			if !(v >= 0 && v <= 1+sumTol) || (v > 0 && slices.Contains(prefix, a)) {
				return &RoundError{Index: -1, Field: "slate", Reason: fmt.Sprintf("slot %d: probability %v of candidate %d given %v", k, v, a, prefix)}
			}
			sum += v
		}
		if math.Abs(sum-1) > sumTol {
			return &RoundError{Index: -1, Field: "slate", Reason: fmt.Sprintf("slot %d: probabilities given %v sum to %v, not 1", k, prefix, sum)}
		}
		for a, v := range q {
			if v == 0 {
				continue
			}
			prefix = append(prefix, a)
			err := walk(p * v)
			prefix = prefix[:k]
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(1); err != nil {
		return nil, err
	}
	return d, nil
}

// DeterministicSlate returns the marginals (L·M values) of the policy
// that always shows slate (candidate indices of m, slot by slot): the
// Target of a SlateRound for a deterministic ranking.
func DeterministicSlate(m int, slate []int) []float64 {
	t := make([]float64, len(slate)*m)
	for j, a := range slate {
		t[j*m+a] = 1
	}
	return t
}

// SlateRound is one logged decision that filled L slots with a ranking
// of its M candidates, scored by one slate-level reward, for the
// pseudo-inverse estimator (EvaluateSlate).
//
// Estimators read slate rounds and never modify or retain them, so
// rounds may share Logging and Target (every round of one context).
type SlateRound struct {
	// Slate[j] is the candidate (0..M−1) the logging policy put in slot
	// j; len(Slate) = Logging.L.
	Slate []int
	// Reward is the slate's reward, e.g. the sum of its slots' rewards.
	Reward float64
	// Logging is the logging policy's distribution in this round's
	// context (NewSlateDist from its per-slot conditionals).
	Logging *SlateDist
	// Target holds the target policy's marginals in this context, L·M
	// values: Target[j·M+a] is the probability that it puts candidate a
	// in slot j (a SlateDist's Marginal, or DeterministicSlate).
	Target []float64
}

// SlateEstimates are the pseudo-inverse estimates of a target slate
// policy's expected slate reward.
type SlateEstimates struct {
	// PI is the pseudo-inverse estimator, SNPI its self-normalised form.
	PI   Estimate `json:"pi"`
	SNPI Estimate `json:"snpi"`
	// Decisions is the number of decisions; Unsupported counts those
	// whose target marginals lie outside what the logging policy can
	// show (the PI is biased there; see the warnings).
	Decisions   int `json:"decisions"`
	Unsupported int `json:"unsupported,omitempty"`
}

// EvaluateSlate estimates the expected slate reward of a target ranking
// policy from rankings logged by another, assuming the slate reward is
// additive over the slots: E[r | x, s] = Σⱼ φₓ(j, sⱼ), for any unknown φ
// (Swaminathan, Krishnamurthy, Agarwal, Dudík, Langford, Jose & Zitouni
// 2017, "Off-policy evaluation for slate recommendation"). With 1ₛ the
// slate indicator, Γ = E_μ[1ₛ1ₛᵀ | x] the logging policy's pairwise
// probabilities and θ_π = E_π[1ₛ | x] the target's marginals (SlateDist),
// decision i has the weight γᵢ = θ_πᵀ Γ⁺ 1ₛᵢ (Γ⁺ the Moore–Penrose
// pseudo-inverse) and
//
//	PI    (1/n) Σ γᵢ rᵢ
//	SNPI  Σ γᵢ rᵢ / Σ γᵢ
//
// PI is unbiased when θ_π lies in the range of Γ (the logging policy
// shows every (slot, candidate) pair the target uses, jointly enough to
// separate the slots' effects); then E[γ] = 1 too, which SNPI uses and
// the mean-weight warning checks. γ can be negative. Intervals: the
// estimate ± t(n−1) × SE, SE the standard deviation of γᵢrᵢ (PI) or of
// the influence (γᵢrᵢ − V γᵢ)/γ̄ (SNPI) over √n; or, with
// Options.Bootstrap, a percentile bootstrap of the decisions. ESS and
// MaxWeight are those of γ (Kish, and the largest |γ|).
func EvaluateSlate(rs []SlateRound, o Options) (SlateEstimates, error) {
	o, err := o.withDefaults()
	if err != nil {
		return SlateEstimates{}, err
	}
	pd, err := prepareSlate(rs)
	if err != nil {
		return SlateEstimates{}, err
	}
	n := len(rs)
	out := SlateEstimates{Decisions: n, Unsupported: pd.unsupported}
	warn := pd.warnings(o)
	pi, ok := pd.value(false, nil)
	if !ok {
		return SlateEstimates{}, fmt.Errorf("PI: %w", ErrNoOverlap)
	}
	snpi, ok := pd.value(true, nil)
	if !ok {
		return SlateEstimates{}, fmt.Errorf("SNPI: %w", ErrNoOverlap)
	}
	q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(1 - (1-o.Level)/2)
	psi := make([]float64, n)
	var reps [2][]float64
	if o.Bootstrap > 0 {
		reps = pd.bootstrap(o)
		if len(reps[1]) < o.Bootstrap/2 {
			return SlateEstimates{}, fmt.Errorf("SNPI: %w in %d of %d bootstrap resamples", ErrNoOverlap, o.Bootstrap-len(reps[1]), o.Bootstrap)
		}
	}
	for k, e := range []*Estimate{&out.PI, &out.SNPI} {
		sn := k == 1
		*e = Estimate{Estimator: "PI", Value: pi, Level: o.Level, N: n, ESS: pd.ess, MaxWeight: pd.maxW, Warnings: warn}
		if sn {
			e.Estimator, e.Value = "SNPI", snpi
		}
		pd.influence(sn, e.Value, psi)
		e.SE = stat.StdDev(psi, nil) / math.Sqrt(float64(n))
		if o.Bootstrap > 0 {
			e.SE = stat.StdDev(reps[k], nil)
			e.Lo, e.Hi = percentiles(reps[k], 1-o.Level)
			e.Interval = fmt.Sprintf("percentile bootstrap of decisions, B=%d, seed=%d", o.Bootstrap, o.Seed)
			continue
		}
		e.Lo, e.Hi = e.Value-q*e.SE, e.Value+q*e.SE
		e.Interval = "CLT over decisions, t(n-1)"
		if sn {
			e.Interval = "delta method over decisions, t(n-1)"
		}
	}
	return out, nil
}

// CompareSlate is Compare for slates: the target's PI estimate, the
// logging policy's realised mean slate reward, and their paired
// difference, whose SE is the standard deviation of γᵢrᵢ − rᵢ over √n
// (or both recomputed on the same bootstrap resamples).
func CompareSlate(rs []SlateRound, o Options) (Comparison, error) {
	est, err := EvaluateSlate(rs, o)
	if err != nil {
		return Comparison{}, err
	}
	o, _ = o.withDefaults()
	pd, _ := prepareSlate(rs)
	n := len(rs)
	served := make([]float64, n)
	for i := range rs {
		served[i] = rs[i].Reward
	}
	c := Comparison{Candidate: est.PI, Serving: meanCI(served, o), Warnings: slices.Clone(est.PI.Warnings)}
	c.Serving.Estimator = "serving (realised slate reward)"
	diff := est.PI
	diff.Estimator = "PI - serving"
	diff.Value = est.PI.Value - c.Serving.Value
	diff.Warnings = slices.Clone(c.Warnings)
	if o.Bootstrap == 0 {
		psi := make([]float64, n)
		for i := range psi {
			psi[i] = pd.gamma[i]*pd.r[i] - pd.r[i]
		}
		diff.SE = stat.StdDev(psi, nil) / math.Sqrt(float64(n))
		q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(1 - (1-o.Level)/2)
		diff.Lo, diff.Hi = diff.Value-q*diff.SE, diff.Value+q*diff.SE
		diff.Interval = "paired per decision, " + est.PI.Interval
	} else {
		rng := rand.New(rand.NewPCG(o.Seed, o.Seed))
		reps := make([]float64, o.Bootstrap)
		for b := range reps {
			var s float64
			for range n {
				i := rng.IntN(n)
				s += pd.gamma[i]*pd.r[i] - pd.r[i]
			}
			reps[b] = s / float64(n)
		}
		diff.SE = stat.StdDev(reps, nil)
		diff.Lo, diff.Hi = percentiles(reps, 1-o.Level)
		diff.Interval = fmt.Sprintf("paired percentile bootstrap of decisions, B=%d, seed=%d", o.Bootstrap, o.Seed)
	}
	c.Difference = diff
	return c, nil
}

// slatePrepared holds each decision's PI weight γᵢ and reward rᵢ.
type slatePrepared struct {
	gamma, r    []float64
	unsupported int
	ess, maxW   float64
	worstResid  float64
}

// PIWeights returns the pseudo-inverse weights g = Γ⁺θ of the logging
// distribution mu for the target marginals target (L·M values): a
// decision that logged slate s has the weight γ = Σⱼ g[j·M + sⱼ]. resid
// is the largest entry of |Γg − θ|: 0 up to rounding when θ is in the
// range of Γ, larger when the target uses (slot, candidate) pairs the
// logger cannot show, which biases the estimate.
func PIWeights(mu *SlateDist, target []float64) (g []float64, resid float64, err error) {
	lm := mu.L * mu.M
	if len(target) != lm {
		return nil, 0, fmt.Errorf("%w: %d target marginals for %d slots of %d candidates", ErrInvalidRound, len(target), mu.L, mu.M)
	}
	// (slot, candidate) pairs the logger shows with a probability below
	// minMarginal are left out: their weights would be above 1e12, and
	// entries down at 1e-150 (a near-deterministic Thompson slot) break
	// the eigensolver's scaling. A target that uses them is unsupported
	// (resid says so).
	var keep []int
	for i := range lm {
		if mu.Gram[i*lm+i] > minMarginal {
			keep = append(keep, i)
		}
	}
	k := len(keep)
	sub := make([]float64, k*k)
	for a, i := range keep {
		for b, j := range keep {
			sub[a*k+b] = mu.Gram[i*lm+j]
		}
	}
	var eig mat.EigenSym
	if k == 0 || !eig.Factorize(mat.NewSymDense(k, sub), true) {
		return nil, 0, fmt.Errorf("eval: the eigendecomposition of a slate Gram matrix did not converge")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	// Γ is positive semi-definite: eigenvalues below the rounding noise of
	// the largest are its null space
	tol := 1e-12 * slices.Max(vals)
	g = make([]float64, lm)
	col := make([]float64, k)
	for e, lam := range vals {
		if lam <= tol {
			continue
		}
		mat.Col(col, e, &vecs)
		var c float64
		for a, i := range keep {
			c += col[a] * target[i]
		}
		c /= lam
		for a, i := range keep {
			g[i] += c * col[a]
		}
	}
	for i := range lm {
		var s float64
		for j := range lm {
			s += mu.Gram[i*lm+j] * g[j]
		}
		resid = max(resid, math.Abs(s-target[i]))
	}
	return g, resid, nil
}

// minMarginal is the smallest logging probability of a (slot,
// candidate) pair that the pseudo-inverse uses.
const minMarginal = 1e-12

// supportTol is the largest |Γg − θ| of a supported target: rounding
// leaves about 1e-12; a target outside Γ's range misses by its mass.
const supportTol = 1e-6

func prepareSlate(rs []SlateRound) (*slatePrepared, error) {
	n := len(rs)
	if n < 2 {
		return nil, fmt.Errorf("%w: got %d decisions", ErrTooFewRounds, n)
	}
	type key struct {
		mu *SlateDist
		t  *float64
	}
	type weights struct {
		g     []float64
		resid float64
	}
	cache := map[key]weights{}
	pd := &slatePrepared{gamma: make([]float64, n), r: make([]float64, n)}
	for i := range rs {
		r := &rs[i]
		bad := func(field, format string, args ...any) error {
			return &RoundError{Index: i, Field: field, Reason: fmt.Sprintf(format, args...)}
		}
		mu := r.Logging
		switch {
		case mu == nil:
			return nil, bad("logging", "no logging distribution")
		case len(r.Slate) != mu.L:
			return nil, bad("slate", "%d slots logged, the logging distribution has %d", len(r.Slate), mu.L)
		case len(r.Target) != mu.L*mu.M:
			return nil, bad("target", "%d marginals for %d slots of %d candidates", len(r.Target), mu.L, mu.M)
		case math.IsNaN(r.Reward) || math.IsInf(r.Reward, 0):
			return nil, bad("reward", "%v is not finite", r.Reward)
		}
		for j, a := range r.Slate {
			if a < 0 || a >= mu.M || slices.Contains(r.Slate[:j], a) {
				return nil, bad("slate", "slot %d: candidate %d (of %d, no repeats)", j, a, mu.M)
			}
			if mu.Marginal[j*mu.M+a] == 0 {
				return nil, bad("slate", "slot %d: candidate %d has logging probability 0", j, a)
			}
		}
		k := key{mu, &r.Target[0]}
		w, ok := cache[k]
		if !ok {
			for j := range mu.L {
				if e := checkDist(r.Target[j*mu.M : (j+1)*mu.M]); e != "" {
					return nil, bad("target", "slot %d: %s", j, e)
				}
			}
			g, resid, err := PIWeights(mu, r.Target)
			if err != nil {
				return nil, err
			}
			w = weights{g, resid}
			cache[k] = w
		}
		var gamma float64
		for j, a := range r.Slate {
			gamma += w.g[j*mu.M+a]
		}
		if w.resid > supportTol {
			pd.unsupported++
			pd.worstResid = max(pd.worstResid, w.resid)
		}
		pd.gamma[i], pd.r[i] = gamma, r.Reward
	}
	var s, s2 float64
	for _, g := range pd.gamma {
		s += g
		s2 += g * g
		pd.maxW = max(pd.maxW, math.Abs(g))
	}
	if s2 > 0 {
		pd.ess = s * s / s2
	}
	return pd, nil
}

// value is PI (or SNPI, sn) over the decisions counted c[i] times (nil:
// once each).
func (pd *slatePrepared) value(sn bool, c []float64) (float64, bool) {
	var num, den, tot float64
	for i, g := range pd.gamma {
		m := 1.0
		if c != nil {
			m = c[i]
		}
		num += m * g * pd.r[i]
		den += m * g
		tot += m
	}
	if sn {
		if !(den > 0) {
			return 0, false
		}
		return num / den, true
	}
	return num / tot, true
}

// influence writes each decision's influence term into psi.
func (pd *slatePrepared) influence(sn bool, v float64, psi []float64) {
	mean := stat.Mean(pd.gamma, nil)
	for i, g := range pd.gamma {
		if sn {
			psi[i] = g * (pd.r[i] - v) / mean
		} else {
			psi[i] = g * pd.r[i]
		}
	}
}

// bootstrap recomputes PI and SNPI on o.Bootstrap resamples of the
// decisions, drawn from PCG(Seed, Seed); resamples where SNPI is
// undefined are dropped from its list.
func (pd *slatePrepared) bootstrap(o Options) (reps [2][]float64) {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed))
	n := len(pd.gamma)
	c := make([]float64, n)
	for range o.Bootstrap {
		clear(c)
		for range n {
			c[rng.IntN(n)]++
		}
		v, _ := pd.value(false, c)
		reps[0] = append(reps[0], v)
		if v, ok := pd.value(true, c); ok {
			reps[1] = append(reps[1], v)
		}
	}
	return reps
}

func (pd *slatePrepared) warnings(o Options) []string {
	var out []string
	n := len(pd.gamma)
	if pd.maxW > o.MaxWeight {
		out = append(out, fmt.Sprintf("extreme weights: the largest |PI weight| is %.4g (> %g)", pd.maxW, o.MaxWeight))
	}
	if pd.ess < o.MinESSFraction*float64(n) {
		out = append(out, fmt.Sprintf("small effective sample size: the PI weights' ESS %.0f is %.1f%% of %d decisions (< %g%%); the interval may be too narrow",
			pd.ess, 100*pd.ess/float64(n), n, 100*o.MinESSFraction))
	}
	m, sd := stat.MeanStdDev(pd.gamma, nil)
	if z := (m - 1) / (sd / math.Sqrt(float64(n))); sd > 0 && math.Abs(z) > 4 {
		out = append(out, fmt.Sprintf("mean PI weight %.4f differs from 1 by %.1f standard errors: logging distributions or target marginals may be wrong, support may be missing, or the weights are too skewed for this many decisions", m, z))
	}
	if pd.unsupported > 0 {
		out = append(out, fmt.Sprintf("missing support: in %d of %d decisions the target uses slot-candidate pairs the logging policy cannot show (|Γg − θ| up to %.3g); PI is biased there", pd.unsupported, n, pd.worstResid))
	}
	return out
}

// SlateConditionals adapts a decide.Slate, reset for one decision over M
// candidates, to SlotConditionals: the engine's own per-slot
// probabilities, scattered over all M candidates.
func SlateConditionals(s *decide.Slate, m int) SlotConditionals {
	return &slateConds{s: s, m: m, rem: make([]int, 0, m), buf: make([]float64, m)}
}

type slateConds struct {
	s   *decide.Slate
	m   int
	rem []int
	buf []float64
}

func (c *slateConds) Next(dst []float64, prefix []int) {
	c.rem = c.rem[:0]
	for a := range c.m {
		if !slices.Contains(prefix, a) {
			c.rem = append(c.rem, a)
		}
	}
	p := c.buf[:len(c.rem)]
	c.s.Probabilities(p, c.rem)
	clear(dst)
	for j, a := range c.rem {
		dst[a] = p[j]
	}
}
