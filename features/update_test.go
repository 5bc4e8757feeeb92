package features_test

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"nextbest/features"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func day(n float64) time.Duration { return time.Duration(n * float64(24*time.Hour)) }

func TestCounterDecay(t *testing.T) {
	s := mustSpec(t, retailPath)
	p := s.NewProfile("c1", t0)
	// Three purchases of 100, 50, 20 at t0, t0+10d, t0+30d. Closed form at
	// t0+40d with a 30-day half-life: sum of amount * 2^(-age/30).
	buys := []struct {
		at     time.Duration
		amount float64
	}{{0, 100}, {day(10), 50}, {day(30), 20}}
	for _, b := range buys {
		if err := s.ApplyEvent(p, features.Event{Type: "purchase", Time: t0.Add(b.at), Properties: map[string]any{"amount": b.amount}}); err != nil {
			t.Fatal(err)
		}
	}
	at := t0.Add(day(40))
	want := 100*math.Exp2(-40.0/30) + 50*math.Exp2(-30.0/30) + 20*math.Exp2(-10.0/30)
	got, ok := s.CounterValue(p, "spend_30d", at)
	if !ok || math.Abs(got-want) > 1e-9 {
		t.Errorf("spend_30d at +40d = %v, want %v", got, want)
	}
	wantN := math.Exp2(-40.0/30) + math.Exp2(-30.0/30) + math.Exp2(-10.0/30)
	if got, _ := s.CounterValue(p, "purchases_30d", at); math.Abs(got-wantN) > 1e-12 {
		t.Errorf("purchases_30d = %v, want %v", got, wantN)
	}

	// A late event (older than the counter's At) adds its decayed increment:
	// the result equals applying the events in time order.
	q := s.NewProfile("c2", t0)
	for _, i := range []int{0, 2, 1} {
		b := buys[i]
		if err := s.ApplyEvent(q, features.Event{Type: "purchase", Time: t0.Add(b.at), Properties: map[string]any{"amount": b.amount}}); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.CounterValue(q, "spend_30d", at); math.Abs(got-want) > 1e-9 {
		t.Errorf("out-of-order spend_30d = %v, want %v", got, want)
	}
	if q.Counters["spend_30d"].At != t0.Add(day(30)) {
		t.Errorf("late event moved At to %v", q.Counters["spend_30d"].At)
	}
	if q.LastEvent["purchase"] != t0.Add(day(30)) {
		t.Errorf("late event moved LastEvent back to %v", q.LastEvent["purchase"])
	}

	// Half-life closed form on a bare Counter.
	c := features.Counter{Value: 8, At: t0}
	if v := c.ValueAt(t0.Add(day(21)), day(7)); v != 1 {
		t.Errorf("8 after three 7d half-lives = %v, want 1", v)
	}
	if v := c.ValueAt(t0.Add(-time.Hour), day(7)); v != 8 {
		t.Errorf("value before At = %v, want 8", v)
	}
}

func TestStageTransitions(t *testing.T) {
	s := mustSpec(t, retailPath)
	p := s.NewProfile("c1", t0)
	if !p.Cold || p.Stage != "awareness" {
		t.Fatalf("new profile: cold %v stage %q", p.Cold, p.Stage)
	}
	steps := []struct {
		event string
		want  string
	}{
		{"page_view", "consideration"},
		{"product_view", "consideration"},
		{"add_to_cart", "cart"},
		{"cart_abandoned", "cart"},
		{"page_view", "cart"},
		{"purchase", "purchase"},
		{"purchase", "retention"},
		{"add_to_cart", "retention"},
		{"purchase", "retention"},
	}
	at := t0
	for i, st := range steps {
		at = at.Add(time.Hour)
		before := p.StageSince
		prev := p.Stage
		if err := s.ApplyEvent(p, features.Event{Type: st.event, Channel: "web", Time: at, Properties: map[string]any{"amount": 10.0}}); err != nil {
			t.Fatal(err)
		}
		if p.Stage != st.want {
			t.Fatalf("step %d %s: stage %q, want %q", i, st.event, p.Stage, st.want)
		}
		if prev == p.Stage && i > 0 && p.StageSince != before {
			t.Errorf("step %d: staying in %q moved StageSince", i, p.Stage)
		}
		if prev != p.Stage && p.StageSince != at {
			t.Errorf("step %d: StageSince = %v, want %v", i, p.StageSince, at)
		}
	}
	if p.Cold || p.FirstSeen != t0.Add(time.Hour) || p.UpdatedAt != at || p.LastChannel != "web" {
		t.Errorf("cold %v first %v updated %v channel %q", p.Cold, p.FirstSeen, p.UpdatedAt, p.LastChannel)
	}

	// A late event does not change the stage.
	if err := s.ApplyEvent(p, features.Event{Type: "add_to_cart", Channel: "app", Time: t0}); err != nil {
		t.Fatal(err)
	}
	if p.Stage != "retention" || p.LastChannel != "web" {
		t.Errorf("late event: stage %q channel %q", p.Stage, p.LastChannel)
	}
}

func TestApplyEventAttributesAndErrors(t *testing.T) {
	s := mustSpec(t, retailPath)
	p := s.NewProfile("c1", t0)
	err := s.ApplyEvent(p, features.Event{Type: "profile_update", Time: t0, Properties: map[string]any{"tier": "gold", "email_opt_in": false, "age": 41}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Attributes["tier"] != "gold" || p.Attributes["age"] != 41.0 || p.Consents["email"] {
		t.Errorf("attributes %v consents %v", p.Attributes, p.Consents)
	}
	tests := []struct {
		name  string
		e     features.Event
		field string
	}{
		{"unknown type", features.Event{Type: "teleport", Time: t0}, "type"},
		{"no time", features.Event{Type: "page_view"}, "ts"},
		{"amount string", features.Event{Type: "purchase", Time: t0, Properties: map[string]any{"amount": "12"}}, "properties.amount"},
		{"amount NaN", features.Event{Type: "purchase", Time: t0, Properties: map[string]any{"amount": math.NaN()}}, "properties.amount"},
		{"tier number", features.Event{Type: "profile_update", Time: t0, Properties: map[string]any{"tier": 3.0}}, "properties.tier"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := p.Clone()
			err := s.ApplyEvent(q, tc.e)
			var fe *features.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("ApplyEvent = %v, want a *FieldError on %s", err, tc.field)
			}
			if !reflect.DeepEqual(p, q) {
				t.Error("a failed ApplyEvent changed the profile")
			}
		})
	}
}

func TestImpressionsCapAndOutcomes(t *testing.T) {
	p := &features.Profile{CustomerID: "c"}
	for i := range MaxImpressionsPlus(10) {
		features.RecordImpression(p, "a", t0.Add(time.Duration(i)*time.Minute))
	}
	imps := p.Contacts["a"].Impressions
	if len(imps) != features.MaxImpressions {
		t.Fatalf("kept %d impressions, want %d", len(imps), features.MaxImpressions)
	}
	if imps[0] != t0.Add(10*time.Minute) || imps[len(imps)-1] != t0.Add(time.Duration(features.MaxImpressions+9)*time.Minute) {
		t.Errorf("kept %v..%v, want the most recent", imps[0], imps[len(imps)-1])
	}
	// An out-of-order impression is inserted in place.
	features.RecordImpression(p, "b", t0.Add(2*time.Minute))
	features.RecordImpression(p, "b", t0)
	if b := p.Contacts["b"].Impressions; b[0] != t0 || b[1] != t0.Add(2*time.Minute) {
		t.Errorf("impressions not sorted: %v", b)
	}

	features.RecordOutcome(p, "a", false, t0) // a click
	features.RecordOutcome(p, "a", false, t0) // a conversion with reward 0
	if p.Contacts["a"].Conversions != 0 {
		t.Error("an outcome that is not a conversion counted as one")
	}
	features.RecordOutcome(p, "a", true, t0.Add(time.Hour))
	features.RecordOutcome(p, "c", true, t0.Add(2*time.Hour))
	if c := p.Contacts["a"]; c.Conversions != 1 || c.LastConversion != t0.Add(time.Hour) {
		t.Errorf("contact a = %+v", c)
	}
	if c := p.Contacts["c"]; c.Conversions != 1 {
		t.Errorf("contact c = %+v", c)
	}
}

func MaxImpressionsPlus(n int) int { return features.MaxImpressions + n }

func TestCloneIndependent(t *testing.T) {
	s := mustSpec(t, retailPath)
	p := s.NewProfile("c1", t0)
	_ = s.ApplyEvent(p, features.Event{Type: "profile_update", Time: t0, Properties: map[string]any{"tier": "gold", "email_opt_in": true}})
	_ = s.ApplyEvent(p, features.Event{Type: "purchase", Time: t0, Properties: map[string]any{"amount": 5.0}})
	features.RecordImpression(p, "a", t0)
	q := p.Clone()
	if !reflect.DeepEqual(p, q) {
		t.Fatal("clone differs")
	}
	_ = s.ApplyEvent(q, features.Event{Type: "purchase", Time: t0.Add(time.Hour), Properties: map[string]any{"amount": 5.0}})
	_ = s.ApplyEvent(q, features.Event{Type: "profile_update", Time: t0.Add(time.Hour), Properties: map[string]any{"tier": "bronze", "email_opt_in": false}})
	features.RecordImpression(q, "a", t0.Add(time.Hour))
	features.RecordOutcome(q, "a", true, t0.Add(time.Hour))
	if p.Counters["spend_30d"].Value != 5 || p.Attributes["tier"] != "gold" || !p.Consents["email"] ||
		len(p.Contacts["a"].Impressions) != 1 || p.Contacts["a"].Conversions != 0 || p.Stage != "purchase" {
		t.Errorf("changing the clone changed the original: %+v", p)
	}
}

func TestTrimImpressions(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	p := &features.Profile{}
	for d := range 10 {
		features.RecordImpression(p, "a", t0.Add(time.Duration(d)*24*time.Hour))
	}
	features.TrimImpressions(p, "a", t0.Add(7*24*time.Hour)) // keep days 7, 8, 9
	if got := p.Contacts["a"].Impressions; len(got) != 3 || !got[0].Equal(t0.Add(7*24*time.Hour)) {
		t.Fatalf("after trimming: %v", got)
	}
	features.TrimImpressions(p, "a", t0.Add(100*24*time.Hour)) // all old: the latest stays
	if got := p.Contacts["a"].Impressions; len(got) != 1 || !got[0].Equal(t0.Add(9*24*time.Hour)) {
		t.Fatalf("the latest impression must stay: %v", got)
	}
	features.TrimImpressions(p, "none", t0) // no contact: no-op
}

func TestValidateEventMatchesApplyEvent(t *testing.T) {
	s := mustSpec(t, retailPath)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range []features.Event{
		{Type: "purchase", Time: t0, Properties: map[string]any{"amount": 12.5}},
		{Type: "purchase", Time: t0, Properties: map[string]any{"amount": "ten"}},
		{Type: "teleported", Time: t0},
		{Type: "page_view"},
		{Type: "profile_update", Time: t0, Properties: map[string]any{"age": "old"}},
	} {
		verr := s.ValidateEvent(e)
		aerr := s.ApplyEvent(s.NewProfile("c", t0), e)
		if (verr == nil) != (aerr == nil) || (verr != nil && verr.Error() != aerr.Error()) {
			t.Errorf("%+v: ValidateEvent %v, ApplyEvent %v", e, verr, aerr)
		}
	}
}

// TestCloneImpressionAllocs checks that recording an impression on a
// clone (the applier's copy on write of a decision) allocates nothing
// beyond the clone itself: Clone leaves a spare slot in each contact's
// impressions.
func TestCloneImpressionAllocs(t *testing.T) {
	p := &features.Profile{CustomerID: "c1"}
	for i := range 3 {
		features.RecordImpression(p, "a", t0.Add(time.Duration(i)*time.Hour))
		features.RecordImpression(p, "b", t0.Add(time.Duration(i)*time.Hour))
	}
	clone := testing.AllocsPerRun(100, func() { _ = p.Clone() })
	record := testing.AllocsPerRun(100, func() {
		q := p.Clone()
		features.RecordImpression(q, "a", t0.Add(5*time.Hour))
		features.RecordImpression(q, "b", t0.Add(5*time.Hour))
	})
	if record != clone {
		t.Errorf("clone and two impressions: %v allocations, the clone alone %v", record, clone)
	}
	q := p.Clone()
	features.RecordImpression(q, "a", t0.Add(5*time.Hour))
	if len(p.Contacts["a"].Impressions) != 3 || len(q.Contacts["a"].Impressions) != 4 {
		t.Errorf("impressions: original %v, clone %v", p.Contacts["a"].Impressions, q.Contacts["a"].Impressions)
	}
}
