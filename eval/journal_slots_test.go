package eval_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/eval"
	"nextbest/internal/journaltest"
	"nextbest/journal"
	"nextbest/logs"
)

// TestJournalSlotRounds: the logging policy evaluated on its own journal
// of three-slot decisions gives back the engine's logged propensity in
// every slot (the target's probability of the logged action given the
// earlier slots is the one the engine drew it with), fallback decisions
// included; slot 0's rounds are JournalRounds'; and EvaluateSlots of the
// logging policy on its own log is its realised value exactly (every
// weight is 1).
func TestJournalSlotRounds(t *testing.T) {
	spec, cat := journaltest.Retail(t)
	r := rand.New(rand.NewPCG(4, 6))
	sc := linearScorer{w: make([]float64, spec.Dim())}
	for i := range sc.w {
		sc.w[i] = r.NormFloat64()
	}
	for _, p := range []decide.Explorer{
		{Kind: decide.Softmax, Temperature: 0.5},
		{Kind: decide.EpsilonGreedy, Epsilon: 0.3},
		{Kind: decide.Thompson, V: 1},
	} {
		pol, err := decide.NewExplorer(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(pol.String(), func(t *testing.T) {
			eng, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Explorer: pol, Seed: 12}, sc)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
			const n = 200
			var recs []any
			for i := range n {
				now := t0.Add(time.Duration(i) * time.Minute)
				req := decide.Request{
					CustomerID: fmt.Sprintf("c-%d", i), Channel: []string{"web", "app"}[i%2], Limit: 3, Now: now,
					Context:  map[string]any{"page": "home", "cart_value": float64(r.IntN(300)), "device": "mobile"},
					Fallback: i%4 == 0,
				}
				var res decide.Result
				if err := eng.Decide(context.Background(), &req, spec.NewProfile(req.CustomerID, now), &res); err != nil {
					t.Fatal(err)
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
			joined, _, err := logs.Join(context.Background(), journaltest.Write(t, recs...), logs.JoinConfig{})
			if err != nil {
				t.Fatal(err)
			}
			target := eval.Target{Name: "logging policy", Scorer: sc, Explorer: pol}
			rounds, st, err := eval.JournalSlotRounds(joined, spec, cat, target, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			first, _, err := eval.JournalRounds(joined, spec, cat, target, nil)
			if err != nil {
				t.Fatal(err)
			}
			var slot0 []eval.Round
			perSlot := map[int]int{}
			for _, rd := range rounds {
				perSlot[rd.Position]++
				if rd.Position == 0 {
					slot0 = append(slot0, rd)
				}
				// Thompson's probabilities are computed by quadrature,
				// the same way at logging and here: equal to rounding
				if got := rd.Target[rd.Logged]; math.Abs(got-rd.Propensity) > 1e-9 {
					t.Errorf("slot %d: target probability %v, logged propensity %v", rd.Position, got, rd.Propensity)
				}
			}
			if st.Used != n || perSlot[1] == 0 || perSlot[2] == 0 || !reflect.DeepEqual(slot0, first) {
				t.Fatalf("stats %+v, rounds per slot %v; slot 0 equal to JournalRounds: %v", st, perSlot, reflect.DeepEqual(slot0, first))
			}
			// with zero rewards joined the value is 0; what matters is
			// that every weight is 1: the ESS of each slot is its count
			est, err := eval.EvaluateSlots(rounds, eval.IPS, eval.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for k, s := range est.Slots {
				if math.Abs(s.ESS-float64(perSlot[k])) > 1e-6 || math.Abs(s.MaxWeight-1) > 1e-9 {
					t.Errorf("slot %d: ESS %.3f of %d, largest weight %v; want every weight 1", k, s.ESS, perSlot[k], s.MaxWeight)
				}
			}
		})
	}
}

// TestJournalSlotRoundsActivated: of deferred decisions only the
// activated slots make rounds (a slot never shown has no reward to
// weigh), and a shown slot after an unshown one still gets the engine's
// logged propensity: the unshown slot conditions it as it did live.
func TestJournalSlotRoundsActivated(t *testing.T) {
	spec, cat := journaltest.Retail(t)
	r := rand.New(rand.NewPCG(4, 7))
	sc := linearScorer{w: make([]float64, spec.Dim())}
	for i := range sc.w {
		sc.w[i] = r.NormFloat64()
	}
	pol, err := decide.NewExplorer(decide.Explorer{Kind: decide.Softmax, Temperature: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Explorer: pol, Seed: 12}, sc)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	const n = 60
	var recs []any
	for i := range n {
		now := t0.Add(time.Duration(i) * time.Minute)
		req := decide.Request{CustomerID: fmt.Sprintf("c-%d", i), Channel: "web", Limit: 3, Now: now,
			Context: map[string]any{"page": "home", "cart_value": float64(r.IntN(300)), "device": "mobile"}}
		var res decide.Result
		if err := eng.Decide(context.Background(), &req, spec.NewProfile(req.CustomerID, now), &res); err != nil {
			t.Fatal(err)
		}
		d := journal.Decision{V: journal.SchemaVersion, DecisionID: fmt.Sprintf("d-%d", i), CustomerID: req.CustomerID,
			Channel: req.Channel, Time: now, Context: req.Context, Profile: res.Inputs.ProfileMap(),
			Policy: res.Policy, FeatureSpec: spec.Hash(), Explorer: res.Explorer, DeferActivation: true}
		for _, a := range res.Eligible {
			d.Eligible = append(d.Eligible, a.ID)
		}
		for _, c := range res.Actions {
			d.Actions = append(d.Actions, journal.LoggedAction{ActionID: c.Action.ID, Slot: c.Slot, Score: c.Score, Estimate: c.Estimate, Propensity: c.Propensity})
		}
		recs = append(recs, d)
		slots := []int{0, 2} // every third never activated; the rest slots 0 and 2, or 1
		switch {
		case i%3 == 2:
			continue
		case i%3 == 1:
			slots = []int{1}
		}
		recs = append(recs, journal.Activation{ActivationID: "a-" + d.DecisionID, DecisionID: d.DecisionID, CustomerID: d.CustomerID,
			Slots: slots, Time: now.Add(time.Second), DecisionTime: now})
	}
	joined, _, err := logs.Join(context.Background(), journaltest.Write(t, recs...), logs.JoinConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rounds, st, err := eval.JournalSlotRounds(joined, spec, cat, eval.Target{Name: "logging policy", Scorer: sc, Explorer: pol}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	perSlot := map[int]int{}
	for _, rd := range rounds {
		perSlot[rd.Position]++
		if got := rd.Target[rd.Logged]; math.Abs(got-rd.Propensity) > 1e-9 {
			t.Errorf("slot %d: target probability %v, logged propensity %v", rd.Position, got, rd.Propensity)
		}
	}
	if want := map[int]int{0: n / 3, 1: n / 3, 2: n / 3}; !reflect.DeepEqual(perSlot, want) || st.NotShown != n { // 20 decisions × slot 1, 20 × slots 0 and 2
		t.Errorf("rounds per slot %v, want %v; %d slots not shown (stats %+v)", perSlot, want, st.NotShown, st)
	}
}
