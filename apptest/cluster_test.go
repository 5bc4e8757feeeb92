package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"nextbest/cluster"
	"nextbest/cluster/rstore"
	"nextbest/cluster/stream"
	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/features"
	"nextbest/internal/engines"
	"nextbest/journal"
	"nextbest/training/online"
)

// The tests of this file run the cluster storage path as it runs in
// production: three "nextbest serve" processes sharing one redis-server
// and one nats-server (internal/engines), driven over HTTP by a client
// that keeps a ledger of what each instance acknowledged. The JetStream
// stream is the order of truth: after the fault, the tests read it whole
// and check that every acknowledged decision, outcome and event is in it
// exactly once.

// clDecisionTimeout is the cluster path's default decision timeout
// (serve.Config.setDefaults): the longest a write may take to be answered.
const clDecisionTimeout = 3 * time.Second

// clLeaseTTL is the applier lease's default time to live (cluster.Config).
const clLeaseTTL = 2 * time.Second

// ---------------------------------------------------------------------------
// The harness: engines and instances.

// clBuffer is a bytes.Buffer safe for a child process's output and the
// test's reads at once.
type clBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *clBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *clBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// clNode is one "nextbest serve" instance of a cluster.
type clNode struct {
	idx              int
	name, base, data string
	args             []string
	log              *clBuffer
	cmd              *exec.Cmd
	done             chan struct{} // closed once the process exited
	waitErr          error         // Wait's result, set before done closes
	dead             atomic.Bool   // killed or stopped: no more traffic
}

// clCluster is a redis-server, a nats-server and the instances on them.
type clCluster struct {
	t      *testing.T
	redis  *engines.Server
	nats   *engines.Server
	nodes  []*clNode
	client *http.Client
}

// startCluster starts redis, nats and n instances (a, b, c, ...), and
// waits until every instance answers /readyz with 200.
func startCluster(t *testing.T, n int) *clCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("runs redis-server, nats-server and the nextbest binary")
	}
	c := &clCluster{t: t}
	c.redis = engines.Redis(t)
	c.nats = engines.NATS(t)
	c.client = &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
	}
	for i := range n {
		name := string(rune('a' + i))
		data := t.TempDir()
		conf := filepath.Join(data, "nextbest.yaml")
		cfg := fmt.Sprintf("storage: cluster\nlog_level: info\ncluster:\n  redis: %s\n  nats: %s\n  instance: %s\n", c.redis.Addr, c.nats.URL, name)
		if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		addr := freeAddr(t)
		nd := &clNode{idx: i, name: name, base: "http://" + addr, data: data, log: new(clBuffer),
			args: []string{"serve", "--config", conf, "--data", data, "--addr", addr, "--profiles", "none"}}
		c.nodes = append(c.nodes, nd)
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			if nd.cmd != nil {
				select {
				case <-nd.done:
				default:
					nd.cmd.Process.Kill()
					<-nd.done
				}
			}
			if t.Failed() {
				t.Logf("instance %s log (tail):\n%s", nd.name, tail(nd.log.String(), 6000))
			}
		}
		c.client.CloseIdleConnections()
	})
	for _, nd := range c.nodes {
		nd.start(t)
	}
	c.waitReady(45*time.Second, c.nodes...)
	return c
}

func (nd *clNode) start(t *testing.T) {
	t.Helper()
	nd.cmd = exec.Command(binary, nd.args...)
	nd.cmd.Stdout, nd.cmd.Stderr = nd.log, nd.log
	if err := nd.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	nd.done = make(chan struct{})
	go func() {
		nd.waitErr = nd.cmd.Wait()
		close(nd.done)
	}()
}

// signal sends sig to the instance and waits for it to exit (at most
// wait), returning Wait's error.
func (nd *clNode) signal(t *testing.T, sig syscall.Signal, wait time.Duration) error {
	t.Helper()
	nd.dead.Store(true)
	nd.cmd.Process.Signal(sig)
	select {
	case <-nd.done:
		return nd.waitErr
	case <-time.After(wait):
		nd.cmd.Process.Kill()
		<-nd.done
		return fmt.Errorf("instance %s did not exit %v after %v: killed", nd.name, sig, wait)
	}
}

// ready reports whether nd answers /readyz with 200.
func (c *clCluster) ready(nd *clNode) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", nd.base+"/readyz", nil)
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// waitReady waits until each of nodes answers /readyz with 200, and
// returns how long it took.
func (c *clCluster) waitReady(limit time.Duration, nodes ...*clNode) time.Duration {
	c.t.Helper()
	start := time.Now()
	deadline := start.Add(limit)
	for _, nd := range nodes {
		for {
			if code, _ := c.ready(nd); code == 200 {
				break
			}
			if nd.done != nil {
				select {
				case <-nd.done:
					c.t.Fatalf("instance %s exited (%v) before it was ready; log:\n%s", nd.name, nd.waitErr, tail(nd.log.String(), 6000))
				default:
				}
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("instance %s not ready after %v; log:\n%s", nd.name, limit, tail(nd.log.String(), 6000))
			}
			time.Sleep(50 * time.Millisecond) // polling processes we do not control
		}
	}
	return time.Since(start)
}

// alive returns the instances that take traffic.
func (c *clCluster) alive() []*clNode {
	var out []*clNode
	for _, nd := range c.nodes {
		if !nd.dead.Load() {
			out = append(out, nd)
		}
	}
	return out
}

// clReply is one HTTP exchange.
type clReply struct {
	node       int
	code       int // 0: transport error
	body       map[string]any
	retryAfter string
	replay     bool // Idempotent-Replay: true
	err        error
	start, end time.Time
}

func (r clReply) ok() bool { return r.code/100 == 2 }

func (r clReply) String() string {
	if r.err != nil {
		return fmt.Sprintf("instance %d: %v", r.node, r.err)
	}
	return fmt.Sprintf("instance %d: %d %v", r.node, r.code, r.body)
}

