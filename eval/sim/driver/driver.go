package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/decide"
	"nextbest/eval/sim"
	"nextbest/features"
)

// Config configures a Driver. Zero values take the documented defaults.
type Config struct {
	// Target is the base URL of the service (default
	// http://127.0.0.1:8080). Only loopback hosts are accepted unless
	// AllowRemote is set.
	Target      string
	AllowRemote bool
	// Rate is the number of decisions per second over all workers; 0 runs
	// as fast as the service answers. Each decision brings its journey
	// events and outcomes with it (about 2-3 requests per decision).
	Rate float64
	// Duration and Decisions bound the run: it stops at whichever comes
	// first. At least one must be set.
	Duration  time.Duration
	Decisions int
	// Concurrency is the number of workers, each with its own connection
	// and its own share of the customers (default 8).
	Concurrency int
	// Limit is the number of actions asked per decision (default 1).
	Limit int
	// Population is the simulated population (its Seed seeds the run too).
	Population sim.Config
	// Timeout bounds each request (default 5s).
	Timeout time.Duration
	// MaxErrors stops the run after this many consecutive failed requests
	// of one worker (default 50).
	MaxErrors int
}

// Driver drives a running nextbest service over HTTP with simulated
// customer journeys. Make one with New, Run it once; Snapshot may be
// called from any goroutine while it runs.
type Driver struct {
	cfg     Config
	pop     *sim.Population
	client  *fasthttp.HostClient
	base    string
	host    string
	workers []*worker
	ticket  atomic.Int64
	lat     histogram
	started atomic.Int64 // unix nanos
	stopped atomic.Int64
}

// New validates cfg, builds the population and the HTTP client.
func New(cfg Config) (*Driver, error) {
	if cfg.Target == "" {
		cfg.Target = "http://127.0.0.1:8080"
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 8
	}
	if cfg.Limit == 0 {
		cfg.Limit = 1
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxErrors == 0 {
		cfg.MaxErrors = 50
	}
	switch {
	case cfg.Duration <= 0 && cfg.Decisions <= 0:
		return nil, errors.New("driver: set a duration or a number of decisions: a run must stop by itself")
	case cfg.Duration < 0 || cfg.Decisions < 0:
		return nil, errors.New("driver: duration and decisions must not be negative")
	case cfg.Concurrency < 1 || cfg.Limit < 1:
		return nil, fmt.Errorf("driver: concurrency %d and limit %d must be >= 1", cfg.Concurrency, cfg.Limit)
	case !(cfg.Rate >= 0) || math.IsInf(cfg.Rate, 0):
		return nil, fmt.Errorf("driver: rate must be >= 0, got %v", cfg.Rate)
	}
	u, err := url.Parse(cfg.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("driver: target %q must be an http(s) URL such as http://127.0.0.1:8080", cfg.Target)
	}
	if !cfg.AllowRemote && !IsLoopback(u.Hostname()) {
		return nil, fmt.Errorf("driver: refusing to drive %s: not a loopback address (allow remote targets explicitly)", u.Host)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	pop, err := sim.New(cfg.Population)
	if err != nil {
		return nil, err
	}
	n := len(pop.Customers())
	cfg.Concurrency = min(cfg.Concurrency, n)
	d := &Driver{cfg: cfg, pop: pop, host: u.Host, base: u.Scheme + "://" + u.Host}
	d.client = &fasthttp.HostClient{
		Addr: host, IsTLS: u.Scheme == "https", MaxConns: cfg.Concurrency * 2,
		ReadTimeout: cfg.Timeout, WriteTimeout: cfg.Timeout, MaxIdleConnDuration: time.Minute,
		NoDefaultUserAgentHeader: true, Name: "nextbest-simulate",
	}
	for w := range cfg.Concurrency {
		seed := cfg.Population.Seed
		d.workers = append(d.workers, &worker{
			d: d, lo: w * n / cfg.Concurrency, hi: (w + 1) * n / cfg.Concurrency,
			arrive:  rand.New(rand.NewPCG(seed, uint64(3*w+1))),
			journey: rand.New(rand.NewPCG(seed, uint64(3*w+2))),
			outcome: rand.New(rand.NewPCG(seed, uint64(3*w+3))),
		})
	}
	return d, nil
}

// IsLoopback reports whether host (a name or an IP) is a loopback host.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Population returns the simulated population.
func (d *Driver) Population() *sim.Population { return d.pop }

// WaitReady polls GET /readyz until it answers 200 or ctx ends.
func (d *Driver) WaitReady(ctx context.Context) error {
	for {
		code, _, err := d.client.GetTimeout(nil, d.base+"/readyz", time.Second)
		if err == nil && code == 200 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("status %d", code)
			}
			return fmt.Errorf("driver: %s not ready: %w", d.base, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Run drives the service until the duration or the decision count is
// reached, or ctx ends, and returns the summary. A run that ends because
// ctx ended returns its summary and no error.
func (d *Driver) Run(ctx context.Context) (*Summary, error) {
	if d.cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.cfg.Duration)
		defer cancel()
	}
	d.started.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	errs := make([]error, len(d.workers))
	for i, w := range d.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.run(ctx)
		}()
	}
	wg.Wait()
	d.stopped.Store(time.Now().UnixNano())
	s := d.Snapshot()
	return &s, errors.Join(errs...)
}

