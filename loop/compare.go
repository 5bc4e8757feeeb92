package loop

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"

	"nextbest/decide"
	"nextbest/eval"
	"nextbest/logs"
)

// compare evaluates the candidate (scorer with explorer) on the joined
// evaluation window against the serving policy: the serving policy's
// realised value (the logged rewards' mean), the candidate's doubly robust
// estimate with a cross-fitted reward model, and their paired difference
// per round, each with a normal interval at cfg.Gate.Level.
func compare(joined []logs.Joined, cfg *Config, sc decide.Scorer, explorer decide.Explorer) (Figures, error) {
	rounds, _, err := eval.JournalRoundsCrossFit(joined, cfg.Spec, cfg.Catalog, eval.Target{Name: sc.Name(), Scorer: sc, Explorer: explorer})
	if err != nil {
		return Figures{}, err
	}
	f := Figures{Rounds: len(rounds), Estimator: "DR (paired with the logged rewards)"}
	if len(rounds) < 2 {
		return f, nil
	}
	n := float64(len(rounds))
	var sw, sw2 float64
	serving, cand, diff := make([]float64, len(rounds)), make([]float64, len(rounds)), make([]float64, len(rounds))
	for i, r := range rounds {
		w := r.Target[r.Logged] / r.Propensity
		sw += w
		sw2 += w * w
		var dm, q float64
		if r.Qhat != nil {
			for a, p := range r.Target {
				dm += p * r.Qhat[a]
			}
			q = r.Qhat[r.Logged]
		}
		serving[i] = r.Reward
		cand[i] = dm + w*(r.Reward-q)
		diff[i] = cand[i] - serving[i]
	}
	if sw2 > 0 {
		f.ESS = sw * sw / sw2
	}
	z := distuv.UnitNormal.Quantile(1 - (1-cfg.Gate.Level)/2)
	f.Serving, f.Candidate, f.Diff = meanInterval(serving, z), meanInterval(cand, z), meanInterval(diff, z)
	_ = n
	return f, nil
}

func meanInterval(xs []float64, z float64) Interval {
	n := float64(len(xs))
	var m float64
	for _, x := range xs {
		m += x
	}
	m /= n
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	se := math.Sqrt(ss / (n - 1) / n)
	return Interval{Value: m, Lo: m - z*se, Hi: m + z*se}
}
