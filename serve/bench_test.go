package serve_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/examples/retail"
	"nextbest/serve"
)

// The HTTP benchmarks compare decide over HTTP with a bare fasthttp
// handler answering a small JSON body, on the same machine, in the same
// run, with the same client. Both report req/s and latency percentiles;
// make bench prints their ratio.

const benchConns = 64

func benchCatalog() []byte {
	var b strings.Builder
	b.WriteString("version: 1\nchannels: [web, app, email, call_centre]\nactions:\n")
	cats := []string{"discount", "content", "cross_sell", "retention", "service", "loyalty"}
	for i := range 20 {
		fmt.Fprintf(&b, "  - id: act-%02d\n    channels: [web, app]\n    value: %d\n", i, 1+i%7)
		if i%3 == 0 {
			b.WriteString("    eligible: '(context.cart_value ?? 0) >= 0'\n")
		}
		fmt.Fprintf(&b, "    limits: [{max: 1000000, window: 1h}]\n    features: {category: %s, discount: %.2f}\n", cats[i%len(cats)], float64(i%5)/10)
	}
	return []byte(b.String())
}

func benchProfiles(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"customer_id":"b-%05d","stage":"consideration","attributes":{"tier":"silver","age":%d},"counters":{"visits_7d":{"value":3,"at":"2026-11-20T00:00:00Z"}},"last_event":{"page_view":"2026-11-21T00:00:00Z"}}`+"\n", i, 20+i%50)
	}
	return []byte(b.String())
}

// benchService opens a service on the bench catalog and customers
// profiles with the journal options of journal (its other fields are set
// here), serves it on a loopback port until the benchmark ends, and
// returns a client of conns connections and one decide body per customer,
// each sent once to warm the profile cache.
func benchService(b *testing.B, customers, conns int, journal serve.Config) (*fasthttp.HostClient, [][]byte) {
	cfg := journal
	cfg.DataDir, cfg.Catalog, cfg.FeatureSpec, cfg.Profiles = b.TempDir(), benchCatalog(), retail.FeatureSpec, benchProfiles(customers)
	cfg.Explorer, cfg.Logger = serveBenchExplorer, testLogger()
	svc, err := serve.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go svc.Serve(ln)
	bodies := make([][]byte, customers)
	for i := range bodies {
		bodies[i], _ = json.Marshal(map[string]any{"customer_id": fmt.Sprintf("b-%05d", i), "channel": "web", "limit": 3,
			"context": map[string]any{"page": "cart", "cart_value": 42.5, "device": "mobile"}})
	}
	hc := &fasthttp.HostClient{Addr: ln.Addr().String(), MaxConns: conns}
	for _, body := range bodies {
		if code := post(b, hc, "/v1/decide", body); code != 200 {
			b.Fatalf("warm-up: status %d", code)
		}
	}
	return hc, bodies
}

func BenchmarkHTTPDecide(b *testing.B) {
	// This one measures throughput and latency below overload (shedding is
	// BenchmarkHTTPOverload's): a budget a loaded machine cannot outlast
	// keeps a slow fsync from turning into a 503 that stops the run.
	hc, bodies := benchService(b, 5000, benchConns, serve.Config{DecisionTimeout: time.Second,
		JournalNoSync: os.Getenv("NB_NOSYNC") != "", JournalPreallocate: os.Getenv("NB_NOPREALLOC") == ""})
	runLoad(b, hc, "/v1/decide", bodies)
}

func BenchmarkHTTPBare(b *testing.B) {
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"decision_id":"0123456789abcdef0123456789abcdef","actions":[]}`)
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown()
	body, _ := json.Marshal(map[string]any{"customer_id": "b-00001", "channel": "web", "limit": 3,
		"context": map[string]any{"page": "cart", "cart_value": 42.5, "device": "mobile"}})
	hc := &fasthttp.HostClient{Addr: ln.Addr().String(), MaxConns: benchConns}
	runLoad(b, hc, "/v1/decide", [][]byte{body})
}

// newPost returns a pooled JSON POST request to path and a response.
func newPost(hc *fasthttp.HostClient, path string) (*fasthttp.Request, *fasthttp.Response) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI("http://" + hc.Addr + path)
	req.Header.SetMethod("POST")
	req.Header.SetContentType("application/json")
	return req, resp
}

