package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nextbest/attribution"
	"nextbest/campaigns"
	"nextbest/clv"
	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/journeys"
	"nextbest/logs"
)

// reportsHoldout is a permanent holdout: 20% of the customers are shown
// nothing, so the campaign report has a lift.
const reportsHoldout = `
experiments:
  - name: hold
    holdout: true
    start: 2026-11-01T00:00:00Z
    control: programme
    arms:
      - {name: programme, policy: promoted, share: 0.8}
      - {name: held, policy: none, share: 0.2}
`

// reportsCLV is the CDNOW fit (docs/clv.md), the service's CLV model.
var reportsCLV = &CLVDoc{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426, P: 6.25, Q: 3.74, Gamma: 15.44}

// reportsService is a service for the reports' tests: the retail sample
// keeping purchase histories, a permanent holdout, the CDNOW CLV model,
// and a clock the test moves (later). It logs to log.
type reportsService struct {
	svc   *Service
	base  string
	dir   string
	later *atomic.Int64
	log   *lockedBuffer
	lsn   uint64 // the last LSN an answer named
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func reportsConfig(t *testing.T, dir string, later *atomic.Int64, log io.Writer) Config {
	exps, err := decide.ParseExperiments([]byte(reportsHoldout))
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		DataDir: dir, Catalog: retail.Catalog, FeatureSpec: oaFeatureSpec(), Seed: 7,
		Now: func() time.Time {
			return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).Add(time.Duration(later.Load()))
		},
		Logger:        slog.New(slog.NewTextHandler(log, nil)),
		JournalNoSync: true, DecisionTimeout: 5 * time.Second,
		Experiments: exps, CLVModel: reportsCLV, ReportsEvery: -1,
	}
}

func startReports(t *testing.T, cfg Config, later *atomic.Int64, log *lockedBuffer) *reportsService {
	t.Helper()
	svc, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ln) }()
	rs := &reportsService{svc: svc, base: "http://" + ln.Addr().String(), dir: cfg.DataDir, later: later, log: log}
	t.Cleanup(func() { rs.close(t); <-done })
	return rs
}

func (rs *reportsService) close(t *testing.T) {
	if rs.svc == nil {
		return
	}
	if err := rs.svc.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	rs.svc = nil
}

