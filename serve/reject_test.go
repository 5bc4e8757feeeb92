package serve_test

import (
	"fmt"
	"strings"
	"testing"
)

const rejectCatalog = `
version: 1
channels: [web]
actions:
  - {id: offer, channels: [web], value: 5, suppress_after_rejects: {count: 3, within: 30d, for: 10d}}
  - {id: plain, channels: [web], value: 1}
`

// testRejects: the default "reject" outcome type records the customer's
// rejections in their profile; after the third, the action is suppressed
// on the next decision on whichever instance (ins[1] on the cluster),
// with the rule in the explanation.
func testRejects(t *testing.T, ins ...*instance) {
	a, b := ins[0], ins[len(ins)-1]
	offered := func(in *instance) (bool, string) {
		dec := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "rej-1", "channel": "web", "limit": 2, "explain": true}, 200)
		dropped, _ := dec["explain"].(map[string]any)["dropped"].([]any)
		for _, d := range dropped {
			if m := d.(map[string]any); m["action_id"] == "offer" {
				return false, fmt.Sprint(m["reason"])
			}
		}
		for _, x := range actionsOf(t, dec) {
			if x["action_id"] == "offer" {
				id := fmt.Sprint(dec["decision_id"])
				a.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": id, "action_id": "offer", "type": "reject", "reward": 0}, 202)
				return true, ""
			}
		}
		t.Fatalf("offer neither shown nor dropped: %v", dec)
		return false, ""
	}
	for i := range 3 {
		if ok, why := offered(b); !ok {
			t.Fatalf("decision %d: offer dropped after %d rejects (%s)", i, i, why)
		}
	}
	ok, why := offered(b)
	if ok || !strings.Contains(why, "suppressed for 10d after 3 rejects within 30d") {
		t.Fatalf("after 3 rejects: offered %v (%s)", ok, why)
	}
	p := b.mustCall("GET", "/v1/profiles/rej-1", nil, 200)
	if r := p["contacts"].(map[string]any)["offer"].(map[string]any)["rejects"].([]any); len(r) != 3 {
		t.Errorf("profile rejects %v", r)
	}
}

func TestRejects(t *testing.T) {
	t.Parallel()
	cfg := retailConfig(t.TempDir())
	cfg.Catalog, cfg.Profiles = []byte(rejectCatalog), nil
	testRejects(t, start(t, cfg))
}

func TestClusterRejects(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	a, b := c.config(t), c.config(t)
	a.Catalog, a.Profiles = []byte(rejectCatalog), nil
	b.Catalog, b.Profiles = []byte(rejectCatalog), nil
	testRejects(t, start(t, a), start(t, b))
}
