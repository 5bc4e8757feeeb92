package attribution

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"nextbest/journal"
	"nextbest/logs"
)

// Sources says which records are conversions.
type Sources string

// The conversion sources.
const (
	// FromBoth takes converting outcomes and conversion events, merging an
	// outcome and an event of one customer that are close in time
	// (BuildConfig.MergeWithin) into one conversion.
	FromBoth Sources = "both"
	// FromOutcomes takes converting outcomes only.
	FromOutcomes Sources = "outcomes"
	// FromEvents takes conversion events only.
	FromEvents Sources = "events"
)

// DefaultMergeWithin is BuildConfig.MergeWithin's default.
const DefaultMergeWithin = time.Hour

// BuildConfig configures Build. The zero value reads both sources with
// the default outcome types, "purchase" events and their "amount".
type BuildConfig struct {
	// Outcomes are the declared outcome types: an outcome is a conversion
	// when its type converts (logs.OutcomeType.Converts). nil means
	// logs.DefaultOutcomeTypes.
	Outcomes *logs.Outcomes
	// Events are the event types that are conversions; nil means
	// ["purchase"].
	Events []string
	// AmountKey is the event property holding a conversion event's
	// revenue ("" is "amount"); an event without a number there converts
	// with revenue 0.
	AmountKey string
	// Sources picks the conversions; "" is FromBoth.
	Sources Sources
	// MergeWithin: with FromBoth, a conversion event and a converting
	// outcome of the same customer at most this far apart are one
	// conversion (a service often hears of one purchase twice: the
	// outcome of the decision, and the purchase event that updates the
	// profile). It takes the outcome's time and the larger revenue. 0 is
	// DefaultMergeWithin; negative merges nothing.
	MergeWithin time.Duration
	// Window is the attribution window of the service that wrote the
	// journal: an activation of a deferred decision later than this
	// after the decision does not make it a touch
	// (logs.ActivationCounts). 0 is logs.DefaultWindow.
	Window time.Duration
}

// BuildStats counts what Build read and what it left out.
type BuildStats struct {
	Records   int `json:"records"`
	Decisions int `json:"decisions"`
	// Touches counts decisions that showed actions; NoActions those that
	// showed none (not touches); NotActivated the decisions made with
	// defer_activation that no activation showed (not touches).
	Touches      int `json:"touches"`
	NoActions    int `json:"no_actions"`
	NotActivated int `json:"not_activated"`
	Outcomes     int `json:"outcomes"`
	// OutcomeConversions counts converting outcomes taken; Duplicate
	// repeats of one (an outcome_id seen before for the decision, or a
	// repeat for the same decision, action and first-aggregated type).
	OutcomeConversions int `json:"outcome_conversions"`
	Duplicate          int `json:"duplicate_outcomes"`
	Events             int `json:"events"`
	EventConversions   int `json:"event_conversions"`
	// Merged counts conversion events merged into a converting outcome.
	Merged int `json:"merged"`
	// NoAmount counts conversion events without a usable amount.
	NoAmount int `json:"no_amount"`
	// Skipped counts records without a customer or whose payload did not
	// decode, and outcomes of undeclared types or with a reward
	// logs.CheckReward refuses.
	Skipped int `json:"skipped"`
}

func (c *BuildConfig) fill() error {
	if c.Outcomes == nil {
		o, err := logs.NewOutcomes(nil)
		if err != nil {
			panic("BUG: attribution: the default outcome types do not validate: " + err.Error())
		}
		c.Outcomes = o
	}
	if c.Events == nil {
		c.Events = []string{"purchase"}
	}
	c.AmountKey = cmp.Or(c.AmountKey, "amount")
	c.Sources = cmp.Or(c.Sources, FromBoth)
	switch c.Sources {
	case FromBoth, FromOutcomes, FromEvents:
	default:
		return fmt.Errorf("%w: conversion sources %q: want both, outcomes or events", ErrInvalidOptions, c.Sources)
	}
	c.MergeWithin = cmp.Or(c.MergeWithin, DefaultMergeWithin)
	c.Window = cmp.Or(c.Window, logs.DefaultWindow)
	return nil
}

