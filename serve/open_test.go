package serve_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nextbest/examples/retail"
	"nextbest/serve"
)

// TestOpenFailsCleanly checks that a failed Open returns an error, not a
// panic, and leaves nothing open behind it: the same data dir opens
// afterwards. Each case fails at a different depth of Open, so that the
// cleanup meets a different subset of opened parts.
func TestOpenFailsCleanly(t *testing.T) {
	exps := parseExperiments(t, `experiments:
  - name: champion
    start: 2024-01-01T00:00:00Z
    primary_metric: conversion
    arms:
      - {name: online, policy: online, share: 1}
      - {name: v7, policy: "model:7", share: 1}
`)
	cases := []struct {
		name  string
		bad   func(*serve.Config)
		input string // InputError.Input, or "" for another error
		want  string
	}{
		{"bad feature spec", func(c *serve.Config) { c.FeatureSpec = []byte("vector: [\n") }, serve.InputFeatureSpec, "YAML"},
		{"bad catalog", func(c *serve.Config) {
			c.Catalog = []byte(strings.Replace(string(c.Catalog), "channels: [web, app]\n", "channels: [web, fax]\n", 1))
		}, serve.InputCatalog, `"fax"`},
		{"bad profiles", func(c *serve.Config) { c.Profiles = []byte("not json\n") }, serve.InputProfiles, "line 1"},
		// fails last, with the state store, the learner, the journal and
		// the periodic tasks running
		{"experiment without a registry", func(c *serve.Config) { c.Experiments = exps }, serve.InputExperiments, "model:7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := retailConfig(dir)
			c.bad(&cfg)
			svc, err := serve.Open(cfg)
			if err == nil {
				svc.Close()
				t.Fatal("Open succeeded")
			}
			if svc != nil {
				t.Errorf("Open returned a service with its error %v", err)
			}
			var ie *serve.InputError
			if !errors.As(err, &ie) || ie.Input != c.input {
				t.Errorf("error %v (%T), want an InputError for %q", err, err, c.input)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			svc, err = serve.Open(retailConfig(dir))
			if err != nil {
				t.Fatalf("Open after a failed Open: %v", err)
			}
			if err := svc.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOpenLockedDataDir opens the same data dir twice: the second Open
// says the dir is in use, and the first service is unharmed.
func TestOpenLockedDataDir(t *testing.T) {
	dir := t.TempDir()
	in := start(t, retailConfig(dir))
	_, err := serve.Open(retailConfig(dir))
	if err == nil || !strings.Contains(err.Error(), "is in use") || !strings.Contains(err.Error(), "LOCK") {
		t.Fatalf("second Open: %v, want an error saying the data dir's LOCK is held", err)
	}
	in.mustCall("GET", "/readyz", nil, 200)
}

// TestProfilesPath: profiles named by path are loaded at the first start,
// as Profiles are.
func TestProfilesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "profiles.jsonl")
	if err := os.WriteFile(path, retail.Profiles, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := retailConfig(t.TempDir())
	cfg.Profiles, cfg.ProfilesPath = nil, path
	in := start(t, cfg)
	in.mustCall("GET", "/v1/profiles/c-0001", nil, 200)
}
