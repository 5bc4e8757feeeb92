package eval

import (
	"errors"
	"fmt"
	"slices"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/logs"
	"nextbest/models"
	"nextbest/training"
)

// Target is a candidate policy to evaluate on logged decisions: a scorer
// (a trained artifact, or nil for the fallback ranking by value × weight)
// and the explorer it would serve with.
type Target struct {
	Name     string
	Scorer   decide.Scorer   // nil: rank by value × weight
	Explorer decide.Explorer // defaults filled in (decide.NewExplorer)
}

// JournalStats counts what JournalRounds used and left out.
type JournalStats struct {
	Decisions  int // joined decisions offered
	Used       int // rounds built
	NoActions  int // decisions that returned nothing
	NotShown   int // slots a deferred decision never activated (logs.Joined.Shown): no round
	OtherSpec  int // logged with another feature spec
	Unknown    int // the logged action or an eligible one is not in the catalog
	BadInputs  int // logged inputs that could not be rebuilt
	Fallback   int // decisions the logging policy served with its fallback (kept)
	Experiment int // decisions inside an experiment (kept; their propensity is the arm's)
}

// JournalRounds turns joined service decisions into off-policy rounds for
// target. Each round is a decision's first slot: the logged action, its
// logged propensity (exact: the engine's own), the reward joined to it,
// and the target's first-slot probabilities over the decision's eligible
// set, computed from vectors rebuilt exactly as the service built them
// (logs.RowBuilder).
//
// A decision the engine served with its fallback ranking (logged with
// Fallback) is evaluated as the engine would serve it again: every
// eligible action scored value × weight, explored by
// decide.FallbackExplorer(target.Explorer), so the logging policy evaluated on
// its own journal gives back its logged propensities. A target without a
// scorer is that fallback ranking on every decision.
//
// If qhat is not nil it supplies the reward model for DM/DR/SNDR/Switch-DR
// (its posterior mean per eligible action); fit it on other decisions
// than these (see CrossFitRidge) or the doubly robust estimates lose their
// protection against its errors.
func JournalRounds(joined []logs.Joined, spec *features.Spec, cat *decide.Catalog, target Target, qhat decide.Scorer) ([]Round, JournalStats, error) {
	return journalRounds(joined, spec, cat, target, qhat, 1)
}

// JournalSlotRounds is JournalRounds for every logged slot of each
// decision, up to slots (0: all), for EvaluateSlots: each decision gives
// consecutive rounds with Position 0, 1, …. The round of slot k holds the
// action logged in it, its logged propensity (the engine's probability
// given the actions in the earlier slots), the reward joined to it, and
// the target's probabilities over the eligible actions not yet shown,
// computed as the engine computes a later slot: the same explorer on the
// remaining candidates. A decision's slots stop at the first whose action
// is not eligible or repeats an earlier one. Slot 0's rounds are
// JournalRounds'.
func JournalSlotRounds(joined []logs.Joined, spec *features.Spec, cat *decide.Catalog, target Target, qhat decide.Scorer, slots int) ([]Round, JournalStats, error) {
	if slots < 0 {
		return nil, JournalStats{}, fmt.Errorf("eval: %d slots", slots)
	}
	return journalRounds(joined, spec, cat, target, qhat, slots)
}

