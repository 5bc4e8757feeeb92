package decide_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/internal/journaltest"
)

// slotRequest is a three-slot decision whose slots differ by the device
// and the cart value: values no eligibility rule of the retail catalog
// tells apart on this page, so a plain decision with a slot's context
// has the same eligible set.
func slotRequest() *decide.Request {
	return &decide.Request{CustomerID: "c-1", Channel: "app", Context: map[string]any{"page": "product", "device": "mobile"}, Limit: 3, Now: now,
		Slots: []decide.Slot{
			{ID: "hero", Context: map[string]any{"device": "desktop"}},
			{ID: "sidebar", Context: map[string]any{"cart_value": 300.0}},
			{ID: "footer"}, // the request's context
		}}
}

// pageSlots is a three-slot decision whose slots differ by the page (the
// retail spec's context.page, crossed with action.id); the eligibility
// rules read the request's page.
func pageSlots() *decide.Request {
	r := slotRequest()
	r.Slots[0].Context = map[string]any{"page": "home"}
	r.Slots[1].Context = map[string]any{"page": "cart", "cart_value": 300.0}
	return r
}

// TestSlotPropensitiesAreExact is TestLoggedPropensitiesAreExact for a
// decision with declared slots, each scored with its own context: the
// observed frequencies of slot 0, of slot 1 given slot 0 and of slot 2
// given slots 0 and 1 match the logged propensities to 5 standard errors.
func TestSlotPropensitiesAreExact(t *testing.T) {
	for _, pol := range []decide.Explorer{
		{Kind: decide.EpsilonGreedy, Epsilon: 0.3, Alpha: 1},
		{Kind: decide.Thompson, V: 1},
	} {
		n := 60000
		if raceEnabled {
			n = 12000 // the race detector is ~10× slower; 5 SE either way
		}
		t.Run(string(pol.Kind), func(t *testing.T) {
			e, spec := retailEngine(t, pol, trainedRidge(t, 64, 9))
			checkThreeSlots(t, e, pageSlots(), knownProfile(spec), n)
		})
	}
}

