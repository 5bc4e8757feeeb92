package serve_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestContactLimitsUnderConcurrency fires concurrent decisions for one
// fresh customer restricted to an action capped at 3 impressions a day:
// however they interleave, the action is given exactly 3 times. Before
// the reservation, the cap was checked against impressions applied after
// the journal commit, so concurrent decisions all saw the old count (41
// of 50 in one run).
func TestContactLimitsUnderConcurrency(t *testing.T) {
	in := start(t, retailConfig(t.TempDir()))
	const n = 50
	for round := range 3 {
		customer := fmt.Sprintf("fresh-%d", round)
		var wg sync.WaitGroup
		var mu sync.Mutex
		given, empty := 0, 0
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, body := in.call("POST", "/v1/decide", map[string]any{
					"customer_id": customer, "channel": "web", "candidates": []string{"free-shipping"},
					"context": map[string]any{"page": "cart", "cart_value": 120.5},
				})
				if code != 200 {
					t.Errorf("decide: %d %v", code, body)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if acts, _ := body["actions"].([]any); len(acts) > 0 {
					given++
				} else {
					empty++
				}
			}()
		}
		wg.Wait()
		if given != 3 || empty != n-3 {
			t.Errorf("round %d: free-shipping (max 3 per 24h) given %d times, %d empty answers; want 3 and %d", round, given, empty, n-3)
		}
	}
}

// TestOverloadIsShed bounds the decisions in flight to two and fires
// fifty at once: every answer is a decision or an immediate 503 with
// Retry-After, and the shed counter counts the 503s.
func TestOverloadIsShed(t *testing.T) {
	cfg := retailConfig(t.TempDir())
	cfg.MaxInFlight = 2
	in := start(t, cfg)
	const n = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := in.raw("POST", "/v1/decide", fmt.Sprintf(`{"customer_id":"c-%04d","channel":"web"}`, 1+i%200))
			mu.Lock()
			defer mu.Unlock()
			codes[resp.StatusCode]++
			if resp.StatusCode == 503 {
				if resp.Header.Get("Retry-After") == "" {
					t.Errorf("503 without Retry-After: %s", body)
				}
				if !strings.Contains(body, "overloaded") {
					t.Errorf("503 body %s", body)
				}
			}
		}()
	}
	wg.Wait()
	if codes[200]+codes[503] != n || codes[200] == 0 {
		t.Fatalf("answers %v: want only 200s and 503s, some 200s", codes)
	}
	if got := in.metricValue(`nextbest_shed_total{kind="decide"}`); got != float64(codes[503]) {
		t.Errorf("nextbest_shed_total = %v, want %d", got, codes[503])
	}
	t.Logf("answers: %v", codes)
}
