package campaigns

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"nextbest/attribution"
	"nextbest/decide"
	"nextbest/experiment"
	"nextbest/logs"
)

// LiftExperiment returns the experiment of exps whose arms the lift
// compares: the one named name or, with name "", the first permanent
// holdout (holdout: true). It returns nil, and no error, when name is ""
// and no experiment is a holdout. A name that is not configured is an
// error.
func LiftExperiment(exps []*decide.Experiment, name string) (*decide.Experiment, error) {
	for _, e := range exps {
		if (name == "" && e.Holdout) || (name != "" && e.Name == name) {
			return e, nil
		}
	}
	if name != "" {
		return nil, fmt.Errorf("%w: no experiment %q is configured", ErrInvalidOptions, name)
	}
	return nil, nil
}

// Lift compares the arms of one experiment with customers as units: the
// programme against the held-out customers of a permanent holdout, or
// each arm of another experiment against its control.
type Lift struct {
	Experiment string `json:"experiment"`
	Holdout    bool   `json:"holdout"`
	// Baseline is the arm the others are compared with: a holdout's
	// held-out arm, another experiment's control.
	Baseline   string  `json:"baseline"`
	WindowDays float64 `json:"window_days"`
	// Rows compare each arm with the baseline: over all the customers of
	// the experiment (By All), those with a decision on a channel (By
	// Channel), those for whom an action was eligible (By Action: the
	// eligible set is logged in every arm, a held-out one included).
	Rows []LiftRow `json:"rows"`
	// Conflicts counts customers logged in two arms (a changed split);
	// their decisions after the first arm are left out.
	Conflicts int `json:"customers_in_two_arms"`
}

// LiftRow is one comparison of an arm with the baseline.
type LiftRow struct {
	Arm      string  `json:"arm"`
	By       string  `json:"by"`
	Key      string  `json:"key"`
	Treated  LiftArm `json:"treated"`
	Baseline LiftArm `json:"baseline"`
	// Absolute is the difference of the conversion rates, arm − baseline
	// (Newcombe's hybrid score interval); Relative the relative lift,
	// arm/baseline − 1 (delta method); RevenueDifference the difference
	// of the revenue per customer (Welch).
	Absolute          experiment.Interval `json:"absolute"`
	Relative          experiment.Interval `json:"relative"`
	RevenueDifference experiment.Interval `json:"revenue_difference"`
}

// LiftArm is one arm's customers in a comparison: how many, how many
// converted, and their revenue.
type LiftArm struct {
	Customers          int     `json:"customers"`
	Converted          int     `json:"converted"`
	ConversionRate     Rate    `json:"conversion_rate"`
	Revenue            float64 `json:"revenue"`
	RevenuePerCustomer float64 `json:"revenue_per_customer"`
}

// exposure is a customer's span of decisions in one comparison key.
type exposure struct{ first, last time.Time }

type liftKey struct{ arm, by, key string }