func (c *clCluster) post(nd *clNode, path string, body any) clReply {
	data, _ := json.Marshal(body)
	r := clReply{node: nd.idx, start: time.Now()}
	resp, err := c.client.Post(nd.base+path, "application/json", bytes.NewReader(data))
	if err != nil {
		r.err, r.end = err, time.Now()
		return r
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.end = time.Now()
	if err != nil {
		r.err = err
		return r
	}
	r.code = resp.StatusCode
	r.retryAfter = resp.Header.Get("Retry-After")
	r.replay = resp.Header.Get("Idempotent-Replay") == "true"
	json.Unmarshal(raw, &r.body)
	return r
}

func (c *clCluster) getJSON(nd *clNode, path string) (int, map[string]any, error) {
	resp, err := c.client.Get(nd.base + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	err = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, err
}

// leaseHolder returns the instance holding the applier lease ("" if none).
func (c *clCluster) leaseHolder() string {
	c.t.Helper()
	st, err := rstore.Open(rstore.Config{Addr: c.redis.Addr})
	if err != nil {
		c.t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := cluster.NewLease(st, "applier", "apptest-observer", clLeaseTTL).Holder(ctx)
	if err != nil {
		c.t.Fatalf("cannot read the applier lease: %v", err)
	}
	return h
}

func tail(s string, n int) string {
	if len(s) > n {
		s = s[len(s)-n:]
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return s
}

// ---------------------------------------------------------------------------
// The client: a mixed load and its ledger.

// clDecision is a decision an instance acknowledged (200).
type clDecision struct {
	id, customer, requestID string
	actions                 []string
	fallback                bool
	node                    int       // the instance that acknowledged it first
	sent, acked             time.Time // its acknowledgement's exchange
}

// clRequest is a decision sent with a request_id: every 200 for it must
// name the same decision.
type clRequest struct {
	customer, requestID string
	id                  string // the decision acknowledged, "" if none
	sends               int
}

type clOutKey struct{ decision, action string }

// clOutcome is one logical outcome (one per decision's first action),
// sent one or more times with the same body.
type clOutcome struct {
	key       clOutKey
	outcomeID string
	reward    float64
	acked     bool
	firsts    int // 202 without "duplicate"
	dups      int // 202 with "duplicate": true
	failed    int // attempts not answered 2xx
	sends     int
}

func (o *clOutcome) body() map[string]any {
	b := map[string]any{"decision_id": o.key.decision, "action_id": o.key.action, "reward": o.reward}
	if o.outcomeID != "" {
		b["outcome_id"] = o.outcomeID
	}
	return b
}

// clObs is what the ledger keeps of every exchange.
type clObs struct {
	kind string // decide, decide-req, outcome, event
	clReply
	fallback bool
}

// clLoad drives a mixed load through a cluster's live instances and keeps
// the ledger of what was acknowledged.
type clLoad struct {
	c   *clCluster
	tag string
	// retryFor bounds how long an idempotent request (a decision with a
	// request_id, an outcome) is retried, as a client honouring
	// Retry-After does
	retryFor time.Duration
	seq      atomic.Int64
	retries  sync.WaitGroup

	mu        sync.Mutex
	decisions map[string]*clDecision // acknowledged, by id
	requests  map[string]*clRequest  // by customer/request_id
	outcomes  map[clOutKey]*clOutcome
	events    map[string]bool // tag → acknowledged
	toOutcome []*clDecision   // acknowledged decisions awaiting their outcome
	// holding: acknowledged decisions go to held, not toOutcome
	holding    bool
	held       []*clDecision
	obs        []clObs
	problems   []string // contract violations seen in answers
	gaveUp     int      // idempotent requests never acknowledged
	eventsSent int
	decideSent int
}

func newLoad(c *clCluster, tag string) *clLoad {
	return &clLoad{c: c, tag: tag, retryFor: 15 * time.Second,
		decisions: map[string]*clDecision{}, requests: map[string]*clRequest{},
		outcomes: map[clOutKey]*clOutcome{}, events: map[string]bool{}}
}

func (l *clLoad) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.problems) < 50 {
		l.problems = append(l.problems, fmt.Sprintf(format, args...))
	}
}

func (l *clLoad) observe(kind string, r clReply) {
	fb, _ := r.body["fallback"].(bool)
	l.mu.Lock()
	l.obs = append(l.obs, clObs{kind: kind, clReply: r, fallback: fb})
	l.mu.Unlock()
	if r.code >= 500 && r.code != 503 {
		l.problem("%s answered %s", kind, r)
	}
	if r.code == 503 && r.retryAfter == "" {
		l.problem("%s answered 503 without Retry-After: %s", kind, r)
	}
}

// pick returns a live instance, chosen by n, and another one (the same
// if only one is alive).
func (l *clLoad) pick(n int) (*clNode, *clNode) {
	alive := l.c.alive()
	if len(alive) == 0 {
		return nil, nil
	}
	i := n % len(alive)
	return alive[i], alive[(i+1)%len(alive)]
}

// run drives the load with workers goroutines, each pausing pause between
// requests, until stop is closed.
func (l *clLoad) run(stop <-chan struct{}, workers int, pause time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				l.step(w, i)
				if pause > 0 {
					time.Sleep(pause) // the load's pace, not a synchronisation
				}
			}
		}()
	}
	return &wg
}

// step sends one request: an event, a decision, a decision with a
// request_id, or an outcome for an acknowledged decision.
func (l *clLoad) step(w, i int) {
	n := int(l.seq.Add(1))
	nd, other := l.pick(w + i)
	if nd == nil {
		return
	}
	customer := fmt.Sprintf("%s-c%03d", l.tag, n%300)
	switch (w + i) % 5 {
	case 0, 4:
		l.event(nd, customer, n)
	case 1:
		l.decide(nd, customer, n)
	case 2:
		l.decideRequest(nd, other, customer, n)
	case 3:
		l.mu.Lock()
		var d *clDecision
		if k := len(l.toOutcome); k > 0 {
			d = l.toOutcome[k-1]
			l.toOutcome = l.toOutcome[:k-1]
		}
		l.mu.Unlock()
		if d == nil {
			l.decide(nd, customer, n)
			return
		}
		l.outcome(nd, other, d, n)
	}
}

