package serve_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"nextbest/serve"
)

// impressionsOf returns how many impressions of each action the
// customer's profile holds (GET /v1/profiles/{id}); none for an unknown
// customer.
func (in *instance) impressionsOf(customer string) map[string]int {
	in.t.Helper()
	code, p := in.call("GET", "/v1/profiles/"+customer, nil)
	out := map[string]int{}
	if code == 404 {
		return out
	}
	if code != 200 {
		in.t.Fatalf("profile %s: %d %v", customer, code, p)
	}
	contacts, _ := p["contacts"].(map[string]any)
	for id, c := range contacts {
		imps, _ := c.(map[string]any)["impressions"].([]any)
		out[id] = len(imps)
	}
	return out
}

// shownOnWeb returns /v1/stats' impressions by action on the web channel
// and its deferred and activated decisions.
func (in *instance) shownOnWeb() (shown map[string]int, deferred, activated int) {
	in.t.Helper()
	st := in.mustCall("GET", "/v1/stats", nil, 200)
	shown = map[string]int{}
	if acts, ok := st["actions_by_channel"].(map[string]any); ok {
		for id, m := range acts {
			n, _ := m.(map[string]any)["web"].(float64)
			shown[id] = int(n)
		}
	}
	web := func(key string) int {
		m, _ := st[key].(map[string]any)
		n, _ := m["web"].(float64)
		return int(n)
	}
	return shown, web("deferred_by_channel"), web("activated_by_channel")
}

// TestActivateHTTP drives a deferred decision over HTTP: nothing of it is
// an impression (profile, /v1/stats, model) until POST
// /v1/decisions/{id}/activate shows slots 0 and 2 of its three, which
// then are, exactly; an outcome sent before is learned then; activating
// again changes nothing (200, no record); a slot out of range is a 422
// naming the field, an unknown decision a 404 naming the id; the decision
// on record shows its activation.
func TestActivateHTTP(t *testing.T) {
	t.Parallel()
	testActivate(t, retailConfig(t.TempDir()))
}

// testActivate is TestActivateHTTP on cfg's storage.
func testActivate(t *testing.T, cfg serve.Config) {
	in := start(t, cfg)
	const cust = "c-0003"
	wait := func() {
		t.Helper()
		if err := in.svc.WaitLearned(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	observations := func() float64 {
		wait()
		return in.mustCall("GET", "/v1/models", nil, 200)["online"].(map[string]any)["observations"].(float64)
	}
	imps0, obs0 := in.impressionsOf(cust), observations()
	shown0, _, _ := in.shownOnWeb()

	dec := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": cust, "channel": "web", "limit": 3,
		"defer_activation": true, "context": map[string]any{"page": "cart", "cart_value": 80}}, 200)
	if dec["defer_activation"] != true {
		t.Errorf("the answer does not say the activation is deferred: %v", dec)
	}
	id := fmt.Sprint(dec["decision_id"])
	acts := actionsOf(t, dec)
	if len(acts) != 3 {
		t.Fatalf("%d actions, want 3", len(acts))
	}
	ids := []string{fmt.Sprint(acts[0]["action_id"]), fmt.Sprint(acts[1]["action_id"]), fmt.Sprint(acts[2]["action_id"])}
	// an outcome before the activation: kept, not learned
	in.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": id, "action_id": ids[0], "reward": 1, "type": "conversion"}, 202)

	rec := in.mustCall("GET", "/v1/decisions/"+id, nil, 200)
	if a := rec["activation"].(map[string]any); a["deferred"] != true || a["activated"] != false || len(a["slots"].([]any)) != 0 {
		t.Errorf("before the activation: %v", a)
	}
	if got := in.impressionsOf(cust); !mapsEqual(got, imps0) {
		t.Errorf("a deferred decision made impressions: %v, were %v", got, imps0)
	}
	if shown, deferred, activated := in.shownOnWeb(); !mapsEqual(shown, shown0) || deferred != 1 || activated != 0 {
		t.Errorf("stats before the activation: shown %v (were %v), %d deferred, %d activated", shown, shown0, deferred, activated)
	}
	if obs := observations(); obs != obs0 {
		t.Errorf("the model learned %v observations from a deferred decision", obs-obs0)
	}

	out := in.mustCall("POST", "/v1/decisions/"+id+"/activate", map[string]any{"slots": []int{2, 0}}, 200)
	slots, _ := out["slots"].([]any)
	if out["decision_id"] != id || out["deferred"] != true || out["activated"] != true || out["lsn"] == nil || len(slots) != 2 ||
		slots[0].(map[string]any)["action_id"] != ids[0] || slots[1].(map[string]any)["slot"] != 2.0 {
		t.Errorf("activate: %v", out)
	}
	got := in.impressionsOf(cust)
	shown, _, activated := in.shownOnWeb()
	for k, a := range ids {
		want := 1
		if k == 1 {
			want = 0
		}
		if got[a]-imps0[a] != want {
			t.Errorf("slot %d (%s): %d impressions more in the profile, want %d", k, a, got[a]-imps0[a], want)
		}
		if shown[a]-shown0[a] != want {
			t.Errorf("slot %d (%s): %d more shown in /v1/stats, want %d", k, a, shown[a]-shown0[a], want)
		}
	}
	if activated != 1 {
		t.Errorf("%d decisions activated, want 1", activated)
	}
	// two rows and the held reward, which changes no observation count
	if obs := observations(); obs != obs0+2 {
		t.Errorf("the model learned %v observations from the activation, want 2", obs-obs0)
	}

	// again: 200, nothing journaled, the same activation
	wait()
	before := in.svc.Model().Stats()
	again := in.mustCall("POST", "/v1/decisions/"+id+"/activate", map[string]any{"slots": []int{0}}, 200)
	if _, ok := again["lsn"]; ok || fmt.Sprint(again["slots"]) != fmt.Sprint(out["slots"]) {
		t.Errorf("activating again: %v, was %v", again, out)
	}
	if wait(); !reflect.DeepEqual(in.svc.Model().Stats(), before) {
		t.Error("activating again taught the model")
	}
	rec = in.mustCall("GET", "/v1/decisions/"+id, nil, 200)
	if a := rec["activation"].(map[string]any); a["activated"] != true || fmt.Sprint(a["slots"]) != fmt.Sprint(out["slots"]) || a["activated_at"] == nil {
		t.Errorf("the decision on record: %v, want %v", a, out)
	}

	code, e := in.call("POST", "/v1/decisions/"+id+"/activate", map[string]any{"slots": []int{3}})
	if ee, _ := e["error"].(map[string]any); code != 422 || ee["field"] != "slots" {
		t.Errorf("slot 3 of 3: %d %v, want 422 naming slots", code, e)
	}
	code, e = in.call("POST", "/v1/decisions/nope-123/activate", map[string]any{})
	if ee, _ := e["error"].(map[string]any); code != 404 || ee["field"] != "decision_id" || !strings.Contains(fmt.Sprint(ee["message"]), "nope-123") {
		t.Errorf("unknown decision: %d %v, want 404 naming it", code, e)
	}
	code, e = in.call("POST", "/v1/decisions/"+id+"/activate", map[string]any{"slots": []int{}})
	if code != 400 {
		t.Errorf("no slots: %d %v, want 400", code, e)
	}
	// the rest of the slots, without a body
	rest := in.mustCall("POST", "/v1/decisions/"+id+"/activate", "", 200)
	if n := len(rest["slots"].([]any)); n != 3 {
		t.Errorf("after activating every slot: %d slots", n)
	}

	// a decision made without defer_activation: activated when made
	plain := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": cust, "channel": "web", "limit": 2}, 200)
	out = in.mustCall("POST", "/v1/decisions/"+fmt.Sprint(plain["decision_id"])+"/activate", "", 200)
	if out["deferred"] != false || out["activated"] != true || len(out["slots"].([]any)) != 2 {
		t.Errorf("activating a decision made without defer_activation: %v", out)
	}
	if _, ok := plain["defer_activation"]; ok {
		t.Errorf("defer_activation in the answer of a plain decision: %v", plain)
	}
}

