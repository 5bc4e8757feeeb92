package apptest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"nextbest/examples/retail"
	"nextbest/features"
	"nextbest/internal/journaltest"
	"nextbest/models"
)

// The loop end to end through real processes: "nextbest serve" with a
// registry, traffic from a known truth, and "nextbest loop --once" run as
// a process for each turn. The loop shadows, canaries and promotes a
// model the service then serves; then a forced bad model (a constant
// ridge, through the canary with the gate off) is rolled back; no request
// fails.

func TestLoopEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
	dir := t.TempDir()
	data, reg := filepath.Join(dir, "data"), filepath.Join(dir, "models")
	write(t, filepath.Join(dir, "catalog.yaml"), journaltest.FourActions)
	config := filepath.Join(dir, "config.yaml")
	write(t, config, fmt.Sprintf("catalog: %s\nregistry: %s\nregistry_poll: 100ms\nseed: 5\nexplorer: {kind: epsilon_greedy, epsilon: 0.3}\n",
		filepath.Join(dir, "catalog.yaml"), reg))
	// the service starts on a model that knows nothing: every estimate is
	// equal, so it serves the first action but for its exploration
	spec, err := features.ParseSpec(retail.FeatureSpec)
	if err != nil {
		t.Fatal(err)
	}
	r, err := models.OpenRegistry(reg)
	if err != nil {
		t.Fatal(err)
	}
	blank, err := models.NewRidge(models.RidgeConfig{Dim: spec.Dim(), Actions: 4, Name: "blank"})
	if err != nil {
		t.Fatal(err)
	}
	blank.Publish()
	art, err := models.NewArtifact(models.Metadata{Name: "blank", FeatureSpec: spec.Hash(), ActionIDs: []string{"a-home", "a-product", "a-cart", "a-none"}}, blank)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Save(art); err != nil {
		t.Fatal(err)
	}
	runCLI(t, "models", "promote", "1", "--config", config, "--reason", "the starting model")
	s := startServer(t, data, "--config", config)

	var mu sync.Mutex
	failed := 0
	rnd := rand.New(rand.NewPCG(5, 6))
	pages := []string{"home", "product", "cart"}
	// traffic makes n decisions (4 at a time) and posts the outcomes the
	// truth draws: on each page one action converts with 0.6, the others
	// with 0.1
	traffic := func(n int) {
		var wg sync.WaitGroup
		work := make(chan int)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					mu.Lock()
					page := pages[rnd.IntN(3)]
					u := rnd.Float64()
					mu.Unlock()
					code, out, err := s.post("/v1/decide", map[string]any{"customer_id": fmt.Sprintf("c-%04d", i%500), "channel": "web", "context": map[string]any{"page": page}})
					if err != nil || code != 200 {
						mu.Lock()
						failed++
						mu.Unlock()
						continue
					}
					act := out["actions"].([]any)[0].(map[string]any)["action_id"].(string)
					p := 0.1
					if act == "a-"+page {
						p = 0.6
					}
					if u < p {
						if code, _, err := s.post("/v1/outcomes", map[string]any{"decision_id": out["decision_id"], "action_id": act, "reward": 1, "type": "conversion"}); err != nil || code != 202 {
							mu.Lock()
							failed++
							mu.Unlock()
						}
					}
				}
			}()
		}
		for i := range n {
			work <- i
		}
		close(work)
		wg.Wait()
	}
	turn := func(evalFrom time.Time, extra ...string) map[string]any {
		t.Helper()
		args := append([]string{"loop", "--once", "--config", config, "--data", data, "--target", s.base,
			"--train-window", "1h", "--eval-window", time.Since(evalFrom).Round(time.Millisecond).String(),
			"--min-rounds", "300", "--min-ess", "30", "--canary-share", "0.5"}, extra...)
		out, err := exec.Command(binary, args...).Output()
		if err != nil {
			t.Fatalf("nextbest %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		var turn map[string]any
		if err := json.Unmarshal(out, &turn); err != nil {
			t.Fatalf("loop printed %q: %v", out, err)
		}
		t.Logf("loop turn: %s %s", turn["kind"], turn["reason"])
		return turn
	}

	traffic(1500)
	evalFrom := time.Now()
	traffic(1000)
	if got := turn(evalFrom)["kind"]; got != "shadow_running" {
		t.Fatalf("first turn: %v", got)
	}
	traffic(800)
	if got := turn(evalFrom)["kind"]; got != "canary_started" {
		t.Fatalf("second turn: %v", got)
	}
	traffic(2400)
	promoted := turn(evalFrom)
	if promoted["kind"] != "canary_promoted" {
		t.Fatalf("third turn: %v", promoted)
	}
	// the service serves the promoted model
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, out, err := s.post("/v1/decide", map[string]any{"customer_id": "c-x", "channel": "web", "context": map[string]any{"page": "cart"}})
		if err == nil && out["policy"] == fmt.Sprintf("linucb@v%v", promoted["version"]) && out["experiment"] == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service does not serve the promoted model: %v %v", out, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// a forced bad model: constant estimates, through the canary
	evalFrom = time.Now()
	traffic(600)
	if got := turn(evalFrom, "--no-gate", "--no-shadow", "--lambda", "1e12")["kind"]; got != "canary_started" {
		t.Fatalf("the forced canary: %v", got)
	}
	traffic(2400)
	if got := turn(evalFrom); got["kind"] != "canary_rolled_back" {
		t.Fatalf("the bad canary was not rolled back: %v", got)
	}
	hist := runCLI(t, "models", "history", "--config", config)
	for _, want := range []string{"gate_passed", "shadow_running", "canary_started", "promoted", "canary_promoted", "canary_rolled_back"} {
		if !strings.Contains(hist, want) {
			t.Errorf("models history lacks %s:\n%s", want, hist)
		}
	}
	if failed != 0 {
		t.Errorf("%d requests failed", failed)
	}
}
