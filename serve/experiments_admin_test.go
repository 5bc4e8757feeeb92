package serve_test

import (
	"fmt"
	"testing"
	"time"
)

// experimentBody is an experiment as the admin API takes it.
func experimentBody(name string, shares ...float64) map[string]any {
	arms := []map[string]any{{"name": "control", "policy": "promoted", "share": shares[0]}, {"name": "explore", "policy": "random", "share": shares[1]}}
	return map[string]any{"name": name, "start": "2026-11-01T00:00:00Z", "primary_metric": "conversion", "arms": arms}
}

// withCovariate sets an experiment body's CUPED covariate.
func withCovariate(e map[string]any, covariate string) map[string]any {
	e["covariate"] = covariate
	return e
}

// armOf returns the experiment arm of a decision answer, "" if none.
func armOf(out map[string]any) string {
	e, _ := out["experiment"].(map[string]any)
	if e == nil {
		return ""
	}
	return fmt.Sprint(e["name"], "/", e["arm"])
}

// TestExperimentsAtRuntime creates, ramps, stops and archives an
// experiment through the admin API: each change takes effect on the next
// decision, a wrong change is a 4xx that changes nothing, and the live
// set survives a restart.
func TestExperimentsAtRuntime(t *testing.T) {
	t.Parallel()
	cfg := retailConfig(t.TempDir())
	in := start(t, cfg)
	decideArms := func(n int) map[string]int {
		arms := map[string]int{}
		for i := range n {
			out := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": fmt.Sprintf("c-%04d", i%200), "channel": "web"}, 200)
			arms[armOf(out)]++
		}
		return arms
	}
	if arms := decideArms(20); arms[""] != 20 {
		t.Fatalf("before any experiment: %v", arms)
	}
	in.mustCall("PUT", "/admin/experiments/e1", experimentBody("e1", 0.5, 0.5), 200)
	arms := decideArms(200)
	if arms["e1/control"] < 60 || arms["e1/explore"] < 60 {
		t.Fatalf("after PUT e1 (50/50): %v", arms)
	}
	// wrong changes: 4xx, nothing changes
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		field        string
	}{
		{"PUT", "/admin/experiments/e1", map[string]any{"name": "e1", "start": "2026-11-01T00:00:00Z", "primary_metric": "conversion",
			"arms": []map[string]any{{"name": "a", "policy": "model:99", "share": 1}}}, 422, ""},
		{"PUT", "/admin/experiments/e1", map[string]any{"name": "e1", "start": "2026-11-01T00:00:00Z", "primary_metric": "clicks",
			"arms": []map[string]any{{"name": "a", "policy": "online", "share": 1}}}, 422, "experiments[0].primary_metric"},
		{"PUT", "/admin/experiments/e2", experimentBody("other", 1, 1), 422, "name"},
		{"PUT", "/admin/experiments/e1", withCovariate(experimentBody("e1", 1, 1), "counters.nope"), 422, "experiments[0].covariate"},
		{"PUT", "/admin/experiments/e1", withCovariate(experimentBody("e1", 1, 1), "stage"), 422, "experiments[0].covariate"},
		{"POST", "/admin/experiments/e1/ramp", map[string]any{"shares": map[string]any{"nope": 0.1}}, 422, "shares.nope"},
		{"POST", "/admin/experiments/e1/ramp", map[string]any{"shares": map[string]any{"explore": -1}}, 422, "experiments[0].arms[1].share"},
		{"POST", "/admin/experiments/e9/stop", nil, 404, "name"},
		{"PATCH", "/admin/experiments/e1", nil, 405, ""},
	} {
		code, out := in.call(tc.method, tc.path, tc.body)
		e, _ := out["error"].(map[string]any)
		if code != tc.status || e == nil || fmt.Sprint(e["field"]) != tc.field && tc.field != "" {
			t.Errorf("%s %s: %d %v, want %d with field %q", tc.method, tc.path, code, out, tc.status, tc.field)
		}
	}
	live := in.mustCall("GET", "/admin/experiments", nil, 200)["experiments"].([]any)
	if len(live) != 1 || live[0].(map[string]any)["arms"].([]any)[0].(map[string]any)["policy"] != "promoted" {
		t.Fatalf("a refused change changed the live experiments: %v", live)
	}
	// ramp the explore arm down to 10%
	in.mustCall("POST", "/admin/experiments/e1/ramp", map[string]any{"shares": map[string]any{"control": 0.9, "explore": 0.1}}, 200)
	arms = decideArms(200)
	if arms["e1/explore"] > 45 || arms["e1/control"] < 150 {
		t.Errorf("after ramping explore to 10%%: %v", arms)
	}
	in.stop()

	// the live set survives a restart
	in = start(t, cfg)
	if arms := decideArms(50); arms["e1/control"]+arms["e1/explore"] != 50 {
		t.Fatalf("after a restart: %v", arms)
	}
	in.mustCall("POST", "/admin/experiments/e1/stop", nil, 200)
	if arms := decideArms(20); arms[""] != 20 {
		t.Errorf("after stop: %v", arms)
	}
	in.mustCall("DELETE", "/admin/experiments/e1", nil, 200)
	if live := in.mustCall("GET", "/admin/experiments", nil, 200)["experiments"]; live != nil {
		t.Errorf("after archive: %v", live)
	}
}

