package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// SlotEstimate is a multi-slot target policy's estimated value: the
// expected sum of its rewards over the slots of a decision, and the
// expected reward in each slot.
type SlotEstimate struct {
	// Total is the value per decision, the sum over the slots.
	Total Estimate `json:"total"`
	// Slots[k] is the expected reward in slot k (0 where a decision has
	// fewer slots). Its ESS and MaxWeight are those of the cumulative
	// weights W_k.
	Slots []Estimate `json:"slots"`
	// Decisions is the number of decisions, the unit the standard errors
	// and the bootstrap count.
	Decisions int `json:"decisions"`
}

// EvaluateSlots estimates the value of a target policy that fills the
// slots of each decision one after the other (a ranking), from decisions
// logged the same way, beyond the first slot.
//
// The rounds are read as decisions: a round with Position 0 starts one,
// and its later slots follow it in order with Position 1, 2, …. Each
// slot's round holds what the logger and the target did in that slot
// given the actions logged in the earlier ones: Propensity is the
// logger's probability of the slot's action given them (what the service
// logs), Target the target's distribution over the remaining candidates
// given them, Qhat (for DR) the model's estimate of each remaining
// candidate's reward in that slot. The per-slot weight is wₖ =
// π(aₖ|x, a₁..aₖ₋₁)/μ(aₖ|x, a₁..aₖ₋₁) and the cumulative weight Wₖ =
// w₁·…·wₖ (W₀ = 1 before the first slot), which is exact when the reward
// in slot k depends on the actions in slots up to k but not after (the
// cascade assumption, McInerney et al. 2020; Kiyohara et al. 2022):
//
//	IPS   slot k: (1/n) Σᵢ Wᵢₖ rᵢₖ
//	SNIPS slot k: Σᵢ Wᵢₖ rᵢₖ / Σᵢ Wᵢₖ, the sum over the decisions with a slot
//	      k, times their share of the decisions
//	DR    slot k: (1/n) Σᵢ [Wᵢₖ (rᵢₖ − q̂ᵢₖ(aᵢₖ)) + Wᵢ,ₖ₋₁ Σₐ πᵢₖ(a) q̂ᵢₖ(a)]
//	      (cascade-DR, Kiyohara et al. 2022)
//
// and Total is the sum over the slots. With a single slot they are IPS,
// SNIPS and DR. Standard errors are over decisions (the slots of one
// decision are dependent): analytic (CLT or the delta method, t(n−1)
// with n decisions) or, with Options.Bootstrap, a percentile bootstrap
// of the decisions. Options.Model is not used here: fill Qhat with
// CrossFit. Only IPS, SNIPS and DR are defined.
func EvaluateSlots(rs []Round, e Estimator, o Options) (SlotEstimate, error) {
	o, err := o.withDefaults()
	if err != nil {
		return SlotEstimate{}, err
	}
	if e != IPS && e != SNIPS && e != DR {
		return SlotEstimate{}, fmt.Errorf("%w: EvaluateSlots supports IPS, SNIPS and DR, not %s", ErrInvalidOptions, e)
	}
	if o.Model != nil {
		return SlotEstimate{}, fmt.Errorf("%w: EvaluateSlots reads Qhat; fill it with CrossFit instead of Options.Model", ErrInvalidOptions)
	}
	sd, err := prepareSlots(rs, e == DR)
	if err != nil {
		return SlotEstimate{}, err
	}
	if e == DR && !sd.model {
		return SlotEstimate{}, fmt.Errorf("%s: %w", e, ErrNoRewardModel)
	}
	n, K := sd.n, sd.slots
	out := SlotEstimate{Decisions: n}
	var warn []string
	if m, how := unsupportedMass(rs); m > 0 {
		warn = append(warn, fmt.Sprintf("missing support: the target puts %.3g%% of its mass per slot on actions %s", 100*m, how))
	}
	vals, ok := sd.values(e, nil)
	if !ok {
		return SlotEstimate{}, fmt.Errorf("%s: %w", e, ErrNoOverlap)
	}
	// influence per decision: per slot and for the total
	psi := make([][]float64, K+1)
	for k := range psi {
		psi[k] = make([]float64, n)
	}
	sd.influence(e, vals, psi)
	q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(1 - (1-o.Level)/2)
	var reps [][]float64
	var dropped int
	if o.Bootstrap > 0 {
		reps, dropped = sd.bootstrap(e, o)
		if len(reps) < o.Bootstrap/2 {
			return SlotEstimate{}, fmt.Errorf("%s: %w in %d of %d bootstrap resamples", e, ErrNoOverlap, dropped, o.Bootstrap)
		}
	}
	for k := 0; k <= K; k++ {
		est := Estimate{Estimator: e.String(), Value: vals[k], Level: o.Level, N: n}
		est.SE = stat.StdDev(psi[k], nil) / math.Sqrt(float64(n))
		if reps == nil {
			est.Lo, est.Hi = est.Value-q*est.SE, est.Value+q*est.SE
			est.Interval = "CLT over decisions, t(n-1)"
			if e == SNIPS {
				est.Interval = "delta method over decisions, t(n-1)"
			}
		} else {
			r := make([]float64, len(reps))
			for b := range reps {
				r[b] = reps[b][k]
			}
			est.SE = stat.StdDev(r, nil)
			est.Lo, est.Hi = percentiles(r, 1-o.Level)
			est.Interval = fmt.Sprintf("percentile bootstrap of decisions, B=%d, seed=%d", o.Bootstrap, o.Seed)
		}
		if k < K {
			est.Estimator = fmt.Sprintf("%s slot %d", e, k)
			est.ESS, est.MaxWeight = sd.ess(k)
			est.Warnings = sd.weightWarnings(k, o)
			est.Warnings = append(est.Warnings, warn...)
			out.Slots = append(out.Slots, est)
		} else {
			est.Estimator = e.String() + " total"
			est.ESS, est.MaxWeight = sd.ess(K - 1)
			for _, s := range out.Slots {
				est.Warnings = appendNew(est.Warnings, s.Warnings...)
			}
			out.Total = est
		}
	}
	return out, nil
}

