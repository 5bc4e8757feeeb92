package apptest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

// TestEvalJournalSlatePI: a real service answers ranked decisions of two
// slots with their explanations journaled ("explain": true); nextbest
// eval journal --slots 2 then estimates the uniform ranking's slate
// reward with the pseudo-inverse on every decision: the logging policy's
// per-slot conditionals are recovered from the journaled scores and
// reproduce every logged propensity (no mismatch), and the table and
// the JSON carry PI, SNPI and the paired difference from the serving
// policy.
func TestEvalJournalSlatePI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	dir := t.TempDir()
	srv := startServing(t, filepath.Join(dir, "data"), "--profiles", "none")
	r := rand.New(rand.NewPCG(5, 6))
	const n = 120
	for i := range n {
		code, out, err := srv.post("/v1/decide", map[string]any{"customer_id": fmt.Sprintf("c-%04d", i), "channel": "web", "limit": 2, "explain": true,
			"context": map[string]any{"page": []string{"home", "cart"}[i%2], "cart_value": float64(20 + i%80), "device": "mobile"}})
		if err != nil || code != 200 {
			t.Fatalf("decide: %d %v %v", code, out, err)
		}
		acts, _ := out["actions"].([]any)
		for k, a := range acts {
			if r.Float64() < 0.3/float64(k+1) {
				srv.mustPost(t, "/v1/outcomes", map[string]any{"decision_id": out["decision_id"], "action_id": a.(map[string]any)["action_id"], "reward": 1, "type": "click"})
			}
		}
	}
	srv.stop()
	journalDir := filepath.Join(dir, "data", "journal")
	var res struct {
		Slate struct {
			Estimates struct {
				PI, SNPI struct {
					Value float64 `json:"value"`
					Lo    float64 `json:"ci_lo"`
					Hi    float64 `json:"ci_hi"`
				}
				Decisions int `json:"decisions"`
			} `json:"estimates"`
			Rounds map[string]int `json:"rounds"`
		} `json:"slate"`
		SlateError string `json:"slate_error"`
	}
	raw := runCLI(t, "eval", "journal", "--journal", journalDir, "--rule", "uniform", "--slots", "2", "--json")
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, raw)
	}
	st := res.Slate.Rounds
	if res.SlateError != "" || st["used"] != n || st["propensity_mismatch"] != 0 || st["from_explanation"]+st["from_fallback"] != n {
		t.Fatalf("slate rounds %v, error %q\n%s", st, res.SlateError, raw)
	}
	pi := res.Slate.Estimates.PI
	if !(pi.Lo <= pi.Value && pi.Value <= pi.Hi) || res.Slate.Estimates.Decisions != n {
		t.Errorf("PI %+v over %d decisions", pi, res.Slate.Estimates.Decisions)
	}
	table := runCLI(t, "eval", "journal", "--journal", journalDir, "--rule", "uniform", "--slots", "2")
	for _, want := range []string{"slate reward, pseudo-inverse", "PI ", "SNPI", "difference, paired (PI)", fmt.Sprintf("%d decisions (logging policy from", n)} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}
