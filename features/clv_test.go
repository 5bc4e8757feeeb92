package features_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"nextbest/clv"
	"nextbest/examples/retail"
	"nextbest/features"
)

// clvSpec is the retail spec with the purchase history kept and the CLV
// read by a feature.
func clvSpec(t testing.TB) *features.Spec {
	t.Helper()
	doc := strings.Replace(string(retail.FeatureSpec), "  attribute_events: [profile_update]",
		"  attribute_events: [profile_update]\n  clv: {event: purchase, amount: amount}", 1)
	doc = strings.Replace(doc, "  features:\n", "  features:\n    - {source: profile.clv.value, type: numeric, transform: log1p, clip: [0, 100000]}\n", 1)
	s, err := features.ParseSpec([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// cdnowModel is FHL 2005's published CDNOW fit.
var cdnowModel = clv.Model{BGNBD: clv.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}, Spend: clv.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}}

// TestCLVInProfile: the purchase history ApplyEvent keeps is the one
// clv.Summarize makes of the same purchases (in order and out of order
// by a day within the history), so the profile's figures are exactly
// clv.Predict's; the vector and Inputs read them; they follow a new
// purchase and a new model version; the spec's hash without profile.clv
// is unchanged.
func TestCLVInProfile(t *testing.T) {
	s := clvSpec(t)
	hz := clv.AnnualHorizon(52, 0, 0.1)
	if err := s.SetCLVModel(&features.CLVModel{Model: cdnowModel, Horizon: hz, Version: "v1"}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	end := t0.AddDate(0, 0, 300)
	for c := range 50 {
		p := s.NewProfile("c", t0)
		var txs []clv.Transaction
		n := 1 + rng.IntN(8)
		at := t0.Add(time.Duration(rng.IntN(100*24)) * time.Hour)
		for range n {
			amount := math.Round(100*(5+rng.Float64()*50)) / 100
			if err := s.ApplyEvent(p, features.Event{Type: "purchase", Time: at, Properties: map[string]any{"amount": amount}}); err != nil {
				t.Fatal(err)
			}
			txs = append(txs, clv.Transaction{Customer: "c", Date: clv.DateOf(at), Amount: amount})
			// same day now and then, else days to weeks later
			if rng.IntN(4) > 0 {
				at = at.Add(time.Duration(24+rng.IntN(30*24)) * time.Hour)
			} else {
				at = at.Add(time.Hour)
			}
		}
		sum, err := clv.Summarize(txs, clv.SummaryOptions{End: clv.DateOf(end)})
		if err != nil {
			t.Fatal(err)
		}
		want := sum.Customers[0].History
		got := p.Purchases.History(end)
		if got.X != want.X || math.Abs(got.TX-want.TX) > 1e-9 || math.Abs(got.T-want.T) > 1e-9 || math.Abs(got.MeanSpend-want.MeanSpend) > 1e-9 {
			t.Fatalf("customer %d: history %+v, clv.Summarize %+v", c, got, want)
		}
		pr, _ := clv.Predict(cdnowModel, want, hz)
		figs, ok := s.CLV(p, end)
		near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }
		// (the spend is summed in another order than Summarize's: equal to
		// rounding)
		if !ok || !near(figs.Value, pr.CLV) || figs.PAlive != pr.PAlive || figs.ExpectedPurchases != pr.ExpectedPurchases || figs.RepeatPurchases != float64(want.X) {
			t.Fatalf("customer %d: figures %+v, clv.Predict %+v", c, figs, pr)
		}
		var in features.Inputs
		s.Inputs(&in, p, "web", nil, end)
		if v, ok := in.CLV(); !ok || v != figs {
			t.Fatalf("Inputs.CLV %+v", v)
		}
		if m := in.ProfileMap(); m["clv.value"] != figs.Value {
			t.Fatalf("logged clv.value %v, want %v", m["clv.value"], figs.Value)
		}
	}

	// a new purchase and a new model change the figures
	p := s.NewProfile("k", t0)
	s.ApplyEvent(p, features.Event{Type: "purchase", Time: t0, Properties: map[string]any{"amount": 20.0}})
	s.ApplyEvent(p, features.Event{Type: "purchase", Time: t0.AddDate(0, 0, 20), Properties: map[string]any{"amount": 30.0}})
	a, _ := s.CLV(p, end)
	q := p.Clone()
	s.ApplyEvent(q, features.Event{Type: "purchase", Time: end.Add(-time.Hour), Properties: map[string]any{"amount": 30.0}})
	b, _ := s.CLV(q, end)
	if b.Value <= a.Value || b.PAlive <= a.PAlive {
		t.Errorf("a recent purchase did not raise the figures: %+v then %+v", a, b)
	}
	if p.Purchases.RepeatDays != 1 {
		t.Errorf("Clone shares the purchase history: %+v", p.Purchases)
	}
	richer := cdnowModel
	richer.Spend.Gamma *= 2
	s.SetCLVModel(&features.CLVModel{Model: richer, Horizon: hz, Version: "v2"})
	pr, _ := clv.Predict(richer, q.Purchases.History(end), hz)
	if c, _ := s.CLV(q, end); c.Value != pr.CLV || !(c.Value > b.Value) {
		t.Errorf("model v2 (population spend scale doubled): value %v, was %v, clv.Predict %v", c.Value, b.Value, pr.CLV)
	}
	s.SetCLVModel(nil)
	if _, ok := s.CLV(q, end); ok {
		t.Error("figures without a model")
	}

	// refusals
	if err := s.ApplyEvent(p, features.Event{Type: "purchase", Time: end, Properties: map[string]any{"amount": "lots"}}); err == nil || !strings.Contains(err.Error(), "properties.amount") {
		t.Errorf("a non-numeric amount: %v", err)
	}
	plain, _ := features.ParseSpec(retail.FeatureSpec)
	if err := plain.SetCLVModel(&features.CLVModel{Model: cdnowModel, Horizon: hz}); err == nil {
		t.Error("a CLV model on a spec without profile.clv")
	}
	if _, err := features.ParseSpec([]byte(strings.Replace(string(retail.FeatureSpec), "  features:\n", "  features:\n    - {source: profile.clv.value, type: numeric}\n", 1))); err == nil || !strings.Contains(err.Error(), "profile.clv") {
		t.Errorf("profile.clv.value without profile.clv: %v", err)
	}
	withCLV, _ := features.ParseSpec([]byte(strings.Replace(string(retail.FeatureSpec), "  attribute_events: [profile_update]",
		"  attribute_events: [profile_update]\n  clv: {event: purchase, amount: amount}", 1)))
	if withCLV == nil || withCLV.Hash() == plain.Hash() {
		t.Error("profile.clv does not change the spec's hash (it changes the profiles)")
	}
}

// BenchmarkCLVKept: the figures of a customer already computed today.
func BenchmarkCLVKept(b *testing.B) {
	s := clvSpec(b)
	s.SetCLVModel(&features.CLVModel{Model: cdnowModel, Horizon: clv.AnnualHorizon(52, 0, 0.1), Version: "v1"})
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	p := s.NewProfile("c", t0)
	s.ApplyEvent(p, features.Event{Type: "purchase", Time: t0, Properties: map[string]any{"amount": 20.0}})
	s.ApplyEvent(p, features.Event{Type: "purchase", Time: t0.AddDate(0, 0, 9), Properties: map[string]any{"amount": 20.0}})
	now := t0.AddDate(0, 1, 0)
	s.CLV(p, now)
	for b.Loop() {
		s.CLV(p, now)
	}
}
