package serve_test

import (
	"fmt"
	"math"
	"testing"
)

// TestApprenticeMode switches the service to apprentice mode and back
// through the admin API: in apprentice mode the first eligible candidate
// is served with the exact ε-greedy propensity and the policy logged as
// the baseline; an experiment's "promoted" arm follows the mode, its
// other arms do not; a wrong mode is a 422 naming the field and changes
// nothing; the mode survives a restart.
func TestApprenticeMode(t *testing.T) {
	t.Parallel()
	cfg := retailConfig(t.TempDir())
	in := start(t, cfg)
	if m := in.mustCall("GET", "/admin/mode", nil, 200); m["mode"] != "online" {
		t.Fatalf("default mode %v", m)
	}
	// two candidates without rules; a customer per decision (style-guide
	// is capped at 2 a week)
	cands := []any{"style-guide", "new-arrivals"}
	decideOnce := func(customer string) map[string]any {
		return in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": customer, "channel": "web", "candidates": cands}, 200)
	}
	if d := decideOnce("c-0001"); d["policy"] == "baseline:first" {
		t.Fatalf("online mode served the baseline: %v", d)
	}

	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"mode": "teacher"}, "mode"},
		{map[string]any{"mode": "apprentice", "baseline": "random"}, "baseline"},
		{map[string]any{"mode": "apprentice", "epsilon": 1.5}, "epsilon"},
		{map[string]any{"mode": "online", "baseline": "first"}, "mode"},
	} {
		code, out := in.call("PUT", "/admin/mode", tc.body)
		e, _ := out["error"].(map[string]any)
		if code != 422 || e == nil || e["field"] != tc.field {
			t.Errorf("PUT %v: %d %v, want 422 naming %s", tc.body, code, out, tc.field)
		}
	}
	if m := in.mustCall("GET", "/admin/mode", nil, 200); m["mode"] != "online" {
		t.Fatalf("a refused change changed the mode: %v", m)
	}

	m := in.mustCall("PUT", "/admin/mode", map[string]any{"mode": "apprentice", "epsilon": 0.2}, 200)
	if m["mode"] != "apprentice" || m["baseline"] != "first" || m["epsilon"] != 0.2 {
		t.Fatalf("PUT apprentice answered %v", m)
	}
	if ms := in.mustCall("GET", "/v1/models", nil, 200); ms["serving"] != "baseline:first" || ms["learning_mode"].(map[string]any)["mode"] != "apprentice" {
		t.Errorf("GET /v1/models in apprentice mode: serving %v, mode %v", ms["serving"], ms["learning_mode"])
	}
	first, other := 0, 0
	for i := range 300 {
		d := decideOnce(fmt.Sprintf("a-%04d", i))
		if d["policy"] != "baseline:first" {
			t.Fatalf("apprentice decision with policy %v", d["policy"])
		}
		a := actionsOf(t, d)[0]
		p := a["propensity"].(float64)
		if a["action_id"] == "style-guide" {
			first++
			if want := 0.8 + 0.2/2; math.Abs(p-want) > 1e-12 {
				t.Fatalf("baseline action's propensity %v, want %v", p, want)
			}
		} else {
			other++
			if math.Abs(p-0.2/2) > 1e-12 {
				t.Fatalf("explored action's propensity %v, want %v", p, 0.2/2)
			}
		}
	}
	// 300 draws of p = 0.9: SD 5.2; 5 SD either side
	if first < 244 || first > 296 || first+other != 300 {
		t.Errorf("the baseline action was served %d of 300 times, want about 270", first)
	}

	// an experiment: its promoted arm follows the mode, its random arm not
	in.mustCall("PUT", "/admin/experiments/e1", experimentBody("e1", 0.5, 0.5), 200)
	policies := map[string]string{}
	for i := range 60 {
		d := decideOnce(fmt.Sprintf("b-%04d", i))
		policies[armOf(d)] = fmt.Sprint(d["policy"])
	}
	if policies["e1/control"] != "baseline:first" || policies["e1/explore"] != "random" {
		t.Errorf("policies by arm in apprentice mode: %v", policies)
	}
	in.mustCall("DELETE", "/admin/experiments/e1", nil, 200)

	// a restart keeps the mode
	in.stop()
	in = start(t, cfg)
	if m := in.mustCall("GET", "/admin/mode", nil, 200); m["mode"] != "apprentice" {
		t.Fatalf("after a restart: %v", m)
	}
	in.mustCall("PUT", "/admin/mode", map[string]any{"mode": "online"}, 200)
	if d := decideOnce("c-0001"); d["policy"] == "baseline:first" {
		t.Errorf("back online, the baseline still serves: %v", d)
	}
}
