package training

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/logs"
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

// add appends one row, a copy of x.
func (d *Dataset) add(x []float64, act int, reward, prop float64, group int) {
	copy(d.addRow(act, reward, prop, group), x)
}

// addRow appends one row of zeros and returns it (aliasing d.X) for the
// caller to fill.
func (d *Dataset) addRow(act int, reward, prop float64, group int) []float64 {
	n := len(d.X)
	d.X = append(d.X, make([]float64, d.Dim)...)
	d.Action = append(d.Action, act)
	d.Reward = append(d.Reward, reward)
	d.Propensity = append(d.Propensity, prop)
	d.Group = append(d.Group, group)
	return d.X[n : n+d.Dim : n+d.Dim]
}

// actionIndex returns the index of action id in d.ActionIDs, adding it if
// new; ids maps the ids added so far to their index.
func (d *Dataset) actionIndex(ids map[string]int, id string) int {
	if i, ok := ids[id]; ok {
		return i
	}
	i := len(d.ActionIDs)
	ids[id] = i
	d.ActionIDs = append(d.ActionIDs, id)
	return i
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

// BuildStats counts what BuildDataset used and left out.
type BuildStats struct {
	Decisions     int // decisions that gave at least one row
	Rows          int
	SpecMismatch  int // decisions made with another feature spec, refused
	UnknownAction int // shown actions no longer in the catalog, left out
	BadInputs     int // decisions whose logged inputs the spec rejects
}

// BuildDataset rebuilds the feature vector of every (decision, shown
// action) exactly as it was scored live (logs.RowBuilder) and labels it
// with the joined reward and the logged propensity. Action indices are
// catalog indices, so Dataset.ActionIDs is the catalog's ids in order.
// The catalog must have been parsed with spec (decide.ParseCatalog).
//
// A decision logged with another feature spec (Decision.FeatureSpec ≠
// spec.Hash()) is refused and counted: its vectors cannot be rebuilt.
func BuildDataset(joined []logs.Joined, spec *features.Spec, cat *decide.Catalog) (*Dataset, BuildStats, error) {
	return BuildDatasetPositions(joined, spec, cat, nil)
}

// BuildDatasetPositions is BuildDataset with the position model pm
// applied to the rows of multi-slot decisions (logs.RowBuilder
// SetPositions: the row of the action in slot k scaled by θₖ); nil is
// BuildDataset.
func BuildDatasetPositions(joined []logs.Joined, spec *features.Spec, cat *decide.Catalog, pm *logs.PositionModel) (*Dataset, BuildStats, error) {
	var st BuildStats
	rb, err := logs.NewRowBuilder(spec, cat)
	if err != nil {
		return nil, st, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	rb.SetPositions(pm)
	ids := make([]string, len(cat.Actions))
	for i, a := range cat.Actions {
		ids[i] = a.ID
	}
	dim := spec.Dim()
	ds := &Dataset{Dim: dim, ActionIDs: ids, FeatureSpec: spec.Hash()}
	var x []float64
	for gi := range joined {
		j := &joined[gi]
		d := &j.Decision
		xs, acts, err := rb.ShownRows(x, d)
		x = xs
		switch {
		case errors.Is(err, logs.ErrOtherSpec):
			st.SpecMismatch++
			continue
		case err != nil:
			st.BadInputs++
			continue
		}
		rows := 0
		for i, a := range acts {
			if !j.Shown(i) {
				continue // a slot of a deferred decision never activated: not an impression
			}
			if a < 0 {
				st.UnknownAction++
				continue
			}
			ds.add(x[i*dim:(i+1)*dim], a, j.Rewards[i], d.Actions[i].Propensity, st.Decisions)
			rows++
		}
		if rows == 0 {
			continue
		}
		st.Decisions++
		st.Rows += rows
	}
	return ds, st, nil
}
