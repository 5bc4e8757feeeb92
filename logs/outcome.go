package logs

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"nextbest/journal"
)

// MaxReward bounds the magnitude of a posted reward and of a declared
// weight. It keeps the learner's sufficient statistics and every score
// built from them (estimate × value × weight) far from overflow; a
// currency amount above it is a unit error, not a sale.
const MaxReward = 1e9

// CheckReward returns nil if r is a usable reward: finite and at most
// MaxReward in magnitude. Otherwise it returns an error wrapping
// ErrBadReward.
func CheckReward(r float64) error {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return fmt.Errorf("%w: %v is not a finite number", ErrBadReward, r)
	}
	if math.Abs(r) > MaxReward {
		return fmt.Errorf("%w: %g exceeds %g in magnitude", ErrBadReward, r, float64(MaxReward))
	}
	return nil
}

// Aggregation says how repeated outcomes of one type for one (decision,
// action) combine into the type's reward.
type Aggregation uint8

// Aggregations. The zero value is AggFirst.
const (
	// AggFirst counts the first outcome; repeats are duplicates.
	AggFirst Aggregation = iota
	// AggSum adds every outcome's reward.
	AggSum
	// AggMax keeps the largest reward.
	AggMax
)

var aggNames = [...]string{AggFirst: "first", AggSum: "sum", AggMax: "max"}

// String returns "first", "sum" or "max".
func (a Aggregation) String() string {
	if int(a) < len(aggNames) {
		return aggNames[a]
	}
	return fmt.Sprintf("Aggregation(%d)", uint8(a))
}

// MarshalText returns the name of a.
func (a Aggregation) MarshalText() ([]byte, error) {
	if int(a) >= len(aggNames) {
		return nil, fmt.Errorf("%w: aggregation %d", ErrInvalidOutcomeType, uint8(a))
	}
	return []byte(aggNames[a]), nil
}

// UnmarshalText parses "first", "sum" or "max" ("" is first).
func (a *Aggregation) UnmarshalText(b []byte) error {
	s := string(b)
	if s == "" {
		*a = AggFirst
		return nil
	}
	for i, n := range aggNames {
		if n == s {
			*a = Aggregation(i)
			return nil
		}
	}
	return fmt.Errorf("%w: aggregate %q: want first, sum or max", ErrInvalidOutcomeType, s)
}

// RewardRule maps a posted outcome to its learning reward: the posted
// value (the zero value), or a fixed weight whatever was posted. In YAML
// it is the scalar "value" or a mapping {weight: w}.
type RewardRule struct {
	// Weight, when not nil, is the learning reward of every outcome of the
	// type; nil takes the posted value.
	Weight *float64
}

// Apply returns the learning reward of an outcome posted with value v.
func (r RewardRule) Apply(v float64) float64 {
	if r.Weight != nil {
		return *r.Weight
	}
	return v
}

// String returns "value" or "weight(w)".
func (r RewardRule) String() string {
	if r.Weight != nil {
		return fmt.Sprintf("weight(%g)", *r.Weight)
	}
	return "value"
}

// UnmarshalYAML accepts `value` or `{weight: w}`.
func (r *RewardRule) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == "value" || n.Value == "" {
			*r = RewardRule{}
			return nil
		}
		return fmt.Errorf("%w: line %d: reward %q: want value or {weight: w}", ErrInvalidOutcomeType, n.Line, n.Value)
	case yaml.MappingNode:
		var m struct {
			Weight *float64 `yaml:"weight"`
		}
		if len(n.Content) != 2 || n.Content[0].Value != "weight" {
			return fmt.Errorf("%w: line %d: reward: want value or {weight: w}", ErrInvalidOutcomeType, n.Line)
		}
		if err := n.Decode(&m); err != nil {
			return fmt.Errorf("%w: line %d: reward weight: %v", ErrInvalidOutcomeType, n.Line, err)
		}
		*r = RewardRule{Weight: m.Weight}
		return nil
	}
	return fmt.Errorf("%w: line %d: reward: want value or {weight: w}", ErrInvalidOutcomeType, n.Line)
}

