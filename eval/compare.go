package eval

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Comparison is a candidate policy compared with the serving policy on
// the same logged rounds: the candidate is the rounds' Target, the
// serving policy is the one that logged them.
type Comparison struct {
	// Serving is the serving policy's realised value, the mean logged
	// reward, with its t(n−1) interval. It needs no model and no weights.
	Serving Estimate `json:"serving"`
	// Candidate is the candidate's estimated value (Evaluate with the
	// same estimator and options).
	Candidate Estimate `json:"candidate"`
	// Difference is Candidate − Serving. Its interval is paired: it comes
	// from the per-round differences of the two estimators' terms (or
	// from both recomputed on the same bootstrap resamples), so the
	// noise the two share — the same contexts, the same rewards wherever
	// the candidate agrees with the serving policy — cancels, and the
	// interval is much narrower than the two separate ones suggest.
	Difference Estimate `json:"difference"`
	// Warnings are the candidate's ESS, weight and support warnings; they
	// apply to the difference as well.
	Warnings []string `json:"warnings,omitempty"`
}

// Compare estimates the candidate policy (the rounds' Target) with
// estimator e, the serving policy's realised value, and their paired
// difference, candidate − serving, on the same rounds.
//
// The difference's analytic interval is the estimate ± t(n−1) × SE, SE
// the standard deviation of ψᵢ − rᵢ over √n, where ψᵢ is e's per-round
// influence term (Options) and rᵢ the logged reward: for IPS,
// (wᵢ − 1)·rᵢ, which is 0 wherever the candidate's weight is 1. With
// Options.Bootstrap both values are recomputed on the same resamples;
// with Options.Model the resamples refit the reward model (see
// RefitInterval). A difference whose interval excludes 0 is
// significant at 1 − Level; read it with the Warnings, since no interval
// survives missing support or a handful of effective rounds.
func Compare(rs []Round, e Estimator, o Options) (Comparison, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Comparison{}, err
	}
	if e < IPS || e > ClippedIPS {
		return Comparison{}, fmt.Errorf("%w: unknown estimator %d", ErrInvalidOptions, int(e))
	}
	ev, err := newEvaluation(rs, o)
	if err != nil {
		return Comparison{}, err
	}
	d := ev.d
	if e.NeedsModel() && d.dm == nil {
		return Comparison{}, fmt.Errorf("%s: %w", e, ErrNoRewardModel)
	}
	refit := ev.refit(e)
	cand, err := d.estimate(e, o, !refit)
	if err != nil {
		return Comparison{}, err
	}
	c := Comparison{Candidate: cand, Serving: meanCI(d.r, o)}
	c.Serving.Estimator = "serving (realised)"
	c.Warnings = slices.Clone(cand.Warnings)

	diff := cand
	diff.Estimator = e.String() + " - serving"
	diff.Value = cand.Value - c.Serving.Value
	diff.Warnings = slices.Clone(cand.Warnings)
	hp := cand.hyper()
	alpha := 1 - o.Level
	switch {
	case refit:
		reps, dropped, err := ev.refitBootstrap([]estSpec{{e: e, hp: hp}, {e: e, hp: hp, paired: true}})
		if err != nil {
			return Comparison{}, err
		}
		if err := c.Candidate.setRefitInterval(reps[0], dropped[0], ev.refits(), o); err != nil {
			return Comparison{}, err
		}
		diff.Warnings = slices.Clone(cand.Warnings)
		if err := diff.setRefitInterval(reps[1], dropped[1], ev.refits(), o); err != nil {
			return Comparison{}, err
		}
		diff.Interval = "paired, " + diff.Interval
	case o.Bootstrap > 0:
		reps, dropped := d.bootstrapSpec(estSpec{e: e, hp: hp, paired: true}, o)
		if len(reps) < o.Bootstrap/2 {
			return Comparison{}, fmt.Errorf("%s: %w in %d of %d bootstrap resamples", e, ErrNoOverlap, dropped, o.Bootstrap)
		}
		diff.SE = stat.StdDev(reps, nil)
		diff.Lo, diff.Hi = percentiles(reps, alpha)
		diff.Interval = fmt.Sprintf("paired percentile bootstrap, B=%d, seed=%d", o.Bootstrap, o.Seed) + diff.tuningNote()
	default:
		s := d.sums(nil, hp)
		psi := make([]float64, d.n)
		d.influence(e, s, hp, psi)
		for i := range psi {
			psi[i] -= d.r[i]
		}
		diff.SE = stat.StdDev(psi, nil) / math.Sqrt(float64(d.n))
		q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(d.n - 1)}.Quantile(1 - alpha/2)
		diff.Lo, diff.Hi = diff.Value-q*diff.SE, diff.Value+q*diff.SE
		diff.Interval = "paired per round, " + cand.Interval
	}
	c.Difference = diff
	return c, nil
}

// percentiles are the alpha/2 and 1 − alpha/2 quantiles of reps, which
// it sorts.
func percentiles(reps []float64, alpha float64) (lo, hi float64) {
	slices.Sort(reps)
	return stat.Quantile(alpha/2, stat.LinInterp, reps, nil), stat.Quantile(1-alpha/2, stat.LinInterp, reps, nil)
}
