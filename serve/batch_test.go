package serve_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

// batchCall posts a batch and returns its lines, decoded.
func (in *instance) batchCall(t *testing.T, body any) (int, []map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := client.Post(in.base+"/v1/decide/batch", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		data, _ := io.ReadAll(resp.Body)
		t.Logf("batch: %d %s", resp.StatusCode, data)
		return resp.StatusCode, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("content type %q", ct)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return resp.StatusCode, lines
}

// TestDecideBatch: a batch answers one line per request in the given
// order, each decided as POST /v1/decide decides it (journaled, with
// exact propensities, idempotent by request_id); a bad request gets its
// own error line and does not stop the others; a bad batch is refused
// whole.
func TestDecideBatch(t *testing.T) {
	t.Parallel()
	in := start(t, retailConfig(t.TempDir()))
	var reqs []map[string]any
	for i := range 40 {
		reqs = append(reqs, map[string]any{"customer_id": fmt.Sprintf("c-%04d", 1+i), "channel": "email", "request_id": fmt.Sprintf("camp-%d", i)})
	}
	reqs[7] = map[string]any{"customer_id": "c-0008", "channel": "fax"}
	code, lines := in.batchCall(t, map[string]any{"decisions": reqs})
	if code != 200 || len(lines) != 40 {
		t.Fatalf("batch: %d, %d lines", code, len(lines))
	}
	ids := map[string]bool{}
	for i, l := range lines {
		if l["index"] != float64(i) {
			t.Fatalf("line %d has index %v", i, l["index"])
		}
		if i == 7 {
			e, _ := l["error"].(map[string]any)
			if l["status"] != 422.0 || e == nil || e["field"] != "channel" {
				t.Errorf("the bad request's line: %v", l)
			}
			continue
		}
		d, _ := l["decision"].(map[string]any)
		if l["status"] != 200.0 || d == nil || d["decision_id"] == nil {
			t.Fatalf("line %d: %v", i, l)
		}
		ids[fmt.Sprint(d["decision_id"])] = true
		for _, a := range d["actions"].([]any) {
			if p := a.(map[string]any)["propensity"].(float64); !(p > 0 && p <= 1) {
				t.Errorf("line %d: propensity %v", i, p)
			}
		}
	}
	if len(ids) != 39 {
		t.Errorf("%d distinct decisions, want 39", len(ids))
	}
	// the decisions are on record, and a re-sent batch replays them
	first := lines[0]["decision"].(map[string]any)["decision_id"]
	if rec := in.mustCall("GET", fmt.Sprintf("/v1/decisions/%v", first), nil, 200); rec["decision"].(map[string]any)["channel"] != "email" {
		t.Errorf("on record: %v", rec)
	}
	_, again := in.batchCall(t, map[string]any{"decisions": reqs[:3]})
	for i, l := range again {
		if l["decision"].(map[string]any)["decision_id"] != lines[i]["decision"].(map[string]any)["decision_id"] {
			t.Errorf("re-sent request %d: %v, first answer %v", i, l, lines[i])
		}
	}
	// bad batches
	for _, body := range []string{`{}`, `{"decisions": []}`, `{"decisions": 3}`, `{"decisions": [{}], "extra": 1}`, `[`} {
		resp, err := client.Post(in.base+"/v1/decide/batch", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if e, _ := out["error"].(map[string]any); resp.StatusCode != 400 || e == nil || e["field"] != "decisions" {
			t.Errorf("batch %s: %d %v", body, resp.StatusCode, out)
		}
	}
	var many []map[string]any
	for i := range 1001 {
		many = append(many, map[string]any{"customer_id": fmt.Sprintf("x-%d", i), "channel": "web"})
	}
	if code, _ := in.batchCall(t, map[string]any{"decisions": many}); code != 413 {
		t.Errorf("1,001 requests: %d", code)
	}
}
