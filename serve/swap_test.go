package serve_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"nextbest/examples/retail"
	"nextbest/features"
	"nextbest/models"
)

// registry is where promote saves: a models.Registry, or the cluster's
// stream.Registry.
type registry interface {
	Save(*models.Artifact) (int, error)
	Promote(int) error
}

// promote trains a small ridge model on random data, saves it in the
// registry at dir and promotes it; it returns the version.
func promote(t *testing.T, reg registry, seed uint64, specHash string) int {
	t.Helper()
	spec, err := features.ParseSpec(retail.FeatureSpec)
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.NewRidge(models.RidgeConfig{Dim: spec.Dim(), Name: "offline"})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float64, spec.Dim())
	for range 100 {
		for i := range x {
			x[i] = r.Float64()
		}
		m.Update(0, x, r.Float64())
	}
	m.Publish()
	art, err := models.NewArtifact(models.Metadata{Name: "offline", FeatureSpec: specHash, Source: "test"}, m)
	if err != nil {
		t.Fatal(err)
	}
	v, err := reg.Save(art)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Promote(v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestHotSwapUnderLoad promotes models again and again while clients make
// decisions: no decision fails, each is served by one of the models, and
// after each reload the promoted one serves.
func TestHotSwapUnderLoad(t *testing.T) {
	regDir := t.TempDir()
	reg, err := models.OpenRegistry(regDir)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := features.ParseSpec(retail.FeatureSpec)
	cfg := retailConfig(t.TempDir())
	cfg.Registry = regDir
	cfg.JournalNoSync = true
	in := start(t, cfg)
	if out := in.mustCall("GET", "/v1/models", nil, 200); out["serving"] != "linucb" {
		t.Fatalf("before any promotion: serving %v", out["serving"])
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	policies := map[string]int{}
	failures := 0
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, out := in.call("POST", "/v1/decide", map[string]any{"customer_id": fmt.Sprintf("c-%04d", 1+(c*50+i)%200), "channel": "app", "limit": 2})
				mu.Lock()
				if code != 200 {
					failures++
				} else {
					policies[out["policy"].(string)]++
				}
				mu.Unlock()
			}
		}()
	}
	const swaps = 6
	for k := range swaps {
		v := promote(t, reg, uint64(k+1), spec.Hash())
		out := in.mustCall("POST", "/admin/models/reload", nil, 200)
		if want := fmt.Sprintf("offline@v%d", v); out["serving"] != want || out["changed"] != true {
			t.Errorf("after promoting v%d: %v", v, out)
		}
		// a decision made now is served by the promoted model
		dec := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "c-0001", "channel": "web"}, 200)
		if dec["policy"] != fmt.Sprintf("offline@v%d", v) {
			t.Errorf("decision after reload served by %v", dec["policy"])
		}
	}
	close(stop)
	wg.Wait()
	if failures > 0 {
		t.Errorf("%d decisions failed during swaps", failures)
	}
	for p := range policies {
		if p != "linucb" && !strings.HasPrefix(p, "offline@v") {
			t.Errorf("unexpected policy %q", p)
		}
	}
	t.Logf("decisions by policy during the swaps: %v", policies)

	// a promoted artifact trained on another feature spec is refused and
	// the current model keeps serving
	bad := promote(t, reg, 99, strings.Repeat("ab", 32)) // a well-formed hash of another spec
	code, out := in.call("POST", "/admin/models/reload", nil)
	if code != 422 || !strings.Contains(fmt.Sprint(out), "spec") {
		t.Errorf("reload of a mismatched model: %d %v", code, out)
	}
	if got := in.mustCall("GET", "/v1/models", nil, 200)["serving"]; got != fmt.Sprintf("offline@v%d", bad-1) {
		t.Errorf("after a refused promotion serving %v", got)
	}
}
