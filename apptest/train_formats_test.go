package apptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// retailDSJSON writes n DSJSON decisions named after the retail sample's
// feature spec (profile.*, context.*, request.channel, action.*) to a
// file and returns its path. edit, if set, may change each decision's
// context object "c" before it is written.
func retailDSJSON(t *testing.T, n int, edit func(c map[string]any)) string {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	actions := []map[string]any{
		{"id": "free-shipping", "category": "discount", "discount": 0.05},
		{"id": "cart-reminder-10", "category": "discount", "discount": 0.10},
		{"id": "new-arrivals", "category": "content", "discount": 0},
		{"id": "style-guide", "category": "content", "discount": 0},
	}
	stages := []string{"awareness", "consideration", "cart"}
	pages := []string{"home", "product", "cart"}
	var buf bytes.Buffer
	for i := range n {
		page := pages[r.IntN(len(pages))]
		chosen := r.IntN(len(actions))
		p := 0.1
		if page == "cart" && actions[chosen]["category"] == "discount" {
			p = 0.5
		}
		cost := 0.0
		if r.Float64() < p {
			cost = -1
		}
		var multi []any
		for _, a := range actions {
			multi = append(multi, map[string]any{"action": a})
		}
		c := map[string]any{
			"profile": map[string]any{"stage": stages[r.IntN(len(stages))],
				"counters": map[string]any{"visits_7d": r.IntN(9), "product_views_7d": r.IntN(9), "cart_adds_7d": 0,
					"purchases_30d": 0, "spend_30d": 0, "support_calls_30d": 0, "email_clicks_30d": 0},
				"recency":    map[string]any{"purchase": 30},
				"attributes": map[string]any{"age": 30 + r.IntN(40), "tier": "gold", "email_opt_in": true}},
			"context": map[string]any{"page": page, "cart_value": r.IntN(200), "device": "mobile"},
			"request": map[string]any{"channel": "web"},
			"_multi":  multi,
		}
		if edit != nil {
			edit(c)
		}
		line, err := json.Marshal(map[string]any{"_label_cost": cost, "_label_probability": 0.25, "_labelIndex": chosen,
			"Timestamp": fmt.Sprintf("2026-03-01T%02d:%02d:00Z", i/60%24, i%60), "c": c})
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(append(line, '\n'))
	}
	path := filepath.Join(t.TempDir(), "decisions.dsjson")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTrainDSJSONServes: a VW DSJSON decision log written with the
// retail spec's names trains into the registry, "models list" shows it,
// and a service started on the registry serves it once promoted.
func TestTrainDSJSONServes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	file := retailDSJSON(t, 400, nil)
	reg := filepath.Join(t.TempDir(), "registry")
	out := runCLI(t, "train", "--dsjson", file, "--model", "linucb", "--registry", reg, "--seed", "1")
	if !strings.Contains(out, "saved version 1") {
		t.Fatalf("train output:\n%s", out)
	}
	list := runCLI(t, "models", "list", "--registry", reg)
	if !strings.Contains(list, "ridge") || !strings.Contains(list, "linucb") || !strings.Contains(list, "dsjson "+file) {
		t.Fatalf("models list does not show the DSJSON model:\n%s", list)
	}
	runCLI(t, "models", "promote", "1", "--registry", reg)
	srv := startServer(t, t.TempDir(), "--registry", reg)
	if _, m := srv.get("/v1/models"); m["serving"] != "linucb@v1" {
		t.Fatalf("serving %v, want linucb@v1: %v", m["serving"], m)
	}
	code, dec, err := srv.post("/v1/decide", map[string]any{"customer_id": "c-0001", "channel": "web", "context": map[string]any{"page": "cart", "cart_value": 60}})
	if err != nil || code != 200 || dec["policy"] != "linucb@v1" {
		t.Fatalf("decide: %d %v %v", code, dec, err)
	}
}

// TestTrainDSJSONMismatch: a DSJSON file with a feature the spec does not
// know and without one it reads is refused, naming both, and nothing is
// saved; --feature-mismatch warn trains it anyway.
func TestTrainDSJSONMismatch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	file := retailDSJSON(t, 100, func(c map[string]any) {
		c["context"].(map[string]any)["weather"] = "rain"
		delete(c["context"].(map[string]any), "device")
	})
	reg := filepath.Join(t.TempDir(), "registry")
	out, err := exec.Command(binary, "train", "--dsjson", file, "--registry", reg).CombinedOutput()
	if err == nil {
		t.Fatalf("train accepted a mismatched file:\n%s", out)
	}
	for _, want := range []string{"context.weather", "context.device"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("refusal does not name %s:\n%s", want, out)
		}
	}
	if list := runCLI(t, "models", "list", "--registry", reg); strings.Contains(list, "dsjson") {
		t.Errorf("a refused file was saved:\n%s", list)
	}
	out2 := runCLI(t, "train", "--dsjson", file, "--registry", reg, "--feature-mismatch", "warn")
	if !strings.Contains(out2, "warning") || !strings.Contains(out2, "saved version 1") {
		t.Errorf("--feature-mismatch warn:\n%s", out2)
	}
}
