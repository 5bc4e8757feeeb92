package eval_test

import (
	"context"
	"encoding/json"
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

// TestJournalSlateRounds: on a journal the engine wrote (three slots;
// every third decision journaled with its explanation, every fourth
// served by the fallback ranking), the logging policy's per-slot
// conditionals are recovered from the explanations and the fallback
// ranking, and from the logging model for the rest when it is given;
// the recovered conditionals reproduce every logged propensity, and one
// tampered propensity is caught. With the logging policy as the target
// every PI weight is 1 (γ = 1ₛᵀΓ⁺Γv = 1 for the slot-0 indicator v), so
// PI is the realised mean slate reward exactly.
func TestJournalSlateRounds(t *testing.T) {
	spec, cat := journaltest.Retail(t)
	r := rand.New(rand.NewPCG(8, 9))
	sc := linearScorer{w: make([]float64, spec.Dim())}
	for i := range sc.w {
		sc.w[i] = r.NormFloat64()
	}
	for _, p := range []decide.Explorer{
		{Kind: decide.Softmax, Temperature: 0.5},
		{Kind: decide.EpsilonGreedy, Epsilon: 0.3, Alpha: 1},
		{Kind: decide.Thompson, V: 1},
	} {
		pol, err := decide.NewExplorer(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(pol.String(), func(t *testing.T) {
			eng, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Explorer: pol, Seed: 5}, sc)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
			const n = 120
			var recs []any
			var explained, fallback int
			var total float64
			for i := range n {
				now := t0.Add(time.Duration(i) * time.Minute)
				req := decide.Request{
					CustomerID: fmt.Sprintf("c-%d", i), Channel: "web", Limit: 3, Now: now,
					Context:  map[string]any{"page": []string{"home", "cart"}[i%2], "cart_value": float64(r.IntN(300)), "device": "mobile"},
					Fallback: i%4 == 0, Explain: i%3 == 1,
				}
				var res decide.Result
				if err := eng.Decide(context.Background(), &req, spec.NewProfile(req.CustomerID, now), &res); err != nil {
					t.Fatal(err)
				}
				d := journal.Decision{V: journal.SchemaVersion, DecisionID: fmt.Sprintf("d-%d", i), CustomerID: req.CustomerID,
					Channel: req.Channel, Time: now, Context: req.Context, Profile: res.Inputs.ProfileMap(),
					Policy: res.Policy, FeatureSpec: spec.Hash(), Explorer: res.Explorer, Fallback: res.Fallback}
				if res.Explain != nil {
					d.Explanation, _ = json.Marshal(res.Explain)
				}
				switch {
				case res.Fallback:
					fallback++
				case res.Explain != nil:
					explained++
				}
				for _, a := range res.Eligible {
					d.Eligible = append(d.Eligible, a.ID)
				}
				for _, c := range res.Actions {
					d.Actions = append(d.Actions, journal.LoggedAction{ActionID: c.Action.ID, Slot: c.Slot, Score: c.Score, Estimate: c.Estimate, Propensity: c.Propensity})
				}
				recs = append(recs, d)
				for k, c := range res.Actions {
					if r.Float64() < 0.3/float64(k+1) {
						recs = append(recs, journaltest.Outcome(d.DecisionID, c.Action.ID, "click", 1, now.Add(time.Minute)))
						total++
					}
				}
			}
			joined, _, err := logs.Join(context.Background(), journaltest.Write(t, recs...), logs.JoinConfig{})
			if err != nil {
				t.Fatal(err)
			}
			target := eval.Target{Name: "logging policy", Scorer: sc, Explorer: pol}

			rs, st, err := eval.JournalSlateRounds(joined, spec, cat, target, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if st.FromExplanation != explained || st.FromFallback != fallback || st.Unknown != n-explained-fallback || st.Mismatch != 0 {
				t.Errorf("without the logging model: %+v; want %d explained, %d fallback", st, explained, fallback)
			}
			rs, st, err = eval.JournalSlateRounds(joined, spec, cat, target, sc, 0)
			if err != nil {
				t.Fatal(err)
			}
			if st.Used != n || st.FromModel != n-explained-fallback || st.Mismatch != 0 {
				t.Errorf("with the logging model: %+v", st)
			}
			est, err := eval.EvaluateSlate(rs, eval.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(est.PI.Value-total/n) > 1e-9 || math.Abs(est.PI.MaxWeight-1) > 1e-9 || math.Abs(est.PI.ESS-n) > 1e-6 || est.Unsupported != 0 {
				t.Errorf("the logging policy on its own log: PI %.12f (realised %.12f), largest weight %v, ESS %v", est.PI.Value, total/n, est.PI.MaxWeight, est.PI.ESS)
			}

			// another model served one decision: its logged propensity
			// no longer matches and the decision is left out
			joined[5].Decision.Actions[1].Propensity *= 0.9
			if _, st, _ = eval.JournalSlateRounds(joined, spec, cat, target, sc, 0); st.Mismatch != 1 || st.Used != n-1 {
				t.Errorf("a tampered propensity: %+v", st)
			}
			// a uniform target: ε-greedy shows every ranking, so it is
			// supported; softmax at temperature 0.5 and Thompson give some
			// candidates probabilities below 1e-12, and PI says so
			uni, err := decide.NewExplorer(decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: 1})
			if err != nil {
				t.Fatal(err)
			}
			rs, _, err = eval.JournalSlateRounds(joined, spec, cat, eval.Target{Name: "uniform", Explorer: uni}, sc, 2)
			if err != nil {
				t.Fatal(err)
			}
			full := pol.Kind == decide.EpsilonGreedy
			if full {
				// E_μ[γ] = gᵀθ_μ is 1 exactly in every decision: a sample
				// mean far from 1 is the weights' skew, not a wrong μ
				for i, rd := range rs {
					g, _, err := eval.PIWeights(rd.Logging, rd.Target)
					if err != nil {
						t.Fatal(err)
					}
					var mean float64
					for k, v := range g {
						mean += v * rd.Logging.Marginal[k]
					}
					if math.Abs(mean-1) > 1e-9 {
						t.Fatalf("decision %d: E[γ] = %.12f, want 1", i, mean)
					}
				}
			}
			est, err = eval.EvaluateSlate(rs, eval.Options{})
			if err != nil || (est.Unsupported == 0) != full || hasWarning(est.PI.Warnings, "missing support") == full {
				t.Errorf("uniform target: %d of %d decisions unsupported (want none: %v), warnings %v, %v", est.Unsupported, est.Decisions, full, est.PI.Warnings, err)
			}
		})
	}
}
