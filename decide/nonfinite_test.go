package decide_test

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"strings"
	"testing"

	"nextbest/decide"
	"nextbest/internal/journaltest"
)

// brokenScorer answers a fixed estimate for one catalog action index and
// 0.5 for the others.
type brokenScorer struct {
	dim  int
	act  int
	mean float64
	std  float64
}

func (b brokenScorer) Name() string { return "broken" }
func (b brokenScorer) Dim() int     { return b.dim }
func (b brokenScorer) Predict(mean, std []float64, acts []int, xs []float64) {
	for i := range mean {
		mean[i], std[i] = 0.5, 0.1
		if acts[i] == b.act {
			mean[i], std[i] = b.mean, b.std
		}
	}
}

// TestNonFiniteEstimateFallsBack: a model that answers +Inf, NaN or an
// estimate that overflows (1e308 + 1e308) for one action
// does not fail the decision: the fallback ranking answers, every logged
// number is finite, and the log says which model and action, at ERROR.
func TestNonFiniteEstimateFallsBack(t *testing.T) {
	spec, cat := journaltest.Retail(t)
	tests := []struct {
		name      string
		mean, std float64
	}{
		{"+Inf mean", math.Inf(1), 0.1},
		{"NaN std", 0.5, math.NaN()},
		{"mean + α·std overflows", 1e308, 1e308},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			// every action on the app channel is broken in turn through
			// candidates: the broken one is always among those scored
			for _, a := range cat.Actions {
				e, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Explorer: decide.Explorer{Alpha: 1}, Seed: 1, Logger: log},
					brokenScorer{dim: spec.Dim(), act: a.Index(), mean: tt.mean, std: tt.std})
				if err != nil {
					t.Fatal(err)
				}
				var res decide.Result
				req := &decide.Request{CustomerID: "c", Channel: a.Channels[0], Candidates: []string{a.ID}, Limit: 1, Now: now}
				if err := e.Decide(context.Background(), req, spec.NewProfile("c", now), &res); err != nil {
					if err == decide.ErrNoActions {
						continue // not eligible for a cold profile
					}
					t.Fatal(err)
				}
				if !res.Fallback || res.Policy != "fallback" {
					t.Errorf("%s: want the fallback ranking, got policy %q", a.ID, res.Policy)
				}
				for _, c := range res.Actions {
					for _, v := range []float64{c.Score, c.Estimate, c.Propensity} {
						if math.IsNaN(v) || math.IsInf(v, 0) {
							t.Errorf("%s: logged a non-finite number: %+v", a.ID, c)
						}
					}
				}
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "model=broken") {
				t.Errorf("no ERROR line naming the model:\n%s", logs.String())
			}
		})
	}
}
