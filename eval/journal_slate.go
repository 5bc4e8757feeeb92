package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/journal"
	"nextbest/logs"
)

// SlateStats counts what JournalSlateRounds used and left out.
type SlateStats struct {
	Decisions int `json:"decisions"` // joined decisions offered
	Used      int `json:"used"`      // slate rounds built
	// How the logging policy's per-slot conditionals were recovered:
	// from the decision's journaled explanation (the scores of every
	// eligible action), as the fallback ranking (value × weight), or
	// from the logging model given.
	FromExplanation int `json:"from_explanation"`
	FromFallback    int `json:"from_fallback"`
	FromModel       int `json:"from_model"`
	// Unknown counts decisions whose logging policy cannot be recovered
	// (no explanation, not a fallback, no logging model; or a baseline
	// rule); Mismatch those whose recovered conditionals differ from the
	// logged propensities (another model served them); Other those
	// without actions or rewards, of another feature spec, with bad
	// inputs or actions no longer in the catalog.
	Unknown  int `json:"unknown_logging"`
	Mismatch int `json:"propensity_mismatch"`
	Other    int `json:"other"`
	// NotShown counts decisions made with defer_activation whose slot 0
	// was never activated (logs.Joined.Shown): no slate was shown. Of
	// the others, the slate is the shown prefix (its slots up to the
	// first one not activated).
	NotShown int `json:"not_shown"`
}

// propTol is how far a recomputed conditional may be from the logged
// propensity: the engine's numbers are recomputed by the same code
// (decide.Slate), so they agree to rounding (Thompson's quadrature
// included); 1e-6 is far above that and far below any real difference.
const propTol = 1e-6