func appendNew(dst []string, src ...string) []string {
	for _, s := range src {
		seen := false
		for _, d := range dst {
			seen = seen || d == s
		}
		if !seen {
			dst = append(dst, s)
		}
	}
	return dst
}

// slotData holds, per decision i and slot k, the cumulative weights, the
// rewards and the model terms; has[i][k] says whether decision i has a
// slot k.
type slotData struct {
	n, slots int
	model    bool
	W        [][]float64 // Wᵢₖ
	r        [][]float64
	dm, qa   [][]float64 // Wᵢ,ₖ₋₁ Σₐ πᵢₖ(a) q̂ᵢₖ(a) and q̂ᵢₖ(aᵢₖ)
	count    []int       // decisions with a slot k
	length   []int       // slots of decision i
}

func prepareSlots(rs []Round, wantModel bool) (*slotData, error) {
	sd := &slotData{model: wantModel}
	for i := range rs {
		r := &rs[i]
		if err := r.Validate(i); err != nil {
			return nil, err
		}
		if r.Qhat == nil {
			sd.model = false
		}
		if r.Position == 0 {
			sd.n++
			continue
		}
		if i == 0 || rs[i-1].Position != r.Position-1 {
			return nil, &RoundError{Index: i, Field: "position", Reason: fmt.Sprintf("slot %d does not follow slot %d of the same decision (a decision starts at position 0)", r.Position, r.Position-1)}
		}
	}
	if len(rs) == 0 || rs[0].Position != 0 {
		return nil, fmt.Errorf("%w: the first round must start a decision (position 0)", ErrInvalidRound)
	}
	if sd.n < 2 {
		return nil, fmt.Errorf("%w: got %d decisions", ErrTooFewRounds, sd.n)
	}
	for i := range rs {
		sd.slots = max(sd.slots, rs[i].Position+1)
	}
	grid := func() [][]float64 {
		g := make([][]float64, sd.n)
		for i := range g {
			g[i] = make([]float64, sd.slots)
		}
		return g
	}
	sd.W, sd.r = grid(), grid()
	sd.count = make([]int, sd.slots)
	sd.length = make([]int, sd.n)
	if sd.model {
		sd.dm, sd.qa = grid(), grid()
	}
	i := -1
	for j := range rs {
		r := &rs[j]
		k := r.Position
		if k == 0 {
			i++
		}
		prev := 1.0
		if k > 0 {
			prev = sd.W[i][k-1]
		}
		sd.W[i][k] = prev * r.Target[r.Logged] / r.Propensity
		sd.r[i][k] = r.Reward
		sd.count[k]++
		sd.length[i] = k + 1
		if sd.model {
			// Wₖ₋₁ weighs the model's value of the slot, Wₖ its residual
			sd.dm[i][k] = prev * dot(r.Target, r.Qhat)
			sd.qa[i][k] = r.Qhat[r.Logged]
		}
	}
	// a slot a decision lacks keeps W = 0 and r = 0: it contributes 0
	return sd, nil
}