// MarshalYAML writes the form UnmarshalYAML reads.
func (r RewardRule) MarshalYAML() (any, error) {
	if r.Weight != nil {
		return map[string]float64{"weight": *r.Weight}, nil
	}
	return "value", nil
}

// OutcomeType declares one outcome type.
type OutcomeType struct {
	// Name is what outcomes post as "type": lower case, like "click".
	Name string `yaml:"name"`
	// Reward maps a posted outcome to its learning reward.
	Reward RewardRule `yaml:"reward"`
	// Conversion marks outcomes that count as a conversion in the
	// customer's profile (contact policies suppress after one), when their
	// learning reward is positive.
	Conversion bool `yaml:"conversion"`
	// Aggregate says how repeats for one (decision, action) combine.
	Aggregate Aggregation `yaml:"aggregate"`
	// Reject marks outcomes a channel reports when the customer declined
	// the action (dismissed the banner, said no on the call): they count
	// in the customer's contact history for the actions' reject-based
	// suppression (decide.Action.SuppressAfterRejects). Not with
	// Conversion.
	Reject bool `yaml:"reject"`
}

// Converts reports whether an outcome of type t posted with value v
// counts as a conversion: t is a conversion type and the outcome's
// learning reward is positive (a reward of 0 reports "did not convert").
func (t *OutcomeType) Converts(v float64) bool {
	return t.Conversion && t.Reward.Apply(v) > 0
}

// Aggregate is what the outcomes of one type for one (decision, action)
// have added up to so far: how many counted, and the type's reward.
type Aggregate struct {
	N      int
	Reward float64
}

// Fold adds an outcome with learning reward r to the type's aggregate
// a. It returns the new aggregate and delta, the change to the type's
// reward; counted is false for a duplicate (a repeat of a first type),
// which changes nothing. With max, a repeat below the maximum counts with
// delta 0.
func (t *OutcomeType) Fold(a Aggregate, r float64) (next Aggregate, delta float64, counted bool) {
	if a.N == 0 {
		return Aggregate{N: 1, Reward: r}, r, true
	}
	switch t.Aggregate {
	case AggSum:
		return Aggregate{N: a.N + 1, Reward: a.Reward + r}, r, true
	case AggMax:
		if r > a.Reward {
			return Aggregate{N: a.N + 1, Reward: r}, r - a.Reward, true
		}
		return Aggregate{N: a.N + 1, Reward: a.Reward}, 0, true
	}
	return a, 0, false
}

// ActionDelta is the change one counted outcome makes to its action's
// learning reward: the type's delta from Fold, less the default reward r0
// when it is the action's first counted outcome (outcomes replace the
// default).
func ActionDelta(typeDelta, r0 float64, firstOfAction bool) float64 {
	if firstOfAction {
		return typeDelta - r0
	}
	return typeDelta
}

// ActionReward is an action's learning reward from its types' final
// aggregates: r0 without a counted outcome, else the sum of the types'
// rewards, added in the order of the type names (so the same aggregates
// give the same bits every time). Summing ActionDelta over the outcomes
// as they arrive gives the same value, up to float rounding.
func ActionReward(r0 float64, aggs map[string]Aggregate) float64 {
	sum, counted := 0.0, false
	for _, name := range slices.Sorted(maps.Keys(aggs)) {
		if a := aggs[name]; a.N > 0 {
			sum += a.Reward
			counted = true
		}
	}
	if !counted {
		return r0
	}
	return sum
}

// DefaultOutcomeTypes are the declarations used when none are
// configured: the types the retail sample, the simulator and the tests
// post, each taking the posted value and counting its first outcome.
func DefaultOutcomeTypes() []OutcomeType {
	return []OutcomeType{
		{Name: "conversion", Conversion: true},
		{Name: "purchase", Conversion: true},
		{Name: "click"},
		{Name: "revenue"},
		{Name: "reject", Reject: true},
	}
}

// DefaultOutcomeType is the type of an outcome posted without one.
const DefaultOutcomeType = "conversion"

// Limits on declarations.
const (
	maxTypeLen      = 64
	maxOutcomeTypes = 64 // a bounded label set for metrics
)

var typePattern = regexp.MustCompile(`^[a-z][a-z0-9_.:-]*$`)

