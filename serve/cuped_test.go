package serve_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestCUPEDThroughService runs an experiment with a covariate through the
// service: customers with a purchase history (events before the
// experiment) convert more, so their purchases_30d counter at their first
// decision explains much of the conversion rate's variance. The analysis
// served by GET /v1/experiments carries the CUPED block: a positive θ and
// a variance reduction of at least 10% (the customer-level correlation
// here is about 0.6, so ρ² ≈ 0.35, less the noise of 3 decisions each).
func TestCUPEDThroughService(t *testing.T) {
	t.Parallel()
	in := start(t, retailConfig(t.TempDir()))
	body := withCovariate(experimentBody("cuped", 0.5, 0.5), "counters.purchases_30d")
	in.mustCall("PUT", "/admin/experiments/cuped", body, 200)

	r := rand.New(rand.NewPCG(3, 4))
	const customers = 300
	history := make([]int, customers)
	for c := range customers {
		history[c] = r.IntN(5)
		for range history[c] {
			in.mustCall("POST", "/v1/events", map[string]any{"customer_id": fmt.Sprintf("k-%03d", c), "type": "purchase", "properties": map[string]any{"amount": 20}}, 202)
		}
	}
	for c := range customers {
		p := 0.04 + 0.12*float64(history[c])
		for range 3 {
			dec := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": fmt.Sprintf("k-%03d", c), "channel": "web"}, 200)
			acts := actionsOf(t, dec)
			if len(acts) == 0 || r.Float64() >= p {
				continue
			}
			in.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": dec["decision_id"], "action_id": acts[0]["action_id"], "reward": 1, "type": "conversion"}, 202)
		}
	}
	out := in.mustCall("GET", "/v1/experiments", nil, 200)
	list := out["experiments"].([]any)
	if len(list) != 1 {
		t.Fatalf("experiments: %v", out)
	}
	comps := list[0].(map[string]any)["comparisons"].([]any)
	c := comps[0].(map[string]any)
	cu, _ := c["cuped"].(map[string]any)
	if cu == nil {
		t.Fatalf("no CUPED block in %v", c)
	}
	theta, _ := cu["theta"].(float64)
	red, _ := cu["variance_reduction"].(float64)
	t.Logf("θ %.4f, variance reduction %.3f, adjusted lift %v", theta, red, cu["absolute_lift"])
	if cu["covariate"] != "counters.purchases_30d" || !(theta > 0) || red < 0.1 {
		t.Errorf("CUPED %v", cu)
	}
}
