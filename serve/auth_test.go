package serve_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"nextbest/serve"
)

// keyed sends a request with an API key ("" none) in header ("" for
// Authorization: Bearer) and returns the status, the answer and its
// headers.
func (in *instance) keyed(method, path, key, header string, body any) (int, map[string]any, http.Header) {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, in.base+path, rd)
	if err != nil {
		in.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case key == "":
	case header == "":
		req.Header.Set("Authorization", "Bearer "+key)
	default:
		req.Header.Set(header, key)
	}
	resp, err := client.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(data, &out)
	return resp.StatusCode, out, resp.Header
}

// scopeKeys are one key per scope ("k-<scope>") and one with every scope.
func scopeKeys() []serve.APIKey {
	var keys []serve.APIKey
	for _, sc := range []string{serve.ScopeDecide, serve.ScopeIngest, serve.ScopeProfilesRead, serve.ScopePrivacy, serve.ScopeRead, serve.ScopeAdmin} {
		keys = append(keys, serve.APIKey{Name: "k-" + strings.ReplaceAll(sc, ":", "-"), SHA256: serve.HashKey("secret-" + sc), Scopes: []string{sc}})
	}
	return keys
}

// TestAuthMatrix runs every route with no key, an unknown key, and a key
// of each scope: a route needing a key answers 401 without one or with an
// unknown one (with WWW-Authenticate), 403 to a key without its scope,
// and anything but 401/403 to a key with it; the health probes and the
// dashboard's page answer everyone. Both headers carry a key.
func TestAuthMatrix(t *testing.T) {
	t.Parallel()
	cfg := retailConfig(t.TempDir())
	cfg.Auth.Keys = scopeKeys()
	in := start(t, cfg)
	decideBody := map[string]any{"customer_id": "c-0001", "channel": "web"}
	pz := "/personalizer/v1.0/"
	rankBody := map[string]any{"actions": []any{map[string]any{"id": "a"}}}
	multiBody := map[string]any{"actions": []any{map[string]any{"id": "a"}}, "slots": []any{map[string]any{"id": "s", "baselineAction": "a"}}}
	svcBody := map[string]any{"rewardWaitTime": "PT10M", "defaultReward": 0, "rewardAggregation": "earliest",
		"explorationPercentage": 0.2, "modelExportFrequency": "PT1M", "logRetentionDays": -1}
	for _, r := range []struct {
		method, path, scope string
		body                any
	}{
		{"POST", "/v1/decide", serve.ScopeDecide, decideBody},
		{"POST", "/v1/decide/batch", serve.ScopeDecide, map[string]any{"decisions": []any{decideBody}}},
		{"POST", "/v1/outcomes", serve.ScopeIngest, map[string]any{"decision_id": "x", "action_id": "y", "reward": 1}},
		{"POST", "/v1/events", serve.ScopeIngest, map[string]any{"customer_id": "c-0001", "type": "page_view"}},
		{"POST", "/v1/profiles:batch", serve.ScopeIngest, map[string]any{"profiles": []any{map[string]any{"customer_id": "c-0001", "attributes": map[string]any{"tier": "gold"}}}}},
		{"GET", "/v1/profiles/c-0001", serve.ScopeProfilesRead, nil},
		{"GET", "/v1/decisions/d-unknown", serve.ScopeProfilesRead, nil},
		{"POST", "/v1/decisions/d-unknown/activate", serve.ScopeDecide, map[string]any{"slots": []int{0}}},
		{"DELETE", "/v1/customers/c-unknown", serve.ScopePrivacy, nil},
		{"GET", "/v1/actions", serve.ScopeRead, nil},
		{"GET", "/v1/experiments", serve.ScopeRead, nil},
		{"GET", "/v1/stats", serve.ScopeRead, nil},
		{"GET", "/v1/models", serve.ScopeRead, nil},
		{"GET", "/v1/reports/campaigns", serve.ScopeRead, nil},
		{"GET", "/v1/reports/journeys", serve.ScopeRead, nil},
		{"GET", "/v1/reports/attribution", serve.ScopeRead, nil},
		{"GET", "/v1/reports/clv", serve.ScopeRead, nil},
		{"GET", "/metrics", serve.ScopeRead, nil},
		{"GET", "/v1/audit", serve.ScopeAdmin, nil},
		{"GET", "/admin/experiments", serve.ScopeAdmin, nil},
		{"GET", "/admin/mode", serve.ScopeAdmin, nil},
		{"GET", "/admin/clv", serve.ScopeAdmin, nil},
		{"GET", "/admin/shadow", serve.ScopeAdmin, nil},
		{"GET", "/admin/keys", serve.ScopeAdmin, nil},
		{"POST", "/admin/models/reload", serve.ScopeAdmin, map[string]any{}},
		{"GET", "/debug/pprof/", serve.ScopeAdmin, nil},
		{"POST", pz + "rank", serve.ScopeDecide, rankBody},
		{"POST", pz + "multislot/rank", serve.ScopeDecide, multiBody},
		{"POST", pz + "events/e-unknown/reward", serve.ScopeIngest, map[string]any{"value": 1}},
		{"POST", pz + "events/e-unknown/activate", serve.ScopeDecide, map[string]any{}},
		{"POST", pz + "multislot/events/e-unknown/reward", serve.ScopeIngest, map[string]any{"reward": []any{map[string]any{"slotId": "s", "value": 1}}}},
		{"POST", pz + "multislot/events/e-unknown/activate", serve.ScopeDecide, map[string]any{}},
		{"GET", pz + "configurations/service", serve.ScopeRead, nil},
		{"PUT", pz + "configurations/service", serve.ScopeAdmin, svcBody},
		{"GET", pz + "configurations/policy", serve.ScopeRead, nil},
		{"PUT", pz + "configurations/policy", serve.ScopeAdmin, map[string]any{"name": "p", "arguments": ""}},
		{"DELETE", pz + "configurations/policy", serve.ScopeAdmin, nil},
		{"GET", "/healthz", "", nil},
		{"GET", "/readyz", "", nil},
		{"GET", "/ui/", "", nil},
	} {
		name := r.method + " " + r.path
		if r.scope == "" {
			if code, out, _ := in.keyed(r.method, r.path, "", "", r.body); code != 200 {
				t.Errorf("%s without a key: %d %v", name, code, out)
			}
			continue
		}
		code, _, h := in.keyed(r.method, r.path, "", "", r.body)
		if code != 401 || h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s without a key: %d (WWW-Authenticate %q), want 401", name, code, h.Get("WWW-Authenticate"))
		}
		if code, _, _ := in.keyed(r.method, r.path, "not-a-key", "", r.body); code != 401 {
			t.Errorf("%s with an unknown key: %d, want 401", name, code)
		}
		for _, sc := range []string{serve.ScopeDecide, serve.ScopeIngest, serve.ScopeProfilesRead, serve.ScopePrivacy, serve.ScopeRead, serve.ScopeAdmin} {
			header := ""
			if sc == serve.ScopeDecide {
				header = "Ocp-Apim-Subscription-Key"
			}
			code, out, _ := in.keyed(r.method, r.path, "secret-"+sc, header, r.body)
			switch {
			case sc == r.scope && (code == 401 || code == 403):
				t.Errorf("%s with a %s key: %d %v", name, sc, code, out)
			case sc != r.scope && code != 403:
				t.Errorf("%s with a %s key: %d, want 403", name, sc, code)
			}
		}
	}
}

