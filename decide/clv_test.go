package decide_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"nextbest/clv"
	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/features"
)

// TestCLVInArbitrationAndRules: an action with clv_uplift is worth that
// fraction of the customer's CLV in the arbitration (and its fixed value
// for a customer without CLV figures), the explanation shows the value
// used, and eligibility rules read profile.clv.*; clv_uplift on a spec
// without profile.clv is refused naming the field.
func TestCLVInArbitrationAndRules(t *testing.T) {
	doc := strings.Replace(string(retail.FeatureSpec), "  attribute_events: [profile_update]",
		"  attribute_events: [profile_update]\n  clv: {event: purchase, amount: amount}", 1)
	spec, err := features.ParseSpec([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	const catDoc = `
version: 1
channels: [web]
actions:
  - {id: keep-them, channels: [web], value: 1, clv_uplift: 0.05}
  - {id: flat, channels: [web], value: 10}
  - {id: vip-only, channels: [web], value: 1, eligible: "profile.clv.known && profile.clv.value > 200"}
`
	cat, err := decide.ParseCatalog([]byte(catDoc), spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.SetCLVModel(&features.CLVModel{Model: clv.Model{BGNBD: clv.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426},
		Spend: clv.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}}, Horizon: clv.AnnualHorizon(52, 0, 0.1), Version: "t"}); err != nil {
		t.Fatal(err)
	}
	e, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Explorer: decide.Explorer{Kind: decide.EpsilonGreedy}, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	loyal := spec.NewProfile("loyal", at.AddDate(-1, 0, 0))
	for d := 0; d < 300; d += 10 { // every ten days for 300 days, 120 each
		spec.ApplyEvent(loyal, features.Event{Type: "purchase", Time: at.AddDate(0, 0, d-300), Properties: map[string]any{"amount": 120.0}})
	}
	figs, ok := spec.CLV(loyal, at)
	if !ok || figs.Value < 400 {
		t.Fatalf("the loyal customer's CLV %+v", figs)
	}
	decideFor := func(p *features.Profile) *decide.Result {
		var res decide.Result
		req := &decide.Request{CustomerID: p.CustomerID, Channel: "web", Limit: 3, Now: at, Explain: true}
		if err := e.Decide(context.Background(), req, p, &res); err != nil {
			t.Fatal(err)
		}
		return &res
	}
	res := decideFor(loyal)
	values := map[string]float64{}
	for _, s := range res.Explain.Scored {
		values[s.ActionID] = s.Value
	}
	if want := 0.05 * figs.Value; values["keep-them"] != want || values["flat"] != 10 {
		t.Errorf("values %v, want keep-them %v (5%% of CLV %v), flat 10", values, want, figs.Value)
	}
	if _, ok := values["vip-only"]; !ok || res.Actions[0].Action.ID != "keep-them" {
		t.Errorf("loyal: eligible %v, first %s", res.Eligible, res.Actions[0].Action.ID)
	}

	stranger := spec.NewProfile("new", at)
	res = decideFor(stranger)
	values = map[string]float64{}
	for _, s := range res.Explain.Scored {
		values[s.ActionID] = s.Value
	}
	if values["keep-them"] != 1 {
		t.Errorf("no CLV: keep-them's value %v, want its fixed 1", values["keep-them"])
	}
	if _, ok := values["vip-only"]; ok {
		t.Error("the rule on profile.clv let a customer without CLV through")
	}

	if _, err := decide.ParseCatalog([]byte(catDoc), mustSpec(t)); err == nil || !strings.Contains(err.Error(), "clv_uplift") {
		t.Errorf("clv_uplift without profile.clv: %v", err)
	}
}

func mustSpec(t *testing.T) *features.Spec {
	s, err := features.ParseSpec(retail.FeatureSpec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
