package serve_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"nextbest/journal"
	"nextbest/logs"
	"nextbest/serve"
)

// TestErasure: DELETE /v1/customers/{id} erases a customer end to end on
// the embedded storage. From its answer on their profile is 404, their
// decisions are not returned and take no outcome, a request id of theirs
// is not replayed, readers of the journal skip them; within the erasure
// delay no file of the data directory holds their id, their attribute
// values or their context; the other customer is untouched; the audit
// trail names the erasure and not the customer; the service restarts and
// rebuilds its state without them.
func TestErasure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := retailConfig(dir)
	cfg.Profiles = nil
	cfg.ErasureDelay = 400 * time.Millisecond
	in := start(t, cfg)
	const gone, kept = "erase-me-7f3a", "keep-me-2b9c"
	decs := map[string]string{}
	for _, c := range []string{gone, kept} {
		region := map[string]string{gone: "Zyzzogeton-Quarter", kept: "Keepsake-Heights"}[c]
		in.mustCall("POST", "/v1/events", map[string]any{"customer_id": c, "type": "profile_update", "properties": map[string]any{"region": region, "tier": "gold"}}, 202)
		in.mustCall("POST", "/v1/events", map[string]any{"customer_id": c, "type": "page_view"}, 202)
		dec := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": c, "channel": "web", "request_id": "req-" + c,
			"context": map[string]any{"campaign": "cmp-" + c}, "explain": true}, 200)
		decs[c] = fmt.Sprint(dec["decision_id"])
		in.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": decs[c], "action_id": actionsOf(t, dec)[0]["action_id"], "type": "click", "reward": 1, "outcome_id": "out-" + c}, 202)
	}
	if code, out := in.call("DELETE", "/v1/customers/nobody-at-all", nil); code != 404 || out["error"].(map[string]any)["field"] != "customer_id" {
		t.Fatalf("erasing an unknown customer: %d %v", code, out)
	}
	ans := in.mustCall("DELETE", "/v1/customers/"+gone, nil, 202)
	if ans["erasure_id"] == nil || ans["purged_by"] == nil {
		t.Fatalf("answer %v", ans)
	}
	// at once: gone from every lookup
	in.mustCall("GET", "/v1/profiles/"+gone, nil, 404)
	in.mustCall("GET", "/v1/decisions/"+decs[gone], nil, 404)
	in.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": decs[gone], "action_id": "A1", "type": "click", "reward": 1}, 404)
	in.mustCall("DELETE", "/v1/customers/"+gone, nil, 404)
	in.mustCall("GET", "/v1/profiles/"+kept, nil, 200)
	in.mustCall("GET", "/v1/decisions/"+decs[kept], nil, 200)
	n := 0
	if _, err := logs.EachRecord(context.Background(), filepath.Join(dir, "journal"), func(rec *journal.Record) error {
		if rec.Type != journal.TypeErasure && bytes.Contains(rec.Payload, []byte(gone)) {
			t.Errorf("a reader of the journal got LSN %d of the erased customer", rec.LSN)
		}
		n++
		return nil
	}); err != nil || n == 0 {
		t.Fatalf("EachRecord: %d %v", n, err)
	}

	// within the delay: nothing about them in any file
	needles := []string{gone, "Zyzzogeton", "cmp-" + gone, "out-" + gone, "req-" + gone}
	deadline := time.Now().Add(cfg.ErasureDelay + 20*time.Second) // the purge's own time, on a loaded machine
	for {
		left := grepTree(t, dir, needles)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still in the data directory after the delay: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if left := grepTree(t, filepath.Join(dir, "journal"), []string{kept}); len(left) == 0 {
		t.Fatal("the other customer is in no journal file: the search finds nothing")
	}
	audit := in.mustCall("GET", "/v1/audit", nil, 200)["audit"].([]any)
	last := audit[len(audit)-1].(map[string]any)
	if last["kind"] != "customer_erased" || last["by"] != "admin" || bytes.Contains([]byte(fmt.Sprint(last)), []byte(gone)) {
		t.Fatalf("audit %v", last)
	}

	// a new decision with their old request id is a new decision
	again := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": gone, "channel": "web", "request_id": "req-" + gone}, 200)
	if again["decision_id"] == decs[gone] {
		t.Fatal("the erased customer's request id replayed their old decision")
	}

	// restart, then rebuild the state from the journal
	in.stop()
	in = start(t, cfg)
	in.mustCall("GET", "/v1/decisions/"+decs[gone], nil, 404)
	in.mustCall("GET", "/v1/profiles/"+kept, nil, 200)
	in.stop()
	if err := os.RemoveAll(filepath.Join(dir, "state")); err != nil {
		t.Fatal(err)
	}
	in = start(t, cfg)
	p := in.mustCall("GET", "/v1/profiles/"+gone, nil, 200) // the new relationship only
	if attrs, _ := p["attributes"].(map[string]any); attrs["region"] != nil {
		t.Errorf("rebuilt profile kept the erased attributes: %v", p)
	}
	in.mustCall("GET", "/v1/decisions/"+decs[gone], nil, 404)
	in.mustCall("GET", "/v1/decisions/"+decs[kept], nil, 200)
}

