package driver_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"nextbest/eval/sim"
	"nextbest/eval/sim/driver"
	"nextbest/examples/retail"
	"nextbest/serve"
)

// TestDriveRealService runs the simulator's HTTP driver against a real
// service on a loopback port and checks that what the driver counted is
// what the service says it journaled.
func TestDriveRealService(t *testing.T) {
	svc, err := serve.Open(serve.Config{
		DataDir: t.TempDir(), Catalog: retail.Catalog, FeatureSpec: retail.FeatureSpec, Profiles: retail.Profiles,
		Seed: 7, JournalNoSync: true, Logger: slog.New(slog.DiscardHandler),
		// a loaded machine must not turn a decision into a 503 whose
		// record is journaled all the same: this test counts records
		DecisionTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ln) }()
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Error(err)
		}
		<-done
	})
	base := "http://" + ln.Addr().String()

	const decisions = 300
	d, err := driver.New(driver.Config{
		Target: base, Decisions: decisions, Duration: time.Minute, Concurrency: 4, Limit: 2,
		Population: sim.Config{Customers: 300, Seed: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	sum, err := d.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Errors != 0 {
		t.Fatalf("%d failed requests: %v", sum.Errors, sum.ErrorKinds)
	}
	if sum.Decisions != decisions {
		t.Errorf("driver counted %d decisions, want %d", sum.Decisions, decisions)
	}
	if sum.Events == 0 || sum.Outcomes == 0 {
		t.Errorf("want events and outcomes, got %d events, %d outcomes", sum.Events, sum.Outcomes)
	}
	if want := sum.Decisions + sum.Events + sum.Outcomes; sum.Requests != want {
		t.Errorf("requests %d, want decisions+events+outcomes = %d", sum.Requests, want)
	}
	if !(sum.OracleShare > 0 && sum.OracleShare <= 1) || sum.Latency.Count != decisions || !(sum.Latency.P99 >= sum.Latency.P50) {
		t.Errorf("oracle share %v, latency %+v", sum.OracleShare, sum.Latency)
	}

	m := scrape(t, base+"/metrics")
	check := func(name string, want int64) {
		t.Helper()
		if got := m[name]; got != float64(want) {
			t.Errorf("service %s = %v, driver counted %d", name, got, want)
		}
	}
	check("nextbest_decisions_total", sum.Decisions)
	check("nextbest_events_total", sum.Events)
	check("nextbest_outcomes_total", sum.Outcomes)
	// WaitLearned waits for the learner to reach the journal's last record,
	// but the learner only advances on records it learns from (decisions
	// with actions, outcomes), and a run usually ends with events: end on
	// a decision of our own.
	resp, err := http.Post(base+"/v1/decide", "application/json",
		strings.NewReader(`{"customer_id":"c-0001","channel":"web","context":{"page":"home"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := svc.WaitLearned(ctx); err != nil {
		t.Fatal(err)
	}
	if svc.Model().Updates() == 0 {
		t.Error("the online model learned nothing from the simulated traffic")
	}
}

// scrape reads the Prometheus text at url and sums each metric over its
// labels.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		name := line[:sp]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[name] += v
	}
	return out
}

func TestRefusesRemoteAndUnbounded(t *testing.T) {
	cases := []struct {
		name string
		cfg  driver.Config
	}{
		{"remote host", driver.Config{Target: "http://example.com:8080", Decisions: 1}},
		{"remote ip", driver.Config{Target: "http://10.0.0.1:8080", Decisions: 1}},
		{"unbounded", driver.Config{Target: "http://127.0.0.1:8080"}},
		{"not http", driver.Config{Target: "ftp://127.0.0.1", Decisions: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := driver.New(c.cfg); err == nil {
				t.Errorf("New(%+v) accepted", c.cfg)
			}
		})
	}
	for _, h := range []string{"127.0.0.1", "::1", "localhost", "127.0.0.2"} {
		if !driver.IsLoopback(h) {
			t.Errorf("%s is loopback", h)
		}
	}
}