// Outcomes is a validated set of outcome type declarations. It is
// read-only after NewOutcomes and safe for concurrent use.
type Outcomes struct {
	byName map[string]*OutcomeType
	names  []string
}

// NewOutcomes validates decls and returns them as a set; no declarations
// means DefaultOutcomeTypes. Names must be unique lower-case names of at
// most 64 bytes, weights must pass CheckReward, and there may be at most
// 64 types. Errors wrap ErrInvalidOutcomeType and name the declaration.
func NewOutcomes(decls []OutcomeType) (*Outcomes, error) {
	if len(decls) == 0 {
		decls = DefaultOutcomeTypes()
	}
	if len(decls) > maxOutcomeTypes {
		return nil, fmt.Errorf("%w: %d types, at most %d", ErrInvalidOutcomeType, len(decls), maxOutcomeTypes)
	}
	o := &Outcomes{byName: make(map[string]*OutcomeType, len(decls))}
	for i := range decls {
		t := decls[i] // a copy: the caller's slice may change
		switch {
		case len(t.Name) > maxTypeLen || !typePattern.MatchString(t.Name):
			return nil, fmt.Errorf("%w: outcome_types[%d]: name %q must be a lower-case name like \"click\"", ErrInvalidOutcomeType, i, t.Name)
		case o.byName[t.Name] != nil:
			return nil, fmt.Errorf("%w: outcome_types[%d]: %q is declared twice", ErrInvalidOutcomeType, i, t.Name)
		case t.Aggregate > AggMax:
			return nil, fmt.Errorf("%w: outcome_types[%d] (%s): unknown aggregation %d", ErrInvalidOutcomeType, i, t.Name, t.Aggregate)
		case t.Reject && t.Conversion:
			return nil, fmt.Errorf("%w: outcome_types[%d] (%s): a type is a rejection or a conversion, not both", ErrInvalidOutcomeType, i, t.Name)
		}
		if t.Reward.Weight != nil {
			w := *t.Reward.Weight
			if err := CheckReward(w); err != nil {
				return nil, fmt.Errorf("%w: outcome_types[%d] (%s): weight: %v", ErrInvalidOutcomeType, i, t.Name, err)
			}
			t.Reward.Weight = &w
		}
		o.byName[t.Name] = &t
		o.names = append(o.names, t.Name)
	}
	return o, nil
}

// Lookup returns the declaration of the type named name.
func (o *Outcomes) Lookup(name string) (*OutcomeType, bool) {
	t, ok := o.byName[name]
	return t, ok
}

// Names returns the declared type names in declaration order. The caller
// must not modify the slice.
func (o *Outcomes) Names() []string { return o.names }

// String lists the declared names, comma-separated.
func (o *Outcomes) String() string { return strings.Join(o.names, ", ") }

// Seen is the de-duplication state of one decision's outcomes, by the
// rule every reader of outcomes shares (the state applier keeps the same
// rule in its store: state.DedupeKeys): a repeat of an outcome_id, or a
// second outcome of a first-aggregated type for the same action, is a
// duplicate. Its zero value has seen nothing.
type Seen struct {
	ids   map[string]struct{}    // outcome_ids taken
	first map[[2]string]struct{} // (action, type) of first types taken
}

// Take reports whether outcome o (of its decision) of type t repeats one
// already taken; if not, o takes its outcome_id and, for a first type,
// its action and type. A duplicate takes nothing.
func (s *Seen) Take(o *journal.Outcome, t *OutcomeType) (dup bool) {
	k := [2]string{o.ActionID, o.Type}
	_, dupID := s.ids[o.OutcomeID]
	_, dupFirst := s.first[k]
	if (o.OutcomeID != "" && dupID) || (t.Aggregate == AggFirst && dupFirst) {
		return true
	}
	if o.OutcomeID != "" {
		if s.ids == nil {
			s.ids = make(map[string]struct{}, 1)
		}
		s.ids[o.OutcomeID] = struct{}{}
	}
	if t.Aggregate == AggFirst {
		if s.first == nil {
			s.first = make(map[[2]string]struct{}, 2)
		}
		s.first[k] = struct{}{}
	}
	return false
}