// TestSlotScoresAreTheSlotContexts checks, bit for bit, that slot k of a
// decision with declared slots is drawn from the scores of a decision
// whose context is slot k's merged context (SlotContext), over the
// actions not yet placed: its logged propensity is decide.Slate's on
// those scores, its estimate the model's mean, and its row in Result.X
// the row assembled with that context.
func TestSlotScoresAreTheSlotContexts(t *testing.T) {
	for _, pol := range []decide.Explorer{{Kind: decide.EpsilonGreedy, Epsilon: 0.2, Alpha: 1}, {Kind: decide.Softmax, Alpha: 0.5}, {Kind: decide.Thompson}} {
		e, spec := retailEngine(t, pol, trainedRidge(t, 64, 4))
		p := knownProfile(spec)
		full, err := decide.NewExplorer(pol)
		if err != nil {
			t.Fatal(err)
		}
		dim := spec.Dim()
		differs := false
		for d := range 10 {
			req := slotRequest()
			var res decide.Result
			if err := e.Decide(context.Background(), req, p, &res); err != nil {
				t.Fatal(err)
			}
			if len(res.Actions) != 3 {
				t.Fatalf("%d actions, want 3", len(res.Actions))
			}
			var placed []string
			for k, a := range res.Actions {
				if a.Slot != k || a.SlotID != req.Slots[k].ID {
					t.Fatalf("action %d: slot %d %q, want %d %q", k, a.Slot, a.SlotID, k, req.Slots[k].ID)
				}
				ctx := decide.SlotContext(nil, req.Context, req.Slots[k].Context)
				plain := decide.Request{CustomerID: "c-1", Channel: "app", Context: ctx, Limit: 1, Explain: true, Now: now}
				var pr decide.Result
				if err := e.Decide(context.Background(), &plain, p, &pr); err != nil {
					t.Fatal(err)
				}
				sc := pr.Explain.Scored
				m := len(sc)
				mean, std, c := make([]float64, m), make([]float64, m), make([]float64, m)
				var rem []int
				for i, s := range sc {
					mean[i], std[i], c[i] = s.Mean, s.Std, s.Value*s.Weight
					if !slices.Contains(placed, s.ActionID) {
						rem = append(rem, i)
					}
				}
				var slate decide.Slate
				slate.Reset(full, mean, std, c)
				probs := make([]float64, len(rem))
				slate.Probabilities(probs, rem)
				j := slices.IndexFunc(rem, func(i int) bool { return sc[i].ActionID == a.Action.ID })
				if j < 0 || probs[j] != a.Propensity {
					t.Fatalf("%s decision %d slot %d: the slot's scores give %v, engine logged %v", pol.Kind, d, k, probs[max(j, 0)], a.Propensity)
				}
				if a.Estimate != mean[rem[j]] {
					t.Errorf("%s slot %d: estimate %v, the slot's mean %v", pol.Kind, k, a.Estimate, mean[rem[j]])
				}
				if k == 0 && (res.Explain != nil) {
					t.Fatal("an explanation nobody asked for")
				}
				var in features.Inputs
				spec.Inputs(&in, p, "app", ctx, now)
				row := make([]float64, dim)
				spec.Assemble(row, &in, []*features.ActionFeatures{a.Action.Compiled()})
				if !slices.Equal(row, res.X[k*dim:(k+1)*dim]) {
					t.Fatalf("%s slot %d: Result.X is not the row of the slot's context", pol.Kind, k)
				}
				if k > 0 {
					var in0 features.Inputs
					spec.Inputs(&in0, p, "app", req.Context, now)
					spec.Assemble(row, &in0, []*features.ActionFeatures{a.Action.Compiled()})
					differs = differs || !slices.Equal(row, res.X[k*dim:(k+1)*dim])
				}
				placed = append(placed, a.Action.ID)
			}
		}
		if !differs {
			t.Errorf("%s: no slot's row differed from the request context's: the test checks nothing", pol.Kind)
		}
	}
}

// TestSlotExplanationIsSlotZero checks that an explained decision with
// slots explains slot 0's scores.
func TestSlotExplanationIsSlotZero(t *testing.T) {
	e, spec := retailEngine(t, decide.Explorer{Alpha: 1}, trainedRidge(t, 64, 4))
	p := knownProfile(spec)
	req := slotRequest()
	req.Explain = true
	var res decide.Result
	if err := e.Decide(context.Background(), req, p, &res); err != nil {
		t.Fatal(err)
	}
	plain := decide.Request{CustomerID: "c-1", Channel: "app", Context: decide.SlotContext(nil, req.Context, req.Slots[0].Context), Limit: 1, Explain: true, Now: now}
	var pr decide.Result
	if err := e.Decide(context.Background(), &plain, p, &pr); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Explain.Scored, pr.Explain.Scored) {
		t.Errorf("explained scores are not slot 0's:\n%v\n%v", res.Explain.Scored, pr.Explain.Scored)
	}
}

func TestSlotRequestErrors(t *testing.T) {
	e, spec := retailEngine(t, decide.Explorer{}, trainedRidge(t, 64, 4))
	p := knownProfile(spec)
	for _, tc := range []struct {
		name  string
		edit  func(r *decide.Request)
		field string
	}{
		{"limit differs", func(r *decide.Request) { r.Limit = 2 }, "limit"},
		{"empty id", func(r *decide.Request) { r.Slots[1].ID = "" }, "slots[1].id"},
		{"duplicate id", func(r *decide.Request) { r.Slots[2].ID = "hero" }, "slots[2].id"},
		{"bad type", func(r *decide.Request) { r.Slots[1].Context = map[string]any{"cart_value": "lots"} }, "slots[1].context.cart_value"},
		{"out of range", func(r *decide.Request) { r.Slots[0].Context = map[string]any{"cart_value": -1.0} }, "slots[0].context.cart_value"},
		{"too many", func(r *decide.Request) {
			r.Slots = make([]decide.Slot, e.MaxLimit()+1)
			r.Limit = len(r.Slots)
		}, "slots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := slotRequest()
			tc.edit(req)
			var res decide.Result
			err := e.Decide(context.Background(), req, p, &res)
			var re *decide.RequestError
			var fe *features.FieldError
			switch {
			case errors.As(err, &re):
				if re.Field != tc.field {
					t.Errorf("field %q, want %q (%v)", re.Field, tc.field, err)
				}
			case errors.As(err, &fe):
				if fe.Field != tc.field {
					t.Errorf("field %q, want %q (%v)", fe.Field, tc.field, err)
				}
			default:
				t.Errorf("error %v, want one naming %s", err, tc.field)
			}
		})
	}
}

