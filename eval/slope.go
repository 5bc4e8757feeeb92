package eval

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Selection is the estimate Select chose among the estimators, and why.
type Selection struct {
	// Chosen is the selected estimator's estimate, with its own interval.
	Chosen Estimate `json:"chosen"`
	// Reason says why it was chosen, in words.
	Reason string `json:"reason"`
	// Candidates are every estimate considered, in the order SLOPE walks
	// them: from the widest confidence width to the narrowest.
	Candidates []Estimate `json:"candidates"`
	// Width is each candidate's confidence width (cnf): the one-sided
	// 95% t quantile × its SE.
	Width []float64 `json:"width"`
}

// slopeC is SLOPE++'s constant √6 − 1 (Tucker & Lee 2021), as in the
// Open Bandit Pipeline.
var slopeC = math.Sqrt(6) - 1

// Select runs every estimator the rounds allow (as EvaluateAll) and
// chooses one by SLOPE (Su, Srinath & Krishnamurthy 2020, "Adaptive
// estimator selection for off-policy evaluation", in the SLOPE++ form of
// Tucker & Lee 2021 that the Open Bandit Pipeline uses). Lower variance
// usually costs bias, so the estimates are walked from the widest
// confidence width to the narrowest, cnf = t₀.₉₅(n−1) × SE, and each is
// kept while it agrees with every wider one kept before it, |θᵢ − θⱼ| ≤
// cnfᵢ + (√6 − 1)·cnfⱼ; the walk stops at the first that does not, and
// the last one kept is chosen. The widest are the unbiased ones (IPS,
// DR), so an estimator is chosen over them only when its bias is not
// detectable at their precision.
//
// Choosing the estimate whose SE came out small, and whose value agrees
// with the others, makes its own interval too narrow (measured: 0.929
// for 95%). So Select reruns the choice on bootstrap resamples of the
// rounds (the same resamples, refitting Options.Model, that give DM its
// interval; Options.Bootstrap of them, or Options.Refits), with the
// widths fixed at the full sample's, and widens the chosen interval to
// the spread of the chosen values when that is larger: Chosen.SE is then
// the SE of the whole procedure, selection included.
func Select(rs []Round, o Options) (Selection, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Selection{}, err
	}
	ev, err := newEvaluation(rs, o)
	if err != nil {
		return Selection{}, err
	}
	es := ev.available()
	ests := make([]Estimate, len(es))
	specs := make([]estSpec, len(es))
	for j, e := range es {
		if ests[j], err = ev.d.estimate(e, o, !ev.refit(e)); err != nil {
			return Selection{}, err
		}
		specs[j] = estSpec{e: e, hp: ests[j].hyper()}
	}
	var vals [][]float64 // [resample][estimator]
	B := ev.refits()
	if o.Model != nil {
		if vals, err = ev.refitValues(specs); err != nil {
			return Selection{}, err
		}
		reps, dropped := splitReps(vals, len(specs))
		for j, e := range es {
			if ev.refit(e) {
				if err := ests[j].setRefitInterval(reps[j], dropped[j], B, o); err != nil {
					return Selection{}, err
				}
			}
		}
	} else {
		vals = ev.d.bootstrapValues(specs, o, B)
	}
	sel := SelectFrom(ests)
	// the choice rerun on each resample, widths fixed
	pos := make([]int, len(sel.Candidates)) // walk order → index in es
	for k, c := range sel.Candidates {
		pos[k] = slices.IndexFunc(ests, func(e Estimate) bool { return e.Estimator == c.Estimator })
	}
	var chosen []float64
	walk := make([]Estimate, len(pos))
	for _, v := range vals {
		ok := true
		for k, j := range pos {
			walk[k] = Estimate{Value: v[j]}
			ok = ok && !math.IsNaN(v[j])
		}
		if !ok {
			continue
		}
		c, _, _ := slope(walk, sel.Width)
		chosen = append(chosen, walk[c].Value)
	}
	if len(chosen) >= B/2 {
		if sd := stat.StdDev(chosen, nil); sd > sel.Chosen.SE {
			q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(sel.Chosen.N - 1)}.Quantile(1 - (1-o.Level)/2)
			sel.Chosen.SE = sd
			sel.Chosen.Lo, sel.Chosen.Hi = sel.Chosen.Value-q*sd, sel.Chosen.Value+q*sd
			sel.Chosen.Interval += fmt.Sprintf("; SE widened to the spread of the choice on %d bootstrap resamples", len(chosen))
		}
	}
	return sel, nil
}

// SelectFrom is Select's choice on estimates already computed
// (EvaluateAll's), which it does not modify, without the bootstrap that
// widens the chosen interval for the choice. It needs at least one.
func SelectFrom(ests []Estimate) Selection {
	if len(ests) == 0 {
		return Selection{Reason: "no estimates"}
	}
	n := ests[0].N
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(1 - tauDelta)
	order := make([]int, len(ests))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return ests[order[a]].SE > ests[order[b]].SE })
	sel := Selection{}
	for _, i := range order {
		sel.Candidates = append(sel.Candidates, ests[i])
		sel.Width = append(sel.Width, t*ests[i].SE)
	}
	chosen, stop, against := slope(sel.Candidates, sel.Width)
	sel.Chosen = sel.Candidates[chosen]
	var b strings.Builder
	fmt.Fprintf(&b, "SLOPE from the widest confidence width (%s, ±%.3g) to the narrowest (%s, ±%.3g): ",
		sel.Candidates[0].Estimator, sel.Width[0], sel.Candidates[len(order)-1].Estimator, sel.Width[len(order)-1])
	if stop < 0 {
		fmt.Fprintf(&b, "every estimate agrees with every wider one, so the narrowest, %s, is chosen", sel.Chosen.Estimator)
	} else {
		s, a := sel.Candidates[stop], sel.Candidates[against]
		fmt.Fprintf(&b, "%s is chosen, the narrowest that agrees with every wider one; the next, %s = %.4g, differs from %s = %.4g by %.3g > %.3g + %.2f × %.3g, more than their widths allow (bias)",
			sel.Chosen.Estimator, s.Estimator, s.Value, a.Estimator, a.Value, math.Abs(s.Value-a.Value), sel.Width[stop], slopeC, sel.Width[against])
	}
	sel.Reason = b.String()
	return sel
}

// slope walks candidates in order (widest first) with widths cnf and
// returns the index chosen; stop is the first rejected candidate and
// against the kept one it disagreed with, or -1, -1 if none was rejected.
func slope(c []Estimate, cnf []float64) (chosen, stop, against int) {
	for i := 1; i < len(c); i++ {
		for j := range i {
			if math.Abs(c[i].Value-c[j].Value) > cnf[i]+slopeC*cnf[j] {
				return i - 1, i, j
			}
		}
	}
	return len(c) - 1, -1, -1
}