func (l *clLoad) event(nd *clNode, customer string, n int) {
	tag := fmt.Sprintf("%s-e%d", l.tag, n)
	l.mu.Lock()
	l.events[tag] = false
	l.eventsSent++
	l.mu.Unlock()
	r := l.c.post(nd, "/v1/events", map[string]any{"customer_id": customer, "type": "page_view", "channel": "web",
		"properties": map[string]any{"tag": tag}})
	l.observe("event", r)
	if r.ok() {
		l.mu.Lock()
		l.events[tag] = true
		l.mu.Unlock()
	} else if r.code != 0 && r.code != 503 {
		l.problem("event %s answered %s", tag, r)
	}
}

// decided records an acknowledged decision.
func (l *clLoad) decided(r clReply, customer, requestID string) *clDecision {
	id, _ := r.body["decision_id"].(string)
	if id == "" {
		l.problem("decision answered 200 without a decision_id: %s", r)
		return nil
	}
	d := &clDecision{id: id, customer: customer, requestID: requestID}
	d.fallback, _ = r.body["fallback"].(bool)
	d.node, d.sent, d.acked = r.node, r.start, r.end
	acts, _ := r.body["actions"].([]any)
	for _, a := range acts {
		if m, ok := a.(map[string]any); ok {
			s, _ := m["action_id"].(string)
			d.actions = append(d.actions, s)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.decisions[id]; ok {
		if old.requestID == "" || old.requestID != requestID {
			l.problems = append(l.problems, fmt.Sprintf("decision id %s answered twice for different requests", id))
		}
		return old
	}
	l.decisions[id] = d
	switch {
	case len(d.actions) == 0:
	case l.holding:
		l.held = append(l.held, d)
	default:
		l.toOutcome = append(l.toOutcome, d)
	}
	return d
}

func (l *clLoad) decide(nd *clNode, customer string, n int) {
	l.mu.Lock()
	l.decideSent++
	l.mu.Unlock()
	r := l.c.post(nd, "/v1/decide", map[string]any{"customer_id": customer, "channel": "web"})
	l.observe("decide", r)
	switch {
	case r.code == 200:
		l.decided(r, customer, "")
	case r.code != 0 && r.code != 503:
		l.problem("decision for %s answered %s", customer, r)
	}
}

// decideRequest sends a decision with a request_id; one in three is
// re-sent to another instance once acknowledged, one in six is sent to
// two instances at once. A request not acknowledged is retried until it
// is (retryFor).
func (l *clLoad) decideRequest(nd, other *clNode, customer string, n int) {
	req := &clRequest{customer: customer, requestID: fmt.Sprintf("%s-r%d", l.tag, n)}
	l.mu.Lock()
	l.requests[customer+"/"+req.requestID] = req
	l.mu.Unlock()
	body := map[string]any{"customer_id": customer, "channel": "web", "request_id": req.requestID}
	send := func(to *clNode) bool {
		l.mu.Lock()
		req.sends++
		l.decideSent++
		l.mu.Unlock()
		r := l.c.post(to, "/v1/decide", body)
		l.observe("decide-req", r)
		if r.code != 200 {
			if r.code != 0 && r.code != 503 {
				l.problem("decision request %s answered %s", req.requestID, r)
			}
			return false
		}
		d := l.decided(r, customer, req.requestID)
		if d == nil {
			return false
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		switch {
		case req.id == "":
			req.id = d.id
		case req.id != d.id:
			l.problems = append(l.problems, fmt.Sprintf("request_id %s answered decision %s, then %s", req.requestID, req.id, d.id))
		}
		return true
	}
	acked := false
	if n%6 == 5 && other != nd {
		acked = sendBoth(send, nd, other)
	} else {
		acked = send(nd)
		if acked && n%3 == 0 && other != nd {
			send(other) // a re-send: the same decision, replayed
		}
	}
	if !acked {
		l.retry(func() bool {
			nd, _ := l.pick(int(l.seq.Add(1)))
			return nd != nil && send(nd)
		})
	}
}

// outcome sends the outcome of d's first action (half with an
// outcome_id); one in three is re-sent to another instance once
// acknowledged (it must answer "duplicate"), one in six is sent to two
// instances at once.
func (l *clLoad) outcome(nd, other *clNode, d *clDecision, n int) {
	o := &clOutcome{key: clOutKey{d.id, d.actions[0]}, reward: float64(n%7) / 4}
	if n%2 == 0 {
		o.outcomeID = fmt.Sprintf("%s-o%d", l.tag, n)
	}
	l.mu.Lock()
	l.outcomes[o.key] = o
	l.mu.Unlock()
	send := func(to *clNode) bool {
		l.mu.Lock()
		o.sends++
		l.mu.Unlock()
		r := l.c.post(to, "/v1/outcomes", o.body())
		l.observe("outcome", r)
		l.mu.Lock()
		defer l.mu.Unlock()
		if r.code != 202 {
			o.failed++
			if r.code != 0 && r.code != 503 {
				l.problems = append(l.problems, fmt.Sprintf("outcome %v answered %s at %s; its decision (fallback: %v) was sent to instance %d at %s and acknowledged at %s",
					o.key, r, clock(r.end), d.fallback, d.node, clock(d.sent), clock(d.acked)))
			}
			return false
		}
		o.acked = true
		if dup, _ := r.body["duplicate"].(bool); dup {
			o.dups++
		} else {
			o.firsts++
		}
		return true
	}
	acked := false
	if n%6 == 5 && other != nd {
		acked = sendBoth(send, nd, other)
	} else {
		acked = send(nd)
		if acked && n%3 == 0 && other != nd {
			l.mu.Lock()
			before := o.dups
			l.mu.Unlock()
			if send(other) {
				l.mu.Lock()
				if o.dups == before {
					l.problems = append(l.problems, fmt.Sprintf("re-sent outcome %v was not answered as a duplicate", o.key))
				}
				l.mu.Unlock()
			}
		}
	}
	if !acked {
		l.retry(func() bool {
			nd, _ := l.pick(int(l.seq.Add(1)))
			return nd != nil && send(nd)
		})
	}
}

// burst sends, each on its own goroutine (added to wg), an event, a
// decision, a decision with a request_id and, if one awaits it, an
// outcome to every live instance.
func (l *clLoad) burst(wg *sync.WaitGroup) {
	for i, nd := range l.c.alive() {
		other, _ := l.pick(i + 1)
		n := int(l.seq.Add(1))
		customer := fmt.Sprintf("%s-c%03d", l.tag, n%300)
		wg.Add(3)
		go func() { defer wg.Done(); l.event(nd, customer, n) }()
		go func() { defer wg.Done(); l.decide(nd, customer, n) }()
		go func() { defer wg.Done(); l.decideRequest(nd, other, customer, n) }()
		l.mu.Lock()
		var d *clDecision
		if k := len(l.toOutcome); k > 0 {
			d = l.toOutcome[k-1]
			l.toOutcome = l.toOutcome[:k-1]
		}
		l.mu.Unlock()
		if d != nil {
			wg.Add(1)
			go func() { defer wg.Done(); l.outcome(nd, other, d, n) }()
		}
	}
}

// hold makes the decisions acknowledged from now on wait for
// releaseHeld, instead of the load's outcomes.
func (l *clLoad) hold() {
	l.mu.Lock()
	l.holding = true
	l.mu.Unlock()
}

// releaseHeld sends at once, each on its own goroutine (added to wg), the
// outcomes of the decisions acknowledged since hold, and returns them.
func (l *clLoad) releaseHeld(wg *sync.WaitGroup) []*clDecision {
	l.mu.Lock()
	held := l.held
	l.held, l.holding = nil, false
	l.mu.Unlock()
	for i, d := range held {
		nd, other := l.pick(i)
		n := int(l.seq.Add(1))
		wg.Add(1)
		go func() { defer wg.Done(); l.outcome(nd, other, d, n) }()
	}
	return held
}

// retry runs try in the background every 200 ms until it succeeds or
// retryFor has passed.
func (l *clLoad) retry(try func() bool) {
	l.retries.Add(1)
	go func() {
		defer l.retries.Done()
		deadline := time.Now().Add(l.retryFor)
		for time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond) // Retry-After, shortened for tests
			if try() {
				return
			}
		}
		l.mu.Lock()
		l.gaveUp++
		l.mu.Unlock()
	}()
}

// ---------------------------------------------------------------------------
// The stream: what JetStream holds.

type clStream struct {
	last      uint64
	n         map[journal.Type]int
	decisions map[string]int                  // decision id → records
	byRequest map[string][]string             // customer/request_id → decision ids
	shown     int                             // actions shown: returned, or activated (deferred decisions)
	outcomes  map[clOutKey][]*journal.Outcome // by (decision, action)
	events    map[string]int                  // tag → records
	// deferred decisions' slots, and those activated
	deferred  map[string]int
	activated map[string]map[int]bool
}

// readStream reads the whole stream.
func readStream(t *testing.T, url string) *clStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := stream.Open(ctx, stream.Config{URL: url})
	if err != nil {
		t.Fatalf("cannot open the stream: %v", err)
	}
	defer s.Close()
	last, err := s.LastSeq(ctx)
	if err != nil {
		t.Fatalf("cannot read the stream's last sequence: %v", err)
	}
	cs := &clStream{last: last, n: map[journal.Type]int{}, decisions: map[string]int{}, byRequest: map[string][]string{},
		outcomes: map[clOutKey][]*journal.Outcome{}, events: map[string]int{}, deferred: map[string]int{}, activated: map[string]map[int]bool{}}
	if last == 0 {
		return cs
	}
	errEnd := errors.New("end of stream")
	var prev uint64
	err = s.Records(ctx, 1, func(recs []journal.Record) error {
		for _, r := range recs {
			if r.LSN != prev+1 {
				t.Errorf("stream: record %d follows %d", r.LSN, prev)
			}
			prev = r.LSN
			cs.n[r.Type]++
			switch r.Type {
			case journal.TypeDecision:
				var d journal.Decision
				if err := journal.DecodeDecision(r.Payload, &d); err != nil {
					t.Errorf("stream record %d: %v", r.LSN, err)
					break
				}
				cs.decisions[d.DecisionID]++
				if d.RequestID != "" {
					k := d.CustomerID + "/" + d.RequestID
					cs.byRequest[k] = append(cs.byRequest[k], d.DecisionID)
				}
				if d.DeferActivation {
					cs.deferred[d.DecisionID] = len(d.Actions)
				} else {
					cs.shown += len(d.Actions)
				}
			case journal.TypeActivation:
				var a journal.Activation
				if err := journal.DecodeActivation(r.Payload, &a); err != nil {
					t.Errorf("stream record %d: %v", r.LSN, err)
					break
				}
				n, ok := cs.deferred[a.DecisionID]
				if !ok {
					break // not deferred: changes nothing
				}
				if cs.activated[a.DecisionID] == nil {
					cs.activated[a.DecisionID] = map[int]bool{}
				}
				for _, s := range a.Slots {
					if s < n && !cs.activated[a.DecisionID][s] {
						cs.activated[a.DecisionID][s] = true
						cs.shown++ // the tests activate within the attribution window
					}
				}
			case journal.TypeOutcome:
				o := new(journal.Outcome)
				if err := journal.DecodeOutcome(r.Payload, o); err != nil {
					t.Errorf("stream record %d: %v", r.LSN, err)
					break
				}
				k := clOutKey{o.DecisionID, o.ActionID}
				cs.outcomes[k] = append(cs.outcomes[k], o)
			case journal.TypeEvent:
				var e journal.Event
				if err := journal.DecodeEvent(r.Payload, &e); err != nil {
					t.Errorf("stream record %d: %v", r.LSN, err)
					break
				}
				tag, _ := e.Properties["tag"].(string)
				cs.events[tag]++
			default:
				t.Errorf("stream record %d has type %v", r.LSN, r.Type)
			}
			if r.LSN >= last {
				return errEnd
			}
		}
		return nil
	})
	if !errors.Is(err, errEnd) {
		t.Fatalf("cannot read the stream: %v", err)
	}
	return cs
}

