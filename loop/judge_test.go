package loop

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/experiment"
	"nextbest/features"
	"nextbest/internal/journaltest"
	"nextbest/models"
)

// fallbackService reports fixed fallback counts. The served models here
// cannot misbehave on purpose (the ridge refuses every non-finite input
// and overflow, and its artifact is checked on load), so the rule that
// rolls back a canary whose decisions fall back is checked on its inputs.
type fallbackService struct {
	decisions, fallbacks map[string]int64
	p99                  map[string]float64
	counts               map[string]uint64
	archived             []string
}

func (f *fallbackService) Latency(context.Context, string) (map[string]float64, map[string]uint64, error) {
	return f.p99, f.counts, nil
}

func (f *fallbackService) PutExperiment(context.Context, *decide.Experiment) error { return nil }
func (f *fallbackService) ArchiveExperiment(_ context.Context, name string) error {
	f.archived = append(f.archived, name)
	return nil
}
func (f *fallbackService) Experiment(context.Context, string) (*experiment.Result, error) {
	return nil, nil
}
func (f *fallbackService) SetShadow(context.Context, int, *decide.Explorer) error { return nil }
func (f *fallbackService) Fallbacks(context.Context, string) (map[string]int64, map[string]int64, error) {
	return f.decisions, f.fallbacks, nil
}

func TestMisbehavingCanaryRolledBack(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		decisions, fallbacks map[string]int64
		rolledBack           bool
	}{
		{"every canary decision falls back", map[string]int64{"canary": 200, "serving": 1800}, map[string]int64{"canary": 200}, true},
		{"3% against 0%", map[string]int64{"canary": 1000, "serving": 9000}, map[string]int64{"canary": 30}, true},
		{"as often as the serving arm (a store outage)", map[string]int64{"canary": 1000, "serving": 9000}, map[string]int64{"canary": 50, "serving": 450}, false},
		{"too few decisions to tell", map[string]int64{"canary": 50, "serving": 450}, map[string]int64{"canary": 50}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := models.OpenRegistry(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			svc := &fallbackService{decisions: tc.decisions, fallbacks: tc.fallbacks}
			cfg := Config{Spec: &features.Spec{}, Catalog: &decide.Catalog{}, Journal: "unused", Registry: reg, Service: svc}
			if err := cfg.defaults(); err != nil {
				t.Fatal(err)
			}
			started := &models.Event{Time: time.Now(), Kind: EventCanary, Version: 3}
			turn, err := judgeCanary(context.Background(), &cfg, started)
			if err != nil {
				t.Fatal(err)
			}
			if got := turn.Kind == EventRolledBack; got != tc.rolledBack {
				t.Fatalf("rolled back %v, want %v: %+v", got, tc.rolledBack, turn)
			}
			if tc.rolledBack && (!strings.Contains(turn.Reason, "misbehaves") || len(svc.archived) != 1) {
				t.Errorf("turn %+v, archived %v", turn, svc.archived)
			}
		})
	}
}

// winningService reports a canary that is better on the primary metric,
// with trusted data.
type winningService struct{ fallbackService }

func (w *winningService) Experiment(context.Context, string) (*experiment.Result, error) {
	return &experiment.Result{
		Verdict: experiment.Verdict{Status: experiment.VerdictWinner, Trusted: true},
		Comparisons: []experiment.Comparison{{Arm: "canary", Control: "serving", Metric: "reward", Role: "primary",
			Direction: "better", ArmMean: 0.5, ControlMean: 0.2, AlwaysValidP: 1e-6}},
	}, nil
}