// journalRounds builds the rounds of up to slots slots (0: all) per
// decision.
func journalRounds(joined []logs.Joined, spec *features.Spec, cat *decide.Catalog, target Target, qhat decide.Scorer, slots int) ([]Round, JournalStats, error) {
	var st JournalStats
	if target.Scorer != nil && target.Scorer.Dim() != spec.Dim() {
		return nil, st, fmt.Errorf("eval: target %s has dimension %d, the feature spec %d", target.Name, target.Scorer.Dim(), spec.Dim())
	}
	rb, err := logs.NewRowBuilder(spec, cat)
	if err != nil {
		return nil, st, fmt.Errorf("eval: %w", err)
	}
	var (
		rounds []Round
		xs     []float64
	)
	fallback := decide.FallbackExplorer(target.Explorer)
	for ji := range joined {
		j := &joined[ji]
		d := &j.Decision
		st.Decisions++
		if len(d.Actions) == 0 || len(j.Rewards) == 0 {
			st.NoActions++
			continue
		}
		if d.FeatureSpec != spec.Hash() {
			st.OtherSpec++
			continue
		}
		if d.Fallback {
			st.Fallback++
		}
		if d.Experiment != nil {
			st.Experiment++
		}
		logged := slices.Index(d.Eligible, d.Actions[0].ActionID)
		if logged < 0 {
			st.Unknown++
			continue
		}
		x, idx, err := rb.Rows(xs, d, d.Eligible)
		xs = x
		switch {
		case err != nil:
			// the spec was checked above: the logged inputs are bad
			st.BadInputs++
			continue
		case slices.Contains(idx, -1):
			st.Unknown++
			continue
		}
		n := len(idx)
		mean, std, c := make([]float64, n), make([]float64, n), make([]float64, n)
		for i, a := range idx {
			act := cat.Actions[a]
			c[i] = act.Value * act.Weight
		}
		pol := target.Explorer
		if target.Scorer == nil || d.Fallback {
			// the fallback ranking: value × weight, the engine's explorer
			for i := range mean {
				mean[i] = 1
			}
			pol = fallback
		} else {
			target.Scorer.Predict(mean, std, idx, x)
		}
		r := Round{
			Logged:     logged,
			Propensity: d.Actions[0].Propensity,
			Reward:     j.Rewards[0],
			Target:     make([]float64, n),
			Actions:    append([]int(nil), idx...),
		}
		pol.FirstSlotProbabilities(r.Target, mean, std, c)
		if qhat != nil {
			r.Qhat = make([]float64, n)
			qs := make([]float64, n)
			qhat.Predict(r.Qhat, qs, idx, x)
		}
		if j.Shown(0) {
			rounds = append(rounds, r)
			st.Used++
		} else {
			st.NotShown++
		}
		if slots == 1 {
			continue
		}
		// Later slots: the same explorer on the candidates not yet shown,
		// computed slot after slot as the engine did (decide.Slate), so
		// that the logging policy reproduces its logged propensities.
		var slate decide.Slate
		slate.Reset(pol, mean, std, c)
		rem := make([]int, 0, n) // indices into the eligible set
		for i := range n {
			if i != logged {
				rem = append(rem, i)
			}
		}
		dim := spec.Dim()
		for k := 1; (slots == 0 || k < slots) && k < len(d.Actions) && k < len(j.Rewards) && len(rem) > 0; k++ {
			li := slices.Index(d.Eligible, d.Actions[k].ActionID)
			pos := slices.Index(rem, li)
			if li < 0 || pos < 0 {
				break
			}
			m := len(rem)
			acts := make([]int, m)
			for p, i := range rem {
				acts[p] = idx[i]
			}
			rk := Round{Logged: pos, Propensity: d.Actions[k].Propensity, Reward: j.Rewards[k],
				Target: make([]float64, m), Actions: acts, Position: k}
			slate.Probabilities(rk.Target, rem)
			if qhat != nil {
				sx := make([]float64, 0, m*dim)
				for _, i := range rem {
					sx = append(sx, x[i*dim:(i+1)*dim]...)
				}
				rk.Qhat = make([]float64, m)
				qhat.Predict(rk.Qhat, make([]float64, m), acts, sx)
			}
			if j.Shown(k) {
				// an unshown slot still conditions the later ones
				rounds = append(rounds, rk)
			} else {
				st.NotShown++
			}
			rem = slices.Delete(rem, pos, pos+1)
		}
	}
	if len(rounds) == 0 {
		return nil, st, errors.New("eval: no usable decisions in the journal")
	}
	return rounds, st, nil
}

// CrossFitRidge fits two per-action ridge reward models, each on one half
// of the decisions (by a fixed alternation), and returns a scorer that
// predicts every decision with the model that did not see it — cross-
// fitting, so a doubly robust estimate's reward model is independent of
// the rounds it corrects. The halves are the decisions' positions: even
// and odd.
func CrossFitRidge(joined []logs.Joined, spec *features.Spec, cat *decide.Catalog) ([]decide.Scorer, error) {
	var halves [2][]logs.Joined
	for i := range joined {
		halves[i%2] = append(halves[i%2], joined[i])
	}
	var out []decide.Scorer
	for h := range 2 {
		ds, _, err := training.BuildDataset(halves[h], spec, cat)
		if err != nil {
			return nil, err
		}
		m, err := training.TrainRidge(ds, models.RidgeConfig{Dim: spec.Dim(), Actions: len(cat.Actions), Name: "qhat"}, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// JournalRoundsCrossFit is JournalRounds with cross-fitted reward models:
// decision i is corrected by the model fitted on the other half.
func JournalRoundsCrossFit(joined []logs.Joined, spec *features.Spec, cat *decide.Catalog, target Target) ([]Round, JournalStats, error) {
	return journalRoundsCrossFit(joined, spec, cat, target, 1)
}

// JournalSlotRoundsCrossFit is JournalSlotRounds with cross-fitted reward
// models, for EvaluateSlots and CompareSlots: a decision's slots stay
// consecutive.
func JournalSlotRoundsCrossFit(joined []logs.Joined, spec *features.Spec, cat *decide.Catalog, target Target, slots int) ([]Round, JournalStats, error) {
	if slots < 0 {
		return nil, JournalStats{}, fmt.Errorf("eval: %d slots", slots)
	}
	return journalRoundsCrossFit(joined, spec, cat, target, slots)
}

func journalRoundsCrossFit(joined []logs.Joined, spec *features.Spec, cat *decide.Catalog, target Target, slots int) ([]Round, JournalStats, error) {
	q, err := CrossFitRidge(joined, spec, cat)
	if err != nil {
		return nil, JournalStats{}, err
	}
	var halves [2][]logs.Joined
	for i := range joined {
		halves[i%2] = append(halves[i%2], joined[i])
	}
	var all []Round
	var total JournalStats
	for h := range 2 {
		rs, st, err := journalRounds(halves[h], spec, cat, target, q[1-h], slots)
		if err != nil {
			return nil, total, err
		}
		all = append(all, rs...)
		total.Decisions += st.Decisions
		total.Used += st.Used
		total.NoActions += st.NoActions
		total.NotShown += st.NotShown
		total.OtherSpec += st.OtherSpec
		total.Unknown += st.Unknown
		total.BadInputs += st.BadInputs
		total.Fallback += st.Fallback
		total.Experiment += st.Experiment
	}
	return all, total, nil
}