// clCounts are the results of checking the ledger against the stream.
type clCounts struct {
	kind                          string
	sent, acked, lost, duplicated int
}

func (c clCounts) String() string {
	return fmt.Sprintf("%s: %d sent, %d acknowledged, %d lost, %d duplicated", c.kind, c.sent, c.acked, c.lost, c.duplicated)
}

// verify checks that everything the ledger holds as acknowledged is in
// the stream exactly once, and that nothing the load sent is there twice.
func (l *clLoad) verify(t *testing.T, cs *clStream) []clCounts {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	dec := clCounts{kind: "decisions", sent: l.decideSent}
	for id := range l.decisions {
		dec.acked++
		switch n := cs.decisions[id]; {
		case n == 0:
			dec.lost++
			t.Errorf("acknowledged decision %s is not in the stream", id)
		case n > 1:
			dec.duplicated++
			t.Errorf("acknowledged decision %s is in the stream %d times", id, n)
		}
	}
	for id, n := range cs.decisions {
		if n > 1 && l.decisions[id] == nil {
			dec.duplicated++
			t.Errorf("decision %s (not acknowledged) is in the stream %d times", id, n)
		}
	}
	req := clCounts{kind: "decisions with request_id"}
	for k, r := range l.requests {
		req.sent += r.sends
		ids := cs.byRequest[k]
		if len(ids) > 1 {
			req.duplicated++
			t.Errorf("request %s is in the stream %d times: %v", k, len(ids), ids)
		}
		if r.id == "" {
			continue
		}
		req.acked++
		if len(ids) == 0 {
			req.lost++
			t.Errorf("acknowledged request %s is not in the stream", k)
		} else if ids[0] != r.id {
			t.Errorf("request %s was answered with decision %s; the stream holds %s", k, r.id, ids[0])
		}
	}
	out := clCounts{kind: "outcomes"}
	for k, o := range l.outcomes {
		out.sent += o.sends
		recs := cs.outcomes[k]
		if len(recs) > 1 {
			out.duplicated++
			t.Errorf("outcome %v (sent %d times) is in the stream %d times", k, o.sends, len(recs))
		}
		if o.firsts > 1 {
			t.Errorf("outcome %v was answered as a new outcome %d times (%d sends)", k, o.firsts, o.sends)
		}
		if o.acked && o.firsts == 0 && o.failed == 0 {
			t.Errorf("outcome %v was only ever answered as a duplicate", k)
		}
		if !o.acked {
			continue
		}
		out.acked++
		if len(recs) == 0 {
			out.lost++
			t.Errorf("acknowledged outcome %v is not in the stream", k)
			continue
		}
		if recs[0].OutcomeID != o.outcomeID || recs[0].Reward != o.reward {
			t.Errorf("outcome %v: the stream holds outcome_id %q reward %v; sent %q %v", k, recs[0].OutcomeID, recs[0].Reward, o.outcomeID, o.reward)
		}
	}
	ev := clCounts{kind: "events", sent: l.eventsSent}
	for tag, acked := range l.events {
		n := cs.events[tag]
		if n > 1 {
			ev.duplicated++
			t.Errorf("event %s (sent once) is in the stream %d times", tag, n)
		}
		if acked {
			ev.acked++
			if n == 0 {
				ev.lost++
				t.Errorf("acknowledged event %s is not in the stream", tag)
			}
		}
	}
	for _, p := range l.problems {
		t.Error(p)
	}
	return []clCounts{dec, req, out, ev}
}

