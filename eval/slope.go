package eval

import (
	"fmt"
	"math"
	"sort"
	"strings"

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

// Select runs every estimator the rounds allow (EvaluateAll) and chooses
// one by SLOPE (Su, Srinath & Krishnamurthy 2020, "Adaptive estimator
// selection for off-policy evaluation", in the SLOPE++ form of Tucker &
// Lee 2021 that the Open Bandit Pipeline uses). Lower variance usually
// costs bias, so the estimates are walked from the widest confidence
// width to the narrowest, cnf = t₀.₉₅(n−1) × SE, and each is kept while
// it agrees with every wider one kept before it, |θᵢ − θⱼ| ≤ cnfᵢ +
// (√6 − 1)·cnfⱼ; the walk stops at the first that does not, and the last
// one kept is chosen. The widest are the unbiased ones (IPS, DR), so an
// estimator is chosen over them only when its bias is not detectable
// at their precision.
//
// The chosen interval is the estimator's own, conditional on the choice;
// docs/evaluation.md gives its coverage in simulation.
func Select(rs []Round, o Options) (Selection, error) {
	ests, err := EvaluateAll(rs, o)
	if err != nil {
		return Selection{}, err
	}
	return SelectFrom(ests), nil
}

// SelectFrom is Select on estimates already computed (EvaluateAll's),
// which it does not modify. It needs at least one.
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