// TestRateLimit: a key over its rate gets 429 with Retry-After in whole
// seconds (its bucket holds one second's worth); another key is not
// affected.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	cfg := retailConfig(t.TempDir())
	cfg.Auth.Keys = []serve.APIKey{
		{Name: "slow", SHA256: serve.HashKey("slow-key"), Scopes: []string{serve.ScopeRead}, RatePerSecond: 0.5},
		{Name: "other", SHA256: serve.HashKey("other-key"), Scopes: []string{serve.ScopeRead}},
	}
	in := start(t, cfg)
	// half a request a second: the bucket holds one; the next is 2 s away
	if code, _, _ := in.keyed("GET", "/v1/stats", "slow-key", "", nil); code != 200 {
		t.Fatalf("the first request: %d", code)
	}
	code, out, h := in.keyed("GET", "/v1/stats", "slow-key", "", nil)
	if code != 429 || h.Get("Retry-After") != "2" {
		t.Fatalf("over the rate: %d %v, Retry-After %q; want 429 and 2", code, out, h.Get("Retry-After"))
	}
	if e, _ := out["error"].(map[string]any); e == nil || e["code"] != "rate_limited" {
		t.Errorf("429 body: %v", out)
	}
	for range 20 {
		if code, _, _ := in.keyed("GET", "/v1/stats", "other-key", "", nil); code != 200 {
			t.Fatalf("the other key: %d", code)
		}
	}

	// a bucket of 3: three at once, then 429 for about a third of a second
	cfg2 := retailConfig(t.TempDir())
	cfg2.Auth.Keys = []serve.APIKey{{Name: "three", SHA256: serve.HashKey("three-key"), Scopes: []string{serve.ScopeRead}, RatePerSecond: 3}}
	in2 := start(t, cfg2)
	ok, limited := 0, 0
	for range 10 {
		code, _, h := in2.keyed("GET", "/v1/stats", "three-key", "", nil)
		switch code {
		case 200:
			ok++
		case 429:
			limited++
			if h.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q, want 1", h.Get("Retry-After"))
			}
		}
	}
	// ten requests: 3 from the bucket, and the refill (3/s) cannot cover
	// the rest unless they took over 2 s
	if ok < 3 || limited < 1 || ok+limited != 10 {
		t.Errorf("bucket of 3: %d answered, %d limited", ok, limited)
	}
}

