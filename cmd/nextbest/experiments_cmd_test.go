package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nextbest/examples/retail"
	"nextbest/serve"
)

// TestExperimentsCommand changes a running service's experiments with
// the CLI: put (a file of one experiment), ramp, stop, archive, and a
// refused change's message.
func TestExperimentsCommand(t *testing.T) {
	t.Parallel()
	svc, err := serve.Open(serve.Config{DataDir: t.TempDir(), Catalog: retail.Catalog, FeatureSpec: retail.FeatureSpec,
		DecisionTimeout: 5 * time.Second, JournalNoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go svc.Serve(ln)
	defer svc.Close()
	target := "http://" + ln.Addr().String()
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := runExperiments(append(args, "--target", target), &out)
		return out.String(), err
	}
	file := filepath.Join(t.TempDir(), "e1.yaml")
	os.WriteFile(file, []byte(`name: e1
start: 2026-11-01T00:00:00Z
primary_metric: conversion
arms:
  - {name: control, policy: promoted, share: 0.5}
  - {name: explore, policy: random, share: 0.5}
`), 0o644)
	if out, err := run("put", file); err != nil || !strings.Contains(out, "e1  from 2026-11-01") || !strings.Contains(out, "explore      random       share 0.5") {
		t.Fatalf("put: %v\n%s", err, out)
	}
	if out, err := run("ramp", "e1", "control=0.9", "explore=0.1"); err != nil || !strings.Contains(out, "share 0.1") {
		t.Fatalf("ramp: %v\n%s", err, out)
	}
	if _, err := run("ramp", "e1", "nope=0.1"); err == nil || !strings.Contains(err.Error(), `no arm "nope"`) {
		t.Errorf("ramp of an unknown arm: %v", err)
	}
	if out, err := run("stop", "e1"); err != nil || !strings.Contains(out, "until ") {
		t.Fatalf("stop: %v\n%s", err, out)
	}
	if out, err := run("archive", "e1"); err != nil || !strings.Contains(out, "no live experiments") {
		t.Fatalf("archive: %v\n%s", err, out)
	}
}
