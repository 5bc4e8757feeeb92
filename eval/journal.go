package eval

import (
	"errors"
	"fmt"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/models"
	"nextbest/training"
)

// Target is a candidate policy to evaluate on logged decisions: a scorer
// (a trained artifact, or nil for the fallback ranking by value × weight)
// and the explorer it would serve with.
type Target struct {
	Name   string
	Scorer decide.Scorer // nil: rank by value × weight
	Policy decide.Policy // defaults filled in (decide.NewPolicy)
}

// JournalStats counts what JournalRounds used and left out.
type JournalStats struct {
	Decisions  int // joined decisions offered
	Used       int // rounds built
	NoActions  int // decisions that returned nothing
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
// set, computed from vectors rebuilt exactly as the service built them.
// If qhat is not nil it supplies the reward model for DM/DR/SNDR/Switch-DR
// (its posterior mean per eligible action); fit it on other decisions
// than these (see CrossFitRidge) or the doubly robust estimates lose their
// protection against its errors.
func JournalRounds(joined []training.Joined, spec *features.Spec, cat *decide.Catalog, target Target, qhat decide.Scorer) ([]Round, JournalStats, error) {
	var st JournalStats
	if target.Scorer != nil && target.Scorer.Dim() != spec.Dim() {
		return nil, st, fmt.Errorf("eval: target %s has dimension %d, the feature spec %d", target.Name, target.Scorer.Dim(), spec.Dim())
	}
	var (
		in     features.Inputs
		rounds []Round
		acts   []*decide.Action
		feats  []*features.ActionFeatures
		idx    []int
		xs     []float64
	)
	hash := spec.Hash()
	dim := spec.Dim()
	for ji := range joined {
		j := &joined[ji]
		d := &j.Decision
		st.Decisions++
		if len(d.Actions) == 0 || len(j.Rewards) == 0 {
			st.NoActions++
			continue
		}
		if d.FeatureSpec != hash {
			st.OtherSpec++
			continue
		}
		if d.Fallback {
			st.Fallback++
		}
		if d.Experiment != nil {
			st.Experiment++
		}
		acts, feats, idx = acts[:0], feats[:0], idx[:0]
		logged := -1
		ok := true
		for _, id := range d.Eligible {
			a, found := cat.Lookup(id)
			if !found {
				ok = false
				break
			}
			if id == d.Actions[0].ActionID {
				logged = len(acts)
			}
			acts = append(acts, a)
			feats = append(feats, a.Compiled().(*features.ActionFeatures))
			idx = append(idx, a.Index())
		}
		if !ok || logged < 0 {
			st.Unknown++
			continue
		}
		if err := spec.InputsFromLog(&in, d.Profile, d.Channel, d.Context, d.Time); err != nil {
			st.BadInputs++
			continue
		}
		n := len(acts)
		if cap(xs) < n*dim {
			xs = make([]float64, n*dim)
		}
		xs = xs[:n*dim]
		spec.Assemble(xs, &in, feats)
		mean, std, c := make([]float64, n), make([]float64, n), make([]float64, n)
		for i, a := range acts {
			c[i] = a.Value * a.Weight
		}
		pol := target.Policy
		if target.Scorer == nil {
			for i := range mean {
				mean[i] = 1
			}
			if pol.Kind != decide.EpsilonGreedy {
				pol = decide.Policy{Kind: decide.EpsilonGreedy, Epsilon: 0.1}
			}
		} else {
			target.Scorer.Predict(mean, std, idx, xs)
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
			qhat.Predict(r.Qhat, qs, idx, xs)
		}
		rounds = append(rounds, r)
		st.Used++
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
func CrossFitRidge(joined []training.Joined, spec *features.Spec, cat *decide.Catalog) ([]decide.Scorer, error) {
	var halves [2][]training.Joined
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
func JournalRoundsCrossFit(joined []training.Joined, spec *features.Spec, cat *decide.Catalog, target Target) ([]Round, JournalStats, error) {
	q, err := CrossFitRidge(joined, spec, cat)
	if err != nil {
		return nil, JournalStats{}, err
	}
	var halves [2][]training.Joined
	for i := range joined {
		halves[i%2] = append(halves[i%2], joined[i])
	}
	var all []Round
	var total JournalStats
	for h := range 2 {
		rs, st, err := JournalRounds(halves[h], spec, cat, target, q[1-h])
		if err != nil {
			return nil, total, err
		}
		all = append(all, rs...)
		total.Decisions += st.Decisions
		total.Used += st.Used
		total.NoActions += st.NoActions
		total.OtherSpec += st.OtherSpec
		total.Unknown += st.Unknown
		total.BadInputs += st.BadInputs
		total.Fallback += st.Fallback
		total.Experiment += st.Experiment
	}
	return all, total, nil
}
