package logs

import (
	"fmt"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/journal"
)

// RowBuilder rebuilds the feature rows of logged decisions exactly as they
// were assembled live: features.Spec.InputsFromLog on the decision's
// logged profile inputs, channel, context and time, then Assemble with the
// catalog's compiled action features. The online learner, batch training
// (training.BuildDataset) and off-policy evaluation (eval.JournalRounds)
// all rebuild rows with it.
//
// A RowBuilder keeps scratch between calls: it is not safe for concurrent
// use; give each goroutine its own.
type RowBuilder struct {
	spec  *features.Spec
	cat   *decide.Catalog
	hash  string
	in    features.Inputs
	feats []*features.ActionFeatures
	acts  []int
	zero  []int // positions of ids not in the catalog
	shown []string
	pos   *PositionModel
}

// NewRowBuilder returns a RowBuilder for decisions made with spec over
// cat. cat must have been parsed with spec (decide.ParseCatalog(data,
// spec)), which compiles its action features; otherwise it returns an
// error wrapping ErrInvalidConfig that names the action.
func NewRowBuilder(spec *features.Spec, cat *decide.Catalog) (*RowBuilder, error) {
	for _, a := range cat.Actions {
		if a.Compiled() == nil {
			return nil, fmt.Errorf("%w: catalog action %q has no compiled features: parse the catalog with the feature spec", ErrInvalidConfig, a.ID)
		}
	}
	return &RowBuilder{spec: spec, cat: cat, hash: spec.Hash()}, nil
}

// SetPositions makes ShownRows apply the position model pm (nil: none,
// the default): the row of the action in slot k is multiplied by
// pm.Factor(k). Slot 0's rows, and so single-slot decisions, are
// unchanged either way. Rows is never affected: it builds rows for
// scoring, at slot 0's scale.
func (b *RowBuilder) SetPositions(pm *PositionModel) { b.pos = pm }

// Positions returns the position model set by SetPositions, or nil.
func (b *RowBuilder) Positions() *PositionModel { return b.pos }

// ShownRows rebuilds the learning rows of decision d: the rows of its
// returned actions in slot order (Rows of their ids), each scaled by the
// position model's factor of its slot when one is set (SetPositions).
// Batch training and the online learner learn from these rows.
func (b *RowBuilder) ShownRows(dst []float64, d *journal.Decision) (x []float64, acts []int, err error) {
	b.shown = b.shown[:0]
	for _, a := range d.Actions {
		b.shown = append(b.shown, a.ActionID)
	}
	x, acts, err = b.Rows(dst, d, b.shown)
	if err != nil || b.pos == nil {
		return x, acts, err
	}
	dim := b.spec.Dim()
	for k := range b.shown {
		f := b.pos.Factor(d.Actions[k].Slot)
		row := x[k*dim : (k+1)*dim]
		for i := range row {
			row[i] *= f
		}
	}
	return x, acts, nil
}

// Spec returns the feature spec the rows are built with.
func (b *RowBuilder) Spec() *features.Spec { return b.spec }

// Rows rebuilds the rows of the actions ids of decision d (its returned
// actions, its eligible set, or any other of its candidates) into dst,
// grown if it is too short, and returns them with their catalog indices:
// x holds len(ids) rows of Spec().Dim() values, row i for ids[i], and
// acts[i] is the catalog index of ids[i], or -1 for an id no longer in
// the catalog (its row is zero). acts is scratch of b, valid until the
// next call; the caller may modify it.
//
// A decision logged under another feature spec (d.FeatureSpec is not the
// spec's hash) is refused with ErrOtherSpec, and one whose logged inputs
// the spec rejects with ErrBadLoggedInputs: their rows cannot be rebuilt.
func (b *RowBuilder) Rows(dst []float64, d *journal.Decision, ids []string) (x []float64, acts []int, err error) {
	if d.FeatureSpec != b.hash {
		return dst, nil, fmt.Errorf("%w: decision %s was made with feature spec %.12s, rebuilding with %.12s", ErrOtherSpec, d.DecisionID, d.FeatureSpec, b.hash)
	}
	if err := b.spec.InputsFromLog(&b.in, d.Profile, d.Channel, d.Context, d.Time); err != nil {
		return dst, nil, fmt.Errorf("%w: decision %s: %w", ErrBadLoggedInputs, d.DecisionID, err)
	}
	b.feats, b.acts, b.zero = b.feats[:0], b.acts[:0], b.zero[:0]
	for i, id := range ids {
		a, ok := b.cat.Lookup(id)
		if !ok {
			b.acts = append(b.acts, -1)
			b.zero = append(b.zero, i)
			continue
		}
		b.feats = append(b.feats, a.Compiled())
		b.acts = append(b.acts, a.Index())
	}
	dim := b.spec.Dim()
	n := len(ids) * dim
	if cap(dst) < n {
		dst = make([]float64, n)
	}
	x = dst[:n]
	if len(b.zero) == 0 {
		b.spec.Assemble(x, &b.in, b.feats)
		return x, b.acts, nil
	}
	// some ids left the catalog: assemble the others in order, then move
	// each row to its id's place, from the last, and zero the gaps
	k := len(b.feats)
	b.spec.Assemble(x[:k*dim], &b.in, b.feats)
	for i := len(ids) - 1; i >= 0 && k > 0; i-- {
		row := x[i*dim : (i+1)*dim]
		if b.acts[i] < 0 {
			continue
		}
		k--
		if k != i {
			copy(row, x[k*dim:(k+1)*dim])
		}
	}
	for _, i := range b.zero {
		clear(x[i*dim : (i+1)*dim])
	}
	return x, b.acts, nil
}
