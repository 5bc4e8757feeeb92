package serve_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/cluster"
	"nextbest/cluster/rstore"
	"nextbest/cluster/stream"
	"nextbest/examples/retail"
	"nextbest/internal/engines"
	"nextbest/serve"
)

// Decide at a fixed offered rate, open loop: a pacer hands requests to a
// pool of workers on a fixed schedule (one every 1/rate), whatever the
// service answers, and each latency is measured from the request's
// scheduled send time. A slow answer therefore does not slow the load
// down, and is not hidden (no coordinated omission): whatever waits
// behind it counts its wait.
const (
	rateDecisions = 1000            // offered decisions per second
	rateDuration  = 3 * time.Second // of one b.N
	rateCustomers = 1000            // distinct customers, cycled through
)

// rateWorkers is how many requests may be in flight at once (one
// connection each): as many as the service admits before it sheds
// (Config.MaxInFlight's default): 128 on two cores, 1,000/s × 128 ms.
// A request scheduled while all are busy waits for one, and that wait
// counts in its latency (and in send-lag).
var rateWorkers = serve.DefaultMaxInFlight * runtime.GOMAXPROCS(0)

// BenchmarkClusterDecideAtRate offers rateDecisions decisions/s over HTTP
// on loopback to one instance in cluster mode (state on a real
// redis-server with appendfsync always, journal on a real nats-server's
// JetStream with sync_interval always) and, in the same run, to one
// instance in embedded mode (Pebble + the fsynced journal), on the bench
// catalog (bench_test.go). Each b.N is rateDuration of offered load; the
// reported ns/op, B/op and allocs/op are per decision (client and service
// share the process). Besides the latency percentiles it reports the
// service's own mean split of a decision (nextbest_decide_stage_seconds):
// compute (including, in cluster mode, the contact reservation in Redis)
// and journal (the durable append and the state update it waits for).
func BenchmarkClusterDecideAtRate(b *testing.B) {
	for _, mode := range []string{"embedded", "cluster"} {
		b.Run(mode, func(b *testing.B) {
			cfg := serve.Config{
				DataDir: b.TempDir(), Catalog: benchCatalog(), FeatureSpec: retail.FeatureSpec,
				Profiles: benchProfiles(rateCustomers), Explorer: serveBenchExplorer, Logger: testLogger(),
				// as BenchmarkHTTPDecide: a budget a loaded machine cannot
				// outlast, so that a slow fsync is measured, not shed
				DecisionTimeout: time.Second,
			}
			if mode == "cluster" {
				cfg.Cluster = &cluster.Config{
					Instance: "bench-1",
					Redis:    rstore.Config{Addr: engines.Redis(b).Addr},
					NATS:     stream.Config{URL: engines.NATS(b).URL},
				}
			} else {
				cfg.JournalPreallocate = true // as nextbest serve runs it
			}
			in := start(b, cfg)
			hc := &fasthttp.HostClient{Addr: strings.TrimPrefix(in.base, "http://"), MaxConns: rateWorkers}
			bodies := make([][]byte, rateCustomers)
			for i := range bodies {
				bodies[i], _ = json.Marshal(map[string]any{"customer_id": fmt.Sprintf("b-%05d", i), "channel": "web", "limit": 3,
					"context": map[string]any{"page": "cart", "cart_value": 42.5, "device": "mobile"}})
			}
			warmUp(b, hc, bodies)
			runAtRate(b, hc, bodies)
		})
	}
}

