package training

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"nextbest/decide"
	"nextbest/features"
)

// SpecBuilder collects the labelled CBExamples of a data file (cb_adf,
// DSJSON, CSV, Parquet) whose features are named after a feature spec's
// inputs into a Dataset of that spec's vectors: the vectors the service
// scores, so that a model trained on it can be served.
//
// # Naming
//
// A feature named like one of the spec's sources (features.Spec.Sources)
// gives that source's value: "profile.counters.visits_7d:3" a number,
// "context.page=cart" a string (name=value, as VW and DSJSON flattening
// write categorical values), "profile.attributes.email_opt_in" a bool
// (its value ≠ 0; or name=true). In DSJSON the nesting does the naming:
//
//	{"c": {"profile": {"stage": "cart", "counters": {"visits_7d": 3}},
//	       "context": {"page": "cart"}, "request": {"channel": "web"},
//	       "_multi": [{"action": {"id": "free-shipping", "category": "service"}}, ...]}}
//
// and in cb_adf the names are written whole, in the default namespace:
//
//	shared | profile.stage=cart profile.counters.visits_7d:3 context.page=cart request.channel=web
//	0:-1:0.5 | action.id=free-shipping action.category=service
//
// Namespaces and features whose name starts with '_' (VW metadata such as
// _tag) are ignored. The logged action's id is its action.id feature (or
// the tabular action column, or else its position); its features are the
// catalog's for that id, overridden by the ones the file logs. time.hour
// and time.weekday come from the example's Time (DSJSON "Timestamp").
//
// Values go through the same path as a journal's logged decision
// (features.Spec.InputsFromLog, CompileAction, Assemble) and the same
// checks as a live request (ValidateContext, the action field bounds); an
// example they refuse is skipped and counted in Bad.
//
// # The mapping check
//
// Check compares the names the file used with the spec's sources: a
// feature the spec does not read is Unknown, a source no example carried
// (nor the catalog, for action sources) is Missing. A model trained on a
// file that differs would be served on vectors it never saw filled the
// same way, so callers refuse it unless told otherwise.
//
// A SpecBuilder is not safe for concurrent use.
type SpecBuilder struct {
	// DS is the dataset built so far. Its ActionIDs start with the
	// catalog's ids in catalog order; ids of the file the catalog lacks
	// follow in order of first appearance.
	DS *Dataset
	// Unlabeled counts examples without a label, skipped.
	Unlabeled int
	// Bad counts labelled examples the spec refused (a value of the wrong
	// type or out of its declared range), skipped; FirstBad says why the
	// first was refused.
	Bad      int
	FirstBad string
	// From and To bound the examples' Time (zero without times).
	From, To time.Time

	spec     *features.Spec
	srcs     map[string]features.Source
	cat      *decide.Catalog
	ids      map[string]int
	seen     map[string]bool
	unknown  map[string]bool
	compiled map[string]*features.ActionFeatures
	examples int
	// unknownMore counts unknown names past maxUnknown, not kept.
	unknownMore int

	// per-example scratch
	profile, ctx, afeats map[string]any
	key                  []byte
	in                   features.Inputs
	acts                 []*features.ActionFeatures
}

// maxCompiled bounds the cache of compiled actions; beyond it actions are
// compiled per example. maxUnknown bounds the unknown names kept for
// Check (a hashed VW file may have millions).
const (
	maxCompiled = 1 << 14
	maxUnknown  = 1 << 12
)

// NewSpecBuilder returns a builder of spec's vectors. cat, if not nil,
// names the actions (its ids come first in Dataset.ActionIDs, as in a
// journal dataset) and gives the features of the actions the file names
// by id only.
func NewSpecBuilder(spec *features.Spec, cat *decide.Catalog, source string) *SpecBuilder {
	b := &SpecBuilder{
		DS:   &Dataset{Dim: spec.Dim(), Source: source, FeatureSpec: spec.Hash()},
		spec: spec, cat: cat, srcs: map[string]features.Source{},
		ids: map[string]int{}, seen: map[string]bool{}, unknown: map[string]bool{},
		compiled: map[string]*features.ActionFeatures{},
		profile:  map[string]any{}, ctx: map[string]any{}, afeats: map[string]any{},
		acts: make([]*features.ActionFeatures, 1),
	}
	for _, s := range spec.Sources() {
		b.srcs[s.Name] = s
	}
	if cat != nil {
		for _, a := range cat.Actions {
			b.actionIndex(a.ID)
		}
	}
	return b
}

