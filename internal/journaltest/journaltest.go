// Package journaltest writes journals for tests, and the fixtures of the
// packages that read the service's journal (logs, training, eval, the
// online learner): the retail sample parsed, logged decisions and
// outcomes.
package journaltest

import (
	"context"
	"math"
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
	case journal.Activation:
		return v.Time
	case *journal.Activation:
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
	return spec, catalog(t, spec)
}

// RawCatalog parses the shipped sample's catalog without compiling its
// actions' features (decide.ParseCatalog with a nil spec), failing t on
// error.
func RawCatalog(t testing.TB) *decide.Catalog {
	t.Helper()
	return catalog(t, nil)
}

func catalog(t testing.TB, spec *features.Spec) *decide.Catalog {
	t.Helper()
	cat, err := decide.ParseCatalog(retail.Catalog, spec)
	if err != nil {
		t.Fatal(err)
	}
	return cat
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

// Live returns the logged decision id made at T0 under spec for the
// actions ids (as Decision does), its logged inputs those the live path
// computes for a fixed cart profile and context (features.Spec.Inputs), and
// the rows the live path assembles for them (Spec.Assemble), len(ids)
// rows of spec.Dim(): what a rebuild from the journal must give back, bit
// for bit. cat must be compiled against spec.
func Live(spec *features.Spec, cat *decide.Catalog, id string, ids ...string) (journal.Decision, []float64) {
	p := &features.Profile{CustomerID: "c-" + id, Stage: "cart", FirstSeen: T0.Add(-40 * 24 * time.Hour),
		Attributes: map[string]any{"tier": "gold", "age": 33.0, "email_opt_in": true},
		LastEvent:  map[string]time.Time{"purchase": T0.Add(-72 * time.Hour)}}
	ctx := map[string]any{"page": "cart", "cart_value": 120.5, "device": "mobile"}
	var in features.Inputs
	spec.Inputs(&in, p, "web", ctx, T0)
	var feats []*features.ActionFeatures
	for _, a := range ids {
		act, _ := cat.Lookup(a)
		feats = append(feats, act.Compiled())
	}
	live := make([]float64, len(ids)*spec.Dim())
	spec.Assemble(live, &in, feats)
	d := Decision(id, T0, spec.Hash(), ids...)
	d.Profile, d.Context = in.ProfileMap(), ctx
	return d, live
}

// MaxDiff returns the largest absolute difference of a and b (of equal
// length), and their scale: 1 plus the largest magnitude in either, so
// that a test can require diff ≤ tol·scale of sufficient statistics
// computed two ways.
func MaxDiff(a, b []float64) (diff, scale float64) {
	scale = 1
	for i := range a {
		diff = max(diff, math.Abs(a[i]-b[i]))
		scale = max(scale, math.Abs(a[i]), math.Abs(b[i]))
	}
	return diff, scale
}