// TestDeferredDecisionsTakeNoCap: deferred decisions take nothing of a
// contact limit (new-arrivals: 5 in 24 h) until they are activated: six
// of them all return the capped action, and a plain decision still may;
// once five are activated, the cap holds.
func TestDeferredDecisionsTakeNoCap(t *testing.T) {
	t.Parallel()
	in := start(t, retailConfig(t.TempDir()))
	testDeferredCap(t, in, in)
}

// testDeferredCap is TestDeferredDecisionsTakeNoCap with the decisions
// made on in and activated on other (the same instance, or another of a
// cluster).
func testDeferredCap(t *testing.T, in, other *instance) {
	const cust = "c-cap"
	ask := func(deferred bool) map[string]any {
		t.Helper()
		return in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": cust, "channel": "web",
			"candidates": []string{"new-arrivals"}, "defer_activation": deferred}, 200)
	}
	var ids []string
	for range 6 {
		d := ask(true)
		if len(actionsOf(t, d)) != 1 {
			t.Fatalf("deferred decision %d: %v (deferred decisions took the cap)", len(ids)+1, d)
		}
		ids = append(ids, fmt.Sprint(d["decision_id"]))
	}
	if d := ask(false); len(actionsOf(t, d)) != 1 {
		t.Fatalf("a plain decision after six deferred ones: %v", d)
	}
	// the plain one took one: four activations reach the cap of five
	for _, id := range ids[:4] {
		other.mustCall("POST", "/v1/decisions/"+id+"/activate", "", 200)
	}
	if d := ask(false); len(actionsOf(t, d)) != 0 {
		t.Errorf("five impressions in 24 h, and the cap gave a sixth: %v", d)
	}
	if d := ask(true); len(actionsOf(t, d)) != 0 {
		t.Errorf("a deferred decision over the cap: %v", d)
	}
	// activating a sixth records what the channel showed: it is no check
	other.mustCall("POST", "/v1/decisions/"+ids[4]+"/activate", "", 200)
	// (a cluster instance's profile reads may lag another's write by the
	// cache's bound)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n := in.impressionsOf(cust)["new-arrivals"]
		if n == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d impressions, want 6", n)
		}
	}
}

func mapsEqual(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}