// Build reads the journal in dir from the start to its current end
// (read-only, with journal.Reader) into one journey per customer, by
// customer id, each sorted. A decision that showed actions is a touch (one
// made with defer_activation once activated: at its first activation,
// with the slots activated); a
// converting outcome (BuildConfig.Outcomes) or a conversion event
// (BuildConfig.Events) is a conversion, its revenue the outcome's posted
// reward or the event's amount. A torn tail of the last segment is the
// end of the data; corruption elsewhere is an error.
func Build(ctx context.Context, dir string, cfg BuildConfig) ([]Journey, BuildStats, error) {
	var st BuildStats
	if err := cfg.fill(); err != nil {
		return nil, st, err
	}
	type custom struct {
		touches []Touch
		outs    []Conversion // converting outcomes
		evs     []Conversion // conversion events
	}
	// deferredTouch is a deferred decision's touch-to-be: its slots, and
	// where its touch is once activated
	type deferredTouch struct {
		touch    Touch // without actions
		customer string
		decided  time.Time
		actions  []string // by slot
		shown    []bool
		at       int // index in its customer's touches; -1: not yet a touch
	}
	var (
		byCust   = map[string]*custom{}
		seen     = map[string]*logs.Seen{} // by decision
		deferred = map[string]*deferredTouch{}
		d        journal.Decision
		o        journal.Outcome
		e        journal.Event
		a        journal.Activation
	)
	get := func(id string) *custom {
		c := byCust[id]
		if c == nil {
			c = &custom{}
			byCust[id] = c
		}
		return c
	}
	isEvent := map[string]bool{}
	for _, t := range cfg.Events {
		isEvent[t] = true
	}
	n, err := logs.EachRecord(ctx, dir, func(rec *journal.Record) error {
		switch rec.Type {
		case journal.TypeDecision:
			st.Decisions++
			d = journal.Decision{}
			if journal.DecodeDecision(rec.Payload, &d) != nil || d.CustomerID == "" {
				st.Skipped++
				return nil
			}
			if len(d.Actions) == 0 {
				st.NoActions++
				return nil
			}
			if d.DeferActivation {
				dt := &deferredTouch{touch: Touch{Channel: d.Channel, DecisionID: d.DecisionID}, customer: d.CustomerID, decided: d.Time,
					shown: make([]bool, len(d.Actions)), at: -1}
				for _, a := range d.Actions {
					dt.actions = append(dt.actions, a.ActionID)
				}
				deferred[d.DecisionID] = dt
				st.NotActivated++ // until activated
				return nil
			}
			st.Touches++
			t := Touch{Time: d.Time, Channel: d.Channel, DecisionID: d.DecisionID, Actions: make([]string, len(d.Actions))}
			for i, a := range d.Actions {
				t.Actions[i] = a.ActionID
			}
			c := get(d.CustomerID)
			c.touches = append(c.touches, t)
		case journal.TypeActivation:
			a = journal.Activation{}
			if journal.DecodeActivation(rec.Payload, &a) != nil {
				st.Skipped++
				return nil
			}
			dt := deferred[a.DecisionID]
			if dt == nil || !logs.ActivationCounts(true, dt.decided, a.Time, cfg.Window) {
				return nil
			}
			for _, s := range a.Slots {
				if s >= 0 && s < len(dt.shown) {
					dt.shown[s] = true
				}
			}
			var shown []string
			for s, ok := range dt.shown {
				if ok {
					shown = append(shown, dt.actions[s])
				}
			}
			if len(shown) == 0 {
				return nil
			}
			c := get(dt.customer)
			if dt.at < 0 {
				// a touch from its first activation on, when it was shown
				st.Touches++
				st.NotActivated--
				dt.touch.Time = a.Time
				dt.at = len(c.touches)
				c.touches = append(c.touches, dt.touch)
			}
			c.touches[dt.at].Actions = shown
		case journal.TypeOutcome:
			st.Outcomes++
			if cfg.Sources == FromEvents {
				return nil
			}
			o = journal.Outcome{}
			if journal.DecodeOutcome(rec.Payload, &o) != nil || o.CustomerID == "" {
				st.Skipped++
				return nil
			}
			typ, ok := cfg.Outcomes.Lookup(o.Type)
			if !ok || logs.CheckReward(o.Reward) != nil {
				st.Skipped++
				return nil
			}
			// duplicates by the rule logs.Join applies (one home)
			sn := seen[o.DecisionID]
			if sn == nil {
				sn = new(logs.Seen)
				seen[o.DecisionID] = sn
			}
			if sn.Take(&o, typ) {
				st.Duplicate++
				return nil
			}
			if !typ.Converts(o.Reward) {
				return nil
			}
			st.OutcomeConversions++
			c := get(o.CustomerID)
			c.outs = append(c.outs, Conversion{Time: o.Time, Revenue: o.Reward, Source: "outcome:" + o.Type})
		case journal.TypeEvent:
			st.Events++
			if cfg.Sources == FromOutcomes {
				return nil
			}
			e = journal.Event{}
			if journal.DecodeEvent(rec.Payload, &e) != nil || e.CustomerID == "" {
				st.Skipped++
				return nil
			}
			if !isEvent[e.Type] {
				return nil
			}
			st.EventConversions++
			amount, ok := e.Properties[cfg.AmountKey].(float64)
			if !ok || logs.CheckReward(amount) != nil {
				st.NoAmount++
				amount = 0
			}
			c := get(e.CustomerID)
			c.evs = append(c.evs, Conversion{Time: e.Time, Revenue: amount, Source: "event:" + e.Type})
		}
		return nil
	})
	st.Records = n
	if err != nil {
		return nil, st, err
	}

	out := make([]Journey, 0, len(byCust))
	for _, id := range sortedKeys(byCust) {
		c := byCust[id]
		j := Journey{Customer: id, Touches: c.touches}
		j.Conversions, st.Merged = merge(c.outs, c.evs, cfg.MergeWithin, st.Merged)
		j.Sort()
		out = append(out, j)
	}
	return out, st, nil
}

// merge returns the outcome conversions and the event conversions as
// one list, each event within within of a not yet merged outcome merged
// into the nearest one (the outcome's time, the larger revenue), and
// merged plus the number merged.
func merge(outs, evs []Conversion, within time.Duration, merged int) ([]Conversion, int) {
	if len(evs) == 0 || len(outs) == 0 || within < 0 {
		return append(outs, evs...), merged
	}
	byTime := func(a, b Conversion) int { return a.Time.Compare(b.Time) }
	slices.SortStableFunc(outs, byTime)
	slices.SortStableFunc(evs, byTime)
	taken := make([]bool, len(outs))
	var rest []Conversion
	for _, ev := range evs {
		best := -1
		var bestGap time.Duration
		for i := range outs {
			if taken[i] {
				continue
			}
			gap := ev.Time.Sub(outs[i].Time).Abs()
			if gap <= within && (best < 0 || gap < bestGap) {
				best, bestGap = i, gap
			}
		}
		if best < 0 {
			rest = append(rest, ev)
			continue
		}
		taken[best] = true
		outs[best].Revenue = max(outs[best].Revenue, ev.Revenue)
		merged++
	}
	return append(outs, rest...), merged
}