// JournalSlateRounds turns joined service decisions into slate rounds
// for EvaluateSlate: each decision's first slots (up to slots; 0: all it
// logged) as one ranking over its eligible set, scored by the sum of the
// slots' joined rewards, with the logging policy's exact slate
// distribution and target's marginals.
//
// The pseudo-inverse needs the logging policy's probabilities of every
// ranking it could have shown, not only of the logged one, so the
// decision's per-slot conditionals are recomputed with decide.Slate from
// the scores the engine ranked (mean, std and value × weight of every
// eligible action) and the explorer it logged (decide.ParseExplorer):
// from the decision's journaled explanation when the request asked for
// one, from value × weight for a fallback decision, or else from
// logging, the model that served (nil: none). A decision is used only
// when the recomputed conditional of each logged slot equals its logged
// propensity (to propTol): the logged draws check the recovery, and the
// rest are counted in SlateStats. The target's marginals come from its
// own conditionals over the same eligible set, as JournalSlotRounds
// computes them.
func JournalSlateRounds(joined []logs.Joined, spec *features.Spec, cat *decide.Catalog, target Target, logging decide.Scorer, slots int) ([]SlateRound, SlateStats, error) {
	var st SlateStats
	if slots < 0 {
		return nil, st, fmt.Errorf("eval: %d slots", slots)
	}
	if target.Scorer != nil && target.Scorer.Dim() != spec.Dim() {
		return nil, st, fmt.Errorf("eval: target %s has dimension %d, the feature spec %d", target.Name, target.Scorer.Dim(), spec.Dim())
	}
	if logging != nil && logging.Dim() != spec.Dim() {
		return nil, st, fmt.Errorf("eval: logging model %s has dimension %d, the feature spec %d", logging.Name(), logging.Dim(), spec.Dim())
	}
	rb, err := logs.NewRowBuilder(spec, cat)
	if err != nil {
		return nil, st, fmt.Errorf("eval: %w", err)
	}
	var (
		out    []SlateRound
		xs     []float64
		ls, ts decide.Slate
	)
	fallback := decide.FallbackExplorer(target.Explorer)
	for ji := range joined {
		j := &joined[ji]
		d := &j.Decision
		st.Decisions++
		if len(d.Actions) == 0 || len(j.Rewards) == 0 || d.FeatureSpec != spec.Hash() {
			st.Other++
			continue
		}
		// the logged ranking, as indices into the eligible set
		L := min(len(d.Actions), len(j.Rewards))
		if slots > 0 {
			L = min(L, slots)
		}
		for k := range L {
			if !j.Shown(k) { // a deferred decision's slot never activated
				L = k
				break
			}
		}
		if L == 0 {
			st.NotShown++
			continue
		}
		slate := make([]int, 0, L)
		for _, a := range d.Actions[:L] {
			i := slices.Index(d.Eligible, a.ActionID)
			if i < 0 || slices.Contains(slate, i) {
				break
			}
			slate = append(slate, i)
		}
		if len(slate) == 0 {
			st.Other++
			continue
		}
		L = len(slate)
		x, idx, err := rb.Rows(xs, d, d.Eligible)
		xs = x
		if err != nil || slices.Contains(idx, -1) {
			st.Other++
			continue
		}
		m := len(idx)
		c := make([]float64, m)
		for i, a := range idx {
			act := cat.Actions[a]
			c[i] = act.Value * act.Weight
		}
		// the logging policy
		lp, err := decide.ParseExplorer(d.Explorer)
		if err != nil || strings.HasPrefix(d.Policy, "baseline:") {
			st.Unknown++
			continue
		}
		mean, std := make([]float64, m), make([]float64, m)
		lc := slices.Clone(c)
		var from *int
		switch {
		case d.Fallback:
			for i := range mean {
				mean[i] = 1
			}
			from = &st.FromFallback
		case explained(d.Explanation, d.Eligible, mean, std, lc):
			from = &st.FromExplanation
		case logging != nil:
			logging.Predict(mean, std, idx, x)
			from = &st.FromModel
		default:
			st.Unknown++
			continue
		}
		ls.Reset(lp, mean, std, lc)
		lcond := SlateConditionals(&ls, m)
		if !matchesLog(lcond, slate, d.Actions, m) {
			st.Mismatch++
			continue
		}
		mu, err := NewSlateDist(m, L, lcond)
		if err != nil {
			return nil, st, fmt.Errorf("eval: decision %s: %w", d.DecisionID, err)
		}
		// the target, as JournalSlotRounds computes it
		tp := target.Explorer
		tmean, tstd := make([]float64, m), make([]float64, m)
		if target.Scorer == nil || d.Fallback {
			for i := range tmean {
				tmean[i] = 1
			}
			tp = fallback
		} else {
			target.Scorer.Predict(tmean, tstd, idx, x)
		}
		ts.Reset(tp, tmean, tstd, c)
		pi, err := NewSlateDist(m, L, SlateConditionals(&ts, m))
		if err != nil {
			return nil, st, fmt.Errorf("eval: decision %s: %w", d.DecisionID, err)
		}
		var r float64
		for _, v := range j.Rewards[:L] {
			r += v
		}
		out = append(out, SlateRound{Slate: slate, Reward: r, Logging: mu, Target: pi.Marginal})
		*from++
		st.Used++
	}
	if len(out) == 0 {
		return nil, st, errors.New("eval: no decision whose logging policy could be recovered (journal explanations, fallback decisions or --logging-model)")
	}
	return out, st, nil
}

// explained fills mean, std and c (value × weight) of the eligible
// actions from a decision's journaled explanation, and reports whether it
// scored every one of them.
func explained(raw json.RawMessage, eligible []string, mean, std, c []float64) bool {
	if len(raw) == 0 {
		return false
	}
	var ex decide.Explanation
	if err := json.Unmarshal(raw, &ex); err != nil || len(ex.Scored) != len(eligible) {
		return false
	}
	for _, s := range ex.Scored {
		i := slices.Index(eligible, s.ActionID)
		if i < 0 {
			return false
		}
		mean[i], std[i], c[i] = s.Mean, s.Std, s.Value*s.Weight
	}
	return true
}

// matchesLog reports whether the conditionals give each logged slot its
// logged propensity.
func matchesLog(cond SlotConditionals, slate []int, logged []journal.LoggedAction, m int) bool {
	p := make([]float64, m)
	for k, a := range slate {
		cond.Next(p, slate[:k])
		if math.Abs(p[a]-logged[k].Propensity) > propTol {
			return false
		}
	}
	return true
}
