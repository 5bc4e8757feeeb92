package serve_test

import (
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/examples/retail"
	"nextbest/serve"
)

// importBatch and importInFlight are how nextbest profiles import sends
// by default.
const (
	importBatch    = 1000
	importInFlight = 4
)

// BenchmarkProfilesImport imports profiles over loopback HTTP (POST
// /v1/profiles:batch) in batches of 1,000, 4 in flight, into the fsynced
// journal and the state store; one op is one profile. The client shares
// the machine with the service, as the CLI would.
func BenchmarkProfilesImport(b *testing.B) {
	cfg := serve.Config{DataDir: b.TempDir(), Catalog: benchCatalog(), FeatureSpec: retail.FeatureSpec, Logger: testLogger(),
		JournalNoSync: os.Getenv("NB_NOSYNC") != "", JournalPreallocate: os.Getenv("NB_NOPREALLOC") == ""}
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
	hc := &fasthttp.HostClient{Addr: ln.Addr().String(), MaxConns: importInFlight}
	tiers := []string{"bronze", "silver", "gold", "platinum"}
	regions := []string{"north", "south", "east", "west"}
	batches := (b.N + importBatch - 1) / importBatch
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range importInFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := newPost(hc, "/v1/profiles:batch")
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			var body []byte
			for {
				k := int(next.Add(1) - 1)
				if k >= batches {
					return
				}
				body = append(body[:0], `{"profiles":[`...)
				for i := k * importBatch; i < min((k+1)*importBatch, b.N); i++ {
					if i > k*importBatch {
						body = append(body, ',')
					}
					body = append(body, `{"customer_id":"p-`...)
					body = strconv.AppendInt(body, int64(i), 10)
					body = append(body, `","attributes":{"age":`...)
					body = strconv.AppendInt(body, int64(18+i%60), 10)
					body = append(body, `,"region":"`...)
					body = append(body, regions[i%len(regions)]...)
					body = append(body, `","tier":"`...)
					body = append(body, tiers[i/7%len(tiers)]...)
					body = append(body, `","email_opt_in":`...)
					body = strconv.AppendBool(body, i%3 == 0)
					body = append(body, "}}"...)
				}
				body = append(body, "]}"...)
				for {
					req.SetBody(body)
					if err := hc.DoTimeout(req, resp, 30*time.Second); err != nil {
						b.Error(err)
						return
					}
					if resp.StatusCode() == 503 {
						time.Sleep(10 * time.Millisecond)
						continue
					}
					if resp.StatusCode() != 202 {
						b.Errorf("batch %d: status %d: %s", k, resp.StatusCode(), resp.Body())
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "profiles/s")
}
