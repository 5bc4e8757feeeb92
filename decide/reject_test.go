package decide_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/features"
)

// TestSuppressAfterRejects: an action with suppress_after_rejects {count
// 3, within 30d, for 10d} stays eligible after two rejects, is dropped
// (with the rule and the last reject in the explanation) after a third
// within the window, comes back once the suppression has run, and
// rejects spread wider than the window never suppress it; other actions
// are untouched; a bad rule is refused naming the field.
func TestSuppressAfterRejects(t *testing.T) {
	spec := mustSpec(t)
	cat, err := decide.ParseCatalog([]byte(`
version: 1
channels: [web]
actions:
  - {id: offer, channels: [web], value: 2, suppress_after_rejects: {count: 3, within: 30d, for: 10d}}
  - {id: other, channels: [web], value: 1}
`), spec)
	if err != nil {
		t.Fatal(err)
	}
	e, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Explorer: decide.Explorer{Kind: decide.EpsilonGreedy}, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := func(d float64) time.Time { return t0.Add(time.Duration(d * 24 * float64(time.Hour))) }
	eligibleAt := func(p *features.Profile, at time.Time) (bool, string) {
		var res decide.Result
		if err := e.Decide(context.Background(), &decide.Request{CustomerID: p.CustomerID, Channel: "web", Limit: 2, Now: at, Explain: true}, p, &res); err != nil {
			t.Fatal(err)
		}
		for _, a := range res.Eligible {
			if a.ID == "offer" {
				return true, ""
			}
		}
		for _, d := range res.Explain.Dropped {
			if d.ActionID == "offer" {
				return false, d.Stage + ": " + d.Reason
			}
		}
		return false, ""
	}
	p := spec.NewProfile("c", t0)
	features.RecordReject(p, "offer", day(0))
	features.RecordReject(p, "offer", day(5))
	if ok, why := eligibleAt(p, day(6)); !ok {
		t.Fatalf("two rejects: dropped (%s)", why)
	}
	features.RecordReject(p, "offer", day(20))
	ok, why := eligibleAt(p, day(21))
	if ok || !strings.Contains(why, "contact: suppressed for 10d after 3 rejects within 30d (the last at 2026-06-21T12:00:00Z)") {
		t.Fatalf("three rejects within 30 days: eligible %v (%s)", ok, why)
	}
	if ok, _ := eligibleAt(p, day(29.9)); ok {
		t.Error("eligible again before the 10 days ran")
	}
	if ok, why := eligibleAt(p, day(30.1)); !ok {
		t.Errorf("still dropped after the 10 days (%s)", why)
	}
	spread := spec.NewProfile("s", t0)
	for _, d := range []float64{0, 20, 40, 60} { // never 3 within 30 days
		features.RecordReject(spread, "offer", day(d))
	}
	if ok, why := eligibleAt(spread, day(61)); !ok {
		t.Errorf("rejects spread over 60 days suppressed it (%s)", why)
	}
	if _, err := decide.ParseCatalog([]byte("version: 1\nchannels: [web]\nactions:\n  - {id: x, channels: [web], value: 1, suppress_after_rejects: {count: 0, within: 1d, for: 1d}}\n"), spec); err == nil || !strings.Contains(err.Error(), "suppress_after_rejects") {
		t.Errorf("a bad rule: %v", err)
	}
}