// finish waits for the background retries.
func (l *clLoad) finish(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() { l.retries.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(l.retryFor + 25*time.Second):
		t.Fatal("retries did not end")
	}
}

// checkKnown posts an outcome for every acknowledged decision that
// returned actions, through the live instances: 202 (a duplicate for one
// posted before), never 404. It returns how many were checked.
func (l *clLoad) checkKnown(t *testing.T) int {
	t.Helper()
	l.mu.Lock()
	var todo []*clDecision
	for _, d := range l.decisions {
		if len(d.actions) > 0 {
			todo = append(todo, d)
		}
	}
	l.mu.Unlock()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(todo) {
					return
				}
				d := todo[i]
				k := clOutKey{d.id, d.actions[0]}
				l.mu.Lock()
				o := l.outcomes[k]
				prior := o != nil && o.acked
				if o == nil {
					o = &clOutcome{key: k, reward: 1, outcomeID: "known-" + d.id}
					l.outcomes[k] = o
				}
				o.sends++
				l.mu.Unlock()
				var r clReply
				for try := 0; try < 20; try++ {
					nd, _ := l.pick(w + i + try)
					r = l.c.post(nd, "/v1/outcomes", o.body())
					if r.code != 503 && r.code != 0 {
						break
					}
					time.Sleep(100 * time.Millisecond) // Retry-After, shortened
				}
				dup, _ := r.body["duplicate"].(bool)
				l.mu.Lock()
				switch {
				case r.code == 202:
					o.acked = true
					if dup {
						o.dups++
					} else {
						o.firsts++
					}
					if prior && !dup {
						t.Errorf("outcome %v, acknowledged before, re-sent: answered as new: %s", k, r)
					}
				case r.code == 404:
					t.Errorf("acknowledged decision %s is unknown to instance %d: %s", d.id, r.node, r)
				default:
					t.Errorf("outcome for acknowledged decision %s: %s", d.id, r)
				}
				l.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return len(todo)
}