// values are estimator e's per-slot values and their sum (index slots),
// over the decisions counted c[i] times (nil: once each).
func (sd *slotData) values(e Estimator, c []float64) ([]float64, bool) {
	K := sd.slots
	v := make([]float64, K+1)
	for k := range K {
		var num, den, tot, totK float64
		for i := range sd.n {
			m := 1.0
			if c != nil {
				m = c[i]
			}
			tot += m
			if k >= sd.length[i] {
				continue // contributes 0
			}
			W, r := sd.W[i][k], sd.r[i][k]
			switch e {
			case IPS, SNIPS:
				num += m * W * r
			case DR:
				num += m * (W*(r-sd.qa[i][k]) + sd.dm[i][k])
			}
			den += m * W
			totK += m
		}
		switch e {
		case SNIPS:
			if den <= 0 {
				return nil, false
			}
			// Σ W r / Σ W over the decisions with a slot k, times their share
			v[k] = num / den * (totK / tot)
		default:
			v[k] = num / tot
		}
		v[K] += v[k]
	}
	return v, true
}

// influence writes each decision's influence term per slot and, in
// psi[slots], for the total.
func (sd *slotData) influence(e Estimator, v []float64, psi [][]float64) {
	K := sd.slots
	for k := range K {
		var sw float64
		for i := range sd.n {
			sw += sd.W[i][k]
		}
		C := sw / float64(sd.n)
		share := float64(sd.count[k]) / float64(sd.n)
		for i := range sd.n {
			W, r := sd.W[i][k], sd.r[i][k]
			switch e {
			case IPS:
				psi[k][i] = W * r
			case DR:
				psi[k][i] = W*(r-sd.qa[i][k]) + sd.dm[i][k]
			case SNIPS:
				// V = A·s/C with A = (1/n)Σ W r, C = (1/n)Σ W and s the
				// share of decisions with a slot k, (1/n)Σ hᵢ: the delta
				// method gives (s/C)·W r + (V/s)·h − (V/C)·W
				h := 0.0
				if k < sd.length[i] {
					h = 1
				}
				psi[k][i] = share/C*W*r + v[k]/share*h - v[k]/C*W
			}
			psi[K][i] += psi[k][i]
		}
	}
}

// ess is the Kish ESS and the largest value of the cumulative weights of
// slot k.
func (sd *slotData) ess(k int) (ess, maxW float64) {
	var s, s2 float64
	for i := range sd.n {
		w := sd.W[i][k]
		s += w
		s2 += w * w
		maxW = max(maxW, w)
	}
	if s2 > 0 {
		ess = s * s / s2
	}
	return ess, maxW
}

