// Package journaltest writes journals for tests, and the fixtures of the
// packages that read the service's journal (logs, training, eval, the
// online learner): the retail sample parsed, logged decisions and
// outcomes.
package journaltest

import (
	"context"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/features"
	"nextbest/journal"
)

// Write appends recs (journal.Decision, journal.Outcome or journal.Event,
// values or pointers) in order to a new journal in a temporary directory,
// each stamped with its own time, and returns the directory.
func Write(t testing.TB, recs ...any) string {
	t.Helper()
	dir := t.TempDir()
	WriteDir(t, dir, recs...)
	return dir
}

// WriteDir is Write into the journal directory dir (created if need be),
// for tests that need the journal at a given place, such as a service's
// data directory.
func WriteDir(t testing.TB, dir string, recs ...any) {
	t.Helper()
	j, err := journal.Open(journal.Config{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		typ, payload, err := journal.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := j.Append(context.Background(), typ, timeOf(r), payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

func timeOf(r any) time.Time {
	switch v := r.(type) {
	case journal.Decision:
		return v.Time
	case *journal.Decision:
		return v.Time
	case journal.Outcome:
		return v.Time
	case *journal.Outcome:
		return v.Time
	case journal.Event:
		return v.Time
	case *journal.Event:
		return v.Time
	}
	return time.Time{}
}

// Retail parses the shipped sample's feature spec and catalog (the
// catalog compiled against the spec), failing t on error.
func Retail(t testing.TB) (*features.Spec, *decide.Catalog) {
	t.Helper()
	spec, err := features.ParseSpec(retail.FeatureSpec)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := decide.ParseCatalog(retail.Catalog, spec)
	if err != nil {
		t.Fatal(err)
	}
	return spec, cat
}

// T0 is the time the fixtures' decisions are made at by default.
var T0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// Decision returns a logged web decision id (customer "c-"+id) made at
// at under the feature spec specHash, returning actions ids in slots
// 0, 1, … with propensities 0.5, 0.25, …, and logged inputs the retail
// spec can rebuild.
func Decision(id string, at time.Time, specHash string, ids ...string) journal.Decision {
	d := journal.Decision{DecisionID: id, CustomerID: "c-" + id, Channel: "web", Time: at,
		Policy: "linucb@v1", FeatureSpec: specHash, Eligible: ids,
		Context: map[string]any{"page": "cart", "cart_value": 80.0, "device": "mobile"},
		Profile: map[string]any{"stage": "cart", "counters.visits_7d": 3.5, "attributes.tier": "gold"}}
	for i, a := range ids {
		d.Actions = append(d.Actions, journal.LoggedAction{ActionID: a, Slot: i, Propensity: 0.5 / float64(i+1)})
	}
	return d
}

// Outcome returns an outcome of type typ for action act of decision dec
// (made at T0), reported at at.
func Outcome(dec, act, typ string, reward float64, at time.Time) journal.Outcome {
	return journal.Outcome{DecisionID: dec, ActionID: act, CustomerID: "c-" + dec, Type: typ, Reward: reward, Time: at, DecisionTime: T0}
}