// failures counts the exchanges that match and were not answered 2xx,
// by kind and answer.
func (l *clLoad) failures(match func(clObs) bool) (total, failed int, why map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	why = map[string]int{}
	for _, o := range l.obs {
		if !match(o) {
			continue
		}
		total++
		if o.ok() {
			continue
		}
		failed++
		if o.err != nil {
			why[o.kind+": transport error"]++
		} else {
			why[fmt.Sprintf("%s: %d", o.kind, o.code)]++
		}
	}
	return total, failed, why
}

func fmtCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " [%s]×%d", k, m[k])
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// The tests.

// TestClusterKillNine kills the applier lease's holder with SIGKILL in
// the middle of a mixed load through three instances, goes on through
// the two survivors, and checks the stream: every acknowledged decision,
// outcome and event exactly once, no re-sent request stored twice, and
// every acknowledged decision known to the survivors.
func TestClusterKillNine(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := startCluster(t, 3)
	t.Logf("3 instances ready in %v", time.Since(start).Round(time.Millisecond))
	holder := c.leaseHolder()
	victim := c.nodes[0]
	for _, nd := range c.nodes {
		if nd.name == holder {
			victim = nd
		}
	}
	t.Logf("applier lease held by %q; killing instance %s", holder, victim.name)

	l := newLoad(c, "k9")
	stop := make(chan struct{})
	wg := l.run(stop, 6, 2*time.Millisecond)
	time.Sleep(1500 * time.Millisecond) // the load runs; the kill lands mid-flight
	killAt := time.Now()
	victim.dead.Store(true)
	victim.cmd.Process.Signal(syscall.SIGKILL)
	<-victim.done
	time.Sleep(3500 * time.Millisecond) // ~1.5 s more of three-instance load time, then ~2 s on the survivors
	close(stop)
	wg.Wait()
	l.finish(t)
	loadEnd := time.Now()

	// during the kill: in flight when it landed, or sent before the lease
	// could have moved (its TTL) and a second more
	window := killAt.Add(clLeaseTTL + time.Second)
	before := func(o clObs) bool { return o.end.Before(killAt) }
	during := func(o clObs) bool { return !before(o) && o.start.Before(window) }
	total, failed, why := l.failures(before)
	t.Logf("before the kill: %d requests, %d not acknowledged%s", total, failed, fmtCounts(why))
	total, failed, why = l.failures(func(o clObs) bool { return during(o) && o.node == victim.idx })
	t.Logf("during the kill, to the killed instance: %d requests, %d not acknowledged%s", total, failed, fmtCounts(why))
	total, failed, why = l.failures(func(o clObs) bool { return during(o) && o.node != victim.idx })
	t.Logf("during the kill (to %v after it), to the survivors: %d requests, %d not acknowledged%s",
		clLeaseTTL+time.Second, total, failed, fmtCounts(why))
	total, failed, why = l.failures(func(o clObs) bool { return !o.start.Before(window) && !o.start.After(loadEnd) })
	t.Logf("after: %d requests, %d not acknowledged%s", total, failed, fmtCounts(why))
	if failed > 0 {
		t.Errorf("%d requests to the survivors failed after the lease handover:%s", failed, fmtCounts(why))
	}
	var slowest time.Duration
	l.mu.Lock()
	for _, o := range l.obs {
		if o.node != victim.idx && o.start.After(killAt) {
			slowest = max(slowest, o.end.Sub(o.start))
		}
	}
	gaveUp := l.gaveUp
	l.mu.Unlock()
	t.Logf("slowest answer of a survivor after the kill: %v; idempotent requests given up: %d", slowest.Round(time.Millisecond), gaveUp)
	if after := c.leaseHolder(); after == victim.name || after == "" {
		t.Errorf("applier lease held by %q after the kill", after)
	}

	cs := readStream(t, c.nats.URL)
	for _, cnt := range l.verify(t, cs) {
		t.Log(cnt)
	}
	t.Logf("stream: %d records (%d decisions, %d outcomes, %d events)", cs.last, cs.n[journal.TypeDecision], cs.n[journal.TypeOutcome], cs.n[journal.TypeEvent])
	if len(l.decisions) < 50 || len(l.events) < 50 {
		t.Errorf("too little load: %d decisions, %d events acknowledged", len(l.decisions), len(l.events))
	}

	checked := l.checkKnown(t)
	cs = readStream(t, c.nats.URL)
	l.verify(t, cs)
	t.Logf("every acknowledged decision with actions (%d) known to the survivors; took %v in all", checked, time.Since(start).Round(time.Millisecond))
}