func (sd *slotData) weightWarnings(k int, o Options) []string {
	var out []string
	ess, maxW := sd.ess(k)
	if maxW > o.MaxWeight {
		out = append(out, fmt.Sprintf("extreme weights: the largest cumulative weight of slot %d is %.4g (> %g)", k, maxW, o.MaxWeight))
	}
	if ess < o.MinESSFraction*float64(sd.count[k]) {
		out = append(out, fmt.Sprintf("small effective sample size: slot %d's ESS %.0f is %.1f%% of its %d decisions (< %g%%); the interval may be too narrow",
			k, ess, 100*ess/float64(sd.count[k]), sd.count[k], 100*o.MinESSFraction))
	}
	return out
}

// bootstrap recomputes the values on o.Bootstrap resamples of the
// decisions, drawn from PCG(Seed, Seed).
func (sd *slotData) bootstrap(e Estimator, o Options) (reps [][]float64, dropped int) {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed))
	c := make([]float64, sd.n)
	for range o.Bootstrap {
		clear(c)
		for range sd.n {
			c[rng.IntN(sd.n)]++
		}
		v, ok := sd.values(e, c)
		if !ok {
			dropped++
			continue
		}
		reps = append(reps, v)
	}
	return reps, dropped
}

// CompareSlots is Compare for multi-slot decisions (EvaluateSlots'
// rounds): the candidate's Total with estimator e, the serving policy's
// realised total reward per decision (the sum of its logged slots'
// rewards), and their paired difference, from the per-decision
// differences (analytic) or both recomputed on the same resamples of
// decisions (Options.Bootstrap).
func CompareSlots(rs []Round, e Estimator, o Options) (Comparison, error) {
	cand, err := EvaluateSlots(rs, e, o)
	if err != nil {
		return Comparison{}, err
	}
	o, _ = o.withDefaults()
	sd, err := prepareSlots(rs, e == DR)
	if err != nil {
		return Comparison{}, err
	}
	n, K := sd.n, sd.slots
	served := make([]float64, n)
	for i := range n {
		for k := range K {
			served[i] += sd.r[i][k]
		}
	}
	c := Comparison{Candidate: cand.Total, Serving: meanCI(served, o)}
	c.Serving.Estimator = "serving (realised total)"
	c.Warnings = slices.Clone(cand.Total.Warnings)
	diff := cand.Total
	diff.Estimator = cand.Total.Estimator + " - serving"
	diff.Value = cand.Total.Value - c.Serving.Value
	diff.Warnings = slices.Clone(c.Warnings)
	if o.Bootstrap == 0 {
		vals, _ := sd.values(e, nil)
		psi := make([][]float64, K+1)
		for k := range psi {
			psi[k] = make([]float64, n)
		}
		sd.influence(e, vals, psi)
		for i := range psi[K] {
			psi[K][i] -= served[i]
		}
		diff.SE = stat.StdDev(psi[K], nil) / math.Sqrt(float64(n))
		q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(1 - (1-o.Level)/2)
		diff.Lo, diff.Hi = diff.Value-q*diff.SE, diff.Value+q*diff.SE
		diff.Interval = "paired per decision, " + cand.Total.Interval
	} else {
		rng := rand.New(rand.NewPCG(o.Seed, o.Seed))
		cnt := make([]float64, n)
		var reps []float64
		for range o.Bootstrap {
			clear(cnt)
			for range n {
				cnt[rng.IntN(n)]++
			}
			v, ok := sd.values(e, cnt)
			if !ok {
				continue
			}
			var s float64
			for i, m := range cnt {
				s += m * served[i]
			}
			reps = append(reps, v[K]-s/float64(n))
		}
		if len(reps) < o.Bootstrap/2 {
			return Comparison{}, fmt.Errorf("%s: %w in %d of %d bootstrap resamples", e, ErrNoOverlap, o.Bootstrap-len(reps), o.Bootstrap)
		}
		diff.SE = stat.StdDev(reps, nil)
		diff.Lo, diff.Hi = percentiles(reps, 1-o.Level)
		diff.Interval = fmt.Sprintf("paired percentile bootstrap of decisions, B=%d, seed=%d", o.Bootstrap, o.Seed)
	}
	c.Difference = diff
	return c, nil
}
