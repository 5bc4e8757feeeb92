package experiment

import (
	"time"

	"nextbest/journal"
)

// Aggregates are the sums of one experiment's decisions that Analyze
// reads: per arm (configured or not; Analyze leaves out, and warns of,
// the arms the experiment does not configure), the Sums of each day,
// channel and journey stage, and the times of the first and last
// decision. The service keeps them as it applies the journal (package
// state); a Builder makes them from a joined journal. Nothing in them
// grows with the number of customers or decisions.
type Aggregates struct {
	Arms map[string]*ArmSums
}

// ArmSums are one arm's sums.
type ArmSums struct {
	// Days holds, per date, the change that day's decisions made to the
	// arm's cumulative Sums: the Sums of the decisions up to the end of a
	// day are the sum of Days up to it (a customer first seen that day
	// counts in its Customers; a returning one adds only the growth of
	// its N_c², Y_c² and Y_c N_c). A day's Decisions and Y are that day's
	// decisions and their values.
	Days map[string]Sums
	// Channels and Stages hold the Sums of the arm's decisions per
	// channel and per journey stage.
	Channels map[string]Sums
	Stages   map[string]Sums
	// From and To are the times of the arm's first and last decision.
	From, To time.Time
}

// arm returns the sums of arm name, made empty if need be.
func (a *Aggregates) arm(name string) *ArmSums {
	if a.Arms == nil {
		a.Arms = make(map[string]*ArmSums)
	}
	s := a.Arms[name]
	if s == nil {
		s = &ArmSums{Days: map[string]Sums{}, Channels: map[string]Sums{}, Stages: map[string]Sums{}}
		a.Arms[name] = s
	}
	return s
}

// Add adds s to the Sums of group g.
func (a *Aggregates) Add(g Group, s *Sums) {
	arm := a.arm(g.Arm)
	var m map[string]Sums
	switch g.Dim {
	case DimDay:
		m = arm.Days
	case DimChannel:
		m = arm.Channels
	case DimStage:
		m = arm.Stages
	default:
		panic("BUG: experiment: unknown group dimension " + g.Dim)
	}
	v := m[g.Value]
	v.Add(s)
	m[g.Value] = v
}

// Seen widens arm's span of decision times [From, To] to from and to.
func (a *Aggregates) Seen(arm string, from, to time.Time) {
	s := a.arm(arm)
	if s.From.IsZero() || from.Before(s.From) {
		s.From = from
	}
	if to.After(s.To) {
		s.To = to
	}
}

// Builder makes the Aggregates of decisions whose values are final (the
// decisions of a joined journal, as eval does), through the same
// Unit.Change the service applies as records arrive. A Builder is not safe
// for concurrent use.
type Builder struct {
	agg   Aggregates
	units map[string]*Unit
	loc   *time.Location
}

// NewBuilder returns a Builder whose days are dates in loc (nil: UTC).
func NewBuilder(loc *time.Location) *Builder {
	if loc == nil {
		loc = time.UTC
	}
	return &Builder{units: make(map[string]*Unit), loc: loc}
}

// Add adds experiment decision d (d.Experiment is not nil) with its
// final values y and whether any outcome was joined to it.
func (b *Builder) Add(d *journal.Decision, y *Values, outcome bool) {
	u := b.units[d.CustomerID]
	if u == nil {
		u = new(Unit)
		b.units[d.CustomerID] = u
	}
	ed := DecisionOf(d, b.loc)
	var out int64
	if outcome {
		out = 1
	}
	u.Change(&ed, 1, y, out, b.agg.Add)
	b.agg.Seen(ed.Arm, d.Time, d.Time)
}

// Aggregates returns what was added. The Builder must not be used after.
func (b *Builder) Aggregates() *Aggregates { return &b.agg }

// orUnknown returns s, or Unknown if it is empty.
func orUnknown(s string) string {
	if s == "" {
		return Unknown
	}
	return s
}

// NewDecision returns the Decision of a decision in arm made at t (a date
// in loc) on channel with the customer at journey stage, empty ones read
// as Unknown.
func NewDecision(arm string, t time.Time, loc *time.Location, channel, stage string) Decision {
	return Decision{Arm: arm, Date: DateOf(t, loc), Channel: orUnknown(channel), Stage: orUnknown(stage)}
}