func (b *SpecBuilder) actionIndex(id string) int { return b.DS.actionIndex(b.ids, id) }

// Add appends the row of ex's logged action, or counts ex as Unlabeled or
// Bad. It does not retain ex. It returns no error today; the signature is
// the readers' callback.
func (b *SpecBuilder) Add(ex *CBExample) error {
	b.examples++
	if ex.Chosen < 0 || ex.Chosen >= len(ex.Actions) {
		b.Unlabeled++
		return nil
	}
	if !ex.Time.IsZero() {
		b.seen["time.hour"], b.seen["time.weekday"] = true, true
		if b.From.IsZero() || ex.Time.Before(b.From) {
			b.From = ex.Time
		}
		if ex.Time.After(b.To) {
			b.To = ex.Time
		}
	}
	af, id, bad := b.parse(ex, ex.Chosen)
	if bad != "" {
		b.Bad++
		if b.FirstBad == "" {
			b.FirstBad = fmt.Sprintf("example %d: %s", b.examples, bad)
		}
		return nil
	}
	// one row per example: its group is its index
	row := b.DS.addRow(b.actionIndex(id), -ex.Cost, ex.Prob, b.DS.Len())
	b.acts[0] = af
	b.spec.Assemble(row, &b.in, b.acts)
	return nil
}

// CandidateRows builds the row of every action of ex, as Add builds the
// logged one's (the same naming, values and checks; the action's
// features from the file over the catalog's), into dst, grown if it is
// too short: len(ex.Actions) rows of the spec's Dim, row k for action k,
// and the actions' ids. It neither adds to the dataset nor counts; an
// example the spec refuses is an error saying why. Off-policy evaluation
// of a model on a data file scores every candidate with these rows.
func (b *SpecBuilder) CandidateRows(dst []float64, ex *CBExample) (x []float64, ids []string, err error) {
	dim := b.spec.Dim()
	n := len(ex.Actions) * dim
	if cap(dst) < n {
		dst = make([]float64, n)
	}
	x = dst[:n]
	for k := range ex.Actions {
		af, id, bad := b.parse(ex, k)
		if bad != "" {
			return x, ids, fmt.Errorf("%w: action %d (%s): %s", ErrParse, k, id, bad)
		}
		b.acts[0] = af
		b.spec.Assemble(x[k*dim:(k+1)*dim], &b.in, b.acts)
		ids = append(ids, id)
	}
	return x, ids, nil
}

// parse reads ex's features as the example of action chosen: the
// profile, context and channel into b.in, the action's id and compiled
// features; bad says why the spec refuses it ("" if it does not).
func (b *SpecBuilder) parse(ex *CBExample, chosen int) (af *features.ActionFeatures, id, bad string) {
	clear(b.profile)
	clear(b.ctx)
	clear(b.afeats)
	var (
		channel string
		hasID   bool
	)
	b.key = b.key[:0]
	set := func(f *Feature, own bool) {
		name, str, isStr := splitFeature(f.Name)
		if name == "" || name[0] == '_' {
			return
		}
		src, ok := b.srcs[name]
		switch {
		case !ok:
			if len(b.unknown) < maxUnknown {
				b.unknown[name] = true
			} else if !b.unknown[name] {
				b.unknownMore++
			}
			return
		case strings.HasPrefix(name, "time."):
			return // from ex.Time: the clock is not a feature to log
		}
		if src.Action && !own {
			b.seen[name] = true
			return
		}
		v, err := sourceValue(src, f.Value, str, isStr)
		if err != nil {
			if bad == "" {
				bad = err.Error()
			}
			return
		}
		b.seen[name] = true
		switch {
		case name == "action.id":
			id, hasID = v.(string), true
		case src.Action:
			b.afeats[name[len("action."):]] = v
			b.key = append(b.key, f.Name...)
			b.key = strconv.AppendFloat(append(b.key, 0x1f), f.Value, 'g', -1, 64)
			b.key = append(b.key, 0x1e)
		case name == "request.channel":
			channel = v.(string)
		case strings.HasPrefix(name, "profile."):
			b.profile[name[len("profile."):]] = v
		case strings.HasPrefix(name, "context."):
			b.ctx[name[len("context."):]] = v
		}
	}
	for i := range ex.Shared {
		set(&ex.Shared[i], true)
	}
	for k, feats := range ex.Actions {
		for i := range feats {
			set(&feats[i], k == chosen)
		}
	}
	if !hasID {
		if ex.ActionIDs != nil {
			id = ex.ActionIDs[chosen]
			b.seen["action.id"] = true
		} else {
			id = strconv.Itoa(chosen)
		}
	}
	if bad == "" {
		var err error
		if af, err = b.action(id); err != nil {
			bad = err.Error()
		}
	}
	if bad == "" {
		if err := b.spec.ValidateContext(b.ctx); err != nil {
			bad = err.Error()
		} else if err := b.spec.InputsFromLog(&b.in, b.profile, channel, b.ctx, ex.Time); err != nil {
			bad = err.Error()
		}
	}
	return af, id, bad
}

