package logs_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/journal"
	"nextbest/logs"
	"nextbest/models"
)

// TestSlotRowsAreTheLiveRows checks that the learning rows rebuilt from a
// logged decision with declared slots (ShownRows, after the journal's
// JSON round trip) are the rows the engine scored live (Result.X), bit
// for bit: each returned action with its slot's context merged over the
// request's. Rows, for slot 0, gives slot 0's rows; a slot the decision
// did not declare is refused with ErrBadLoggedInputs.
func TestSlotRowsAreTheLiveRows(t *testing.T) {
	spec, cat := retailSample(t)
	m, err := models.NewRidge(models.RidgeConfig{Dim: spec.Dim(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Seed: 7}, m)
	if err != nil {
		t.Fatal(err)
	}
	p := spec.NewProfile("c-1", t0.Add(-90*24*time.Hour))
	p.Cold, p.Stage = false, "cart"
	p.Counters = map[string]features.Counter{"cart_adds_7d": {Value: 2, At: t0}}
	req := &decide.Request{CustomerID: "c-1", Channel: "web", Context: map[string]any{"page": "cart", "cart_value": 80.0}, Limit: 3, Now: t0,
		Slots: []decide.Slot{
			{ID: "hero", Context: map[string]any{"page": "home", "device": "desktop"}},
			{ID: "sidebar", Context: map[string]any{"cart_value": 300.0}},
			{ID: "footer"},
		}}
	var res decide.Result
	if err := e.Decide(context.Background(), req, p, &res); err != nil {
		t.Fatal(err)
	}
	d := journal.Decision{DecisionID: "d1", CustomerID: "c-1", Channel: "web", Time: t0, Context: req.Context,
		Profile: res.Inputs.ProfileMap(), Policy: res.Policy, FeatureSpec: spec.Hash()}
	for _, sl := range req.Slots {
		d.Slots = append(d.Slots, journal.SlotLog{ID: sl.ID, Context: sl.Context})
	}
	for _, c := range res.Actions {
		d.Eligible = append(d.Eligible, c.Action.ID)
		d.Actions = append(d.Actions, journal.LoggedAction{ActionID: c.Action.ID, Slot: c.Slot, Propensity: c.Propensity})
	}
	var logged journal.Decision
	_, payload, err := journal.Encode(&d)
	if err != nil {
		t.Fatal(err)
	}
	if err := journal.DecodeDecision(payload, &logged); err != nil {
		t.Fatal(err)
	}
	rb, err := logs.NewRowBuilder(spec, cat)
	if err != nil {
		t.Fatal(err)
	}
	x, acts, err := rb.ShownRows(nil, &logged)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x, res.X) {
		t.Fatal("rebuilt rows differ from the rows scored live")
	}
	for k, c := range res.Actions {
		if acts[k] != c.Action.Index() {
			t.Errorf("row %d: action %d, want %d", k, acts[k], c.Action.Index())
		}
	}
	dim := spec.Dim()
	// slot 0's row differs from the request context's (the test checks
	// something), and Rows gives slot 0's
	first, _, err := rb.Rows(nil, &logged, d.Eligible[:1])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first, res.X[:dim]) {
		t.Error("Rows is not slot 0's row")
	}
	plain := logged
	plain.Slots = nil
	x0, _, err := rb.Rows(nil, &plain, d.Eligible[:1])
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(x0, first) {
		t.Error("slot 0's context changed nothing in its row")
	}
	if _, _, err := rb.SlotRows(nil, &logged, d.Eligible[:1], []int{3}); !errors.Is(err, logs.ErrBadLoggedInputs) {
		t.Errorf("undeclared slot: %v, want ErrBadLoggedInputs", err)
	}
}
