package serve_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nextbest/serve"
)

// TestEndToEnd walks the whole loop over real HTTP: decide → outcome →
// event → the profile changed → restart → profile, model state and
// journal are all still there.
func TestEndToEnd(t *testing.T) { testEndToEnd(t, retailConfig(t.TempDir())) }

// testEndToEnd is the API's walk-through on cfg's storage; it restarts
// the instance on cfg.
func testEndToEnd(t *testing.T, cfg serve.Config) {
	in := start(t, cfg)

	in.mustCall("GET", "/healthz", nil, 200)
	in.mustCall("GET", "/readyz", nil, 200)
	acts := in.mustCall("GET", "/v1/actions", nil, 200)
	if n := len(acts["actions"].([]any)); n < 12 {
		t.Fatalf("catalog has %d actions, want >= 12", n)
	}

	dec := in.mustCall("POST", "/v1/decide", map[string]any{
		"customer_id": "c-0002", "channel": "web", "limit": 3,
		"context": map[string]any{"page": "cart", "cart_value": 120.5, "device": "mobile"},
	}, 200)
	id, _ := dec["decision_id"].(string)
	if len(id) != 32 {
		t.Fatalf("decision_id %q", id)
	}
	if dec["policy"] != "linucb" || dec["fallback"] != false {
		t.Errorf("policy %v fallback %v", dec["policy"], dec["fallback"])
	}
	got := actionsOf(t, dec)
	if len(got) != 3 {
		t.Fatalf("want 3 actions, got %v", got)
	}
	for _, a := range got {
		p := a["propensity"].(float64)
		if !(p > 0 && p <= 1) {
			t.Errorf("propensity %v", p)
		}
	}
	first := got[0]["action_id"].(string)

	out := in.mustCall("POST", "/v1/outcomes", map[string]any{
		"decision_id": id, "action_id": first, "reward": 1, "type": "conversion",
	}, 202)
	if out["status"] != "accepted" {
		t.Errorf("outcome answer %v", out)
	}
	in.mustCall("POST", "/v1/events", map[string]any{
		"customer_id": "c-0002", "type": "purchase", "ts": "2026-11-22T09:30:00Z",
		"properties": map[string]any{"amount": 89.9},
	}, 202)

	prof := in.mustCall("GET", "/v1/profiles/c-0002", nil, 200)
	if prof["stage"] != "purchase" && prof["stage"] != "retention" {
		t.Errorf("stage after purchase: %v", prof["stage"])
	}
	contacts := prof["contacts"].(map[string]any)
	c := contacts[first].(map[string]any)
	if len(c["impressions"].([]any)) != 1 || c["conversions"].(float64) != 1 {
		t.Errorf("contact history of %s: %v", first, c)
	}
	spend := prof["counters_now"].(map[string]any)["spend_30d"].(float64)
	if spend < 89.9 {
		t.Errorf("spend_30d %v, want >= 89.9 after the purchase", spend)
	}

	// an unknown customer is served from a cold-start profile
	cold := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "brand-new", "channel": "email"}, 200)
	if len(actionsOf(t, cold)) != 1 {
		t.Errorf("cold start: %v", cold)
	}

	if err := in.svc.WaitLearned(context.Background()); err != nil {
		t.Fatal(err)
	}
	updates := in.svc.Model().Updates()
	if updates != 4 { // 3 impressions + 1 cold-start impression
		t.Errorf("model updates %d, want 4", updates)
	}
	before := probe(t, in)
	in.stop()

	// restart on the same data
	in2 := start(t, cfg)
	prof2 := in2.mustCall("GET", "/v1/profiles/c-0002", nil, 200)
	if fmt.Sprint(prof2) != fmt.Sprint(prof) {
		t.Errorf("profile changed across restart:\n%v\n%v", prof, prof2)
	}
	if u := in2.svc.Model().Updates(); u != updates {
		t.Errorf("model updates after restart %d, want %d", u, updates)
	}
	if after := probe(t, in2); after != before {
		t.Errorf("model predictions changed across restart: %s vs %s", before, after)
	}
	// the decision is still known: a second outcome type is accepted
	in2.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": id, "action_id": first, "reward": 30, "type": "revenue"}, 202)
}

