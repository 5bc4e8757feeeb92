package main

import (
	"bytes"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nextbest/examples/retail"
	"nextbest/serve"
)

// TestLoopCommand runs one turn of nextbest loop beside a service with
// an empty journal (nothing to train on: an idle turn, said why), and
// refuses a second loop on the same registry.
func TestLoopCommand(t *testing.T) {
	t.Parallel()
	data, reg := t.TempDir(), t.TempDir()
	svc, err := serve.Open(serve.Config{DataDir: data, Catalog: retail.Catalog, FeatureSpec: retail.FeatureSpec,
		Registry: reg, DecisionTimeout: 5 * time.Second, JournalNoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go svc.Serve(ln)
	defer svc.Close()
	args := []string{"--once", "--data", data, "--registry", reg, "--target", "http://" + ln.Addr().String()}
	var out bytes.Buffer
	if err := runLoop(args, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"kind":"idle"`) || !strings.Contains(out.String(), "no decisions to train on") {
		t.Errorf("one turn on an empty journal: %s", out.String())
	}
	unlock, err := lockFile(filepath.Join(reg, "LOOP.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := runLoop(args, &out); err == nil || !strings.Contains(err.Error(), "another loop runs") {
		t.Errorf("a second loop on the registry: %v", err)
	}
}
