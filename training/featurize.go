package training

import (
	"fmt"
	"hash/fnv"
	"strconv"
)

// Featurizer turns CBExample features into dense rows of a hashed,
// VW-style layout, for files whose features are not named after the
// feature spec. It is benchmark only (see the package doc): a model over
// its rows cannot be served; SpecBuilder is the servable path. A row is
//
//	[bias | shared slots (SharedDim) | action slots (ActionDim) | crosses]
//
// Feature names get slots in order of first appearance (a vocabulary, so
// the same file always gives the same layout); once a side's slots are all
// taken, further names share slots by FNV-1a hash. Each pair in
// Interactions, e.g. "sa" as VW's -q sa, adds SharedDim×ActionDim cross
// slots: the product of every shared-line feature in namespace 's' with
// every action-line feature in namespace 'a', at (shared slot, action
// slot) — the outer product, exactly, not hashed further.
//
// A Featurizer is not safe for concurrent use (the vocabulary grows).
type Featurizer struct {
	SharedDim, ActionDim int
	// Interactions lists namespace pairs (shared letter, action letter).
	Interactions []string

	shared, action map[fkey]int
	ss, as         []int // scratch: slots of the current row's features
}

type fkey struct {
	ns   byte
	name string
}

// NewFeaturizer checks the layout and returns a Featurizer.
func NewFeaturizer(sharedDim, actionDim int, interactions []string) (*Featurizer, error) {
	if sharedDim < 1 || actionDim < 0 || sharedDim+actionDim > 4000 {
		return nil, fmt.Errorf("%w: shared dim %d, action dim %d", ErrBadConfig, sharedDim, actionDim)
	}
	for _, q := range interactions {
		if len(q) != 2 {
			return nil, fmt.Errorf("%w: interaction %q must be two namespace letters, like sa", ErrBadConfig, q)
		}
		if actionDim == 0 {
			return nil, fmt.Errorf("%w: interaction %q needs action features", ErrBadConfig, q)
		}
	}
	f := &Featurizer{SharedDim: sharedDim, ActionDim: actionDim, Interactions: interactions,
		shared: map[fkey]int{}, action: map[fkey]int{}}
	if f.Dim() > 4096 {
		return nil, fmt.Errorf("%w: %d dimensions (with crosses) is over 4096", ErrBadConfig, f.Dim())
	}
	return f, nil
}

// Dim is the length of a row.
func (f *Featurizer) Dim() int {
	d := 1 + f.SharedDim + f.ActionDim
	if len(f.Interactions) > 0 {
		d += f.SharedDim * f.ActionDim
	}
	return d
}

// Describe names the layout, for artifact metadata.
func (f *Featurizer) Describe() string {
	return fmt.Sprintf("featurizer(shared=%d,action=%d,q=%v)", f.SharedDim, f.ActionDim, f.Interactions)
}

func slot(vocab map[fkey]int, size int, ns byte, name string) int {
	key := fkey{ns, name}
	if i, ok := vocab[key]; ok {
		return i
	}
	if len(vocab) < size {
		i := len(vocab)
		vocab[key] = i
		return i
	}
	h := fnv.New64a()
	h.Write([]byte{ns, 0x1f})
	h.Write([]byte(name))
	return int(h.Sum64() % uint64(size))
}

// Row writes the row of one (shared, action) pair into x (len Dim).
func (f *Featurizer) Row(x []float64, shared, action []Feature) {
	clear(x)
	x[0] = 1
	so, ao, qo := 1, 1+f.SharedDim, 1+f.SharedDim+f.ActionDim
	f.ss = f.ss[:0]
	for _, ft := range shared {
		i := slot(f.shared, f.SharedDim, ft.NS, ft.Name)
		f.ss = append(f.ss, i)
		x[so+i] += ft.Value
	}
	if f.ActionDim == 0 {
		return
	}
	f.as = f.as[:0]
	for _, ft := range action {
		j := slot(f.action, f.ActionDim, ft.NS, ft.Name)
		f.as = append(f.as, j)
		x[ao+j] += ft.Value
	}
	for _, q := range f.Interactions {
		for si, s := range shared {
			if s.NS != q[0] {
				continue
			}
			base := qo + f.ss[si]*f.ActionDim
			for ai, a := range action {
				if a.NS == q[1] {
					x[base+f.as[ai]] += s.Value * a.Value
				}
			}
		}
	}
}

// ExampleBuilder collects labelled CBExamples into a Dataset of a
// Featurizer's layout (benchmark only: its FeatureSpec is the layout's
// description, which models.NewArtifact refuses): one row per example, for
// its logged action, with reward −cost and the logged probability. Action
// indices come from CBExample.ActionIDs when set (CSV, Parquet: the action
// column) and are the action's position otherwise (cb_adf, DSJSON: "0",
// "1", ...). Unlabelled examples are counted and skipped.
type ExampleBuilder struct {
	F         *Featurizer
	DS        *Dataset
	Unlabeled int
	ids       map[string]int
}

// NewExampleBuilder returns a builder writing rows of f's layout.
func NewExampleBuilder(f *Featurizer, source string) *ExampleBuilder {
	return &ExampleBuilder{F: f, DS: &Dataset{Dim: f.Dim(), Source: source, FeatureSpec: f.Describe()}, ids: map[string]int{}}
}

// ActionIndex returns the index of action id, adding it if new.
func (b *ExampleBuilder) ActionIndex(id string) int { return b.DS.actionIndex(b.ids, id) }

// Add appends ex's labelled row. It does not retain ex.
func (b *ExampleBuilder) Add(ex *CBExample) error {
	if ex.Chosen < 0 {
		b.Unlabeled++
		return nil
	}
	id := strconv.Itoa(ex.Chosen)
	if ex.ActionIDs != nil {
		id = ex.ActionIDs[ex.Chosen]
	}
	// one row per example: its group is its index
	row := b.DS.addRow(b.ActionIndex(id), -ex.Cost, ex.Prob, b.DS.Len())
	b.F.Row(row, ex.Shared, ex.Actions[ex.Chosen])
	return nil
}
