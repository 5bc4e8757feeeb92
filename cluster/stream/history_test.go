package stream_test

import (
	"testing"
	"time"

	"nextbest/internal/engines"
	"nextbest/models"
)

// TestRegistryHistory: events recorded in the cluster's registry come
// back in time order, across clients.
func TestRegistryHistory(t *testing.T) {
	t.Parallel()
	srv := engines.NATS(t)
	a := openRegistry(t, open(t, srv, nil))
	b := openRegistry(t, open(t, srv, nil))
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	events := []models.Event{
		{Time: t0, Kind: models.EventPromoted, Version: 1, By: "cli"},
		{Time: t0.Add(time.Second), Kind: "gate_rejected", Version: 2, By: "loop", Reason: "lower bound below the serving policy's", Figures: map[string]float64{"diff_lo": -0.01}},
		{Time: t0.Add(2 * time.Second), Kind: models.EventRolledBack, Version: 1, From: 3, By: "loop"},
	}
	for i, e := range events {
		reg := a
		if i%2 == 1 {
			reg = b
		}
		if err := reg.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	hist, err := b.History()
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != len(events) {
		t.Fatalf("history has %d events, want %d: %+v", len(hist), len(events), hist)
	}
	for i := range events {
		if hist[i].Kind != events[i].Kind || hist[i].Version != events[i].Version || !hist[i].Time.Equal(events[i].Time) || hist[i].Reason != events[i].Reason {
			t.Errorf("event %d: %+v, want %+v", i, hist[i], events[i])
		}
	}
	if hist[1].Figures["diff_lo"] != -0.01 {
		t.Errorf("figures lost: %+v", hist[1])
	}
}