// claim takes a decision ticket; false when the count bound is reached.
func (d *Driver) claim() bool {
	if d.cfg.Decisions <= 0 {
		return true
	}
	return d.ticket.Add(1) <= int64(d.cfg.Decisions)
}

// worker owns customers [lo, hi) and steps them one visit at a time.
type worker struct {
	d                        *Driver
	lo, hi                   int
	arrive, journey, outcome *rand.Rand

	req   fasthttp.Request
	resp  fasthttp.Response
	body  []byte
	dr    decideAnswer
	visit sim.Visit
	out   sim.Response
	res   decide.Result
	shown []*decide.Action
	ts    []byte

	c counters
}

// decideAnswer is the part of the decide answer the driver reads.
type decideAnswer struct {
	DecisionID string `json:"decision_id"`
	Policy     string `json:"policy"`
	Actions    []struct {
		ActionID string `json:"action_id"`
	} `json:"actions"`
	Fallback bool `json:"fallback"`
}

func (w *worker) run(ctx context.Context) error {
	d := w.d
	var interval time.Duration
	if d.cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(len(d.workers)) / d.cfg.Rate)
	}
	next := time.Now()
	fails := 0
	for ctx.Err() == nil {
		if interval > 0 {
			now := time.Now()
			if wait := next.Sub(now); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
			} else if -wait > time.Second {
				next = now // too far behind: do not burst to catch up
			}
			next = next.Add(interval)
		}
		if !d.claim() {
			return nil
		}
		ok, err := w.visitOnce(ctx)
		if err != nil {
			return err
		}
		if ok {
			fails = 0
		} else if fails++; fails >= d.cfg.MaxErrors {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("driver: %d requests in a row failed; last: %s", fails, w.c.lastError())
		}
	}
	return nil
}

// visitOnce runs one customer visit: its journey events, the decision,
// the outcomes and the events after. It reports whether every request
// succeeded; the error is for a broken contract, not a failed request.
func (w *worker) visitOnce(ctx context.Context) (bool, error) {
	d := w.d
	pop := d.pop
	c := pop.PickCustomer(w.arrive, w.lo, w.hi)
	now := time.Now().UTC()
	v := &w.visit
	pop.Begin(v, w.journey, c, now)
	okAll := true
	for i := range v.Before {
		okAll = w.sendEvent(c.ID, &v.Before[i]) && okAll
	}

	// the decision
	w.body = appendDecide(w.body[:0], c.ID, v.Channel, d.cfg.Limit, v.Context)
	start := time.Now()
	code, err := w.do("/v1/decide", w.body)
	lat := time.Since(start)
	w.shown = w.shown[:0]
	if err != nil || code != 200 {
		w.c.fail("decide", code, err, w.resp.Body())
		pop.Respond(&w.out, w.outcome, v, nil, time.Now().UTC())
		return false, nil
	}
	d.lat.observe(lat)
	w.dr = decideAnswer{Actions: w.dr.Actions[:0]}
	if err := json.Unmarshal(w.resp.Body(), &w.dr); err != nil {
		return false, fmt.Errorf("driver: bad decide answer %q: %w", w.resp.Body(), err)
	}
	for _, a := range w.dr.Actions {
		act, ok := pop.Catalog().Lookup(a.ActionID)
		if !ok {
			return false, fmt.Errorf("%w %q in the decide answer", sim.ErrUnknownAction, a.ActionID)
		}
		w.shown = append(w.shown, act)
	}
	w.c.decisions.Add(1)
	if w.dr.Fallback {
		w.c.fallback.Add(1)
	}
	if len(w.shown) == 0 {
		w.c.empty.Add(1)
	} else {
		got := v.TrueReward(w.shown[0])
		best := got
		if el, err := pop.Eligible(ctx, v, &w.res); err == nil {
			_, b := pop.Oracle(v, el)
			best = math.Max(best, b)
		}
		w.c.expected.add(got)
		w.c.oracle.add(best)
	}
	if len(w.shown) == 0 {
		w.c.notePolicy("(no eligible action)")
	} else {
		w.c.notePolicy(w.dr.Policy)
	}

	// what the customer does
	pop.Respond(&w.out, w.outcome, v, w.shown, time.Now().UTC())
	for k, conv := range w.out.Converted {
		if !conv {
			continue
		}
		w.c.conversions.Add(1)
		w.c.realized.add(w.shown[k].Value)
		w.body = appendOutcome(w.body[:0], w.dr.DecisionID, w.shown[k].ID, w.appendTS(time.Now().UTC()))
		code, err := w.do("/v1/outcomes", w.body)
		if err != nil || code != 202 {
			w.c.fail("outcomes", code, err, w.resp.Body())
			okAll = false
			continue
		}
		w.c.outcomes.Add(1)
	}
	for i := range w.out.After {
		okAll = w.sendEvent(c.ID, &w.out.After[i]) && okAll
	}
	return okAll, nil
}