// action compiles the logged action id with the catalog's features
// overridden by the file's (b.afeats, keyed in b.key), cached.
func (b *SpecBuilder) action(id string) (*features.ActionFeatures, error) {
	var base map[string]any
	if b.cat != nil {
		if a, ok := b.cat.Lookup(id); ok {
			base = a.Features
			for name, s := range b.srcs {
				if s.Action {
					b.seen[name] = true
				}
			}
		}
	}
	key := string(append(append(b.key, 0x1d), id...))
	if af, ok := b.compiled[key]; ok {
		return af, nil
	}
	feats := b.afeats
	if len(base) > 0 {
		feats = make(map[string]any, len(base)+len(b.afeats))
		for k, v := range base {
			feats[k] = v
		}
		for k, v := range b.afeats {
			feats[k] = v
		}
	}
	af, err := b.spec.CompileAction(id, feats)
	if err != nil {
		return nil, err
	}
	if len(b.compiled) < maxCompiled {
		b.compiled[key] = af
	}
	return af, nil
}

// splitFeature splits "name=value" (a categorical feature) into its name
// and value; a name without '=' is numeric.
func splitFeature(s string) (name, str string, isStr bool) {
	if i := strings.IndexByte(s, '='); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// sourceValue converts a feature to the type of src: a number from the
// feature's value (or a name=value that parses as one), a string from
// name=value (or a number in shortest form), a bool from a value ≠ 0 (or
// name=true|false).
func sourceValue(src features.Source, x float64, str string, isStr bool) (any, error) {
	switch src.Type {
	case "number":
		if !isStr {
			return x, nil
		}
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a number", src.Name, str)
		}
		return v, nil
	case "string":
		if isStr {
			return str, nil
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case "bool":
		if !isStr {
			return x != 0, nil
		}
		v, err := strconv.ParseBool(str)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a bool", src.Name, str)
		}
		return v, nil
	}
	return nil, fmt.Errorf("%s: unknown type %q", src.Name, src.Type)
}

// Check compares the features the file used with the spec's sources and
// returns a *FeatureMismatchError listing those that differ, or nil.
func (b *SpecBuilder) Check() error {
	e := &FeatureMismatchError{More: b.unknownMore}
	for name := range b.unknown {
		e.Unknown = append(e.Unknown, name)
	}
	slices.Sort(e.Unknown)
	for _, s := range b.spec.Sources() {
		if !b.seen[s.Name] {
			e.Missing = append(e.Missing, s.Name)
		}
	}
	if len(e.Unknown) == 0 && len(e.Missing) == 0 {
		return nil
	}
	return e
}

// FeatureMismatchError says how a data file's features differ from the
// feature spec it is to be featurized with. It wraps ErrFeatureMismatch.
type FeatureMismatchError struct {
	// Unknown are the file's feature names (without "=value") that the
	// spec does not read, sorted. More counts further unknown names not
	// listed (past the first 4096).
	Unknown []string
	More    int
	// Missing are the spec's sources that no example carried, in the
	// spec's order.
	Missing []string
}

// maxListed bounds the names an error message lists.
const maxListed = 20

func listNames(names []string, more int) string {
	if n := len(names) - maxListed; n > 0 {
		names, more = names[:maxListed], more+n
	}
	s := strings.Join(names, ", ")
	if more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

func (e *FeatureMismatchError) Error() string {
	var parts []string
	if len(e.Unknown) > 0 {
		parts = append(parts, "in the file but not read by the spec: "+listNames(e.Unknown, e.More))
	}
	if len(e.Missing) > 0 {
		parts = append(parts, "read by the spec but in no example: "+listNames(e.Missing, 0))
	}
	return "training: the file's features do not match the feature spec: " + strings.Join(parts, "; ")
}

// Unwrap returns ErrFeatureMismatch.
func (e *FeatureMismatchError) Unwrap() error { return ErrFeatureMismatch }
