package experiment

import (
	"cmp"
	"slices"
	"time"
)

// NumMetrics is the number of metrics of a decision: conversion, revenue
// and reward, in that order in every Values (the order of Result.Metrics).
const NumMetrics = 3

// RevenueType is the outcome type whose joined rewards make the revenue
// metric.
const RevenueType = "revenue"

// Values are one decision's metric values, or their sum over decisions:
// conversion (0 or 1 per decision), revenue and reward (see Result.Metrics
// for the definitions).
type Values [NumMetrics]float64

// Dimensions of a Group.
const (
	DimDay     = "day"     // Value is the date, "2006-01-02"
	DimChannel = "channel" // Value is the decision's channel
	DimStage   = "stage"   // Value is the customer's journey stage at the decision
)

// Unknown is the channel or stage of a decision that has none.
const Unknown = "unknown"

// Group names a set of one experiment's decisions whose Sums are kept: an
// arm's decisions of one day, of one channel or of one journey stage.
type Group struct {
	Arm   string
	Dim   string
	Value string
}

func compareGroups(a, b Group) int {
	return cmp.Or(cmp.Compare(a.Arm, b.Arm), cmp.Compare(a.Dim, b.Dim), cmp.Compare(a.Value, b.Value))
}

// Sums are the sufficient statistics of a group of decisions clustered by
// customer, the unit of randomisation. With N_c the decisions of customer
// c in the group and Y_c the sum of their values,
//
//	Customers = K (customers with N_c > 0)   Decisions = Σ N_c
//	NN = Σ N_c²   Y = Σ Y_c   YY = Σ Y_c²   YN = Σ Y_c N_c
//
// and WithOutcomes counts the decisions with at least one joined outcome.
// With a pre-period covariate X_c per customer (the experiment's
// covariate, Decision.X at the customer's first decision in it), the
// cross-moments for CUPED are kept too:
//
//	X = Σ X_c   XX = Σ X_c²   XN = Σ X_c N_c   XY = Σ X_c Y_c
//
// (all 0 when the experiment has no covariate; see cuped.go).
// A metric's mean per decision is Y/Decisions and its customer-clustered
// variance (delta method for ratio metrics, Deng, Knoblich & Lu 2018)
//
//	Var ≈ Σ_c (Y_c − m·N_c)² / (K(K−1)·N̄²) = (YY − 2m·YN + m²·NN) / (K(K−1)·N̄²),
//
// which reduces to s²/n when each customer has one decision: every
// statistic of Analyze is a function of Sums. Sums add, so a change to
// them (what Unit.Change emits) is Sums too.
type Sums struct {
	Customers    int64   `json:"customers"`
	Decisions    int64   `json:"decisions"`
	WithOutcomes int64   `json:"with_outcomes"`
	NN           float64 `json:"nn"`
	Y            Values  `json:"y"`
	YY           Values  `json:"yy"`
	YN           Values  `json:"yn"`
	X            float64 `json:"x,omitempty"`
	XX           float64 `json:"xx,omitempty"`
	XN           float64 `json:"xn,omitempty"`
	XY           Values  `json:"xy,omitzero"`
}

// Add adds o to s.
func (s *Sums) Add(o *Sums) {
	s.Customers += o.Customers
	s.Decisions += o.Decisions
	s.WithOutcomes += o.WithOutcomes
	s.NN += o.NN
	s.X += o.X
	s.XX += o.XX
	s.XN += o.XN
	for m := range NumMetrics {
		s.Y[m] += o.Y[m]
		s.YY[m] += o.YY[m]
		s.YN[m] += o.YN[m]
		s.XY[m] += o.XY[m]
	}
}

// sub subtracts o from s.
func (s *Sums) sub(o *Sums) {
	s.Customers -= o.Customers
	s.Decisions -= o.Decisions
	s.WithOutcomes -= o.WithOutcomes
	s.NN -= o.NN
	s.X -= o.X
	s.XX -= o.XX
	s.XN -= o.XN
	for m := range NumMetrics {
		s.Y[m] -= o.Y[m]
		s.YY[m] -= o.YY[m]
		s.YN[m] -= o.YN[m]
		s.XY[m] -= o.XY[m]
	}
}

// IsZero reports whether every field of s is 0.
func (s *Sums) IsZero() bool { return *s == Sums{} }

// clusterSums are the Sums of one customer with covariate x and n
// decisions of summed values y (no outcome count).
func clusterSums(x float64, n int64, y *Values) Sums {
	s := Sums{Decisions: n, NN: float64(n) * float64(n)}
	if n > 0 {
		s.Customers = 1
		s.X, s.XX, s.XN = x, x*x, x*float64(n)
	}
	for m := range NumMetrics {
		s.Y[m] = y[m]
		s.YY[m] = y[m] * y[m]
		s.YN[m] = y[m] * float64(n)
		s.XY[m] = x * y[m]
	}
	return s
}

