package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigFlagsOverride: a flag given overrides the file's field, even
// with its zero value; a flag not given leaves the file's; a command sees
// only the fields it registered.
func TestConfigFlagsOverride(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nextbest.yaml")
	if err := os.WriteFile(path, []byte("registry: from-file\ndefault_reward: 0.5\nattribution_window: 2d\ncatalog: cat.yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		args    []string
		reg     string
		reward  float64
		window  time.Duration
		catalog string
	}{
		{"file only", []string{"--config", path}, "from-file", 0.5, 48 * time.Hour, "cat.yaml"},
		{"flags win", []string{"--config", path, "--registry", "flag", "--default-reward", "0", "--window", "36h"}, "flag", 0, 36 * time.Hour, "cat.yaml"},
		{"flags without a file", []string{"--window", "1.5d", "--default-reward", "-0.25"}, "", -0.25, 36 * time.Hour, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			cf := addConfigFlags(fs, cfgRegistry|cfgWindow|cfgDefaultReward|cfgCatalog)
			if _, err := parseFlags(fs, c.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := cf.load()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Registry != c.reg || cfg.DefaultReward != c.reward || cfg.AttributionWindow.D() != c.window || cfg.Catalog != c.catalog {
				t.Errorf("registry %q, default reward %v, window %v, catalog %q; want %q, %v, %v, %q",
					cfg.Registry, cfg.DefaultReward, cfg.AttributionWindow.D(), cfg.Catalog, c.reg, c.reward, c.window, c.catalog)
			}
			jc, err := cfg.joinConfig()
			if err != nil || jc.Window != c.window || jc.DefaultReward != c.reward || jc.Outcomes == nil {
				t.Errorf("join config %+v, %v", jc, err)
			}
		})
	}

	fs := flag.NewFlagSet("models list", flag.ContinueOnError)
	addConfigFlags(fs, cfgRegistry)
	if _, err := parseFlags(fs, []string{"--window", "1d"}); err == nil {
		t.Error("a command without the window field took --window")
	}
}

func TestReportsEvery(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "off": -1, "90s": 90 * time.Second, "1d": 24 * time.Hour} {
		if got, err := reportsEvery(in); err != nil || got != want {
			t.Errorf("reportsEvery(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0s", "-5m", "soon"} {
		if _, err := reportsEvery(in); err == nil || !strings.Contains(err.Error(), "reports_every") {
			t.Errorf("reportsEvery(%q): %v", in, err)
		}
	}
}
