package decide_test

import (
	"context"
	"math"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/models"
)

// TestBaselineFirst: apprentice mode's baseline serves the first eligible
// candidate in the request's order, whatever the model says, with exact
// propensities: 1 without exploration; with ε-greedy, 1 − ε + ε/n for the
// first and ε/n for each other, matched by the observed frequencies (5
// standard errors, as TestLoggedPropensitiesAreExact).
func TestBaselineFirst(t *testing.T) {
	e, spec := retailEngine(t, decide.Explorer{Kind: decide.Thompson}, trainedRidge(t, 64, 3))
	p := knownProfile(spec)
	cands := []string{"style-guide", "new-arrivals", "home-collection"}
	greedy := decide.Explorer{Kind: decide.EpsilonGreedy}
	req := &decide.Request{CustomerID: "c-1", Channel: "web", Limit: 2, Candidates: cands, Now: now,
		Baseline: decide.BaselineFirst, Explorer: &greedy}
	var res decide.Result
	if err := e.Decide(context.Background(), req, p, &res); err != nil {
		t.Fatal(err)
	}
	first := res.Eligible[0].ID
	if first != cands[0] {
		t.Fatalf("eligible %v: the first candidate %s is not first", res.Eligible, cands[0])
	}
	if res.Policy != "baseline:first" || res.Fallback || res.Actions[0].Action.ID != first || res.Actions[0].Propensity != 1 {
		t.Fatalf("ε = 0: policy %s, fallback %v, slot 0 %s (p %v), want %s with p 1", res.Policy, res.Fallback, res.Actions[0].Action.ID, res.Actions[0].Propensity, first)
	}
	if res.Actions[1].Action.ID != res.Eligible[1].ID {
		t.Errorf("slot 1 is %s, want the second eligible candidate %s", res.Actions[1].Action.ID, res.Eligible[1].ID)
	}

	eps := decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: 0.3}
	req.Explorer = &eps
	const n = 30000
	counts := map[string]int{}
	props := map[string]float64{}
	for range n {
		if err := e.Decide(context.Background(), req, p, &res); err != nil {
			t.Fatal(err)
		}
		a := res.Actions[0]
		counts[a.Action.ID]++
		props[a.Action.ID] = a.Propensity
	}
	k := float64(len(res.Eligible))
	for i, a := range res.Eligible {
		want := 0.3 / k
		if i == 0 {
			want += 0.7
		}
		if got := props[a.ID]; got != 0 && math.Abs(got-want) > 1e-12 {
			t.Errorf("%s: logged propensity %v, want %v", a.ID, got, want)
		}
		checkFreq(t, "slot 0 "+a.ID, counts[a.ID], n, want)
	}

	req.Baseline = "nope"
	if err := e.Decide(context.Background(), req, p, &res); err == nil {
		t.Error("an unknown baseline was accepted")
	}
}

// TestRecencyOfNeverIsTheDefault: a customer who never had an event of a
// type has the spec's recency_default_days (365) as its recency in the
// rules, as in the vector: never opening the app makes app-download
// eligible, never calling support does not make support-followup
// eligible (a missing key used to read as 0 days, the opposite).
func TestRecencyOfNeverIsTheDefault(t *testing.T) {
	e, spec := retailEngine(t, decide.Explorer{}, trainedRidge(t, 64, 4))
	p := spec.NewProfile("c-9", now.Add(-30*24*time.Hour))
	p.Cold = false
	req := &decide.Request{CustomerID: "c-9", Channel: "email", Limit: 1, Explain: true, Now: now}
	var res decide.Result
	if err := e.Decide(context.Background(), req, p, &res); err != nil {
		t.Fatal(err)
	}
	eligible := map[string]bool{}
	for _, a := range res.Eligible {
		eligible[a.ID] = true
	}
	if !eligible["app-download"] || eligible["support-followup"] {
		t.Errorf("never opened the app, never called support: eligible %v", eligible)
	}
	// a call two days ago makes the follow-up eligible
	p.LastEvent = map[string]time.Time{"support_call": now.Add(-48 * time.Hour)}
	if err := e.Decide(context.Background(), req, p, &res); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range res.Eligible {
		found = found || a.ID == "support-followup"
	}
	if !found {
		t.Errorf("a support call 2 days ago: support-followup not eligible")
	}
}

// TestDegenerateModel: a model that scores every eligible action the same
// (a ridge shrunk by λ = 10¹², the simulated loop's "broken" candidate) is
// flagged, so that a canary serving it can be rolled back; a trained model
// is not.
func TestDegenerateModel(t *testing.T) {
	shrunk, err := models.NewRidge(models.RidgeConfig{Dim: 64, Actions: 15, Lambda: 1e12, Name: "shrunk"})
	if err != nil {
		t.Fatal(err)
	}
	shrunk.Publish()
	for _, tc := range []struct {
		name string
		sc   decide.Scorer
		want bool
	}{{"shrunk", shrunk, true}, {"trained", trainedRidge(t, 64, 6), false}} {
		e, spec := retailEngine(t, decide.Explorer{}, tc.sc)
		var res decide.Result
		req := &decide.Request{CustomerID: "c-1", Channel: "web", Limit: 1, Now: now}
		if err := e.Decide(context.Background(), req, knownProfile(spec), &res); err != nil {
			t.Fatal(err)
		}
		if res.Degenerate != tc.want || len(res.Eligible) < 2 {
			t.Errorf("%s: degenerate %v over %d eligible, want %v", tc.name, res.Degenerate, len(res.Eligible), tc.want)
		}
	}
}
