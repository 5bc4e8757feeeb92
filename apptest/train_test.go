package apptest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeTrainPromoteServe is the offline loop end to end, with real
// processes: serve → traffic → journal → nextbest train → nextbest models
// promote → the running service picks the new model up and serves it.
func TestServeTrainPromoteServe(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	data, reg := t.TempDir(), filepath.Join(t.TempDir(), "registry")
	srv := startServer(t, data, "--registry", reg)

	// traffic: customers of the demo set; conversions favour discounts
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 600 {
		cust := fmt.Sprintf("c-%04d", 1+r.IntN(200))
		code, out, err := srv.post("/v1/decide", map[string]any{"customer_id": cust, "channel": "web", "limit": 2,
			"context": map[string]any{"page": "cart", "cart_value": 40 + float64(i%50)}})
		if err != nil || code != 200 {
			t.Fatalf("decide: %d %v %v", code, out, err)
		}
		for _, a := range out["actions"].([]any) {
			id := a.(map[string]any)["action_id"].(string)
			p := 0.05
			if strings.Contains(id, "shipping") || strings.Contains(id, "10") || strings.Contains(id, "15") {
				p = 0.3
			}
			if r.Float64() < p {
				if code, o, err := srv.post("/v1/outcomes", map[string]any{"decision_id": out["decision_id"], "action_id": id, "reward": 1}); err != nil || code != 202 {
					t.Fatalf("outcome: %d %v %v", code, o, err)
				}
			}
		}
	}
	if _, m := srv.get("/v1/models"); m["serving"] != "linucb" {
		t.Fatalf("before training: serving %v", m["serving"])
	}

	// train from the live journal (read-only while the service appends)
	runCLI(t, "train", "--journal", filepath.Join(data, "journal"), "--model", "logistic", "--registry", reg, "--seed", "1", "--quiet")
	list := runCLI(t, "models", "list", "--registry", reg)
	if !strings.Contains(list, "1") {
		t.Fatalf("models list:\n%s", list)
	}
	runCLI(t, "models", "promote", "1", "--registry", reg)

	// the service picks it up (the admin reload; the registry watcher
	// would within its poll interval)
	code, out, err := srv.post("/admin/models/reload", nil)
	if err != nil || code != 200 {
		t.Fatalf("reload: %d %v %v", code, out, err)
	}
	serving, _ := out["serving"].(string)
	if !strings.HasSuffix(serving, "@v1") {
		t.Fatalf("after promotion serving %q", serving)
	}
	code, dec, err := srv.post("/v1/decide", map[string]any{"customer_id": "c-0001", "channel": "web", "context": map[string]any{"page": "cart", "cart_value": 60}})
	if err != nil || code != 200 || dec["policy"] != serving {
		t.Fatalf("decision after promotion: %d %v %v", code, dec, err)
	}
}

// TestEvalAndReportCommands runs the analysts' commands on a real
// service's journal: nextbest eval journal (a rule and the logging-like
// candidate) and nextbest report for an experiment, as a data scientist and
// a marketer would.
func TestEvalAndReportCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	data := t.TempDir()
	exps := filepath.Join(t.TempDir(), "experiments.yaml")
	write(t, exps, cliSplitExperiments)
	srv := startServer(t, data, "--experiments", exps)
	r := rand.New(rand.NewPCG(8, 9))
	for i := range 400 {
		code, out, err := srv.post("/v1/decide", map[string]any{"customer_id": fmt.Sprintf("c-%04d", 1+i%200), "channel": "app"})
		if err != nil || code != 200 {
			t.Fatalf("decide: %d %v %v", code, out, err)
		}
		acts := out["actions"].([]any)
		if len(acts) > 0 && r.Float64() < 0.2 {
			id := acts[0].(map[string]any)["action_id"]
			srv.post("/v1/outcomes", map[string]any{"decision_id": out["decision_id"], "action_id": id, "reward": 1, "type": "conversion"})
		}
	}
	journalDir := filepath.Join(data, "journal")
	ev := runCLI(t, "eval", "journal", "--journal", journalDir, "--rule", "uniform")
	for _, want := range []string{"IPS", "SNIPS", "DR", "rounds used"} {
		if !strings.Contains(ev, want) {
			t.Errorf("eval journal output lacks %q:\n%s", want, ev)
		}
	}
	outDir := t.TempDir()
	rep := runCLI(t, "report", "--journal", journalDir, "--experiments", exps, "--out", outDir)
	if !strings.Contains(rep, "cli-split") {
		t.Errorf("report output:\n%s", rep)
	}
	var found int
	filepath.WalkDir(outDir, func(p string, d os.DirEntry, err error) error {
		switch filepath.Base(p) {
		case "report.html", "report.json", "report.csv":
			found++
		}
		return nil
	})
	if found != 3 {
		t.Errorf("report wrote %d of report.html, .json, .csv in %s", found, outDir)
	}
}
