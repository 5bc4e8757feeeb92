package serve_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"nextbest/cluster"
	"nextbest/cluster/rstore"
	"nextbest/cluster/stream"
	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/features"
	"nextbest/internal/engines"
	"nextbest/serve"
	"nextbest/training/online"
)

// testCluster is a Redis and a NATS server for the cluster path's tests.
type testCluster struct {
	redis, nats *engines.Server
	n           atomic.Int32
}

func newTestCluster(t *testing.T) *testCluster {
	t.Helper()
	return &testCluster{redis: engines.Redis(t), nats: engines.NATS(t)}
}

// config returns the retail config of one more instance of the cluster,
// its snapshot under a fresh directory.
func (c *testCluster) config(t *testing.T) serve.Config {
	return c.configIn(t, t.TempDir())
}

func (c *testCluster) configIn(t *testing.T, dir string) serve.Config {
	cfg := retailConfig(dir)
	cfg.Cluster = &cluster.Config{
		Instance: fmt.Sprintf("i%d", c.n.Add(1)),
		Redis:    rstore.Config{Addr: c.redis.Addr},
		NATS:     stream.Config{URL: c.nats.URL},
		LeaseTTL: time.Second,
	}
	return cfg
}

// TestClusterAPI runs the API's tests on the cluster path: the same
// tests as the embedded path's (e2e_test.go), on Redis and JetStream.
func TestClusterAPI(t *testing.T) {
	t.Parallel()
	for name, test := range map[string]func(*testing.T, serve.Config){
		"EndToEnd": testEndToEnd, "BadInput": testBadInput,
		"IdempotentRequestID": testIdempotentRequestID, "Explain": testExplain, "Activate": testActivate,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newTestCluster(t)
			test(t, c.configIn(t, t.TempDir()))
		})
	}
}

// TestClusterReports: the cluster path does not compute the dashboard's
// reports (they read the embedded journal): each answers 501, and
// ComputeReports says why.
func TestClusterReports(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	in := start(t, c.config(t))
	for _, name := range []string{"campaigns", "journeys", "attribution", "clv"} {
		if code, out := in.call("GET", "/v1/reports/"+name, nil); code != 501 || out["error"].(map[string]any)["code"] != "not_implemented" {
			t.Errorf("GET /v1/reports/%s: %d %v", name, code, out)
		}
	}
	if err := in.svc.ComputeReports(context.Background()); err == nil || !strings.Contains(err.Error(), "cluster") {
		t.Errorf("ComputeReports: %v", err)
	}
}