// TestSlotsBeyondTheEligible checks that a decision with more slots than
// eligible actions fills the first slots.
func TestSlotsBeyondTheEligible(t *testing.T) {
	e, spec := retailEngine(t, decide.Explorer{}, trainedRidge(t, 64, 4))
	p := knownProfile(spec)
	req := slotRequest()
	var res decide.Result
	if err := e.Decide(context.Background(), req, p, &res); err != nil {
		t.Fatal(err)
	}
	req.Candidates = []string{res.Actions[0].Action.ID, res.Actions[1].Action.ID}
	if err := e.Decide(context.Background(), req, p, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) != 2 || res.Actions[1].SlotID != "sidebar" {
		t.Errorf("got %d actions, the last in %q; want 2, in hero and sidebar", len(res.Actions), res.Actions[len(res.Actions)-1].SlotID)
	}
}

// slotScorer answers distinct finite estimates, except on its call number
// bad (counted from 0; the engine scores a decision's declared slots
// once each, in order), where it answers what odd says.
type slotScorer struct {
	dim   int
	calls int
	bad   int
	odd   func(mean, std []float64)
}

func (s *slotScorer) Name() string { return "slot" }
func (s *slotScorer) Dim() int     { return s.dim }
func (s *slotScorer) Predict(mean, std []float64, acts []int, xs []float64) {
	for i := range mean {
		mean[i], std[i] = 0.1*float64(acts[i]%7), 0.1
	}
	if s.calls == s.bad {
		s.odd(mean, std)
	}
	s.calls++
}

// TestSlotChecksCoverEverySlot: a non-finite estimate in slot 1 only
// sends the whole decision to the fallback ranking, and a model that
// cannot tell the candidates apart in slot 1 only marks it degenerate.
func TestSlotChecksCoverEverySlot(t *testing.T) {
	spec, cat := journaltest.Retail(t)
	for _, tc := range []struct {
		name                 string
		odd                  func(mean, std []float64)
		fallback, degenerate bool
	}{
		{"nothing odd", func(mean, std []float64) {}, false, false},
		{"NaN in slot 1", func(mean, std []float64) { mean[len(mean)-1] = math.NaN() }, true, false},
		{"constant in slot 1", func(mean, std []float64) {
			for i := range mean {
				mean[i], std[i] = 0.3, 0.1
			}
		}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := &slotScorer{dim: spec.Dim(), bad: 1, odd: tc.odd}
			e, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Seed: 1}, sc)
			if err != nil {
				t.Fatal(err)
			}
			var res decide.Result
			if err := e.Decide(context.Background(), slotRequest(), knownProfile(spec), &res); err != nil {
				t.Fatal(err)
			}
			if sc.calls != 3 {
				t.Fatalf("%d Predict calls, want one per slot (3)", sc.calls)
			}
			if res.Fallback != tc.fallback || res.Degenerate != tc.degenerate {
				t.Errorf("fallback %v degenerate %v, want %v %v", res.Fallback, res.Degenerate, tc.fallback, tc.degenerate)
			}
			for _, c := range res.Actions {
				if math.IsNaN(c.Estimate+c.Score+c.Propensity) || math.IsInf(c.Estimate+c.Score, 0) {
					t.Errorf("a non-finite number logged: %+v", c)
				}
			}
		})
	}
}