// TestClusterEngineOutage stops Redis for ~3 s, then NATS for ~3 s, under
// a light load through three instances, with a burst of every kind of
// write to every instance as the engine goes down and each second after.
// While an engine is down, writes answer 503 with Retry-After (or, for a
// decision while Redis is down, 200 marked fallback) within the decision
// timeout, an event or outcome is refused rather than left waiting for
// the engine, and every instance answers /readyz 503. Once the engine is
// back every instance becomes ready by itself, every decision
// acknowledged meanwhile takes its outcome (202, not 404) as soon as they
// are, and nothing acknowledged is missing from the stream.
func TestClusterEngineOutage(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := startCluster(t, 3)
	t.Logf("3 instances ready in %v", time.Since(start).Round(time.Millisecond))

	// readiness, polled all along
	type poll struct {
		node int
		at   time.Time
		code int
	}
	var pmu sync.Mutex
	var polls []poll
	pollStop := make(chan struct{})
	var pwg sync.WaitGroup
	for _, nd := range c.nodes {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for {
				select {
				case <-pollStop:
					return
				default:
				}
				at := time.Now()
				code, _ := c.ready(nd)
				pmu.Lock()
				polls = append(polls, poll{nd.idx, at, code})
				pmu.Unlock()
				time.Sleep(150 * time.Millisecond) // the poll's pace
			}
		}()
	}

	l := newLoad(c, "out")
	l.retryFor = 20 * time.Second
	stop := make(chan struct{})
	wg := l.run(stop, 3, 40*time.Millisecond)

	type outage struct {
		name              string
		down, up, readyAt time.Time
		held              []*clDecision
	}
	var outages []*outage
	var bwg sync.WaitGroup // the bursts
	for _, e := range []struct {
		name string
		s    *engines.Server
	}{{"redis", c.redis}, {"nats", c.nats}} {
		time.Sleep(time.Second) // steady load before the outage
		o := &outage{name: e.name}
		l.hold()
		e.s.Stop()
		o.down = time.Now()
		// besides the steady load (whose workers may wait on a write),
		// a burst of every kind of write to every instance, at once and
		// each second
		for k := range 3 {
			l.burst(&bwg)
			if k < 2 {
				time.Sleep(time.Second)
			}
		}
		time.Sleep(o.down.Add(3 * time.Second).Sub(time.Now()))
		o.up = time.Now()
		e.s.Start()
		c.waitReady(15*time.Second, c.nodes...)
		o.readyAt = time.Now()
		// the decisions acknowledged since the engine went down are known
		// as soon as every instance is ready: their outcomes, at once
		o.held = l.releaseHeld(&bwg)
		t.Logf("%s down at %s, started again at %s, every instance ready at %s (%v later); then sent the outcomes of the %d decisions acknowledged meanwhile",
			e.name, clock(o.down), clock(o.up), clock(o.readyAt), o.readyAt.Sub(o.up).Round(time.Millisecond), len(o.held))
		outages = append(outages, o)
	}
	time.Sleep(time.Second) // steady load after
	close(stop)
	wg.Wait()
	bwg.Wait()
	l.finish(t)
	close(pollStop)
	pwg.Wait()

	for _, o := range outages {
		// readiness: 503 on every instance from 1 s into the outage on
		pmu.Lock()
		for _, nd := range c.nodes {
			n, bad := 0, 0
			for _, p := range polls {
				if p.node != nd.idx || p.at.Before(o.down.Add(time.Second)) || !p.at.Before(o.up) {
					continue
				}
				n++
				if p.code != 503 {
					bad++
				}
			}
			if n == 0 || bad > 0 {
				t.Errorf("%s down: instance %s answered /readyz other than 503 %d times of %d", o.name, nd.name, bad, n)
			}
		}
		pmu.Unlock()

		// the writes sent while the engine was down
		l.mu.Lock()
		codes := map[string]int{}
		var slowest, fbMin, fbMax time.Duration
		for _, ob := range l.obs {
			if ob.start.Before(o.down) || !ob.start.Before(o.up) {
				continue
			}
			d := ob.end.Sub(ob.start)
			slowest = max(slowest, d)
			key := fmt.Sprintf("%s: %d", ob.kind, ob.code)
			switch {
			case ob.err != nil:
				key = ob.kind + ": transport error"
			case ob.code == 200 && ob.fallback:
				key += " fallback"
				if fbMin == 0 || d < fbMin {
					fbMin = d
				}
				fbMax = max(fbMax, d)
			case ob.code == 503 && ob.retryAfter != "":
				key += " Retry-After"
			}
			codes[key]++
			var why string
			switch {
			case ob.err != nil || ob.code == 500:
				why = "failed"
			case d > clDecisionTimeout+time.Second:
				why = "took longer than the decision timeout"
			case (ob.kind == "event" || ob.kind == "outcome") && ob.start.Before(o.down.Add(500*time.Millisecond)) && ob.end.After(o.up):
				// refused at once while the engine is down, by design
				why = "waited for the engine to come back"
			}
			if why != "" && len(l.problems) < 50 {
				l.problems = append(l.problems, fmt.Sprintf("%s down: %s sent at +%v %s: answered after %v (%v after %s was started again): %s",
					o.name, ob.kind, ob.start.Sub(o.down).Round(time.Millisecond), why, d.Round(time.Millisecond), ob.end.Sub(o.up).Round(time.Millisecond), o.name, ob.clReply))
			}
		}
		l.mu.Unlock()
		t.Logf("%s down: answers to the requests sent during the outage:%s; slowest %v; fallback decisions took %v to %v",
			o.name, fmtCounts(codes), slowest.Round(time.Millisecond), fbMin.Round(time.Millisecond), fbMax.Round(time.Millisecond))
		// once every instance is ready, writes succeed; a 503 (retry) is
		// tolerated, logged
		afterReady := func(ob clObs) bool {
			return !ob.start.Before(o.readyAt) && ob.start.Before(o.readyAt.Add(time.Second))
		}
		total, failed, why := l.failures(afterReady)
		t.Logf("%s back: the first second after every instance was ready: %d requests, %d not acknowledged%s", o.name, total, failed, fmtCounts(why))
		l.mu.Lock()
		for _, ob := range l.obs {
			if afterReady(ob) && !ob.ok() {
				t.Logf("  %s sent %v after every instance was ready, answered after %v: %s",
					ob.kind, ob.start.Sub(o.readyAt).Round(time.Millisecond), ob.end.Sub(ob.start).Round(time.Millisecond), ob.clReply)
				if ob.code != 503 {
					t.Errorf("%s back and every instance ready: %s sent at %s answered %s", o.name, ob.kind, clock(ob.start), ob.clReply)
				}
			}
		}
		l.mu.Unlock()
	}

	cs := readStream(t, c.nats.URL)
	for _, cnt := range l.verify(t, cs) {
		t.Log(cnt)
	}
	l.mu.Lock()
	t.Logf("stream: %d records; idempotent requests given up: %d; took %v in all", cs.last, l.gaveUp, time.Since(start).Round(time.Millisecond))
	l.mu.Unlock()
}

func clock(t time.Time) string { return t.Format("15:04:05.000") }