// TestKeysAtRuntime adds, rotates and revokes a key through the admin
// API, and reloads the configuration's keys, without a restart; each
// change is in the audit trail with the key that made it; a bad key is a
// 422 naming the field and changes nothing.
func TestKeysAtRuntime(t *testing.T) {
	t.Parallel()
	cfg := retailConfig(t.TempDir())
	cfg.Auth.Keys = []serve.APIKey{{Name: "ops", SHA256: serve.HashKey("ops-key"), Scopes: []string{serve.ScopeAdmin}}}
	in := start(t, cfg)
	put := func(name string, body map[string]any) (int, map[string]any) {
		code, out, _ := in.keyed("PUT", "/admin/keys/"+name, "ops-key", "", body)
		return code, out
	}
	stats := func(key string) int {
		code, _, _ := in.keyed("GET", "/v1/stats", key, "", nil)
		return code
	}
	if code := stats("shop-1"); code != 401 {
		t.Fatalf("before: %d", code)
	}
	if code, out := put("shop", map[string]any{"sha256": serve.HashKey("shop-1"), "scopes": []string{"read"}}); code != 200 {
		t.Fatalf("add: %d %v", code, out)
	}
	if code := stats("shop-1"); code != 200 {
		t.Fatalf("after adding: %d", code)
	}
	// rotate: the old key stops, the new one works
	if code, out := put("shop", map[string]any{"sha256": serve.HashKey("shop-2"), "scopes": []string{"read"}}); code != 200 {
		t.Fatalf("rotate: %d %v", code, out)
	}
	if a, b := stats("shop-1"), stats("shop-2"); a != 401 || b != 200 {
		t.Fatalf("after rotating: old %d, new %d", a, b)
	}
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"sha256": "abc", "scopes": []string{"read"}}, "sha256"},
		{map[string]any{"sha256": serve.HashKey("x"), "scopes": []string{"everything"}}, "scopes[0]"},
		{map[string]any{"sha256": serve.HashKey("x")}, "scopes"},
		{map[string]any{"sha256": serve.HashKey("x"), "scopes": []string{"read"}, "rate_per_second": -1}, "rate_per_second"},
	} {
		code, out := put("bad", tc.body)
		e, _ := out["error"].(map[string]any)
		if code != 422 || e == nil || e["field"] != tc.field {
			t.Errorf("PUT %v: %d %v, want 422 naming %s", tc.body, code, out, tc.field)
		}
	}
	// a path that is not a key's is no endpoint (it once made key "foo")
	if code, _, _ := in.keyed("PUT", "/admin/keysfoo", "ops-key", "", map[string]any{"sha256": serve.HashKey("y"), "scopes": []string{"read"}}); code != 404 {
		t.Errorf("PUT /admin/keysfoo: %d, want 404", code)
	}
	if code, _ := put("ops", map[string]any{"sha256": serve.HashKey("x"), "scopes": []string{"admin"}}); code != 409 {
		t.Errorf("changing a configuration key through the API: %d, want 409", code)
	}
	if code, _, _ := in.keyed("DELETE", "/admin/keys/shop", "ops-key", "", nil); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	if code := stats("shop-2"); code != 401 {
		t.Fatalf("after revoking: %d", code)
	}
	// the configuration's keys, reloaded (SIGHUP in nextbest serve)
	if err := in.svc.SetConfigKeys([]serve.APIKey{
		{Name: "ops", SHA256: serve.HashKey("ops-key"), Scopes: []string{serve.ScopeAdmin}},
		{Name: "reader", SHA256: serve.HashKey("reader-key"), Scopes: []string{serve.ScopeRead}},
	}, "config"); err != nil {
		t.Fatal(err)
	}
	if code := stats("reader-key"); code != 200 {
		t.Fatalf("a key from the reloaded configuration: %d", code)
	}
	if err := in.svc.SetConfigKeys([]serve.APIKey{{Name: "x y", SHA256: "1", Scopes: []string{"read"}}}, "config"); err == nil {
		t.Fatal("a bad reload was accepted")
	}
	if code := stats("reader-key"); code != 200 {
		t.Fatalf("a bad reload changed the keys: %d", code)
	}

	// the audit trail: who did what
	code, out, _ := in.keyed("GET", "/v1/audit", "ops-key", "", nil)
	if code != 200 {
		t.Fatalf("audit: %d %v", code, out)
	}
	var got []string
	for _, a := range out["audit"].([]any) {
		m := a.(map[string]any)
		got = append(got, fmt.Sprint(m["by"], ":", m["kind"]))
	}
	want := "ops:key_added,ops:key_rotated,ops:key_revoked,config:keys_reloaded"
	if strings.Join(got, ",") != want {
		t.Errorf("audit trail %v, want %s", got, want)
	}
}

// TestCheckExposure: development mode (no keys) is for loopback only.
func TestCheckExposure(t *testing.T) {
	key := []serve.APIKey{{Name: "k", SHA256: serve.HashKey("k"), Scopes: []string{"read"}}}
	for _, tc := range []struct {
		addr string
		keys []serve.APIKey
		ok   bool
	}{
		{"127.0.0.1:8080", nil, true},
		{"[::1]:8080", nil, true},
		{"localhost:8080", nil, true},
		{":8080", nil, false},
		{"0.0.0.0:8080", nil, false},
		{"10.1.2.3:8080", nil, false},
		{"0.0.0.0:8080", key, true},
		{"nonsense", nil, false},
	} {
		if err := serve.CheckExposure(tc.addr, tc.keys); (err == nil) != tc.ok {
			t.Errorf("%s with %d keys: %v", tc.addr, len(tc.keys), err)
		}
	}
}