// TestClusterContactCap: fifty concurrent decisions for one customer,
// spread over three instances, on an action capped at 3 a week give it at
// most 3 times in all, not 3 per instance.
func TestClusterContactCap(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	ins := []*instance{start(t, c.config(t)), start(t, c.config(t)), start(t, c.config(t))}
	var given, answered atomic.Int32
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out := ins[i%3].call("POST", "/v1/decide", map[string]any{
				"customer_id": "cap-1", "channel": "web", "candidates": []string{"welcome-15"},
			})
			if code != 200 {
				t.Errorf("decision %d: %d %v", i, code, out)
				return
			}
			answered.Add(1)
			for _, a := range actionsOf(t, out) {
				if a["action_id"] == "welcome-15" {
					given.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if g := given.Load(); g != 3 {
		t.Errorf("welcome-15 (max 3 per 7d) given %d times by three instances to one customer, want 3 (%d answered)", g, answered.Load())
	}
	// and the profile holds exactly those impressions
	prof := ins[1].mustCall("GET", "/v1/profiles/cap-1", nil, 200)
	imps := prof["contacts"].(map[string]any)["welcome-15"].(map[string]any)["impressions"].([]any)
	if len(imps) != 3 {
		t.Errorf("profile holds %d impressions of welcome-15, want 3", len(imps))
	}
}

// TestClusterDeferredCap: deferred decisions made on one instance and
// activated on another take a contact limit exactly when activated (the
// activation's reservation is a Redis key, deleted by the applier with
// the impressions it records).
func TestClusterDeferredCap(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	testDeferredCap(t, start(t, c.config(t)), start(t, c.config(t)))
}

// TestClusterFreshness measures how long after a 2xx on one instance the
// other instances' profile reads reflect it: the bound is 100 ms.
func TestClusterFreshness(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	a, b := start(t, c.config(t)), start(t, c.config(t))
	const bound = 100 * time.Millisecond
	var worst time.Duration
	for i := range 20 {
		// b reads (and caches) the profile first, so that what is measured
		// is the invalidation, not a first read
		id := fmt.Sprintf("fresh-%d", i%4)
		b.call("GET", "/v1/profiles/"+id, nil)
		a.mustCall("POST", "/v1/events", map[string]any{"customer_id": id, "type": "page_view"}, 202)
		acked := time.Now()
		want := float64(i/4 + 1)
		for {
			code, p := b.call("GET", "/v1/profiles/"+id, nil)
			if code == 200 {
				if v, _ := p["counters"].(map[string]any)["visits_7d"].(map[string]any)["value"].(float64); v >= want {
					break
				}
			}
			if time.Since(acked) > 5*time.Second {
				t.Fatalf("instance b never saw event %d", i)
			}
			time.Sleep(time.Millisecond)
		}
		worst = max(worst, time.Since(acked))
	}
	t.Logf("freshness: the slowest of 20 writes was visible on the other instance %v after its 2xx (bound %v)", worst, bound)
	if worst > bound {
		t.Errorf("a write was visible on another instance only %v after its 2xx; the bound is %v", worst, bound)
	}
}

// TestClusterPromotion promotes a model in the cluster's registry
// (JetStream) while three instances decide under load: every instance
// serves it within a second, and no decision fails.
func TestClusterPromotion(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	ins := []*instance{start(t, c.config(t)), start(t, c.config(t)), start(t, c.config(t))}
	spec, _ := features.ParseSpec(retail.FeatureSpec)
	st, err := stream.Open(context.Background(), stream.Config{URL: c.nats.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg, err := st.Registry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed, made atomic.Int32
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				code, out := ins[i].call("POST", "/v1/decide", map[string]any{"customer_id": fmt.Sprintf("c-%04d", k%200), "channel": "web"})
				made.Add(1)
				if code != 200 {
					failed.Add(1)
					t.Errorf("instance %d: %d %v", i, code, out)
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	var worst time.Duration
	for round := range 3 {
		v := promote(t, reg, uint64(round+1), spec.Hash())
		promoted := time.Now()
		for i, in := range ins {
			for {
				out := in.mustCall("GET", "/v1/models", nil, 200)
				if out["promoted_version"] == float64(v) && out["serving"] == fmt.Sprintf("offline@v%d", v) {
					break
				}
				if time.Since(promoted) > 5*time.Second {
					t.Fatalf("instance %d does not serve version %d: %v", i, v, out)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		worst = max(worst, time.Since(promoted))
	}
	close(stop)
	wg.Wait()
	t.Logf("promotion: every instance served the new version within %v (bound 1s); %d decisions, %d failed", worst, made.Load(), failed.Load())
	if worst > time.Second {
		t.Errorf("a promotion took %v to reach every instance; the bound is 1s", worst)
	}
}

// TestClusterRebuildsRedisFromStream: Redis loses everything (FLUSHALL)
// while the instance is down; on restart the applier applies the stream
// again from LSN 1, though the instance's model snapshot is ahead of
// Redis: decisions are known again, profiles hold their impressions, and
// the model does not learn anything twice.
func TestClusterRebuildsRedisFromStream(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	dir := t.TempDir()
	cfg := c.configIn(t, dir)
	in := start(t, cfg)
	dec := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "c-0007", "channel": "web"}, 200)
	id := dec["decision_id"].(string)
	act := actionsOf(t, dec)[0]["action_id"].(string)
	in.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": id, "action_id": act, "reward": 1}, 202)
	in.mustCall("POST", "/v1/events", map[string]any{"customer_id": "c-0007", "type": "page_view"}, 202)
	if err := in.svc.WaitLearned(context.Background()); err != nil {
		t.Fatal(err)
	}
	updates := in.svc.Model().Updates()
	before := in.mustCall("GET", "/v1/profiles/c-0007", nil, 200)
	in.stop()

	r, err := rstore.Open(rstore.Config{Addr: c.redis.Addr})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Client().Do(context.Background(), r.Client().B().Flushall().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	r.Close()

	in2 := start(t, cfg)
	if err := in2.svc.WaitLearned(context.Background()); err != nil {
		t.Fatal(err)
	}
	if u := in2.svc.Model().Updates(); u != updates {
		t.Errorf("model updates %d after the rebuild, want %d (nothing learned twice)", u, updates)
	}
	after := in2.mustCall("GET", "/v1/profiles/c-0007", nil, 200)
	for _, k := range []string{"contacts", "counters", "last_event"} {
		if fmt.Sprint(before[k]) != fmt.Sprint(after[k]) {
			t.Errorf("profile %s after the rebuild:\n%v\nwant\n%v", k, after[k], before[k])
		}
	}
	out := in2.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": id, "action_id": act, "reward": 1}, 202)
	if out["duplicate"] != true {
		t.Errorf("the re-sent outcome after the rebuild: %v, want a duplicate", out)
	}
}

// TestClusterNewInstanceStartsFromSharedSnapshot: the lease holder shares
// its model snapshot in JetStream; a new instance (an empty data
// directory) starts from it, so it needs no record the stream no longer
// holds: after the stream is purged below the snapshot, the new
// instance's model equals the first's.
func TestClusterNewInstanceStartsFromSharedSnapshot(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	cfgA := c.config(t)
	cfgA.SnapshotEvery = 50 * time.Millisecond
	a := start(t, cfgA)
	for i := range 30 {
		dec := a.mustCall("POST", "/v1/decide", map[string]any{"customer_id": fmt.Sprintf("c-%04d", i+1), "channel": "web"}, 200)
		if i%3 == 0 {
			a.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": dec["decision_id"], "action_id": actionsOf(t, dec)[0]["action_id"], "reward": 1}, 202)
		}
	}
	if err := a.svc.WaitLearned(context.Background()); err != nil {
		t.Fatal(err)
	}
	updates := a.svc.Model().Updates()
	st, err := stream.Open(context.Background(), stream.Config{URL: c.nats.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg, err := st.Registry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	last, err := st.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// wait until a shared snapshot reflects part of the stream (the
	// learner writes one as it learns)
	spec, _ := features.ParseSpec(retail.FeatureSpec)
	cat, err := decide.ParseCatalog(retail.Catalog, spec)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var lastErr error
	var snapLSN uint64
	for {
		b, err := reg.GetBlob("online-cluster.state")
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			path := filepath.Join(t.TempDir(), "snap")
			os.WriteFile(path, b, 0o644)
			_, from, err := online.LoadSnapshot(path, cat)
			if err == nil && from > 0 && from <= last {
				snapLSN = from
				break
			}
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("no shared snapshot (%v)", lastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	js, err := st.JetStream().Stream(context.Background(), "NEXTBEST")
	if err != nil {
		t.Fatal(err)
	}
	// the stream forgets what the snapshot holds
	if err := js.Purge(context.Background(), jetstream.WithPurgeSequence(snapLSN+1)); err != nil {
		t.Fatal(err)
	}
	t.Logf("shared snapshot at LSN %d of %d; the stream purged below %d", snapLSN, last, snapLSN+1)
	b := start(t, c.config(t))
	if err := b.svc.WaitLearned(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := b.svc.Model().Updates(); got != updates {
		t.Errorf("the new instance's model has %d updates, the first's %d: it did not start from the shared snapshot", got, updates)
	}
	if probe(t, a) != probe(t, b) {
		t.Error("the new instance's model predicts differently")
	}
}