// TestClusterExperimentsAtRuntime: an experiment created through one
// instance runs on the others within a second.
func TestClusterExperimentsAtRuntime(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	a, b := start(t, c.config(t)), start(t, c.config(t))
	a.mustCall("PUT", "/admin/experiments/e1", experimentBody("e1", 0, 1), 422) // a zero share is refused
	a.mustCall("PUT", "/admin/experiments/e1", experimentBody("e1", 0.000001, 1), 200)
	put := time.Now()
	for {
		out := b.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "c-0001", "channel": "web"}, 200)
		if armOf(out) == "e1/explore" {
			break
		}
		if time.Since(put) > time.Second {
			t.Fatalf("instance b does not run the experiment a second after it was created on a: %v", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("an experiment created on one instance ran on another %v later", time.Since(put))
	// the change is in the audit trail every instance reads (the stream,
	// applied into Redis)
	for {
		audit := b.mustCall("GET", "/v1/audit", nil, 200)["audit"].([]any)
		if len(audit) == 1 && audit[0].(map[string]any)["kind"] == "experiment_put" {
			break
		}
		if time.Since(put) > 10*time.Second {
			t.Fatalf("the audit trail on instance b: %v", audit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestShadowAdmin: a shadow must name a servable registry version (422
// otherwise, naming the field); DELETE stops it.
func TestShadowAdmin(t *testing.T) {
	t.Parallel()
	in := start(t, retailConfig(t.TempDir()))
	code, out := in.call("PUT", "/admin/shadow", map[string]any{"version": 3})
	if e, _ := out["error"].(map[string]any); code != 422 || e == nil || e["field"] != "version" {
		t.Errorf("a shadow without a registry: %d %v", code, out)
	}
	if code, out := in.call("PUT", "/admin/shadow", map[string]any{"version": 0}); code != 422 {
		t.Errorf("version 0: %d %v", code, out)
	}
	if out := in.mustCall("DELETE", "/admin/shadow", nil, 200); out["shadow"] != nil {
		t.Errorf("after DELETE: %v", out)
	}
	if out := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "c-0001", "channel": "web"}, 200); out["shadow"] != nil {
		t.Errorf("the decision answer shows a shadow: %v", out)
	}
}

// TestHoldout: a holdout experiment is assigned before the others; its
// holdout arm ("none") is shown nothing, and a programme customer goes on
// to the other experiment, or is logged in the programme arm when no
// other experiment takes the decision.
func TestHoldout(t *testing.T) {
	t.Parallel()
	in := start(t, retailConfig(t.TempDir()))
	hold := map[string]any{"name": "holdout", "holdout": true, "start": "2026-11-01T00:00:00Z", "primary_metric": "conversion", "control": "programme",
		"arms": []map[string]any{{"name": "programme", "policy": "promoted", "share": 0.8}, {"name": "held", "policy": "none", "share": 0.2}}}
	in.mustCall("PUT", "/admin/experiments/holdout", hold, 200)
	bad := map[string]any{"name": "h2", "holdout": true, "start": "2026-11-01T00:00:00Z", "primary_metric": "conversion",
		"arms": []map[string]any{{"name": "programme", "policy": "promoted", "share": 0.8}, {"name": "held", "policy": "online", "share": 0.2}}}
	if code, out := in.call("PUT", "/admin/experiments/h2", bad); code != 422 {
		t.Errorf("a holdout arm serving a model: %d %v", code, out)
	}
	decideAll := func() map[string]int {
		arms := map[string]int{}
		for i := range 200 {
			out := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": fmt.Sprintf("c-%04d", i+1), "channel": "web"}, 200)
			a := armOf(out)
			arms[a]++
			if a == "holdout/held" && len(out["actions"].([]any)) != 0 {
				t.Fatalf("a held-out customer was shown %v", out["actions"])
			}
		}
		return arms
	}
	arms := decideAll()
	if arms["holdout/held"] < 20 || arms["holdout/programme"] < 120 || arms["holdout/held"]+arms["holdout/programme"] != 200 {
		t.Fatalf("holdout split: %v", arms)
	}
	held := arms["holdout/held"]
	in.mustCall("PUT", "/admin/experiments/e1", experimentBody("e1", 0.5, 0.5), 200)
	arms = decideAll()
	if arms["holdout/held"] != held || arms["holdout/programme"] != 0 || arms["e1/control"]+arms["e1/explore"] != 200-held {
		t.Errorf("with another experiment: %v (held out before: %d)", arms, held)
	}
}
