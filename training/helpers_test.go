package training_test

import (
	"nextbest/internal/journaltest"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/features"
	"nextbest/journal"
)

// retailSample parses the shipped feature spec and catalog.
func retailSample(t testing.TB) (*features.Spec, *decide.Catalog) {
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

// writeJournal appends recs (journal.Decision, journal.Outcome or
// journal.Event values) to a new journal in a temp dir and returns it.
func writeJournal(t testing.TB, recs ...any) string {
	t.Helper()
	return journaltest.Write(t, recs...)
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// decision returns a logged decision returning actions ids.
func decision(id string, at time.Time, specHash string, ids ...string) journal.Decision {
	d := journal.Decision{DecisionID: id, CustomerID: "c-" + id, Channel: "web", Time: at,
		Policy: "linucb@v1", FeatureSpec: specHash, Eligible: ids,
		Context: map[string]any{"page": "cart", "cart_value": 80.0, "device": "mobile"},
		Profile: map[string]any{"stage": "cart", "counters.visits_7d": 3.5, "attributes.tier": "gold"}}
	for i, a := range ids {
		d.Actions = append(d.Actions, journal.LoggedAction{ActionID: a, Slot: i, Propensity: 0.5 / float64(i+1)})
	}
	return d
}

func outcome(dec, act, typ string, reward float64, at time.Time) journal.Outcome {
	return journal.Outcome{DecisionID: dec, ActionID: act, CustomerID: "c-" + dec, Type: typ, Reward: reward, Time: at, DecisionTime: t0}
}
