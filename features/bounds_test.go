package features_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"nextbest/features"
)

// TestValidateEventBounds: every numeric property of an event, read by the
// spec or not, is finite and within ±features.MaxNumber; the error names
// the property, the same one whatever the map order.
func TestValidateEventBounds(t *testing.T) {
	s := mustSpec(t, retailPath)
	cases := []struct {
		name  string
		typ   string
		props map[string]any
		field string // "" when valid
	}{
		{"amount at the limit", "purchase", map[string]any{"amount": features.MaxNumber}, ""},
		{"negative amount at the limit", "purchase", map[string]any{"amount": -features.MaxNumber}, ""},
		{"amount over the limit", "purchase", map[string]any{"amount": math.Nextafter(features.MaxNumber, math.Inf(1))}, "properties.amount"},
		{"amount NaN", "purchase", map[string]any{"amount": math.NaN()}, "properties.amount"},
		{"amount +Inf", "purchase", map[string]any{"amount": math.Inf(1)}, "properties.amount"},
		{"amount -Inf", "purchase", map[string]any{"amount": math.Inf(-1)}, "properties.amount"},
		{"amount a string", "purchase", map[string]any{"amount": "ten"}, "properties.amount"},
		{"unread number over the limit", "page_view", map[string]any{"scroll_px": 1e12}, "properties.scroll_px"},
		{"unread string", "page_view", map[string]any{"title": "x"}, ""},
		{"attribute over the limit", "profile_update", map[string]any{"age": 1e10}, "properties.age"},
		{"two bad keys: the first in byte order", "page_view", map[string]any{"b": 1e10, "a": math.Inf(1), "c": 1e300}, "properties.a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for range 20 { // map order varies between runs of the loop
				err := s.ValidateEvent(features.Event{Type: tc.typ, Time: t0, Properties: tc.props})
				if tc.field == "" {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					continue
				}
				var fe *features.FieldError
				if !errors.As(err, &fe) || fe.Field != tc.field {
					t.Fatalf("error %v, want a *FieldError for %s", err, tc.field)
				}
			}
		})
	}
}

// TestApplyEventRefusesNonFiniteCounters: a stored counter that is not
// finite (written before the bounds) makes ApplyEvent refuse the event
// rather than store NaN or Inf again, and the profile is unchanged.
func TestApplyEventRefusesNonFiniteCounters(t *testing.T) {
	s := mustSpec(t, retailPath)
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		p := s.NewProfile("c1", t0)
		p.Cold = false
		p.Counters = map[string]features.Counter{"spend_30d": {Value: bad, At: t0}}
		before := p.Clone()
		err := s.ApplyEvent(p, features.Event{Type: "purchase", Time: t0.Add(day(1)), Properties: map[string]any{"amount": 5.0}})
		var fe *features.FieldError
		if !errors.As(err, &fe) || fe.Field != "properties.amount" {
			t.Fatalf("stored %v: error %v, want a *FieldError for properties.amount", bad, err)
		}
		if !reflect.DeepEqual(p.Counters["purchases_30d"], before.Counters["purchases_30d"]) || p.LastEvent != nil || p.Stage != before.Stage {
			t.Errorf("stored %v: profile changed on error: %+v", bad, p)
		}
	}
	// an event over the bound is refused by the shared rule, p unchanged
	p := s.NewProfile("c2", t0)
	before := p.Clone()
	if err := s.ApplyEvent(p, features.Event{Type: "purchase", Time: t0, Properties: map[string]any{"amount": 1e300}}); err == nil {
		t.Fatal("amount 1e300 applied")
	}
	if !reflect.DeepEqual(p, before) {
		t.Errorf("profile changed on error: %+v", p)
	}
}

// TestApplyEventCountersStayFinite is a property test: any sequence of
// in-bound events, in and out of time order, leaves every counter finite.
// The extreme amounts (±MaxNumber) make it the worst case the bound allows.
func TestApplyEventCountersStayFinite(t *testing.T) {
	s := mustSpec(t, retailPath)
	r := rand.New(rand.NewPCG(1, 1))
	p := s.NewProfile("c1", t0)
	for i := range 20000 {
		amount := features.MaxNumber * (2*r.Float64() - 1)
		if i%3 == 0 {
			amount = math.Copysign(features.MaxNumber, amount)
		}
		at := t0.Add(day(r.Float64()*3650 - 1825))
		if err := s.ApplyEvent(p, features.Event{Type: "purchase", Time: at, Properties: map[string]any{"amount": amount}}); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	for name, c := range p.Counters {
		if math.IsNaN(c.Value) || math.IsInf(c.Value, 0) {
			t.Errorf("counter %s = %v", name, c.Value)
		}
	}
}

func TestContextFields(t *testing.T) {
	s := mustSpec(t, retailPath)
	want := []string{"page", "cart_value", "device", "campaign"} // examples/retail/features.yaml, vector.context
	if got := s.ContextFields(); !slices.Equal(got, want) {
		t.Errorf("ContextFields() = %v, want %v", got, want)
	}
	for _, name := range want {
		if !s.HasContextField(name) {
			t.Errorf("HasContextField(%q) = false", name)
		}
	}
	for _, name := range []string{"cart_vlaue", "", "Page", "action.id"} {
		if s.HasContextField(name) {
			t.Errorf("HasContextField(%q) = true", name)
		}
	}
}