// Decision is one decision of an experiment as the sums see it: its arm,
// the date it was made on (in the analysis' time zone), its channel and
// the customer's journey stage (Unknown if empty), and the customer's
// covariate at the decision (0 when the experiment has none).
type Decision struct {
	Arm, Date, Channel, Stage string
	X                         float64
}

// DateOf returns the date of t in loc as a day Group's value.
func DateOf(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.DateOnly) }

// Cell is a customer's decisions in one group: how many, and their summed
// values.
type Cell struct {
	Group Group
	N     int64
	Y     Values
}

// Unit is one customer's decisions in one experiment, a Cell per group
// (sorted by Group): what the clustered Sums of the groups need to absorb
// a change to one of the customer's decisions. Its zero value is a
// customer without decisions.
//
// X is the customer's covariate: the value its first decision in the
// experiment carried, kept for every later one, so that it measures the
// customer before the experiment touched them (CUPED's pre-period).
type Unit struct {
	Cells []Cell
	X     float64
}

// cell returns the cell of g, inserted empty if need be.
func (u *Unit) cell(g Group) *Cell {
	i, ok := slices.BinarySearchFunc(u.Cells, g, func(c Cell, g Group) int { return compareGroups(c.Group, g) })
	if !ok {
		u.Cells = slices.Insert(u.Cells, i, Cell{Group: g})
	}
	return &u.Cells[i]
}

// dayChange is one day's share of a customer's cumulative sums.
type dayChange struct {
	date string
	sums Sums
}

// days appends to dst, for each of arm's day cells dated from on, the
// change that day made to the customer's cumulative sums in the arm:
// the Sums of its decisions up to the end of the day less those up to the
// end of its previous day with decisions.
func (u *Unit) days(dst []dayChange, arm, from string) []dayChange {
	var n int64
	var y Values
	prev := Sums{}
	for i := range u.Cells {
		c := &u.Cells[i]
		if c.Group.Arm != arm || c.Group.Dim != DimDay {
			continue
		}
		n += c.N
		for m := range NumMetrics {
			y[m] += c.Y[m]
		}
		cur := clusterSums(u.X, n, &y)
		if c.Group.Value >= from {
			d := cur
			d.sub(&prev)
			dst = append(dst, dayChange{c.Group.Value, d})
		}
		prev = cur
	}
	return dst
}

// Change records a change to one of the customer's decisions, d: dn more
// decisions (1 when it is made, 0 when an outcome changes its values), dy
// added to its values, and dOut more decisions with outcomes (1 when its
// first outcome is joined). It calls emit with the change it makes to the
// Sums of each group: d's channel and stage, and the days of d's arm from
// d's date on. A day group's Sums are the day's change to the arm's
// cumulative sums (Aggregates.Days), so a change to a decision of an
// earlier day changes the later days of the same customer too: their
// N_c², Y_c², Y_c N_c grew from a different base. Changes are emitted
// only where they are not zero.
func (u *Unit) Change(d *Decision, dn int64, dy *Values, dOut int64, emit func(Group, *Sums)) {
	if dn > 0 && len(u.Cells) == 0 {
		u.X = d.X // the customer's first decision in the experiment
	}
	var buf [8]dayChange
	before := u.days(buf[:0], d.Arm, d.Date)
	nb := len(before)
	u.add(Group{d.Arm, DimDay, d.Date}, dn, dy)
	after := u.days(before, d.Arm, d.Date)[nb:]
	before = before[:nb]
	for i := range after {
		ch := after[i].sums
		if j := slices.IndexFunc(before, func(b dayChange) bool { return b.date == after[i].date }); j >= 0 {
			ch.sub(&before[j].sums)
		}
		if after[i].date == d.Date {
			ch.WithOutcomes += dOut
		}
		if !ch.IsZero() {
			emit(Group{d.Arm, DimDay, after[i].date}, &ch)
		}
	}
	for _, g := range [2]Group{{d.Arm, DimChannel, d.Channel}, {d.Arm, DimStage, d.Stage}} {
		c := u.cell(g)
		prev := clusterSums(u.X, c.N, &c.Y)
		u.add(g, dn, dy)
		ch := clusterSums(u.X, c.N, &c.Y)
		ch.sub(&prev)
		ch.WithOutcomes += dOut
		if !ch.IsZero() {
			emit(g, &ch)
		}
	}
}

func (u *Unit) add(g Group, dn int64, dy *Values) {
	c := u.cell(g)
	c.N += dn
	for m := range NumMetrics {
		c.Y[m] += dy[m]
	}
}
