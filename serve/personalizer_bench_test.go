package serve_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/serve"
)

// BenchmarkPersonalizerRank: one Personalizer rank call over HTTP at a
// time (its latency, not the server's throughput), 10 actions with two
// features each and four context features, a new eventId per call, the
// journal fsynced (NB_NOSYNC=1: not), the model trained on 500 earlier
// events.
func BenchmarkPersonalizerRank(b *testing.B) {
	cfg := retailConfig(b.TempDir())
	cfg.JournalNoSync = os.Getenv("NB_NOSYNC") != ""
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
	hc := &fasthttp.HostClient{Addr: ln.Addr().String(), MaxConns: 1}
	actions := make([]any, 10)
	for i := range actions {
		actions[i] = map[string]any{"id": fmt.Sprintf("article-%d", i), "features": []any{map[string]any{"category": fmt.Sprint(i % 4), "minutes": float64(i)}}}
	}
	body := func(i int) []byte {
		b, _ := json.Marshal(map[string]any{"actions": actions, "eventId": fmt.Sprintf("bench-%d", i), "contextFeatures": []any{
			map[string]any{"user": map[string]any{"segment": fmt.Sprint(i % 5), "visits": float64(i % 9)}},
			map[string]any{"device": "mobile", "timeOfDay": fmt.Sprint(i % 3)}}})
		return b
	}
	req, resp := newPost(hc, "/personalizer/v1.0/rank")
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	rank := func(i int) {
		req.SetBody(body(i))
		if err := hc.DoTimeout(req, resp, 10*time.Second); err != nil || resp.StatusCode() != 201 {
			b.Fatalf("rank: %v %d %s", err, resp.StatusCode(), resp.Body())
		}
	}
	for i := range 500 {
		rank(-1 - i)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		rank(i)
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