// manySlots is n declared slots of distinct ids, as JSON array items.
func manySlots(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"s%d"}`, i)
	}
	return b.String()
}

// probe returns the model's predictions for a fixed decision, as text.
func probe(t *testing.T, in *instance) string {
	t.Helper()
	m := in.svc.Model()
	dim := m.Dim()
	x := make([]float64, 2*dim)
	for i := range x {
		x[i] = math.Sin(float64(i))
	}
	mean, std := make([]float64, 2), make([]float64, 2)
	m.Predict(mean, std, []int{0, 1}, x)
	return fmt.Sprintf("%.12g %.12g %.12g %.12g", mean[0], mean[1], std[0], std[1])
}

// TestRecoverFromJournal deletes the derived state (Pebble and the model
// snapshot) after a run and checks that a restart rebuilds it from the
// journal alone.
func TestRecoverFromJournal(t *testing.T) {
	dir := t.TempDir()
	in := start(t, retailConfig(dir))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 60 {
		cust := fmt.Sprintf("c-%04d", 1+r.IntN(50))
		dec := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": cust, "channel": "app", "limit": 2,
			"context": map[string]any{"page": "product"}}, 200)
		if r.IntN(3) == 0 {
			a := actionsOf(t, dec)[0]["action_id"]
			in.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": dec["decision_id"], "action_id": a, "reward": 1}, 202)
		}
		if i%4 == 0 {
			in.mustCall("POST", "/v1/events", map[string]any{"customer_id": cust, "type": "add_to_cart"}, 202)
		}
	}
	if err := in.svc.WaitLearned(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 1; i <= 50; i++ {
		cust := fmt.Sprintf("c-%04d", i)
		_, p := in.call("GET", "/v1/profiles/"+cust, nil)
		want[cust] = fmt.Sprint(p)
	}
	wantModel := probe(t, in)
	wantUpdates := in.svc.Model().Updates()
	in.stop()

	// lose everything but the journal (profiles come back from the demo
	// import plus the replayed journal)
	for _, p := range []string{"state", "model"} {
		if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	in2 := start(t, retailConfig(dir))
	for cust, w := range want {
		_, p := in2.call("GET", "/v1/profiles/"+cust, nil)
		if got := fmt.Sprint(p); got != w {
			t.Errorf("%s rebuilt differently:\n got %s\nwant %s", cust, got, w)
		}
	}
	if got := probe(t, in2); got != wantModel {
		t.Errorf("model rebuilt differently: %s vs %s", got, wantModel)
	}
	if got := in2.svc.Model().Updates(); got != wantUpdates {
		t.Errorf("model updates %d, want %d", got, wantUpdates)
	}
}

// TestBadInput sends every kind of bad request and checks the status, the
// error code, the field named, and that nothing was journaled.
func TestBadInput(t *testing.T) { testBadInput(t, retailConfig(t.TempDir())) }

func testBadInput(t *testing.T, cfg serve.Config) {
	in := start(t, cfg)
	dec := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "c-0001", "channel": "web"}, 200)
	decisionID := dec["decision_id"].(string)
	shown := actionsOf(t, dec)[0]["action_id"].(string)
	notShown := "retention-call" // call_centre only: never shown on web
	big := `{"customer_id":"c-1","channel":"web","context":{"campaign":"` + strings.Repeat("x", 70<<10) + `"}}`

	cases := []struct {
		name, method, path string
		body               string
		status             int
		code, field        string
	}{
		{"malformed json", "POST", "/v1/decide", `{"customer_id":`, 400, "invalid_argument", ""},
		{"not an object", "POST", "/v1/decide", `[1,2]`, 400, "invalid_argument", ""},
		{"empty body", "POST", "/v1/decide", ``, 400, "invalid_argument", ""},
		{"trailing data", "POST", "/v1/decide", `{"customer_id":"c","channel":"web"} {}`, 400, "invalid_argument", ""},
		{"wrong type customer", "POST", "/v1/decide", `{"customer_id":12,"channel":"web"}`, 400, "invalid_argument", "customer_id"},
		{"missing customer", "POST", "/v1/decide", `{"channel":"web"}`, 400, "invalid_argument", "customer_id"},
		{"empty customer", "POST", "/v1/decide", `{"customer_id":"","channel":"web"}`, 400, "invalid_argument", "customer_id"},
		{"blank customer", "POST", "/v1/decide", `{"customer_id":" c ","channel":"web"}`, 400, "invalid_argument", "customer_id"},
		{"missing channel", "POST", "/v1/decide", `{"customer_id":"c"}`, 400, "invalid_argument", "channel"},
		{"unknown channel", "POST", "/v1/decide", `{"customer_id":"c","channel":"fax"}`, 422, "unprocessable", "channel"},
		{"unknown candidate", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","candidates":["new-arrivals","nope"]}`, 422, "unprocessable", "candidates[1]"},
		{"candidates wrong type", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","candidates":"new-arrivals"}`, 400, "invalid_argument", "candidates"},
		{"limit zero", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","limit":0}`, 400, "invalid_argument", "limit"},
		{"limit too big", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","limit":500}`, 400, "invalid_argument", "limit"},
		{"limit fractional", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","limit":1.5}`, 400, "invalid_argument", "limit"},
		{"context wrong type", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","context":{"cart_value":"a lot"}}`, 400, "invalid_argument", "context.cart_value"},
		{"context NaN string", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","context":{"cart_value":"NaN"}}`, 400, "invalid_argument", "context.cart_value"},
		{"context NaN literal", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","context":{"cart_value":NaN}}`, 400, "invalid_argument", ""},
		{"context huge number", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","context":{"cart_value":1e999}}`, 400, "invalid_argument", "context.cart_value"},
		{"context not object", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","context":[1]}`, 400, "invalid_argument", "context"},
		{"slots limit differs", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","limit":1,"slots":[{"id":"a"},{"id":"b"}]}`, 400, "invalid_argument", "limit"},
		{"slot id empty", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","slots":[{"id":"a"},{"id":""}]}`, 400, "invalid_argument", "slots[1].id"},
		{"slot id duplicate", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","slots":[{"id":"a"},{"id":"a"}]}`, 400, "invalid_argument", "slots[1].id"},
		{"slot context wrong type", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","slots":[{"id":"a"},{"id":"b","context":{"cart_value":"a lot"}}]}`, 400, "invalid_argument", "slots[1].context.cart_value"},
		{"slot context undeclared", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","slots":[{"id":"a","context":{"placment":"x"}}]}`, 422, "unprocessable", "slots[0].context.placment"},
		{"too many slots", "POST", "/v1/decide", `{"customer_id":"c","channel":"web","slots":[` + manySlots(21) + `]}`, 400, "invalid_argument", "slots"},
		{"body too large", "POST", "/v1/decide", big, 413, "payload_too_large", ""},
		{"wrong method", "GET", "/v1/decide", ``, 405, "method_not_allowed", ""},
		{"unknown path", "GET", "/v2/decide", ``, 404, "not_found", ""},
		{"outcome unknown decision", "POST", "/v1/outcomes", `{"decision_id":"0000","action_id":"x","reward":1}`, 404, "not_found", "decision_id"},
		{"outcome action not shown", "POST", "/v1/outcomes", fmt.Sprintf(`{"decision_id":%q,"action_id":%q,"reward":1}`, decisionID, notShown), 422, "unprocessable", "action_id"},
		{"outcome missing reward", "POST", "/v1/outcomes", fmt.Sprintf(`{"decision_id":%q,"action_id":%q}`, decisionID, shown), 400, "invalid_argument", "reward"},
		{"outcome reward string", "POST", "/v1/outcomes", fmt.Sprintf(`{"decision_id":%q,"action_id":%q,"reward":"1"}`, decisionID, shown), 400, "invalid_argument", "reward"},
		{"outcome missing decision", "POST", "/v1/outcomes", `{"action_id":"x","reward":1}`, 400, "invalid_argument", "decision_id"},
		{"outcome bad type", "POST", "/v1/outcomes", fmt.Sprintf(`{"decision_id":%q,"action_id":%q,"reward":1,"type":"Big Win"}`, decisionID, shown), 400, "invalid_argument", "type"},
		{"outcome bad ts", "POST", "/v1/outcomes", fmt.Sprintf(`{"decision_id":%q,"action_id":%q,"reward":1,"ts":"yesterday"}`, decisionID, shown), 400, "invalid_argument", "ts"},
		{"event missing type", "POST", "/v1/events", `{"customer_id":"c"}`, 400, "invalid_argument", "type"},
		{"event unknown type", "POST", "/v1/events", `{"customer_id":"c","type":"teleported"}`, 422, "unprocessable", "type"},
		{"event future ts", "POST", "/v1/events", `{"customer_id":"c","type":"page_view","ts":"2030-01-01T00:00:00Z"}`, 400, "invalid_argument", "ts"},
		{"event properties wrong type", "POST", "/v1/events", `{"customer_id":"c","type":"purchase","properties":[]}`, 400, "invalid_argument", "properties"},
		{"event amount wrong type", "POST", "/v1/events", `{"customer_id":"c","type":"purchase","properties":{"amount":"ten"}}`, 400, "invalid_argument", "properties.amount"},
		{"profile unknown", "GET", "/v1/profiles/nobody", ``, 404, "not_found", "customer_id"},
	}
	lsn := lastLSN(t, in)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := in.call(tc.method, tc.path, tc.body)
			if code != tc.status {
				t.Fatalf("status %d, want %d: %v", code, tc.status, out)
			}
			e, ok := out["error"].(map[string]any)
			if !ok {
				t.Fatalf("no JSON error: %v", out)
			}
			if e["code"] != tc.code {
				t.Errorf("code %v, want %s", e["code"], tc.code)
			}
			field, _ := e["field"].(string)
			if field != tc.field {
				t.Errorf("field %q, want %q (message %q)", field, tc.field, e["message"])
			}
			if msg, _ := e["message"].(string); msg == "" {
				t.Error("empty message")
			}
		})
	}
	if got := lastLSN(t, in); got != lsn {
		t.Errorf("bad requests changed the journal: last LSN %v → %v", lsn, got)
	}
	// and the service still works
	in.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": decisionID, "action_id": shown, "reward": 1}, 202)
}

func lastLSN(t *testing.T, in *instance) float64 {
	t.Helper()
	_, m := in.call("GET", "/metrics", nil)
	for _, line := range strings.Split(m["_raw"].(string), "\n") {
		if v, ok := strings.CutPrefix(line, "nextbest_journal_last_lsn "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	t.Fatal("no nextbest_journal_last_lsn in /metrics")
	return 0
}

func TestIdempotentRequestID(t *testing.T) { testIdempotentRequestID(t, retailConfig(t.TempDir())) }

func testIdempotentRequestID(t *testing.T, cfg serve.Config) {
	in := start(t, cfg)
	body := map[string]any{"customer_id": "c-0003", "channel": "web", "limit": 2, "request_id": "req-1"}
	a := in.mustCall("POST", "/v1/decide", body, 200)
	b := in.mustCall("POST", "/v1/decide", body, 200)
	if a["decision_id"] != b["decision_id"] || fmt.Sprint(a["actions"]) != fmt.Sprint(b["actions"]) {
		t.Errorf("same request_id, different decisions:\n%v\n%v", a, b)
	}
	body["request_id"] = "req-2"
	c := in.mustCall("POST", "/v1/decide", body, 200)
	if c["decision_id"] == a["decision_id"] {
		t.Error("a new request_id must make a new decision")
	}
}

func TestExplain(t *testing.T) { testExplain(t, retailConfig(t.TempDir())) }

func testExplain(t *testing.T, cfg serve.Config) {
	in := start(t, cfg)
	out := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "c-0004", "channel": "web", "limit": 2, "explain": true,
		"context": map[string]any{"page": "home"}}, 200)
	ex, ok := out["explain"].(map[string]any)
	if !ok {
		t.Fatalf("no explain: %v", out)
	}
	dropped := ex["dropped"].([]any)
	scored := ex["scored"].([]any)
	if len(dropped) == 0 || len(scored) == 0 {
		t.Fatalf("explain: %v", ex)
	}
	var freeShipping string
	for _, d := range dropped {
		d := d.(map[string]any)
		if d["action_id"] == "free-shipping" {
			freeShipping = d["stage"].(string)
		}
	}
	if freeShipping != "eligibility" {
		t.Errorf("free-shipping on the home page: dropped by %q, want eligibility", freeShipping)
	}
	for _, s := range scored {
		s := s.(map[string]any)
		for _, k := range []string{"mean", "std", "value", "weight", "score", "first_slot_probability"} {
			if _, ok := s[k]; !ok {
				t.Errorf("scored entry lacks %s: %v", k, s)
			}
		}
	}
}

func TestMetrics(t *testing.T) {
	in := start(t, retailConfig(t.TempDir()))
	for range 3 {
		in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "c-0005", "channel": "app"}, 200)
	}
	in.call("POST", "/v1/decide", `{"customer_id":""}`)
	_, m := in.call("GET", "/metrics", nil)
	text := m["_raw"].(string)
	for _, want := range []string{
		`nextbest_http_requests_total{code="200",endpoint="decide"} 3`,
		`nextbest_http_requests_total{code="400",endpoint="decide"} 1`,
		`nextbest_http_request_duration_seconds_bucket{endpoint="decide",le=`,
		`nextbest_decisions_total{channel="app",fallback="false"} 3`,
		`nextbest_decision_actions_total{action=`,
		`nextbest_profile_cache_hit_ratio `,
		`nextbest_journal_last_lsn 3`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	st := in.mustCall("GET", "/v1/stats", nil, 200)
	if st["decisions_by_channel"].(map[string]any)["app"] != 3.0 {
		t.Errorf("stats: %v", st)
	}
	var shown float64
	for _, byChannel := range st["actions_by_channel"].(map[string]any) {
		shown += byChannel.(map[string]any)["app"].(float64)
	}
	if shown != 3 { // limit 1
		t.Errorf("stats: %v actions shown on app, want 3", shown)
	}
}

// TestLearnsSegments is the learning test: in a simulated population, a1
// converts best for segment a and a2 for segment b (50% against 10%).
// After 1,500 interactions from the first request on, the policy must
// serve each segment its best action in most of the last 500 decisions.
// An ε-greedy policy with ε=0.1 over 4 actions that has learned serves
// the best action with probability 0.925; uniform random serves it 0.25.
func TestLearnsSegments(t *testing.T) {
	for _, disjoint := range []bool{false, true} {
		t.Run(fmt.Sprintf("disjoint=%v", disjoint), func(t *testing.T) {
			cfg := learnConfig(t, t.TempDir())
			cfg.Model.Shared = !disjoint
			in := start(t, cfg)
			if got, want := in.svc.Model().Actions(), map[bool]int{false: 0, true: 4}[disjoint]; got != want {
				t.Fatalf("model has %d posteriors, want %d", got, want)
			}
			r := rand.New(rand.NewPCG(11, 12))
			conv := func(seg, action string) float64 {
				if (seg == "a" && action == "a1") || (seg == "b" && action == "a2") {
					return 0.5
				}
				return 0.1
			}
			const n, tail = 1500, 500
			best := map[string]int{}  // segment → best action served, last `tail` decisions
			total := map[string]int{} // segment → decisions, last `tail` decisions
			for i := range n {
				u := r.IntN(200)
				seg := "a"
				if u%2 == 1 {
					seg = "b"
				}
				dec := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": fmt.Sprintf("u%03d", u), "channel": "web"}, 200)
				a := actionsOf(t, dec)[0]["action_id"].(string)
				if i >= n-tail {
					total[seg]++
					if conv(seg, a) == 0.5 {
						best[seg]++
					}
				}
				if r.Float64() < conv(seg, a) {
					in.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": dec["decision_id"], "action_id": a, "reward": 1}, 202)
				}
			}
			for _, seg := range []string{"a", "b"} {
				share := float64(best[seg]) / float64(total[seg])
				t.Logf("segment %s: best action in %.3f of its last decisions (%d)", seg, share, total[seg])
				if share < 0.8 {
					t.Errorf("segment %s was served its best action in %.1f%% of its last decisions, want >= 80%%", seg, 100*share)
				}
			}
		})
	}
}

func learnConfig(t *testing.T, dir string) serve.Config {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "learn", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cfg := retailConfig(dir)
	cfg.Catalog, cfg.FeatureSpec, cfg.Profiles = read("catalog.yaml"), read("features.yaml"), read("profiles.jsonl")
	cfg.JournalNoSync = true // speed: durability is tested elsewhere
	cfg.Explorer.Epsilon = 0.1
	cfg.Explorer.Alpha = 0.5
	return cfg
}