// TestClusterConvergedModels sends a mixed load through three instances,
// then decisions whose activation is deferred, activated (some slots, all,
// twice, after an outcome, or never) on another instance than made them,
// and checks that, after a quiet period, each one's online model has
// learned the same updates (GET /v1/models), as many as the stream shows
// impressions, and that the snapshots they write at a graceful stop are
// identical: every instance learns the same stream in the same order.
func TestClusterConvergedModels(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := startCluster(t, 3)
	t.Logf("3 instances ready in %v", time.Since(start).Round(time.Millisecond))

	l := newLoad(c, "cv")
	stop := make(chan struct{})
	wg := l.run(stop, 6, 2*time.Millisecond)
	time.Sleep(2500 * time.Millisecond)
	close(stop)
	wg.Wait()
	l.finish(t)

	// deferred decisions, activated on the next instance
	for i := range 30 {
		nd, next := c.nodes[i%3], c.nodes[(i+1)%3]
		r := c.post(nd, "/v1/decide", map[string]any{"customer_id": fmt.Sprintf("cv-d%02d", i), "channel": "web", "limit": 2, "defer_activation": true})
		id, _ := r.body["decision_id"].(string)
		acts, _ := r.body["actions"].([]any)
		if r.code != 200 || id == "" || len(acts) == 0 {
			t.Fatalf("a deferred decision: %s", r)
		}
		activate := func(body any) {
			if r := c.post(next, "/v1/decisions/"+id+"/activate", body); r.code != 200 {
				t.Fatalf("activate %s: %s", id, r)
			}
		}
		switch i % 5 {
		case 0: // never
		case 1:
			activate(map[string]any{"slots": []int{0}})
		case 2:
			activate(map[string]any{})
			activate(map[string]any{"slots": []int{0}}) // again: nothing changes
		case 3: // an outcome first, learned when the slot is activated
			action, _ := acts[0].(map[string]any)["action_id"].(string)
			if r := c.post(nd, "/v1/outcomes", map[string]any{"decision_id": id, "action_id": action, "reward": 1}); r.code != 202 {
				t.Fatalf("outcome: %s", r)
			}
			activate(map[string]any{})
		case 4:
			activate(map[string]any{"slots": []int{len(acts) - 1}})
		}
	}

	cs := readStream(t, c.nats.URL)
	for _, cnt := range l.verify(t, cs) {
		t.Log(cnt)
	}
	if cs.n[journal.TypeActivation] == 0 {
		t.Fatal("no activation in the stream")
	}

	// quiet: wait until the three report the same observations, twice
	updates := func() []float64 {
		out := make([]float64, len(c.nodes))
		for i, nd := range c.nodes {
			code, m, err := c.getJSON(nd, "/v1/models")
			if err != nil || code != 200 {
				t.Fatalf("GET /v1/models on %s: %d %v", nd.name, code, err)
			}
			on, _ := m["online"].(map[string]any)
			out[i], _ = on["observations"].(float64)
		}
		return out
	}
	same := func(u []float64) bool { return u[0] == u[1] && u[1] == u[2] }
	deadline := time.Now().Add(15 * time.Second)
	var u []float64
	for {
		u = updates()
		if same(u) {
			time.Sleep(300 * time.Millisecond) // nothing is in flight: a second look must agree
			if u2 := updates(); same(u2) && u2[0] == u[0] {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the instances' online models did not converge: observations %v", u)
		}
		time.Sleep(100 * time.Millisecond) // polling processes we do not control
	}
	t.Logf("every instance's online model: %.0f observations; the stream's decisions showed %d actions", u[0], cs.shown)
	if int(u[0]) != cs.shown {
		t.Errorf("online model has %.0f observations; the stream's %d decisions showed %d actions", u[0], cs.n[journal.TypeDecision], cs.shown)
	}

	// a graceful stop of all three at once; each writes its snapshot
	var swg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i, nd := range c.nodes {
		swg.Add(1)
		go func() { defer swg.Done(); errs[i] = nd.signal(t, syscall.SIGTERM, 20*time.Second) }()
	}
	swg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %s: graceful stop: %v", c.nodes[i].name, err)
		}
	}
	// the online model's snapshot is the one online*.state file under
	// DATA/model (online.state, or a name of the cluster path's own;
	// personalizer*.state is the Personalizer namespace's)
	snaps := make([][]byte, len(c.nodes))
	paths := make([]string, len(c.nodes))
	for i, nd := range c.nodes {
		found, _ := filepath.Glob(filepath.Join(nd.data, "model", "online*.state"))
		if len(found) != 1 {
			t.Fatalf("instance %s: want one model snapshot under %s, found %v", nd.name, filepath.Join(nd.data, "model"), found)
		}
		b, err := os.ReadFile(found[0])
		if err != nil {
			t.Fatalf("instance %s: %v", nd.name, err)
		}
		snaps[i], paths[i] = b, found[0]
	}
	identical := true
	for i := 1; i < len(snaps); i++ {
		if !bytes.Equal(snaps[0], snaps[i]) {
			identical = false
		}
	}
	if identical {
		t.Logf("the three snapshots (%s) are identical (%d bytes); took %v in all", filepath.Base(paths[0]), len(snaps[0]), time.Since(start).Round(time.Millisecond))
		return
	}
	// say how they differ
	spec, err := features.ParseSpec(retail.FeatureSpec)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := decide.ParseCatalog(retail.Catalog, spec)
	if err != nil {
		t.Fatal(err)
	}
	for i, nd := range c.nodes {
		m, lsn, err := online.LoadSnapshot(paths[i], cat)
		if err != nil {
			t.Errorf("instance %s: %v", nd.name, err)
			continue
		}
		var n []uint64
		var b0 []float64
		for _, st := range m.Stats() {
			n = append(n, st.N)
			b0 = append(b0, st.Xty[0])
		}
		t.Errorf("instance %s: snapshot of %d bytes at LSN %d (stream %d), %d updates, observations per action %v, b[0] per action %v (the three snapshots differ)",
			nd.name, len(snaps[i]), lsn, cs.last, m.Updates(), n, b0)
	}
}

// sendBoth sends the same request to two instances at once (a client's
// concurrent retry) and reports whether either acknowledged it.
func sendBoth(send func(*clNode) bool, a, b *clNode) bool {
	var wg sync.WaitGroup
	var oks [2]bool
	for k, to := range []*clNode{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); oks[k] = send(to) }()
	}
	wg.Wait()
	return oks[0] || oks[1]
}
