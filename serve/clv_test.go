package serve_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"nextbest/examples/retail"
)

// clvFeatureSpec is the retail spec keeping purchase histories, with the
// CLV as a feature.
func clvFeatureSpec() []byte {
	doc := strings.Replace(string(retail.FeatureSpec), "  attribute_events: [profile_update]",
		"  attribute_events: [profile_update]\n  clv: {event: purchase, amount: amount}", 1)
	return []byte(strings.Replace(doc, "  features:\n", "  features:\n    - {source: profile.clv.value, type: numeric, transform: log1p, clip: [0, 100000]}\n", 1))
}

// TestCLVModelAdmin: PUT /admin/clv takes the JSON of `nextbest clv fit
// --json`; from then on a customer's purchases give CLV figures that the
// decision logs as a feature input; bad parameters are 422 naming the
// field and change nothing; the model survives a restart and the change
// is in the audit trail.
func TestCLVModelAdmin(t *testing.T) {
	t.Parallel()
	cfg := retailConfig(t.TempDir())
	cfg.FeatureSpec = clvFeatureSpec()
	in := start(t, cfg)
	in.mustCall("GET", "/admin/clv", nil, 404)
	for d := range 6 {
		in.mustCall("POST", "/v1/events", map[string]any{"customer_id": "buyer", "type": "purchase", "ts": testNow.AddDate(0, 0, -60+10*d).Format(time.RFC3339),
			"properties": map[string]any{"amount": 80}}, 202)
	}
	logged := func() map[string]any {
		dec := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "buyer", "channel": "web"}, 200)
		return in.mustCall("GET", "/v1/decisions/"+fmt.Sprint(dec["decision_id"]), nil, 200)["decision"].(map[string]any)["profile"].(map[string]any)
	}
	if v, ok := logged()["clv.value"]; ok {
		t.Fatalf("a CLV figure without a model: %v", v)
	}
	fit := `{"r":0.242595,"alpha":4.413602,"a":0.792922,"b":2.425906,"p":6.24957,"q":3.74422,"gamma":15.44352,"se":{"r":0.01},"customers":2357}`
	got := in.mustCall("PUT", "/admin/clv", fit, 200)
	if got["version"] == "" || got["horizon_weeks"] != 52.0 {
		t.Fatalf("PUT answer %v", got)
	}
	v, _ := logged()["clv.value"].(float64)
	if !(v > 100) {
		t.Fatalf("logged clv.value %v for a customer of six 80-unit purchases ten days apart", v)
	}
	if code, out := in.call("PUT", "/admin/clv", `{"r":0.24,"alpha":-1,"a":0.8,"b":2.4,"p":6,"q":3.7,"gamma":15}`); code != 422 || out["error"].(map[string]any)["field"] != "model" {
		t.Fatalf("a bad model: %d %v", code, out)
	}
	if code, _ := in.call("PUT", "/admin/clv", `{"r":`); code != 400 {
		t.Fatalf("bad JSON: %d", code)
	}
	if w, _ := logged()["clv.value"].(float64); w != v {
		t.Errorf("a refused model changed the figures: %v then %v", v, w)
	}
	in.stop()
	in = start(t, cfg)
	if again := in.mustCall("GET", "/admin/clv", nil, 200); again["version"] != got["version"] {
		t.Errorf("after a restart: %v, saved %v", again, got)
	}
	found := false
	for _, e := range in.mustCall("GET", "/v1/audit", nil, 200)["audit"].([]any) {
		found = found || e.(map[string]any)["kind"] == "clv_model_set"
	}
	if !found {
		t.Error("the change is not in the audit trail")
	}
}
