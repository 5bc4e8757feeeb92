package serve_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"nextbest/examples/retail"
	"nextbest/serve"
)

// importConfig is the retail service without its demo profiles, so that
// every profile in it is one a test imported.
func importConfig(dir string) serve.Config {
	cfg := retailConfig(dir)
	cfg.Profiles = nil
	return cfg
}

func attributesOf(t *testing.T, in *instance, id string) map[string]any {
	t.Helper()
	p := in.mustCall("GET", "/v1/profiles/"+id, nil, 200)
	attrs, _ := p["attributes"].(map[string]any)
	return attrs
}

func eventsApplied(t *testing.T, in *instance) float64 {
	t.Helper()
	return in.mustCall("GET", "/v1/stats", nil, 200)["events"].(float64)
}

// TestProfilesBatchImport: an accepted batch sets the attributes, the
// later row of a customer wins, and a rebuild of the state from the
// journal reproduces them.
func TestProfilesBatchImport(t *testing.T) {
	dir := t.TempDir()
	in := start(t, importConfig(dir))
	body := map[string]any{"profiles": []map[string]any{
		{"customer_id": "imp-1", "attributes": map[string]any{"age": 34, "region": "north", "tier": "gold", "email_opt_in": true}},
		{"customer_id": "imp-2", "attributes": map[string]any{"tier": "silver"}, "ts": "2026-11-20T08:00:00Z"},
		{"customer_id": "imp-3", "attributes": map[string]any{"tier": "bronze"}},
		{"customer_id": "imp-3", "attributes": map[string]any{"tier": "platinum", "age": 51.5}},
	}}
	ack := in.mustCall("POST", "/v1/profiles:batch", body, 202)
	if ack["count"] != float64(4) || ack["lsn"] != float64(4) {
		t.Fatalf("answer %v, want count 4 and lsn 4", ack)
	}
	want := map[string]map[string]any{
		"imp-1": {"age": float64(34), "region": "north", "tier": "gold", "email_opt_in": true},
		"imp-2": {"tier": "silver"},
		"imp-3": {"tier": "platinum", "age": 51.5},
	}
	check := func(when string) {
		t.Helper()
		for id, attrs := range want {
			got := attributesOf(t, in, id)
			if fmt.Sprint(got) != fmt.Sprint(attrs) {
				t.Errorf("%s: %s has attributes %v, want %v", when, id, got, attrs)
			}
		}
		if p := in.mustCall("GET", "/v1/profiles/imp-1", nil, 200); p["consents"].(map[string]any)["email"] != true {
			t.Errorf("%s: email_opt_in did not set the email consent: %v", when, p["consents"])
		}
		if n := eventsApplied(t, in); n != 4 {
			t.Errorf("%s: %v events applied, want 4", when, n)
		}
	}
	check("after the import")

	in.stop()
	if err := os.RemoveAll(filepath.Join(dir, "state")); err != nil {
		t.Fatal(err)
	}
	in = start(t, importConfig(dir))
	check("after a rebuild from the journal")
}

// TestProfilesBatchRefused: a bad row is refused naming it and its
// attribute, and nothing of the batch is written.
func TestProfilesBatchRefused(t *testing.T) {
	in := start(t, importConfig(t.TempDir()))
	good := map[string]any{"customer_id": "ok-1", "attributes": map[string]any{"tier": "gold"}}
	for _, c := range []struct {
		name   string
		row    map[string]any
		status int
		field  string
	}{
		{"undeclared attribute", map[string]any{"customer_id": "x", "attributes": map[string]any{"tier": "gold", "shoe_size": 42}}, 422, "profiles[1].attributes.shoe_size"},
		{"wrong type", map[string]any{"customer_id": "x", "attributes": map[string]any{"age": "old"}}, 400, "profiles[1].attributes.age"},
		{"bool as string", map[string]any{"customer_id": "x", "attributes": map[string]any{"email_opt_in": "yes"}}, 400, "profiles[1].attributes.email_opt_in"},
		{"number too large", map[string]any{"customer_id": "x", "attributes": map[string]any{"age": 1e12}}, 400, "profiles[1].attributes.age"},
		{"no customer", map[string]any{"attributes": map[string]any{"tier": "gold"}}, 400, "profiles[1].customer_id"},
		{"no attributes", map[string]any{"customer_id": "x"}, 400, "profiles[1].attributes"},
		{"bad time", map[string]any{"customer_id": "x", "ts": "yesterday", "attributes": map[string]any{"tier": "gold"}}, 400, "profiles[1].ts"},
		{"unknown field", map[string]any{"customer_id": "x", "attrs": map[string]any{"tier": "gold"}}, 400, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out := in.call("POST", "/v1/profiles:batch", map[string]any{"profiles": []any{good, c.row}})
			e, _ := out["error"].(map[string]any)
			if code != c.status || (c.field != "" && e["field"] != c.field) {
				t.Fatalf("status %d %v, want %d naming %q", code, out, c.status, c.field)
			}
		})
	}
	if n := eventsApplied(t, in); n != 0 {
		t.Errorf("%v events applied after refused batches, want 0", n)
	}
	in.mustCall("GET", "/v1/profiles/ok-1", nil, 404)

	rows := make([]map[string]any, serve.MaxBatchProfiles+1)
	for i := range rows {
		rows[i] = map[string]any{"customer_id": fmt.Sprint("c", i), "attributes": map[string]any{"tier": "gold"}}
	}
	code, out := in.call("POST", "/v1/profiles:batch", map[string]any{"profiles": rows})
	if code != 413 {
		t.Errorf("%d profiles: status %d %v, want 413", len(rows), code, out)
	}
	in.mustCall("POST", "/v1/profiles:batch", map[string]any{"profiles": rows[:serve.MaxBatchProfiles]}, 202)
	in.mustCall("POST", "/v1/profiles:batch", map[string]any{"profiles": []any{}}, 400)
}

// TestProfilesBatchNoAttributeEvent: a spec without attribute events
// cannot import profiles, and says so.
func TestProfilesBatchNoAttributeEvent(t *testing.T) {
	cfg := importConfig(t.TempDir())
	cfg.FeatureSpec = bytes.Replace(retail.FeatureSpec, []byte("attribute_events: [profile_update]"), nil, 1)
	if bytes.Equal(cfg.FeatureSpec, retail.FeatureSpec) {
		t.Fatal("the retail spec no longer declares attribute_events: [profile_update]")
	}
	in := start(t, cfg)
	code, out := in.call("POST", "/v1/profiles:batch", map[string]any{"profiles": []any{map[string]any{"customer_id": "a", "attributes": map[string]any{"tier": "gold"}}}})
	if code != 422 {
		t.Errorf("status %d %v, want 422", code, out)
	}
}