// warmUp sends every body once, 16 at a time: profiles are read once
// (cached), connections are open, before anything is measured.
func warmUp(b *testing.B, hc *fasthttp.HostClient, bodies [][]byte) {
	var wg sync.WaitGroup
	next := make(chan []byte)
	for range 16 {
		wg.Go(func() {
			req, resp := newPost(hc, "/v1/decide")
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for body := range next {
				req.SetBody(body)
				if err := hc.DoTimeout(req, resp, 10*time.Second); err != nil || resp.StatusCode() != 200 {
					b.Errorf("warm-up: %v, status %d", err, resp.StatusCode())
				}
			}
		})
	}
	for _, body := range bodies {
		next <- body
	}
	close(next)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// runAtRate runs b.N periods of rateDuration at rateDecisions/s and
// reports the latency percentiles from the scheduled send times, the
// achieved rate, the send lag, and the service's stage split.
func runAtRate(b *testing.B, hc *fasthttp.HostClient, bodies [][]byte) {
	n := b.N * int(rateDecisions*rateDuration/time.Second)
	interval := time.Second / rateDecisions
	lat := make([]time.Duration, n) // done - scheduled
	// sent - scheduled: the pacer's lateness (Go's timers wake an idle
	// process with millisecond resolution), or all workers busy
	lag := make([]time.Duration, n)
	status := make([]int, n) // -1: transport error
	stagesBefore := decideStages(b, hc)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	t0 := time.Now().Add(5 * time.Millisecond)
	sched := func(i int) time.Time { return t0.Add(time.Duration(i) * interval) }
	queue := make(chan int, n)
	var wg sync.WaitGroup
	var lastDone time.Time
	var mu sync.Mutex
	for range rateWorkers {
		wg.Go(func() {
			req, resp := newPost(hc, "/v1/decide")
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			var last time.Time
			for i := range queue {
				req.SetBody(bodies[i%len(bodies)])
				lag[i] = time.Since(sched(i))
				err := hc.DoTimeout(req, resp, 10*time.Second)
				done := time.Now()
				lat[i], last = done.Sub(sched(i)), done
				if status[i] = resp.StatusCode(); err != nil {
					status[i] = -1
				}
			}
			mu.Lock()
			if last.After(lastDone) {
				lastDone = last
			}
			mu.Unlock()
		})
	}
	for i := range n {
		if d := time.Until(sched(i)); d > 0 {
			time.Sleep(d)
		}
		queue <- i
	}
	close(queue)
	wg.Wait()
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	stagesAfter := decideStages(b, hc)

	failed := 0
	for i, s := range status {
		if s != 200 {
			if failed++; failed <= 3 {
				b.Errorf("decision %d: status %d", i, s)
			}
		}
	}
	if failed > 0 {
		b.Errorf("%d of %d decisions failed", failed, n)
	}
	elapsed := lastDone.Sub(t0)
	slices.Sort(lat)
	slices.Sort(lag)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[n/2]), "p50-ms")
	b.ReportMetric(ms(lat[n*99/100]), "p99-ms")
	b.ReportMetric(ms(lat[n-1]), "max-ms")
	b.ReportMetric(float64(n-failed)/elapsed.Seconds(), "achieved-rps")
	b.ReportMetric(ms(lag[n*99/100]), "send-lag-p99-ms")
	for _, st := range []string{"compute", "journal"} {
		sum := stagesAfter[st+"_sum"] - stagesBefore[st+"_sum"]
		cnt := stagesAfter[st+"_count"] - stagesBefore[st+"_count"]
		if cnt > 0 {
			b.ReportMetric(sum/cnt*1000, st+"-mean-ms")
		}
	}
	// per decision, not per b.N (rateDuration of them)
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(n), "ns/op")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(n), "B/op")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(n), "allocs/op")
}

// decideStages reads the sums and counts of nextbest_decide_stage_seconds
// from /metrics, keyed "compute_sum", "journal_count", ...
func decideStages(b *testing.B, hc *fasthttp.HostClient) map[string]float64 {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + hc.Addr + "/metrics")
	if err := hc.DoTimeout(req, resp, 10*time.Second); err != nil || resp.StatusCode() != 200 {
		b.Fatalf("/metrics: %v, status %d", err, resp.StatusCode())
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(resp.Body()))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), `{stage="`)
		kind, ok2 := strings.CutPrefix(name, "nextbest_decide_stage_seconds_")
		if !ok || !ok2 || (kind != "sum" && kind != "count") {
			continue
		}
		stage, val, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[stage+"_"+kind] = v
		}
	}
	return out
}
