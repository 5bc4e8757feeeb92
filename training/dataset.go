package training

import (
	"fmt"
	"math/rand/v2"

	"nextbest/decide"
	"nextbest/features"
)

// Dataset is a table of labelled rows for a reward or response model: one
// row per (example, action shown), with the dense feature vector, the
// action's index, the observed reward and the logging policy's propensity.
// Rows of one example (one decision, one cb_adf example) are consecutive
// and share Group.
//
// A Dataset is built once and then only read; it is safe for concurrent
// reads.
type Dataset struct {
	// Dim is the length of each feature row.
	Dim int
	// ActionIDs names the action indices: Action[i] indexes it.
	ActionIDs []string
	// X holds the rows, row-major: row i is X[i*Dim:(i+1)*Dim].
	X          []float64
	Action     []int
	Reward     []float64
	Propensity []float64 // 0 when the source logs none
	Group      []int
	// Source describes where the rows came from ("journal /data/journal").
	Source string
	// FeatureSpec is the hash of the feature spec that built the rows
	// (journal sources), or a description of the file featurizer.
	FeatureSpec string
}

// Len returns the number of rows.
func (d *Dataset) Len() int { return len(d.Action) }

// Row returns row i; it aliases d.X.
func (d *Dataset) Row(i int) []float64 { return d.X[i*d.Dim : (i+1)*d.Dim : (i+1)*d.Dim] }

// add appends one row.
func (d *Dataset) add(x []float64, act int, reward, prop float64, group int) {
	d.X = append(d.X, x...)
	d.Action = append(d.Action, act)
	d.Reward = append(d.Reward, reward)
	d.Propensity = append(d.Propensity, prop)
	d.Group = append(d.Group, group)
}

// ActionCounts returns the number of rows per action index.
func (d *Dataset) ActionCounts() []int {
	n := make([]int, len(d.ActionIDs))
	for _, a := range d.Action {
		n[a]++
	}
	return n
}

// Subset returns a new Dataset with the given rows, in that order.
func (d *Dataset) Subset(rows []int) *Dataset {
	s := &Dataset{Dim: d.Dim, ActionIDs: d.ActionIDs, Source: d.Source, FeatureSpec: d.FeatureSpec,
		X: make([]float64, 0, len(rows)*d.Dim)}
	for _, i := range rows {
		s.add(d.Row(i), d.Action[i], d.Reward[i], d.Propensity[i], d.Group[i])
	}
	return s
}

// Split divides the rows by group (all rows of an example land on the same
// side) into a training and a held-out set, holding out about frac of the
// groups, chosen by a generator seeded with seed.
func (d *Dataset) Split(frac float64, seed uint64) (train, test *Dataset) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	var tr, te []int
	held := map[int]bool{}
	for i, g := range d.Group {
		h, ok := held[g]
		if !ok {
			h = r.Float64() < frac
			held[g] = h
		}
		if h {
			te = append(te, i)
		} else {
			tr = append(tr, i)
		}
	}
	return d.Subset(tr), d.Subset(te)
}

// SpecCompiler adapts a feature spec to decide.FeatureCompiler, so that
// decide.ParseCatalog compiles the catalog's action features for Assemble.
type SpecCompiler struct{ Spec *features.Spec }

// CompileAction implements decide.FeatureCompiler.
func (c SpecCompiler) CompileAction(id string, feats map[string]any) (any, error) {
	return c.Spec.CompileAction(id, feats)
}

// BuildStats counts what BuildDataset used and left out.
type BuildStats struct {
	Decisions     int // decisions that gave at least one row
	Rows          int
	SpecMismatch  int // decisions made with another feature spec, refused
	UnknownAction int // shown actions no longer in the catalog, left out
	BadInputs     int // decisions whose logged inputs the spec rejects
}

// BuildDataset rebuilds the feature vector of every (decision, shown
// action) exactly as it was scored live — features.Spec.InputsFromLog on
// the logged profile inputs, channel, context and time, then Assemble with
// the catalog's compiled action — and labels it with the joined reward and
// the logged propensity. Action indices are catalog indices, so
// Dataset.ActionIDs is the catalog's ids in order. The catalog must have
// been parsed with SpecCompiler{spec}.
//
// A decision logged with another feature spec (Decision.FeatureSpec ≠
// spec.Hash()) is refused and counted: its vectors cannot be rebuilt.
func BuildDataset(joined []Joined, spec *features.Spec, cat *decide.Catalog) (*Dataset, BuildStats, error) {
	var st BuildStats
	ids := make([]string, len(cat.Actions))
	for i, a := range cat.Actions {
		if _, ok := a.Compiled().(*features.ActionFeatures); !ok {
			return nil, st, fmt.Errorf("%w: catalog action %q has no compiled features: parse the catalog with training.SpecCompiler", ErrBadConfig, a.ID)
		}
		ids[i] = a.ID
	}
	dim := spec.Dim()
	hash := spec.Hash()
	ds := &Dataset{Dim: dim, ActionIDs: ids, FeatureSpec: hash}
	var (
		in    features.Inputs
		feats []*features.ActionFeatures
		acts  []int
		keep  []int
		x     []float64
	)
	for gi := range joined {
		j := &joined[gi]
		d := &j.Decision
		if d.FeatureSpec != hash {
			st.SpecMismatch++
			continue
		}
		if err := spec.InputsFromLog(&in, d.Profile, d.Channel, d.Context, d.Time); err != nil {
			st.BadInputs++
			continue
		}
		feats, acts, keep = feats[:0], acts[:0], keep[:0]
		for i, la := range d.Actions {
			a, ok := cat.Lookup(la.ActionID)
			if !ok {
				st.UnknownAction++
				continue
			}
			feats = append(feats, a.Compiled().(*features.ActionFeatures))
			acts = append(acts, a.Index())
			keep = append(keep, i)
		}
		if len(feats) == 0 {
			continue
		}
		if cap(x) < len(feats)*dim {
			x = make([]float64, len(feats)*dim)
		}
		x = x[:len(feats)*dim]
		spec.Assemble(x, &in, feats)
		for k, i := range keep {
			ds.add(x[k*dim:(k+1)*dim], acts[k], j.Rewards[i], d.Actions[i].Propensity, st.Decisions)
		}
		st.Decisions++
		st.Rows += len(keep)
	}
	return ds, st, nil
}