func (rs *reportsService) do(t *testing.T, method, path string, body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, rs.base+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := oaClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

func (rs *reportsService) post(t *testing.T, path string, body any) map[string]any {
	t.Helper()
	code, _, data := rs.do(t, "POST", path, body)
	var out map[string]any
	json.Unmarshal(data, &out)
	if code/100 != 2 {
		t.Fatalf("POST %s: %d %s", path, code, data)
	}
	if lsn, ok := out["lsn"].(float64); ok {
		rs.lsn = max(rs.lsn, uint64(lsn))
	}
	return out
}

// report gets a report and decodes it; it fails t unless the status is want.
func (rs *reportsService) report(t *testing.T, path string, want int) (reportAnswer, http.Header, string) {
	t.Helper()
	code, h, data := rs.do(t, "GET", path, nil)
	if code != want {
		t.Fatalf("GET %s: %d, want %d: %s", path, code, want, data)
	}
	var a reportAnswer
	if code == 200 {
		if err := json.Unmarshal(data, &a); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return a, h, string(data)
}

// traffic sends two days of journeys: customer i views a page on web and
// is asked for a decision; every second one adds to cart and is asked
// again; every fourth one buys (a purchase outcome on the first action
// shown, and a purchase event); two days later every eighth one buys
// again, and every fifth one is asked on email.
func (rs *reportsService) traffic(t *testing.T, customers int) (buyers []string) {
	t.Helper()
	decide := func(c, ch string, ctx map[string]any) (string, string) {
		d := rs.post(t, "/v1/decide", map[string]any{"customer_id": c, "channel": ch, "limit": 2, "context": ctx})
		if acts, _ := d["actions"].([]any); len(acts) > 0 {
			return d["decision_id"].(string), acts[0].(map[string]any)["action_id"].(string)
		}
		return "", ""
	}
	for i := range customers {
		c := fmt.Sprintf("r-%02d", i)
		rs.post(t, "/v1/events", map[string]any{"customer_id": c, "type": "page_view", "channel": "web"})
		decide(c, "web", map[string]any{"page": "product"})
		if i%2 == 0 {
			rs.post(t, "/v1/events", map[string]any{"customer_id": c, "type": "add_to_cart", "channel": "web"})
			id, act := decide(c, "web", map[string]any{"page": "cart", "cart_value": 60.0})
			if i%4 == 0 {
				buyers = append(buyers, c)
				if id != "" {
					rs.post(t, "/v1/outcomes", map[string]any{"decision_id": id, "action_id": act, "type": "purchase", "reward": 40 + i})
				}
				rs.post(t, "/v1/events", map[string]any{"customer_id": c, "type": "purchase", "channel": "web", "properties": map[string]any{"amount": 40 + i}})
			}
		}
		if i%5 == 0 {
			decide(c, "email", nil)
		}
	}
	rs.later.Add(int64(48 * time.Hour))
	for i := 0; i < customers; i += 8 {
		c := fmt.Sprintf("r-%02d", i)
		rs.post(t, "/v1/events", map[string]any{"customer_id": c, "type": "purchase", "channel": "app", "properties": map[string]any{"amount": 25.0}})
	}
	return buyers
}

// waitComputed returns once a computation that ends after the call has
// ended (a computation under way when it is called counts).
func (rs *reportsService) waitComputed(t *testing.T, kick func()) {
	t.Helper()
	r := rs.svc.reports
	r.mu.Lock()
	ch := r.computed
	r.mu.Unlock()
	kick()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatal("no computation of the reports ended within a minute")
	}
}

// TestReports: GET /v1/reports/{name} before any computation (503 with
// Retry-After), after ?refresh=1 (the same JSON as the report packages
// give for the service's journal and configuration — what nextbest
// report writes), the refresh's rate limit, bad queries, the CLV
// figures against clv.Predict on each buyer's profile, a failure that
// keeps the previous result and is logged once, and the reports after a
// restart (computed at the start, from the journal: they survive it).
func TestReports(t *testing.T) {
	dir := t.TempDir()
	var later atomic.Int64
	log := new(lockedBuffer)
	cfg := reportsConfig(t, dir, &later, log)
	rs := startReports(t, cfg, &later, log)

	// computed only when asked: nothing yet
	_, h, body := rs.report(t, "/v1/reports/campaigns", 503)
	if h.Get("Retry-After") == "" || !strings.Contains(body, "refresh=1") {
		t.Errorf("503 before any computation: Retry-After %q, %s", h.Get("Retry-After"), body)
	}
	buyers := rs.traffic(t, 40)
	rs.waitComputed(t, func() { rs.report(t, "/v1/reports/campaigns?refresh=1", 503) })

	ctx := context.Background()
	jdir := filepath.Join(dir, "journal")
	join := logs.JoinConfig{Window: 7 * 24 * time.Hour, Outcomes: rs.svc.outcomes}
	asJSON := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// each report against the package's, on the same journal and
	// configuration (the source aside: "journal" on the API)
	wantCampaigns, err := campaigns.FromJournal(ctx, jdir, campaigns.Config{Join: join, Options: campaigns.Options{
		Segments: campaigns.Segments, Lift: cfg.Experiments[0]}})
	if err != nil {
		t.Fatal(err)
	}
	wantCampaigns.Source = "journal"
	wantJourneys, err := journeys.FromJournal(ctx, jdir, journeys.Config{Spec: rs.svc.spec, Outcomes: rs.svc.outcomes})
	if err != nil {
		t.Fatal(err)
	}
	wantJourneys.Source = "journal"
	js, st, err := attribution.Build(ctx, jdir, attribution.BuildConfig{Outcomes: rs.svc.outcomes})
	if err != nil {
		t.Fatal(err)
	}
	attr := func(by attribution.Dimension) *attribution.Report {
		res, err := attribution.Attribute(js, attribution.Options{By: by})
		if err != nil {
			t.Fatal(err)
		}
		return &attribution.Report{Source: "journal", Stats: st, Result: res}
	}
	wantByChannel, wantByAction := attr(attribution.ByChannel), attr(attribution.ByAction)
	for _, c := range []struct {
		path     string
		name     string
		want     any
		headline []string
	}{
		{"/v1/reports/campaigns", "campaigns", wantCampaigns, wantCampaigns.Headline},
		{"/v1/reports/journeys", "journeys", wantJourneys, wantJourneys.Headline},
		{"/v1/reports/attribution", "attribution", wantByChannel, wantByChannel.Headline()},
		{"/v1/reports/attribution?by=channel", "attribution", wantByChannel, wantByChannel.Headline()},
		{"/v1/reports/attribution?by=action", "attribution", wantByAction, wantByAction.Headline()},
	} {
		a, _, _ := rs.report(t, c.path, 200)
		if a.Name != c.name || a.JournalLSN != rs.lsn || !a.ComputedAt.Equal(cfg.Now()) || a.EverySeconds != 0 || a.LastError != nil || a.Refresh != "" {
			t.Errorf("%s: %s, computed %v, LSN %d (want %d), every %v, last error %v, refresh %q",
				c.path, a.Name, a.ComputedAt, a.JournalLSN, rs.lsn, a.EverySeconds, a.LastError, a.Refresh)
		}
		if got, want := string(a.Report), asJSON(c.want); got != want {
			t.Errorf("%s: the report differs from the package's: %s", c.path, firstDiff(got, want))
		}
		if !slices.Equal(a.Headline, c.headline) || len(a.Headline) < 3 {
			t.Errorf("%s: headline %q, want %q", c.path, a.Headline, c.headline)
		}
	}
	if wantCampaigns.Lift == nil || wantCampaigns.Lift.Baseline != "held" || wantCampaigns.Total.Conversions == 0 {
		t.Errorf("the traffic has no lift or no conversion: %+v", wantCampaigns.Total)
	}

	// CLV: every buyer's figures as clv.Predict gives them from the
	// profile's history and the model, summed and counted
	a, _, _ := rs.report(t, "/v1/reports/clv", 200)
	var cr clvReport
	if err := json.Unmarshal(a.Report, &cr); err != nil {
		t.Fatal(err)
	}
	m, err := reportsCLV.clvModel()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	var repeat, alive int
	for _, c := range buyers {
		p, err := rs.svc.profiles.Get(c)
		if err != nil || p == nil || p.Purchases == nil {
			t.Fatalf("profile %s: %v %+v", c, err, p)
		}
		pr, err := clv.Predict(m.Model, p.Purchases.History(cfg.Now()), m.Horizon)
		if err != nil {
			t.Fatal(err)
		}
		figs, ok := rs.svc.spec.CLV(p, cfg.Now())
		if !ok || figs.Value != pr.CLV || figs.PAlive != pr.PAlive {
			t.Errorf("%s: the decisions' figures %+v, the report's %+v", c, figs, pr)
		}
		total += pr.CLV
		if p.Purchases.RepeatDays > 0 {
			repeat++
		}
		if pr.PAlive >= 0.5 {
			alive++
		}
	}
	b := cr.Base
	if b == nil || !cr.PurchaseHistories || cr.Model == nil || cr.Model.Version == "" || cr.Buyers != len(buyers) || cr.RepeatBuyers != repeat || repeat != 5 {
		t.Fatalf("CLV report %+v (want %d buyers, %d repeat)", cr, len(buyers), repeat)
	}
	if b.Customers != len(buyers) || math.Abs(b.TotalCLV-total) > 1e-9*total || b.LikelyAlive != alive || len(b.Top) != 0 || len(b.PAlive.Bins) != 10 {
		t.Errorf("CLV base %+v: want %d customers, total %v, %d likely alive, no customer listed", b, len(buyers), total, alive)
	}
	if !slices.Equal(a.Headline, b.Headline()) {
		t.Errorf("CLV headline %q", a.Headline)
	}

	// the refresh: at most once a minute
	if a, _, _ := rs.report(t, "/v1/reports/journeys?refresh=1", 200); a.Refresh != "too_soon" {
		t.Errorf("refresh right after a computation: %q", a.Refresh)
	}
	later.Add(int64(2 * time.Minute))
	rs.post(t, "/v1/events", map[string]any{"customer_id": "r-99", "type": "page_view", "channel": "app"})
	rs.waitComputed(t, func() {
		if a, _, _ := rs.report(t, "/v1/reports/journeys?refresh=1", 200); a.Refresh != "started" && a.Refresh != "running" {
			t.Errorf("refresh two minutes later: %q", a.Refresh)
		}
	})
	j, _, _ := rs.report(t, "/v1/reports/journeys", 200)
	if j.JournalLSN != rs.lsn || !j.ComputedAt.Equal(cfg.Now()) || !strings.Contains(string(j.Report), `"customers":41`) {
		t.Errorf("after the refresh: LSN %d (want %d), computed %v, %.300s", j.JournalLSN, rs.lsn, j.ComputedAt, j.Report)
	}

	if _, _, body := rs.report(t, "/v1/reports/nope", 404); !strings.Contains(body, "no such report") {
		t.Errorf("an unknown report: %s", body)
	}
	for _, q := range []string{"/v1/reports/campaigns?refresh=maybe", "/v1/reports/attribution?by=stage", "/v1/reports/clv?by=action"} {
		if _, _, body := rs.report(t, q, 400); !strings.Contains(body, "invalid_argument") {
			t.Errorf("%s: %s", q, body)
		}
	}

	// a computation that fails keeps the previous result, says so, and
	// is logged once however often it fails
	before, _, _ := rs.report(t, "/v1/reports/campaigns", 200)
	rs.svc.cfg.ReportsTimeout = time.Nanosecond // read by ComputeReports, which this goroutine calls
	for range 2 {
		if err := rs.svc.ComputeReports(ctx); err == nil || !strings.Contains(err.Error(), "deadline") {
			t.Errorf("ComputeReports with no time: %v", err)
		}
	}
	failed, _, _ := rs.report(t, "/v1/reports/campaigns", 200)
	if failed.LastError == nil || !strings.Contains(failed.LastError.Message, "deadline") || strings.Contains(failed.LastError.Message, dir) ||
		!failed.ComputedAt.Equal(before.ComputedAt) || string(failed.Report) != string(before.Report) {
		t.Errorf("a failed computation: last error %+v, computed %v (before %v)", failed.LastError, failed.ComputedAt, before.ComputedAt)
	}
	if n := strings.Count(rs.log.String(), `"cannot compute a report; keeping its previous result" report=campaigns`); n != 1 {
		t.Errorf("the failure is logged %d times, want once:\n%s", n, rs.log)
	}
	rs.svc.cfg.ReportsTimeout = time.Minute
	if err := rs.svc.ComputeReports(ctx); err != nil {
		t.Fatal(err)
	}
	if a, _, _ := rs.report(t, "/v1/reports/campaigns", 200); a.LastError != nil || !strings.Contains(rs.log.String(), "the report is computed again") {
		t.Errorf("after a success: last error %+v", a.LastError)
	}

	// a restart: the first request for a report starts its computation
	// (reports_every set), from the journal; the reports say what they
	// said before it
	before, _, _ = rs.report(t, "/v1/reports/campaigns", 200)
	rs.close(t)
	cfg.ReportsEvery = time.Hour
	rs = startReports(t, cfg, &later, log)
	rs.waitComputed(t, func() {
		if _, _, body := rs.report(t, "/v1/reports/campaigns", 503); !strings.Contains(body, "being computed") {
			t.Errorf("the first request after a restart: %s", body)
		}
	})
	after, _, _ := rs.report(t, "/v1/reports/campaigns", 200)
	if string(after.Report) != string(before.Report) || after.JournalLSN != before.JournalLSN || after.EverySeconds != 3600 {
		t.Errorf("after a restart: LSN %d (before %d), every %v, the report changed: %v", after.JournalLSN, before.JournalLSN, after.EverySeconds,
			string(after.Report) != string(before.Report))
	}
}

// TestReportsEmpty: a journal without decisions, conversions or
// customers gives every report's opening line and a null report, not a
// failure; a spec without purchase histories says so.
func TestReportsEmpty(t *testing.T) {
	var later atomic.Int64
	log := new(lockedBuffer)
	cfg := reportsConfig(t, t.TempDir(), &later, log)
	cfg.FeatureSpec, cfg.CLVModel = retail.FeatureSpec, nil
	rs := startReports(t, cfg, &later, log)
	if err := rs.svc.ComputeReports(context.Background()); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/v1/reports/campaigns":             "No decision in the journal yet",
		"/v1/reports/journeys":              "No customer in the journal yet",
		"/v1/reports/attribution":           "No conversion with a touch before it yet",
		"/v1/reports/attribution?by=action": "No conversion with a touch before it yet",
	} {
		a, _, _ := rs.report(t, path, 200)
		if len(a.Headline) != 1 || !strings.HasPrefix(a.Headline[0], want) || string(a.Report) != "null" {
			t.Errorf("%s: %q %s", path, a.Headline, a.Report)
		}
	}
	a, _, _ := rs.report(t, "/v1/reports/clv", 200)
	if len(a.Headline) != 1 || !strings.Contains(a.Headline[0], "keeps no purchase histories") || !strings.Contains(string(a.Report), `"base":null`) {
		t.Errorf("clv: %q %s", a.Headline, a.Report)
	}
}

// firstDiff shows where two texts part.
func firstDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-100)
	return fmt.Sprintf("at byte %d:\n got …%.300s\nwant …%.300s", i, got[from:], want[from:])
}
