package apptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"nextbest/examples/retail"
	"nextbest/features"
)

// cliFixture is the journal of a real service run with a configuration
// file that the offline commands read too.
type cliFixture struct {
	config   string // nextbest serve's YAML, with the fields below
	journal  string // DATA/journal, the service stopped
	registry string // the config's registry (empty)
	signups  int    // outcomes of the config's own type "signup" posted
}

// newCLIFixture runs "nextbest serve --config" with an outcome type of
// its own ("signup", learning reward 2), a registry and an experiment,
// sends 300 decisions with conversions and signups, and stops it.
func newCLIFixture(t *testing.T) *cliFixture {
	t.Helper()
	dir := t.TempDir()
	f := &cliFixture{config: filepath.Join(dir, "nextbest.yaml"), journal: filepath.Join(dir, "data", "journal"),
		registry: filepath.Join(dir, "registry")}
	exps := filepath.Join(dir, "experiments.yaml")
	write(t, exps, cliSplitExperiments)
	write(t, f.config, fmt.Sprintf(`registry: %s
experiments: %s
attribution_window: 2d
profiles: none
outcome_types:
  - {name: conversion, conversion: true}
  - {name: signup, reward: {weight: 2}}
`, f.registry, exps))
	srv := startServing(t, filepath.Join(dir, "data"), "--config", f.config)
	r := rand.New(rand.NewPCG(11, 12))
	for i := range 300 {
		code, out, err := srv.post("/v1/decide", map[string]any{"customer_id": fmt.Sprintf("c-%04d", i%150), "channel": "web", "limit": 2,
			"context": map[string]any{"page": "cart", "cart_value": float64(20 + i%80), "device": "mobile"}})
		if err != nil || code != 200 {
			t.Fatalf("decide: %d %v %v", code, out, err)
		}
		acts, _ := out["actions"].([]any)
		if len(acts) == 0 {
			continue
		}
		id := acts[0].(map[string]any)["action_id"]
		switch x := r.Float64(); {
		case x < 0.15:
			srv.mustPost(t, "/v1/outcomes", map[string]any{"decision_id": out["decision_id"], "action_id": id, "reward": 1, "type": "conversion"})
		case x < 0.25:
			srv.mustPost(t, "/v1/outcomes", map[string]any{"decision_id": out["decision_id"], "action_id": id, "reward": 1, "type": "signup"})
			f.signups++
		}
	}
	srv.stop()
	return f
}

// cliSplitExperiments is an experiment of two arms, a random control and
// the online bandit, that the analysts' commands report on.
const cliSplitExperiments = `experiments:
  - name: cli-split
    start: 2026-01-01T00:00:00Z
    control: control
    arms:
      - {name: control, policy: random, share: 1}
      - {name: bandit, policy: online, share: 1}
`

// write writes content to the file path, failing t on error.
func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runCLISplit runs the binary with args, failing t if it fails, and
// returns its stdout and stderr apart.
func runCLISplit(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("nextbest %s: %v\n%s%s", strings.Join(args, " "), err, &o, &e)
	}
	return o.String(), e.String()
}

// joinedOutcomes reads "N outcomes joined" from train's journal line.
func joinedOutcomes(t *testing.T, stderr string) string {
	t.Helper()
	m := regexp.MustCompile(`journal: (\d+) decisions, (\d+) outcomes joined`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no journal line in:\n%s", stderr)
	}
	return m[1] + " decisions, " + m[2] + " joined"
}

