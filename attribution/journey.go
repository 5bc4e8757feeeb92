package attribution

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Dimension is what credit is given to: a touch's channel or its actions.
type Dimension string

// The dimensions.
const (
	// ByChannel credits the channel of a touch ("web", "email", ...).
	ByChannel Dimension = "channel"
	// ByAction credits the actions a touch showed, its credit split
	// equally among them.
	ByAction Dimension = "action"
)

// ParseDimension returns the dimension named s: "channel" or "action".
func ParseDimension(s string) (Dimension, error) {
	switch d := Dimension(s); d {
	case ByChannel, ByAction:
		return d, nil
	}
	return "", fmt.Errorf("%w: dimension %q: want channel or action", ErrInvalidOptions, s)
}

// Touch is one contact with the customer: a decision that showed actions
// on a channel.
type Touch struct {
	Time    time.Time `json:"ts"`
	Channel string    `json:"channel"`
	// Actions are the actions shown, in slot order.
	Actions []string `json:"actions,omitempty"`
	// DecisionID names the decision, "" when the touch did not come from
	// the journal.
	DecisionID string `json:"decision_id,omitempty"`
	// Eligible is how many actions passed the decision's funnel, and
	// Stage the journey stage the decision logged (its profile input
	// "stage", "" when it logged none).
	Eligible int    `json:"eligible,omitempty"`
	Stage    string `json:"stage,omitempty"`
}

// Event is one journey event of the customer (kept with
// BuildConfig.Everything): what features.Spec.ApplyEvent needs to replay
// it on a profile.
type Event struct {
	Time       time.Time      `json:"ts"`
	Type       string         `json:"type"`
	Channel    string         `json:"channel,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
}

// Keys returns what a touch credits under by: its channel, or its
// actions (the channel when it showed none). The caller must not modify
// the slice.
func (t *Touch) Keys(by Dimension) []string {
	if by == ByAction && len(t.Actions) > 0 {
		return t.Actions
	}
	return []string{t.Channel}
}

// Conversion is one conversion of the customer: a converting outcome or
// a purchase event.
type Conversion struct {
	Time    time.Time `json:"ts"`
	Revenue float64   `json:"revenue"`
	// Source says where it came from: "outcome:TYPE" or "event:TYPE".
	Source string `json:"source,omitempty"`
}

// Journey is one customer's touches and conversions and, with
// BuildConfig.Everything, their events and the decisions that showed
// nothing. Sort puts them in time order; Paths and Attribute expect them
// so, and read only the touches and the conversions.
type Journey struct {
	Customer    string       `json:"customer_id"`
	Touches     []Touch      `json:"touches"`
	Conversions []Conversion `json:"conversions"`
	// Events are every journey event of the customer, and Quiet the
	// decisions that showed no action (Actions empty), both kept only
	// with BuildConfig.Everything: journey analytics (package journeys)
	// replays the events through the feature spec and reads the quiet
	// decisions as the places where the customer asked and got nothing.
	Events []Event `json:"events,omitempty"`
	Quiet  []Touch `json:"quiet,omitempty"`
}

// Sort orders the touches, the conversions, the events and the quiet
// decisions by time, keeping the order of equal times (journal order).
func (j *Journey) Sort() {
	byTime := func(a, b Touch) int { return a.Time.Compare(b.Time) }
	slices.SortStableFunc(j.Touches, byTime)
	slices.SortStableFunc(j.Quiet, byTime)
	slices.SortStableFunc(j.Conversions, func(a, b Conversion) int { return a.Time.Compare(b.Time) })
	slices.SortStableFunc(j.Events, func(a, b Event) int { return a.Time.Compare(b.Time) })
}

// Path is a run of a journey's touches that ends in a conversion or in
// nothing: the unit every model credits, and the Markov chain's walk from
// start to conversion or null.
type Path struct {
	// Touches are in time order; they alias the journey's.
	Touches   []Touch
	Converted bool
	// Conversion is the conversion the path ends in, when Converted.
	Conversion Conversion
}

// Paths splits j (sorted) into paths under the lookback window. Each
// conversion, in time order, ends a path holding the touches since the
// previous conversion that are at or before it and at most lookback
// before it (a touch at the conversion's time counts); touches since the
// previous conversion but older than that form a path that did not
// convert, and so do the touches after the last conversion. Each touch
// is in exactly one path. A conversion with no touch in its window is a
// converting path without touches. lookback ≤ 0 means no limit.
func (j *Journey) Paths(lookback time.Duration) []Path {
	var out []Path
	i := 0
	for _, c := range j.Conversions {
		k := i
		for k < len(j.Touches) && !j.Touches[k].Time.After(c.Time) {
			k++
		}
		s := i
		if lookback > 0 {
			for s < k && c.Time.Sub(j.Touches[s].Time) > lookback {
				s++
			}
		}
		if s > i {
			out = append(out, Path{Touches: j.Touches[i:s:s]})
		}
		out = append(out, Path{Touches: j.Touches[s:k:k], Converted: true, Conversion: c})
		i = k
	}
	if i < len(j.Touches) {
		out = append(out, Path{Touches: j.Touches[i:]})
	}
	return out
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare)
	return keys
}
