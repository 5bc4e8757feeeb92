package loop

import (
	"context"
	"strings"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/experiment"
	"nextbest/features"
	"nextbest/models"
)

// fallbackService reports fixed fallback counts. The served models here
// cannot misbehave on purpose (the ridge refuses every non-finite input
// and overflow, and its artifact is checked on load), so the rule that
// rolls back a canary whose decisions fall back is checked on its inputs.
type fallbackService struct {
	decisions, fallbacks map[string]int64
	archived             []string
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