// TestApprovalAndPause: with Approve set, a winning canary waits for a
// person's approval (asked once), then is promoted; a paused loop does
// nothing until resumed.
func TestApprovalAndPause(t *testing.T) {
	spec, cat := journaltest.Retail(t)
	reg, err := models.OpenRegistry(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.NewRidge(models.RidgeConfig{Dim: spec.Dim(), Name: "cand"})
	if err != nil {
		t.Fatal(err)
	}
	m.Publish()
	art, err := models.NewArtifact(models.Metadata{Name: "cand", FeatureSpec: spec.Hash()}, m)
	if err != nil {
		t.Fatal(err)
	}
	v, err := reg.Save(art)
	if err != nil {
		t.Fatal(err)
	}
	svc := &winningService{}
	cfg := Config{Spec: spec, Catalog: cat, Journal: "unused", Registry: reg, Service: svc, Canary: Canary{Approve: true}}
	if err := reg.Record(models.Event{Kind: EventCanary, Version: v, By: "loop"}); err != nil {
		t.Fatal(err)
	}
	step := func() *Turn {
		t.Helper()
		turn, err := Step(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return turn
	}
	if turn := step(); turn.Kind != EventAwaiting {
		t.Fatalf("a won canary with approval configured: %+v", turn)
	}
	if turn := step(); turn.Kind != EventIdle || !strings.Contains(turn.Reason, "awaits approval") {
		t.Fatalf("still waiting: %+v", turn)
	}
	if err := Pause(reg, "ops", "a holiday freeze"); err != nil {
		t.Fatal(err)
	}
	if err := Approve(reg, v, "ops", "looks good"); err != nil {
		t.Fatal(err)
	}
	if turn := step(); turn.Kind != EventIdle || !strings.Contains(turn.Reason, "paused") {
		t.Fatalf("a paused loop: %+v", turn)
	}
	if got, _ := reg.PromotedVersion(); got != 0 {
		t.Fatal("a paused loop promoted")
	}
	if err := Resume(reg, "ops", ""); err != nil {
		t.Fatal(err)
	}
	if turn := step(); turn.Kind != EventPromoted {
		t.Fatalf("after approval and resume: %+v", turn)
	}
	if got, _ := reg.PromotedVersion(); got != v {
		t.Errorf("promoted %d, want %d", got, v)
	}
	hist, _ := reg.History()
	var kinds []string
	for _, e := range hist {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, ","); got != "canary_started,awaiting_approval,loop_paused,approved,loop_resumed,promoted,canary_promoted" {
		t.Errorf("history: %s", got)
	}
}

// TestSlowCanaryRolledBack: a canary whose decisions' compute time is
// over the budget at the 99th percentile is rolled back (the rule on its
// inputs; HTTPService.Latency reads them from a real service in
// loop_test.go).
func TestSlowCanaryRolledBack(t *testing.T) {
	for _, tc := range []struct {
		name       string
		p99        map[string]float64
		counts     map[string]uint64
		rolledBack bool
	}{
		{"over the budget", map[string]float64{"canary": 0.1, "serving": 0.0005}, map[string]uint64{"canary": 500, "serving": 500}, true},
		{"past the last bucket", map[string]float64{"canary": math.Inf(1), "serving": 0.0005}, map[string]uint64{"canary": 500, "serving": 500}, true},
		{"within the budget", map[string]float64{"canary": 0.025, "serving": 0.0005}, map[string]uint64{"canary": 500, "serving": 500}, false},
		{"too few decisions", map[string]float64{"canary": 0.1}, map[string]uint64{"canary": 20}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := models.OpenRegistry(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			svc := &fallbackService{p99: tc.p99, counts: tc.counts}
			cfg := Config{Spec: &features.Spec{}, Catalog: &decide.Catalog{}, Journal: "unused", Registry: reg, Service: svc}
			if err := cfg.defaults(); err != nil {
				t.Fatal(err)
			}
			turn, err := judgeCanary(context.Background(), &cfg, &models.Event{Time: time.Now(), Kind: EventCanary, Version: 2})
			if err != nil {
				t.Fatal(err)
			}
			if got := turn.Kind == EventRolledBack; got != tc.rolledBack {
				t.Fatalf("rolled back %v, want %v: %+v", got, tc.rolledBack, turn)
			}
			if tc.rolledBack && !strings.Contains(turn.Reason, "too slow") {
				t.Errorf("reason: %s", turn.Reason)
			}
		})
	}
}