func (w *worker) appendTS(t time.Time) []byte {
	w.ts = t.AppendFormat(w.ts[:0], time.RFC3339Nano)
	return w.ts
}

func (w *worker) sendEvent(customer string, e *features.Event) bool {
	w.body = appendEvent(w.body[:0], customer, e, w.appendTS(e.Time))
	code, err := w.do("/v1/events", w.body)
	if err != nil || code != 202 {
		w.c.fail("events", code, err, w.resp.Body())
		return false
	}
	w.c.events.Add(1)
	return true
}

// do POSTs body to path and returns the status code; the answer is in
// w.resp until the next call.
func (w *worker) do(path string, body []byte) (int, error) {
	req := &w.req
	req.Reset()
	req.Header.SetMethod("POST")
	req.SetRequestURI(w.d.base + path)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(body)
	w.resp.Reset()
	err := w.d.client.DoTimeout(req, &w.resp, w.d.cfg.Timeout)
	w.c.requests.Add(1)
	if err != nil {
		return 0, err
	}
	return w.resp.StatusCode(), nil
}

// counters are one worker's running totals. Counts are atomics; the float
// sums have a single writer (the worker) and are read by Snapshot.
type counters struct {
	decisions, fallback, empty, events, outcomes, conversions, requests, errors atomic.Int64
	expected, oracle, realized                                                  afloat

	mu       sync.Mutex
	errKinds map[string]int64
	lastErr  string
	policies map[string]int64
	lastPol  string
}

type afloat struct{ bits atomic.Uint64 }

func (f *afloat) add(x float64) { f.bits.Store(math.Float64bits(f.load() + x)) }
func (f *afloat) load() float64 { return math.Float64frombits(f.bits.Load()) }

func (c *counters) fail(endpoint string, code int, err error, body []byte) {
	c.errors.Add(1)
	kind := endpoint + " " + strconv.Itoa(code)
	msg := ""
	if err != nil {
		kind = endpoint + " " + errKind(err)
		msg = err.Error()
	} else {
		msg = fmt.Sprintf("%s: status %d: %.200s", endpoint, code, body)
	}
	c.mu.Lock()
	if c.errKinds == nil {
		c.errKinds = map[string]int64{}
	}
	c.errKinds[kind]++
	c.lastErr = msg
	c.mu.Unlock()
}

func errKind(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout):
		return "timeout"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no_free_conns"
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		return "net_" + ne.Op
	}
	return "transport"
}

func (c *counters) lastError() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

func (c *counters) notePolicy(p string) {
	c.mu.Lock()
	if c.policies == nil {
		c.policies = map[string]int64{}
	}
	if p != c.lastPol {
		c.lastPol = p // keep the answer's string from being retained per call
	}
	c.policies[c.lastPol]++
	c.mu.Unlock()
}
