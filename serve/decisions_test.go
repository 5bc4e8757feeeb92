package serve_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"nextbest/features"
)

// TestDecisionOnRecord: GET /v1/decisions/{id} returns the decision as it
// was journaled — inputs, eligible set, ranked actions with propensities,
// and the explanation when the request asked for one — with the outcomes
// it has received; an unknown id is a 404 naming the field, a bad one a
// 400.
func TestDecisionOnRecord(t *testing.T) {
	t.Parallel()
	in := start(t, retailConfig(t.TempDir()))
	dec := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "c-0003", "channel": "web", "explain": true, "limit": 2,
		"context": map[string]any{"page": "cart"}}, 200)
	id := fmt.Sprint(dec["decision_id"])
	acts := actionsOf(t, dec)
	in.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": id, "action_id": acts[0]["action_id"], "reward": 1, "type": "conversion"}, 202)

	var rec map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec = in.mustCall("GET", "/v1/decisions/"+id, nil, 200)
		if outs, _ := rec["outcomes"].([]any); len(outs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outcome does not show: %v", rec)
		}
		time.Sleep(10 * time.Millisecond) // the applier runs beside the acknowledgement
	}
	d := rec["decision"].(map[string]any)
	if d["customer_id"] != "c-0003" || d["channel"] != "web" || d["context"].(map[string]any)["page"] != "cart" || d["profile"] == nil {
		t.Errorf("inputs: %v", d)
	}
	logged := d["actions"].([]any)
	if len(logged) != 2 || logged[0].(map[string]any)["action_id"] != acts[0]["action_id"] ||
		logged[0].(map[string]any)["propensity"] != acts[0]["propensity"] {
		t.Errorf("actions %v, answered %v", logged, acts)
	}
	if el, _ := d["eligible"].([]any); len(el) < 2 {
		t.Errorf("eligible: %v", d["eligible"])
	}
	ex, _ := d["explanation"].(map[string]any)
	if ex == nil || ex["scored"] == nil || ex["dropped"] == nil {
		t.Fatalf("no explanation journaled: %v", d)
	}
	if fmt.Sprint(ex) != fmt.Sprint(dec["explain"]) {
		t.Errorf("journaled explanation %v, answered %v", ex, dec["explain"])
	}
	o := rec["outcomes"].([]any)[0].(map[string]any)
	if o["action_id"] != acts[0]["action_id"] || o["type"] != "conversion" || o["reward"] != 1.0 || o["first_lsn"] == nil {
		t.Errorf("outcome %v", o)
	}

	// without explain, no explanation is journaled
	plain := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "c-0004", "channel": "web"}, 200)
	rec = in.mustCall("GET", "/v1/decisions/"+fmt.Sprint(plain["decision_id"]), nil, 200)
	if _, ok := rec["decision"].(map[string]any)["explanation"]; ok {
		t.Errorf("an explanation nobody asked for: %v", rec)
	}
	if outs := rec["outcomes"].([]any); len(outs) != 0 {
		t.Errorf("outcomes of a decision without any: %v", outs)
	}

	code, out := in.call("GET", "/v1/decisions/nope", nil)
	if e, _ := out["error"].(map[string]any); code != 404 || e == nil || e["field"] != "decision_id" {
		t.Errorf("unknown decision: %d %v", code, out)
	}
	code, out = in.call("GET", "/v1/decisions/%20x", nil)
	if e, _ := out["error"].(map[string]any); code != 400 || e == nil || e["field"] != "decision_id" {
		t.Errorf("bad decision id: %d %v", code, out)
	}
	if code, _ := in.call("POST", "/v1/decisions/"+id, map[string]any{}); code != 405 {
		t.Errorf("POST: %d", code)
	}
}

// TestDecisionMasksPII: an attribute marked pii (tier, here) in the feature spec is
// masked in the decision on record; the vectors (and so the spec's hash)
// do not change with the marking.
func TestDecisionMasksPII(t *testing.T) {
	t.Parallel()
	cfg := retailConfig(t.TempDir())
	marked := strings.Replace(string(cfg.FeatureSpec), "{name: tier,         type: string}", "{name: tier,         type: string, pii: true}", 1)
	if marked == string(cfg.FeatureSpec) {
		t.Fatal("the retail spec no longer declares tier as expected: update the test")
	}
	plain, err := features.ParseSpec(cfg.FeatureSpec)
	if err != nil {
		t.Fatal(err)
	}
	cfg.FeatureSpec = []byte(marked)
	spec, err := features.ParseSpec(cfg.FeatureSpec)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Hash() != plain.Hash() || !spec.IsPII("attributes.tier") {
		t.Fatalf("hash %s vs %s, region pii %v", spec.Hash(), plain.Hash(), spec.IsPII("attributes.tier"))
	}
	in := start(t, cfg)
	dec := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "c-0005", "channel": "web"}, 200)
	rec := in.mustCall("GET", "/v1/decisions/"+fmt.Sprint(dec["decision_id"]), nil, 200)
	prof := rec["decision"].(map[string]any)["profile"].(map[string]any)
	if v, ok := prof["attributes.tier"]; !ok || v != features.PIIMask {
		t.Errorf("tier in the decision on record: %v (profile %v)", v, prof)
	}
	if v := prof["attributes.age"]; v == nil || v == features.PIIMask {
		t.Errorf("age is not pii: %v", v)
	}
}