// grepTree returns "file: needle" for each needle found in a file under
// dir.
func grepTree(t *testing.T, dir string, needles []string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // rotated meanwhile
		}
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				hits = append(hits, filepath.Base(p)+": "+n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// TestClusterErasure: the erasure end to end on the cluster storage, two
// instances on a real redis-server and nats-server -js: asked on one
// instance, it holds on both at once; within the delay a byte search of
// Redis's directory and JetStream's store finds none of the customer's
// identifiers or attribute values, while the other customer is still
// there; the audit trail keeps one entry for it.
func TestClusterErasure(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	cfgA, cfgB := c.config(t), c.config(t)
	for _, cfg := range []*serve.Config{&cfgA, &cfgB} {
		cfg.Profiles = nil
		cfg.ErasureDelay = 400 * time.Millisecond
	}
	a, b := start(t, cfgA), start(t, cfgB)
	const gone, kept = "erase-me-c1u5", "keep-me-c1u5"
	decs := map[string]string{}
	for _, cust := range []string{gone, kept} {
		region := map[string]string{gone: "Zyzzogeton-Cluster", kept: "Keepsake-Cluster"}[cust]
		a.mustCall("POST", "/v1/events", map[string]any{"customer_id": cust, "type": "profile_update", "properties": map[string]any{"region": region}}, 202)
		dec := b.mustCall("POST", "/v1/decide", map[string]any{"customer_id": cust, "channel": "web", "request_id": "req-" + cust,
			"context": map[string]any{"campaign": "cmp-" + cust}}, 200)
		decs[cust] = fmt.Sprint(dec["decision_id"])
		a.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": decs[cust], "action_id": actionsOf(t, dec)[0]["action_id"], "type": "click", "reward": 1, "outcome_id": "out-" + cust}, 202)
	}
	b.mustCall("DELETE", "/v1/customers/"+gone, nil, 202)
	for _, in := range []*instance{a, b} {
		in.mustCall("GET", "/v1/profiles/"+gone, nil, 404)
		in.mustCall("GET", "/v1/decisions/"+decs[gone], nil, 404)
		in.mustCall("GET", "/v1/profiles/"+kept, nil, 200)
	}
	needles := []string{gone, "Zyzzogeton", "cmp-" + gone, "out-" + gone}
	dirs := []string{c.redis.Dir, c.nats.Dir, cfgA.DataDir, cfgB.DataDir}
	deadline := time.Now().Add(cfgA.ErasureDelay + 30*time.Second)
	for {
		var left []string
		for _, d := range dirs {
			left = append(left, grepTree(t, d, needles)...)
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			out, _ := exec.Command("redis-cli", "-u", "redis://"+c.redis.Addr, "--scan", "--pattern", "*"+gone+"*").CombinedOutput()
			t.Fatalf("still stored after the delay: %v; redis keys: %s", left, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, d := range []string{c.redis.Dir, c.nats.Dir} {
		if len(grepTree(t, d, []string{kept})) == 0 {
			t.Fatalf("the other customer is in no file of %s: the search finds nothing", d)
		}
	}
	a.mustCall("GET", "/v1/decisions/"+decs[kept], nil, 200)
	n := 0
	for _, e := range a.mustCall("GET", "/v1/audit", nil, 200)["audit"].([]any) {
		if e.(map[string]any)["kind"] == "customer_erased" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d audit entries of the erasure, want 1", n)
	}
}