// TestCLIOffline runs the offline commands on a real service's journal,
// as an operator would, with the service's own configuration file:
// train saves into the config's registry with the config's outcome types
// (a flag overrides the file), models list, show and promote it, eval
// journal estimates it and report writes its files.
func TestCLIOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	f := newCLIFixture(t)
	specHash := retailSpecHash(t)

	t.Run("train, models list, show, promote, eval", func(t *testing.T) {
		t.Parallel()
		stdout, stderr := runCLISplit(t, "train", "--config", f.config, "--journal", f.journal, "--model", "logistic", "--seed", "1")
		if want := fmt.Sprintf("saved version 1 in %s", f.registry); !strings.Contains(stdout, want) {
			t.Fatalf("train does not say %q:\n%s", want, stdout)
		}
		if !strings.Contains(stdout, "model") || !strings.Contains(stdout, "log loss") {
			t.Errorf("train prints no summary:\n%s", stdout)
		}
		withTypes := joinedOutcomes(t, stderr)

		list := runCLI(t, "models", "list", "--config", f.config)
		row := regexp.MustCompile(`(?m)^1\s+logistic\s+logistic\s+\d+\s.*journal ` + regexp.QuoteMeta(f.journal) + `$`)
		if !row.MatchString(list) {
			t.Fatalf("models list does not show version 1 from the journal:\n%s", list)
		}

		var meta struct {
			Version     int                `json:"version"`
			Type        string             `json:"type"`
			Name        string             `json:"name"`
			FeatureSpec string             `json:"feature_spec"`
			Source      string             `json:"source"`
			Examples    int                `json:"examples"`
			Metrics     map[string]float64 `json:"metrics"`
			Payload     int                `json:"payload_bytes"`
		}
		show := runCLI(t, "models", "show", "1", "--registry", f.registry)
		if err := json.Unmarshal([]byte(show), &meta); err != nil {
			t.Fatalf("models show is not JSON: %v\n%s", err, show)
		}
		if meta.Version != 1 || meta.Type != "logistic" || meta.FeatureSpec != specHash || meta.Source != "journal "+f.journal ||
			meta.Examples == 0 || meta.Payload == 0 {
			t.Errorf("models show 1: %+v", meta)
		}
		if _, ok := meta.Metrics["log_loss"]; !ok {
			t.Errorf("no held-out log loss: %v", meta.Metrics)
		}

		if out := runCLI(t, "models", "promote", "1", "--config", f.config); !strings.Contains(out, "promoted version 1") {
			t.Errorf("models promote: %s", out)
		}
		if list := runCLI(t, "models", "list", "--registry", f.registry); !regexp.MustCompile(`(?m)^1\s+\*\s+logistic`).MatchString(list) {
			t.Errorf("models list does not mark version 1 promoted:\n%s", list)
		}

		// a promotion validates what a serving instance validates: under
		// another feature spec (a half-life changed) version 1 cannot
		// serve, and the refusal changes nothing but is recorded
		spec, err := os.ReadFile("../examples/retail/features.yaml")
		if err != nil {
			t.Fatal(err)
		}
		otherSpec := filepath.Join(t.TempDir(), "features.yaml")
		write(t, otherSpec, strings.Replace(string(spec), "{name: visits_7d,         half_life: 7d,", "{name: visits_7d,         half_life: 6d,", 1))
		if out, err := exec.Command(binary, "models", "promote", "1", "--registry", f.registry, "--features", otherSpec, "--reason", "try").CombinedOutput(); err == nil ||
			!strings.Contains(string(out), "version 1 cannot serve") || !strings.Contains(string(out), "feature spec") {
			t.Errorf("promoting under another feature spec: %v\n%s", err, out)
		}
		hist := runCLI(t, "models", "history", "--registry", f.registry)
		if !regexp.MustCompile(`(?m)promoted\s+1\s+0\s+cli`).MatchString(hist) || !regexp.MustCompile(`(?m)refused\s+1\s+1\s+cli\s+.*feature spec`).MatchString(hist) {
			t.Errorf("models history does not record the promotion and the refusal:\n%s", hist)
		}
		if out, err := exec.Command(binary, "models", "rollback", "--registry", f.registry).CombinedOutput(); err == nil || !strings.Contains(string(out), "no earlier promoted version") {
			t.Errorf("rollback past the first promotion: %v\n%s", err, out)
		}

		ev := runCLI(t, "eval", "journal", "--config", f.config, "--journal", f.journal, "--version", "1")
		for _, want := range []string{"candidate logistic", "IPS", "SNIPS", "DR", "rounds used", "serving policy (realised)", "difference, paired"} {
			if !strings.Contains(ev, want) {
				t.Errorf("eval journal of version 1 lacks %q:\n%s", want, ev)
			}
		}

		// without the config, "signup" is no declared type: its outcomes
		// are not joined, and the model goes to the registry of the flag
		other := filepath.Join(t.TempDir(), "other")
		stdout, stderr = runCLISplit(t, "train", "--journal", f.journal, "--registry", other)
		if !strings.Contains(stdout, "saved version 1 in "+other) {
			t.Errorf("train --registry:\n%s", stdout)
		}
		without := joinedOutcomes(t, stderr)
		t.Logf("with the config's outcome types: %s; without: %s (%d signups posted)", withTypes, without, f.signups)
		if withTypes == without || f.signups == 0 {
			t.Errorf("the config's outcome types made no difference (%d signups): with %s, without %s", f.signups, withTypes, without)
		}
		// a flag overrides the file
		flagged := filepath.Join(t.TempDir(), "flagged")
		stdout, _ = runCLISplit(t, "train", "--config", f.config, "--registry", flagged, "--journal", f.journal, "--model", "lints")
		if !strings.Contains(stdout, "saved version 1 in "+flagged) {
			t.Errorf("--registry does not override the config's registry:\n%s", stdout)
		}
	})

	t.Run("eval journal", func(t *testing.T) {
		t.Parallel()
		var out struct {
			Target    string           `json:"target"`
			Estimates []map[string]any `json:"estimates"`
		}
		raw := runCLI(t, "eval", "journal", "--journal", f.journal, "--config", f.config, "--rule", "uniform", "--json")
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatalf("eval journal --json: %v\n%s", err, raw)
		}
		names := map[string]bool{}
		for _, e := range out.Estimates {
			names[fmt.Sprint(e["estimator"])] = true
		}
		if out.Target != "uniform" || !names["IPS"] || !names["DR"] {
			t.Errorf("eval journal --rule uniform: target %q, estimators %v", out.Target, names)
		}
		// the first two slots as a ranking: a total per estimator, a value
		// per slot, and the paired comparison with the serving policy
		var slots struct {
			Slots map[string]struct {
				Total map[string]any   `json:"total"`
				Slots []map[string]any `json:"slots"`
			} `json:"slots"`
			Comparison map[string]any `json:"comparison"`
		}
		raw = runCLI(t, "eval", "journal", "--journal", f.journal, "--config", f.config, "--rule", "uniform", "--slots", "2", "--json")
		if err := json.Unmarshal([]byte(raw), &slots); err != nil {
			t.Fatalf("eval journal --slots 2 --json: %v\n%s", err, raw)
		}
		dr, ok := slots.Slots["DR"]
		if !ok || len(dr.Slots) != 2 || dr.Total["value"] == nil || slots.Comparison == nil {
			t.Errorf("eval journal --slots 2: %s", raw)
		}
	})

	t.Run("report", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		// the experiments file comes from the config
		out := runCLI(t, "report", "--config", f.config, "--journal", f.journal, "--out", dir)
		if !strings.Contains(out, "== cli-split: "+filepath.Join(dir, "report.html")) {
			t.Errorf("report output:\n%s", out)
		}
		var rep map[string]any
		data, err := os.ReadFile(filepath.Join(dir, "report.json"))
		if err != nil || json.Unmarshal(data, &rep) != nil {
			t.Fatalf("report.json: %v\n%s", err, data)
		}
		for _, name := range []string{"report.html", "report.csv"} {
			if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

// retailSpecHash is the hash of the shipped feature spec, the one a
// service without --features serves.
func retailSpecHash(t *testing.T) string {
	t.Helper()
	spec, err := features.ParseSpec(retail.FeatureSpec)
	if err != nil {
		t.Fatal(err)
	}
	return spec.Hash()
}

// TestCLIUsageErrors: a bad flag or argument of any command is one line
// on stderr and exit status 1; a missing or unknown command prints the
// usage and exits 2; -h prints the command's usage and exits 0 (see
// cmd/nextbest/main.go).
func TestCLIUsageErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	dir := t.TempDir()
	badConfig := filepath.Join(dir, "bad.yaml")
	write(t, badConfig, "attribution_windw: 2d\n")
	cases := []struct {
		args []string
		want []string // in the one line
	}{
		{[]string{"train", "--bogus"}, []string{"train: ", "-bogus", "nextbest train -h"}},
		{[]string{"train"}, []string{"train: give one of --journal"}},
		{[]string{"train", "--journal", dir, "--dsjson", "x.dsjson"}, []string{"give one of"}},
		{[]string{"train", "--journal", dir, "--window", "7x"}, []string{"-window", `"7x"`}},
		{[]string{"train", "--journal", dir, "--layout", "fancy"}, []string{`--layout "fancy"`}},
		{[]string{"train", "--journal", dir, "--feature-mismatch", "ignore"}, []string{`--feature-mismatch "ignore"`}},
		{[]string{"train", "--journal", dir, "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"train", "--journal", dir, "--config", badConfig}, []string{"config " + badConfig, "attribution_windw"}},
		{[]string{"train", "--journal", dir, "--config", filepath.Join(dir, "missing.yaml")}, []string{"config ", "no such file"}},
		{[]string{"train", "--journal", dir, "--catalog", filepath.Join(dir, "missing.yaml")}, []string{"catalog ", "no such file"}},
		{[]string{"models"}, []string{"usage: nextbest models"}},
		{[]string{"models", "frob"}, []string{`unknown models command "frob"`}},
		{[]string{"models", "show", "abc", "--registry", dir}, []string{`version "abc"`}},
		{[]string{"models", "show", "--registry", dir}, []string{"want one VERSION"}},
		{[]string{"models", "list", "--bogus"}, []string{"models list: ", "-bogus"}},
		{[]string{"models", "show", "7", "--registry", dir}, []string{"7"}},
		{[]string{"eval", "journal", "--rule", "uniform"}, []string{"eval journal: --journal is required"}},
		{[]string{"eval", "journal", "--journal", dir}, []string{"name a candidate"}},
		{[]string{"eval", "journal", "--bogus"}, []string{"eval journal: ", "-bogus"}},
		{[]string{"report", "--journal", dir}, []string{"report: ", "--experiments"}},
		{[]string{"report", "--default-reward", "x"}, []string{"-default-reward", `"x"`}},
		{[]string{"report", "attribution"}, []string{"report attribution: --journal is required"}},
		{[]string{"report", "attribution", "--journal", dir, "--by", "x"}, []string{"report attribution: ", `--by "x"`}},
		{[]string{"serve", "--bogus"}, []string{"serve: ", "-bogus"}},
		{[]string{"profiles"}, []string{"usage: nextbest profiles import"}},
		{[]string{"profiles", "import"}, []string{"profiles import: one FILE is required"}},
		{[]string{"profiles", "import", "crm.txt"}, []string{"crm.txt: cannot tell the format", "--format"}},
		{[]string{"profiles", "import", "crm.csv", "--batch", "1001"}, []string{"--batch must be between 1 and 1000"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			line := serveFails(t, c.args...)
			for _, w := range c.want {
				if !strings.Contains(line, w) {
					t.Errorf("the error does not say %q:\n%s", w, line)
				}
			}
		})
	}

	for _, args := range [][]string{nil, {"frob"}} {
		cmd := exec.Command(binary, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "Usage:") {
			t.Errorf("nextbest %v: %v, want exit status 2 and the usage:\n%s", args, err, &stderr)
		}
	}
	for _, args := range [][]string{{"train", "-h"}, {"report", "-h"}, {"report", "attribution", "-h"}, {"eval", "journal", "-h"}, {"models", "list", "-h"}} {
		cmd := exec.Command(binary, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil || !strings.Contains(stderr.String(), "-config") {
			t.Errorf("nextbest %v: %v, want exit status 0 and the flags, --config among them:\n%s", args, err, &stderr)
		}
	}
}
