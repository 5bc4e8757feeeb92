package eval_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/eval"
	"nextbest/internal/journaltest"
	"nextbest/journal"
	"nextbest/logs"
)

// linearScorer scores a row by a fixed weight vector: a model whose
// scores differ by context and action, so a target that scored fallback
// decisions with it would not give back the fallback's propensities.
type linearScorer struct{ w []float64 }

func (s linearScorer) Name() string { return "linear" }
func (s linearScorer) Dim() int     { return len(s.w) }
func (s linearScorer) Predict(mean, std []float64, acts []int, xs []float64) {
	d := len(s.w)
	for i := range mean {
		var m float64
		for k, v := range xs[i*d : (i+1)*d] {
			m += s.w[k] * v
		}
		mean[i], std[i] = m, 0.05*float64(1+acts[i]%3)
	}
}

// TestJournalRoundsFallbackPropensities pins the fallback drift fix:
// evaluating the logging policy on a journal the engine wrote gives back
// the engine's logged first-slot propensities on every decision, those it
// served with the fallback ranking included (there the engine explores
// with decide.FallbackExplorer, ε = 0.1 even when the serving policy is
// greedy), and a target without a scorer (the fallback ranking) does the
// same on the fallback decisions.
func TestJournalRoundsFallbackPropensities(t *testing.T) {
	spec, cat := journaltest.Retail(t)
	r := rand.New(rand.NewPCG(3, 5))
	sc := linearScorer{w: make([]float64, spec.Dim())}
	for i := range sc.w {
		sc.w[i] = r.NormFloat64()
	}
	for _, p := range []decide.Explorer{
		{Kind: decide.EpsilonGreedy, Epsilon: 0, Alpha: 1}, // greedy: its fallback is ε = 0.1
		{Kind: decide.Softmax, Temperature: 0.5},
		{Kind: decide.EpsilonGreedy, Epsilon: 0.3},
	} {
		pol, err := decide.NewExplorer(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(pol.String(), func(t *testing.T) {
			eng, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Explorer: pol, Seed: 11}, sc)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
			pages := []string{"home", "product", "cart", "checkout"}
			channels := []string{"web", "app", "email"}
			const n = 300
			var recs []any
			fallbacks := 0
			for i := range n {
				now := t0.Add(time.Duration(i) * time.Minute)
				req := decide.Request{
					CustomerID: fmt.Sprintf("c-%d", i), Channel: channels[i%len(channels)], Limit: 2, Now: now,
					Context:  map[string]any{"page": pages[r.IntN(len(pages))], "cart_value": float64(r.IntN(300)), "device": "mobile"},
					Fallback: i%3 == 0,
				}
				var res decide.Result
				if err := eng.Decide(context.Background(), &req, spec.NewProfile(req.CustomerID, now), &res); err != nil {
					t.Fatal(err)
				}
				if res.Fallback {
					fallbacks++
				}
				d := journal.Decision{V: journal.SchemaVersion, DecisionID: fmt.Sprintf("d-%d", i), CustomerID: req.CustomerID,
					Channel: req.Channel, Time: now, Context: req.Context, Profile: res.Inputs.ProfileMap(),
					Policy: res.Policy, FeatureSpec: spec.Hash(), Explorer: res.Explorer, Fallback: res.Fallback}
				for _, a := range res.Eligible {
					d.Eligible = append(d.Eligible, a.ID)
				}
				for _, c := range res.Actions {
					d.Actions = append(d.Actions, journal.LoggedAction{ActionID: c.Action.ID, Slot: c.Slot, Score: c.Score, Estimate: c.Estimate, Propensity: c.Propensity})
				}
				recs = append(recs, d)
			}
			if fallbacks != n/3 {
				t.Fatalf("%d fallback decisions, want %d", fallbacks, n/3)
			}
			joined, _, err := logs.Join(context.Background(), journaltest.Write(t, recs...), logs.JoinConfig{})
			if err != nil {
				t.Fatal(err)
			}
			for _, target := range []eval.Target{
				{Name: "logging policy", Scorer: sc, Explorer: pol},
				{Name: "fallback ranking", Explorer: pol},
			} {
				rounds, st, err := eval.JournalRounds(joined, spec, cat, target, nil)
				if err != nil {
					t.Fatal(err)
				}
				if st.Used != n || st.Fallback != n/3 {
					t.Fatalf("%s: stats %+v", target.Name, st)
				}
				for i, rd := range rounds {
					if target.Scorer == nil && !joined[i].Decision.Fallback {
						continue // the fallback ranking is not what served it
					}
					// the same arithmetic on the same numbers: equal up to
					// the rounding of the JSON round trip (none for these)
					if got := rd.Target[rd.Logged]; math.Abs(got-rd.Propensity) > 1e-12 {
						t.Errorf("%s: decision %s (fallback %v): target probability %v, logged propensity %v",
							target.Name, joined[i].Decision.DecisionID, joined[i].Decision.Fallback, got, rd.Propensity)
					}
				}
			}
		})
	}
}
