package serve_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/serve"
)

// testNow is the service clock in tests; the retail demo profiles were
// exported on 2026-11-01.
var testNow = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// instance is a real service on a loopback port.
type instance struct {
	t    testing.TB
	svc  *serve.Service
	base string
	done chan error
}

func retailConfig(dir string) serve.Config {
	return serve.Config{
		DataDir: dir, Catalog: retail.Catalog, FeatureSpec: retail.FeatureSpec, Profiles: retail.Profiles,
		Seed: 7, Now: func() time.Time { return testNow }, Logger: testLogger(),
		// the race detector on a loaded 2-core machine can stretch a group
		// commit past the default 50ms budget; tests of the budget set their own
		DecisionTimeout: 5 * time.Second,
	}
}

// parseExperiments parses an experiments document, failing t on error.
func parseExperiments(t testing.TB, doc string) []*decide.Experiment {
	t.Helper()
	exps, err := decide.ParseExperiments([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return exps
}

func testLogger() *slog.Logger {
	if os.Getenv("NEXTBEST_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func start(t testing.TB, cfg serve.Config) *instance {
	t.Helper()
	svc, err := serve.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{t: t, svc: svc, base: "http://" + ln.Addr().String(), done: make(chan error, 1)}
	go func() { in.done <- svc.Serve(ln) }()
	t.Cleanup(func() { in.stop() })
	// one request, so that Serve is running before anyone can Close
	in.raw("GET", "/healthz", "")
	return in
}

// stop closes the service (idempotent) and waits for Serve to return.
func (in *instance) stop() {
	if in.svc == nil {
		return
	}
	if err := in.svc.Close(); err != nil {
		in.t.Errorf("close: %v", err)
	}
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		in.t.Error("Serve did not return after Close")
	}
	in.svc = nil
}

var client = &http.Client{Timeout: 10 * time.Second}

// call sends a request and decodes the JSON answer into a map.
func (in *instance) call(method, path string, body any) (int, map[string]any) {
	in.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			in.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	resp, data := in.do(method, path, rd, rd != nil || method == "POST")
	var out map[string]any
	if len(data) > 0 && resp.Header.Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(data, &out); err != nil {
			in.t.Fatalf("%s %s: bad JSON answer %q: %v", method, path, data, err)
		}
	} else {
		out = map[string]any{"_raw": string(data)}
	}
	return resp.StatusCode, out
}

func (in *instance) mustCall(method, path string, body any, want int) map[string]any {
	in.t.Helper()
	code, out := in.call(method, path, body)
	if code != want {
		in.t.Fatalf("%s %s: status %d, want %d: %v", method, path, code, want, out)
	}
	return out
}

func actionsOf(t testing.TB, resp map[string]any) []map[string]any {
	t.Helper()
	raw, ok := resp["actions"].([]any)
	if !ok {
		t.Fatalf("no actions in %v", resp)
	}
	out := make([]map[string]any, len(raw))
	for i, a := range raw {
		out[i] = a.(map[string]any)
	}
	return out
}

// raw posts a JSON body and returns the response and its body as text.
func (in *instance) raw(method, path, body string) (*http.Response, string) {
	in.t.Helper()
	resp, data := in.do(method, path, bytes.NewBufferString(body), true)
	return resp, string(data)
}

// do sends a request with body rd (nil for none), marked as JSON if
// asJSON, and returns the response and its whole body.
func (in *instance) do(method, path string, rd io.Reader, asJSON bool) (*http.Response, []byte) {
	in.t.Helper()
	req, err := http.NewRequest(method, in.base+path, rd)
	if err != nil {
		in.t.Fatal(err)
	}
	if asJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		in.t.Fatal(err)
	}
	return resp, data
}