// lift computes the comparisons of e's arms. A customer converts in a
// comparison when attribution's journey has a conversion from their
// first decision of the key to window after their last; its revenue is
// the sum of those conversions'.
func lift(e *decide.Experiment, joined []logs.Joined, journeys []attribution.Journey, window time.Duration, level float64) *Lift {
	l := &Lift{Experiment: e.Name, Holdout: e.Holdout, WindowDays: window.Hours() / 24}
	var treated []string
	for _, a := range e.Arms {
		if a.Name == e.Control {
			continue
		}
		if e.Holdout {
			l.Baseline = a.Name
		} else {
			treated = append(treated, a.Name)
		}
	}
	if e.Holdout {
		treated = []string{e.Control}
	} else {
		l.Baseline = e.Control
	}

	armOf := map[string]string{}
	conflicted := map[string]bool{}
	exp := map[liftKey]map[string]*exposure{}
	see := func(k liftKey, customer string, t time.Time) {
		m := exp[k]
		if m == nil {
			m = map[string]*exposure{}
			exp[k] = m
		}
		x := m[customer]
		if x == nil {
			m[customer] = &exposure{first: t, last: t}
			return
		}
		if t.Before(x.first) {
			x.first = t
		}
		if t.After(x.last) {
			x.last = t
		}
	}
	for i := range joined {
		d := &joined[i].Decision
		if d.Experiment == nil || d.Experiment.Name != e.Name {
			continue
		}
		arm, ok := armOf[d.CustomerID]
		if !ok {
			arm = d.Experiment.Arm
			armOf[d.CustomerID] = arm
		}
		if arm != d.Experiment.Arm {
			conflicted[d.CustomerID] = true
			continue
		}
		see(liftKey{arm, All, All}, d.CustomerID, d.Time)
		see(liftKey{arm, Channel, cmp.Or(d.Channel, Unknown)}, d.CustomerID, d.Time)
		for _, a := range d.Eligible {
			see(liftKey{arm, Action, a}, d.CustomerID, d.Time)
		}
	}
	l.Conflicts = len(conflicted)

	convs := make(map[string][]attribution.Conversion, len(journeys))
	for _, j := range journeys {
		if _, ok := armOf[j.Customer]; ok && len(j.Conversions) > 0 {
			convs[j.Customer] = j.Conversions
		}
	}
	type sums struct {
		n, converted int
		rev, rev2    float64
	}
	tot := map[liftKey]*sums{}
	for k, m := range exp {
		s := &sums{}
		tot[k] = s
		for _, id := range slices.Sorted(maps.Keys(m)) {
			x := m[id]
			s.n++
			conv, rev := false, 0.0
			for _, c := range convs[id] {
				if !c.Time.Before(x.first) && !c.Time.After(x.last.Add(window)) {
					conv = true
					rev += c.Revenue
				}
			}
			if conv {
				s.converted++
			}
			s.rev += rev
			s.rev2 += rev * rev
		}
	}
	armOfSums := func(s *sums) (LiftArm, experiment.Summary, experiment.Summary) {
		n := float64(s.n)
		p := float64(s.converted) / n
		a := LiftArm{Customers: s.n, Converted: s.converted, ConversionRate: rate(experiment.WilsonInterval(float64(s.converted), n, level)),
			Revenue: s.rev, RevenuePerCustomer: s.rev / n}
		pc := experiment.Summary{Mean: p, SE: math.Sqrt(p * (1 - p) / n), N: s.n}
		rc := experiment.Summary{Mean: s.rev / n, N: s.n}
		if s.n > 1 {
			v := (s.rev2 - s.rev*s.rev/n) / (n - 1)
			rc.SE = math.Sqrt(max(0, v) / n)
		}
		return a, pc, rc
	}
	// the keys, all first, then channels and actions by name
	var keys []liftKey
	for k := range tot {
		if k.arm == l.Baseline {
			keys = append(keys, k)
		}
	}
	dim := map[string]int{All: 0, Channel: 1, Action: 2}
	slices.SortFunc(keys, func(a, b liftKey) int { return cmp.Or(cmp.Compare(dim[a.by], dim[b.by]), cmp.Compare(a.key, b.key)) })
	for _, arm := range treated {
		for _, bk := range keys {
			ts := tot[liftKey{arm, bk.by, bk.key}]
			if ts == nil {
				continue
			}
			bs := tot[bk]
			ta, tp, tr := armOfSums(ts)
			ba, bp, br := armOfSums(bs)
			row := LiftRow{Arm: arm, By: bk.by, Key: bk.key, Treated: ta, Baseline: ba,
				Absolute:          experiment.NewcombeDiff(float64(bs.converted), float64(bs.n), float64(ts.converted), float64(ts.n), level),
				Relative:          experiment.RelativeLift(bp, tp, level),
				RevenueDifference: experiment.WelchDiff(br, tr, level)}
			row.Relative.Lo = max(-1, row.Relative.Lo)
			l.Rows = append(l.Rows, row)
		}
	}
	return l
}

// Overall returns the comparison of arm over all the experiment's
// customers, nil if there is none.
func (l *Lift) Overall(arm string) *LiftRow {
	for i := range l.Rows {
		if r := &l.Rows[i]; r.Arm == arm && r.By == All {
			return r
		}
	}
	return nil
}
