package serve_test

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestContactPolicyUnderConcurrency: a global contact policy (at most 3
// contacts a week) holds for forty concurrent decisions for one customer
// on the embedded path: the contact ledger reserves the actions a policy
// covers, as it reserves capped ones.
func TestContactPolicyUnderConcurrency(t *testing.T) {
	t.Parallel()
	cfg := retailConfig(t.TempDir())
	cfg.Profiles = nil
	cfg.Catalog = []byte(`
version: 1
channels: [web]
actions:
  - {id: a, channels: [web], value: 3}
  - {id: b, channels: [web], value: 2}
contact_policies:
  - {name: weekly, max: 3, window: 7d}
`)
	in := start(t, cfg)
	var given atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			code, out := in.call("POST", "/v1/decide", map[string]any{"customer_id": "pol-1", "channel": "web"})
			if code != 200 {
				t.Errorf("decide: %d %v", code, out)
				return
			}
			given.Add(int32(len(actionsOf(t, out))))
		})
	}
	wg.Wait()
	if g := given.Load(); g != 3 {
		t.Errorf("%d contacts given under a policy of at most 3 a week", g)
	}
}