func post(b *testing.B, hc *fasthttp.HostClient, path string, body []byte) int {
	req, resp := newPost(hc, path)
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetBody(body)
	if err := hc.DoTimeout(req, resp, 10*time.Second); err != nil {
		b.Fatal(err)
	}
	return resp.StatusCode()
}

// runLoad sends b.N requests from benchConns concurrent clients and
// reports throughput and latency percentiles.
func runLoad(b *testing.B, hc *fasthttp.HostClient, path string, bodies [][]byte) {
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.ReportAllocs()
	b.SetParallelism((benchConns + 1) / 2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := newPost(hc, path)
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			i := next.Add(1)
			req.SetBody(bodies[int(i)%len(bodies)])
			t0 := time.Now()
			if err := hc.DoTimeout(req, resp, 10*time.Second); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(t0))
			if resp.StatusCode() != 200 {
				b.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
				return
			}
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

var serveBenchExplorer = retailExplorer()

// BenchmarkHTTPOverload offers decide far more concurrent requests
// (overloadConns connections, each sending back to back) than the
// admission bound admits, and reports what an overloaded service must
// keep: the p99 latency of the decisions it accepts, how fast it sheds
// the rest, and the share it shed. Each b.N is one request.
func BenchmarkHTTPOverload(b *testing.B) {
	const overloadConns = 512
	hc, bodies := benchService(b, 5000, overloadConns, serve.Config{JournalPreallocate: true})
	var next atomic.Int64
	var mu sync.Mutex
	var ok, shed []time.Duration
	b.ResetTimer()
	b.SetParallelism((overloadConns + 1) / 2)
	b.RunParallel(func(pb *testing.PB) {
		req, resp := newPost(hc, "/v1/decide")
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		var lok, lshed []time.Duration
		for pb.Next() {
			req.SetBody(bodies[int(next.Add(1))%len(bodies)])
			t0 := time.Now()
			if err := hc.DoTimeout(req, resp, 10*time.Second); err != nil {
				b.Error(err)
				return
			}
			d := time.Since(t0)
			switch resp.StatusCode() {
			case 200:
				lok = append(lok, d)
			case 503:
				lshed = append(lshed, d)
			default:
				b.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
				return
			}
		}
		mu.Lock()
		ok, shed = append(ok, lok...), append(shed, lshed...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64(len(ok))/b.Elapsed().Seconds(), "ok/s")
	b.ReportMetric(float64(len(shed))/float64(max(1, len(ok)+len(shed))), "shed-share")
	if len(ok) > 0 {
		slices.Sort(ok)
		b.ReportMetric(float64(ok[len(ok)*99/100].Microseconds())/1000, "ok-p99-ms")
	}
	if len(shed) > 0 {
		slices.Sort(shed)
		b.ReportMetric(float64(shed[len(shed)*99/100].Microseconds())/1000, "shed-p99-ms")
	}
}

// BenchmarkDecideBatch: a campaign's decisions through POST
// /v1/decide/batch, batches of 1,000 customers, two batches in flight,
// journal fsynced: decisions/s (the target, 100k customers in under a
// minute, is 1,667/s).
func BenchmarkDecideBatch(b *testing.B) {
	hc, bodies := benchService(b, 5000, 4, serve.Config{DecisionTimeout: time.Second, JournalPreallocate: true})
	const size = 1000
	batches := make([][]byte, 0, len(bodies)/size)
	for i := 0; i+size <= len(bodies); i += size {
		var buf bytes.Buffer
		buf.WriteString(`{"decisions":[`)
		for k, body := range bodies[i : i+size] {
			if k > 0 {
				buf.WriteByte(',')
			}
			buf.Write(body)
		}
		buf.WriteString(`]}`)
		batches = append(batches, buf.Bytes())
	}
	var next atomic.Int64
	b.SetParallelism(1)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := newPost(hc, "/v1/decide/batch")
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		for pb.Next() {
			req.SetBody(batches[int(next.Add(1))%len(batches)])
			if err := hc.DoTimeout(req, resp, 60*time.Second); err != nil || resp.StatusCode() != 200 {
				b.Errorf("batch: %v %d %.200s", err, resp.StatusCode(), resp.Body())
				return
			}
			if n := bytes.Count(resp.Body(), []byte(`"status":200`)); n != size {
				b.Errorf("%d of %d decided", n, size)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "decisions/s")
}
