package serve_test

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// TestSlateOutcome: a reward for the whole slate ("slate": true) is
// recorded as one outcome per returned slot, each with its share: equal
// shares without a position model, θₖ/Σθ with one; the shares add up to
// the slate's reward; a re-sent slate outcome with its outcome_id is a
// duplicate; action_id and slate together, and a slate outcome for a
// decision that showed nothing, are refused naming the field.
func TestSlateOutcome(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		positions []float64
		want      []float64
	}{
		{"equal", nil, []float64{1, 1, 1}},
		{"positions", []float64{1, 0.5}, []float64{1.5, 0.75, 0.75}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := retailConfig(t.TempDir())
			cfg.Model.Positions = c.positions
			in := start(t, cfg)
			dec := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "c-0002", "channel": "web", "limit": 3}, 200)
			id := fmt.Sprint(dec["decision_id"])
			if n := len(actionsOf(t, dec)); n != 3 {
				t.Fatalf("%d actions", n)
			}
			ans := in.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": id, "slate": true, "type": "revenue", "reward": 3, "outcome_id": "order-1"}, 202)
			if ans["slots"] != 3.0 || ans["duplicate"] != nil {
				t.Fatalf("answer %v", ans)
			}
			again := in.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": id, "slate": true, "type": "revenue", "reward": 3, "outcome_id": "order-1"}, 202)
			if again["duplicate"] != true {
				t.Errorf("a re-sent slate outcome: %v", again)
			}
			var rec map[string]any
			deadline := time.Now().Add(10 * time.Second)
			for {
				rec = in.mustCall("GET", "/v1/decisions/"+id, nil, 200)
				if outs, _ := rec["outcomes"].([]any); len(outs) == 3 || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			byAction := map[string]float64{}
			for _, o := range rec["outcomes"].([]any) {
				m := o.(map[string]any)
				byAction[fmt.Sprint(m["action_id"])] += m["reward"].(float64)
			}
			total := 0.0
			for k, a := range actionsOf(t, dec) {
				got := byAction[fmt.Sprint(a["action_id"])]
				if math.Abs(got-c.want[k]) > 1e-12 {
					t.Errorf("slot %d (%v): reward %v, want %v", k, a["action_id"], got, c.want[k])
				}
				total += got
			}
			if math.Abs(total-3) > 1e-12 {
				t.Errorf("the slots' rewards add to %v, the slate's is 3", total)
			}
			code, out := in.call("POST", "/v1/outcomes", map[string]any{"decision_id": id, "slate": true, "action_id": "welcome-15", "reward": 1})
			if code != 400 || out["error"].(map[string]any)["field"] != "action_id" {
				t.Errorf("action_id with slate: %d %v", code, out)
			}
		})
	}
}
