package loop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/features"
	"nextbest/internal/journaltest"
	"nextbest/logs"
	"nextbest/loop"
	"nextbest/models"
	"nextbest/serve"
)

// The loop's tests run a real service in process, on loopback HTTP, with
// a catalog of four web actions without caps and a known truth: on each
// page one action converts with probability 0.6, the others with 0.1. The
// service serves uniformly at random (ε = 1), so a model trained on its
// logs is truly better; the loop evaluates candidates as they would serve
// (ε-greedy, ε = 0.1).

var pages = []string{"home", "product", "cart"}

// truth is the probability that action converts on page.
type truth func(page, action string) float64

func best(page, action string) float64 {
	if action == "a-"+page {
		return 0.6
	}
	return 0.1
}

func flat(page, action string) float64 { return 0.25 }

// worst inverts best: the action that was best is now the worst.
func worst(page, action string) float64 {
	if action == "a-"+page {
		return 0.02
	}
	return 0.3
}

type service struct {
	t    *testing.T
	svc  *serve.Service
	base string
	reg  *models.Registry
	dir  string
	rnd  *rand.Rand
}

func startService(t *testing.T) *service {
	t.Helper()
	dir, regDir := t.TempDir(), t.TempDir()
	reg, err := models.OpenRegistry(regDir)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := serve.Open(serve.Config{
		DataDir: dir, Catalog: []byte(journaltest.FourActions), FeatureSpec: retail.FeatureSpec,
		Explorer: decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: 1},
		Registry: regDir, RegistryPoll: 50 * time.Millisecond,
		DecisionTimeout: 5 * time.Second, JournalNoSync: true, ExperimentsTTL: time.Nanosecond, Seed: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go svc.Serve(ln)
	t.Cleanup(func() { svc.Close() })
	return &service{t: t, svc: svc, base: "http://" + ln.Addr().String(), reg: reg, dir: dir, rnd: rand.New(rand.NewPCG(1, 2))}
}

func (s *service) post(path string, body any) map[string]any {
	s.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(s.base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode/100 != 2 {
		s.t.Fatalf("POST %s: %d %v", path, resp.StatusCode, out)
	}
	return out
}

// traffic makes n decisions on random pages and posts the outcomes the
// truth draws; it returns the arms' mean rewards (by experiment arm, ""
// outside experiments).
func (s *service) traffic(n int, tr truth) map[string]float64 {
	sum, cnt := map[string]float64{}, map[string]float64{}
	for i := range n {
		page := pages[s.rnd.IntN(len(pages))]
		out := s.post("/v1/decide", map[string]any{"customer_id": fmt.Sprintf("c-%04d", i%500), "channel": "web", "context": map[string]any{"page": page}})
		arm := ""
		if e, ok := out["experiment"].(map[string]any); ok {
			arm = fmt.Sprint(e["arm"])
		}
		acts := out["actions"].([]any)
		act := acts[0].(map[string]any)["action_id"].(string)
		r := 0.0
		if s.rnd.Float64() < tr(page, act) {
			r = 1
			s.post("/v1/outcomes", map[string]any{"decision_id": out["decision_id"], "action_id": act, "reward": 1, "type": "conversion"})
		}
		sum[arm] += r
		cnt[arm]++
	}
	for k := range sum {
		sum[k] /= cnt[k]
	}
	return sum
}

func (s *service) loopConfig(t *testing.T, evalFrom, now time.Time) loop.Config {
	spec, err := features.ParseSpec(retail.FeatureSpec)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := decide.ParseCatalog([]byte(journaltest.FourActions), spec)
	if err != nil {
		t.Fatal(err)
	}
	return loop.Config{
		Spec: spec, Catalog: cat, Journal: s.dir + "/journal", Join: logs.JoinConfig{},
		Explorer:    decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: 0.1},
		TrainWindow: time.Hour, EvalWindow: now.Sub(evalFrom),
		Gate:     loop.Gate{MinRounds: 300, MinESS: 30},
		Canary:   loop.Canary{Share: 0.5},
		Registry: s.reg, Service: &loop.HTTPService{Target: s.base},
		Now: func() time.Time { return now },
	}
}

// step runs one turn of the loop as of now, on the journal since
// evalFrom, with edit's changes to the config (nil: none).
func (s *service) step(t *testing.T, evalFrom time.Time, edit func(*loop.Config)) *loop.Turn {
	t.Helper()
	cfg := s.loopConfig(t, evalFrom, time.Now())
	if edit != nil {
		edit(&cfg)
	}
	turn, err := loop.Step(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return turn
}

func kinds(t *testing.T, reg *models.Registry) string {
	hist, err := reg.History()
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, e := range hist {
		ks = append(ks, e.Kind)
	}
	return strings.Join(ks, ",")
}

// TestLoopPromotesABetterModel: a candidate trained on the logs of a
// uniform policy passes the gate, wins its canary and is promoted; the
// service then serves it.
func TestLoopPromotesABetterModel(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.traffic(1500, best)
	evalFrom := time.Now()
	s.traffic(1000, best)
	turn := s.step(t, evalFrom, nil)
	if turn.Kind != loop.EventShadow || len(turn.Verdicts) != 1 || !turn.Verdicts[0].Passed {
		t.Fatalf("first turn: %+v", turn)
	}
	v := turn.Verdicts[0]
	t.Logf("gate: %s", v.Reason)
	// the truth: uniform serves 0.1 + 0.5/4 = 0.225; the candidate, if it
	// learned, 0.6·0.925 + 0.1·0.075 ≈ 0.56
	if !(v.Serving.Lo < 0.225 && 0.225 < v.Serving.Hi) || !(v.Diff.Lo > 0.15) {
		t.Errorf("gate figures: %+v", v.Figures)
	}
	// the shadow scores the next decisions unserved; then the canary
	shadowFrom := time.Now()
	s.traffic(800, best)
	turn = s.step(t, shadowFrom, nil)
	if turn.Kind != loop.EventCanary || !turn.Verdicts[0].Passed {
		t.Fatalf("after the shadow: %+v", turn)
	}
	sv := turn.Verdicts[0]
	t.Logf("shadow: %s", sv.Reason)
	// the shadow's estimate, from the probabilities the candidate scored
	// live, is of its true value ≈ 0.5625: the interval holds it (a 95%
	// interval; the seeds are fixed, so this does not flicker)
	if !(sv.Figures.Candidate.Lo < 0.5625 && 0.5625 < sv.Figures.Candidate.Hi) {
		t.Errorf("shadow figures: %+v", sv.Figures)
	}
	// enough for the experiment's trust rule: 1,000 decisions per arm
	means := s.traffic(2400, best)
	t.Logf("canary traffic, mean reward by arm: %v", means)
	turn = s.step(t, evalFrom, nil)
	if turn.Kind != loop.EventPromoted {
		t.Fatalf("second turn: %+v", turn)
	}
	if got := kinds(t, s.reg); got != "gate_passed,shadow_started,shadow_running,shadow_stopped,experiment_put,canary_started,promoted,experiment_archived,canary_promoted" {
		t.Errorf("history: %s", got)
	}
	if v, _ := s.reg.PromotedVersion(); v != turn.Version {
		t.Errorf("promoted version %d, want %d", v, turn.Version)
	}
	// the canary is archived, and the service serves the promoted model
	s.waitServes(t, turn.Version, func(out map[string]any) {
		if out["experiment"] != nil {
			t.Fatalf("a decision after the promotion is still in the canary: %v", out)
		}
	})
}

// waitServes decides until the service serves version (5 s at most),
// calling each (if not nil) with every answer.
func (s *service) waitServes(t *testing.T, version int, each func(out map[string]any)) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := s.post("/v1/decide", map[string]any{"customer_id": "c-x", "channel": "web", "context": map[string]any{"page": "cart"}})
		if each != nil {
			each(out)
		}
		if out["policy"] == fmt.Sprintf("linucb@v%d", version) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service does not serve the promoted model: %v", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLoopRejectsAtTheGate: when no action is better than another, the
// candidate's lower bound does not beat the serving policy's, and it is
// rejected, with the figures, before it serves anyone; too few rounds are
// rejected too.
func TestLoopRejectsAtTheGate(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.traffic(1200, flat)
	evalFrom := time.Now()
	s.traffic(800, flat)
	turn := s.step(t, evalFrom, nil)
	if turn.Kind != loop.EventGateRejected || turn.Verdicts[0].Passed {
		t.Fatalf("turn: %+v", turn)
	}
	t.Logf("rejected: %s", turn.Verdicts[0].Reason)
	turn = s.step(t, evalFrom, func(c *loop.Config) { c.Gate.MinRounds = 5000 })
	if turn.Kind != loop.EventGateRejected || !strings.Contains(turn.Verdicts[0].Reason, "fewer than the 5000") {
		t.Fatalf("too few rounds: %+v", turn)
	}
	if got := kinds(t, s.reg); got != "gate_rejected,gate_rejected" {
		t.Errorf("history: %s", got)
	}
	if live := s.experiments(); len(live) != 0 {
		t.Errorf("a rejected candidate serves: %v", live)
	}
}

// TestLoopRollsBackAWorseCanary: the world changes after the gate (the
// best action becomes the worst): the canary loses to the serving policy
// and is rolled back; nothing is promoted.
func TestLoopRollsBackAWorseCanary(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.traffic(1500, best)
	evalFrom := time.Now()
	s.traffic(1000, best)
	turn := s.step(t, evalFrom, func(c *loop.Config) { c.Shadow.Off = true }) // straight to the canary
	if turn.Kind != loop.EventCanary {
		t.Fatalf("first turn: %+v", turn)
	}
	means := s.traffic(2400, worst)
	t.Logf("canary traffic after the change, mean reward by arm: %v", means)
	turn = s.step(t, evalFrom, nil)
	if turn.Kind != loop.EventRolledBack {
		t.Fatalf("second turn: %+v", turn)
	}
	t.Logf("rolled back: %s", turn.Reason)
	if _, err := s.reg.PromotedVersion(); err == nil {
		t.Error("a rolled-back canary was promoted")
	}
	if live := s.experiments(); len(live) != 0 {
		t.Errorf("the canary still runs: %v", live)
	}
}

func (s *service) experiments() []any {
	resp, err := http.Get(s.base + "/admin/experiments")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Experiments []any `json:"experiments"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return out.Experiments
}

// TestLatencyFromMetrics: HTTPService.Latency reads each arm's compute
// time from a real service's /metrics.
func TestLatencyFromMetrics(t *testing.T) {
	t.Parallel()
	s := startService(t)
	svc := &loop.HTTPService{Target: s.base}
	exp := &decide.Experiment{Name: "e1", Start: time.Now().Add(-time.Minute).UTC().Truncate(time.Second), PrimaryMetric: decide.MetricReward,
		Arms: []decide.Arm{{Name: "serving", Policy: "promoted", Share: 1}, {Name: "canary", Policy: "random", Share: 1}}}
	if err := svc.PutExperiment(context.Background(), exp); err != nil {
		t.Fatal(err)
	}
	s.traffic(200, best)
	p99, counts, err := svc.Latency(context.Background(), "e1")
	if err != nil {
		t.Fatal(err)
	}
	if counts["serving"]+counts["canary"] != 200 || counts["serving"] == 0 || counts["canary"] == 0 {
		t.Errorf("counts %v, want the 200 decisions split over both arms", counts)
	}
	for arm, v := range p99 {
		if !(v > 0) {
			t.Errorf("arm %s: p99 %v", arm, v)
		}
	}
	if p99, _, _ := svc.Latency(context.Background(), "nope"); len(p99) != 0 {
		t.Errorf("an unknown experiment: %v", p99)
	}
}

// TestFallbacksFromStats: HTTPService.Fallbacks reads each arm's
// decisions and fallbacks from a real service's /v1/stats.
func TestFallbacksFromStats(t *testing.T) {
	t.Parallel()
	s := startService(t)
	svc := &loop.HTTPService{Target: s.base}
	exp := &decide.Experiment{Name: "e1", Start: time.Now().Add(-time.Minute).UTC().Truncate(time.Second), PrimaryMetric: decide.MetricReward,
		Arms: []decide.Arm{{Name: "serving", Policy: "promoted", Share: 1}, {Name: "canary", Policy: "fallback", Share: 1}}}
	if err := svc.PutExperiment(context.Background(), exp); err != nil {
		t.Fatal(err)
	}
	s.traffic(200, best)
	counts, err := svc.Fallbacks(context.Background(), "e1")
	if err != nil {
		t.Fatal(err)
	}
	decisions, fallbacks := counts.Decisions, counts.Fallbacks
	if decisions["serving"]+decisions["canary"] != 200 || decisions["serving"] == 0 {
		t.Errorf("decisions %v, want the 200 split over both arms", decisions)
	}
	// the fallback arm's every decision ranks by value: each is a fallback
	if fallbacks["canary"] != decisions["canary"] || fallbacks["serving"] != 0 {
		t.Errorf("fallbacks %v of decisions %v", fallbacks, decisions)
	}
}

// TestApprovalAndPause: with approval configured, a canary that won
// waits for a person's approval (asked once); a paused loop does nothing
// until resumed; then the approved version is promoted.
func TestApprovalAndPause(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.traffic(1500, best)
	evalFrom := time.Now()
	s.traffic(1000, best)
	step := func() *loop.Turn {
		t.Helper()
		return s.step(t, evalFrom, func(c *loop.Config) { c.Shadow.Off, c.Canary.Approve = true, true })
	}
	turn := step()
	if turn.Kind != loop.EventCanary {
		t.Fatalf("first turn: %+v", turn)
	}
	v := turn.Version
	s.traffic(2400, best)
	if turn := step(); turn.Kind != loop.EventAwaiting {
		t.Fatalf("a won canary with approval configured: %+v", turn)
	}
	if turn := step(); turn.Kind != loop.EventIdle || !strings.Contains(turn.Reason, "awaits approval") {
		t.Fatalf("still waiting: %+v", turn)
	}
	if err := loop.Pause(s.reg, "ops", "a holiday freeze"); err != nil {
		t.Fatal(err)
	}
	if err := loop.Approve(s.reg, v, "ops", "looks good"); err != nil {
		t.Fatal(err)
	}
	if turn := step(); turn.Kind != loop.EventIdle || !strings.Contains(turn.Reason, "paused") {
		t.Fatalf("a paused loop: %+v", turn)
	}
	if _, err := s.reg.PromotedVersion(); err == nil {
		t.Fatal("a paused loop promoted")
	}
	if err := loop.Resume(s.reg, "ops", ""); err != nil {
		t.Fatal(err)
	}
	if turn := step(); turn.Kind != loop.EventPromoted {
		t.Fatalf("after approval and resume: %+v", turn)
	}
	if got, _ := s.reg.PromotedVersion(); got != v {
		t.Errorf("promoted %d, want %d", got, v)
	}
	if got := kinds(t, s.reg); got != "gate_passed,experiment_put,canary_started,awaiting_approval,loop_paused,approved,loop_resumed,promoted,experiment_archived,canary_promoted" {
		t.Errorf("history: %s", got)
	}
}

// TestLoopEndsTheApprenticeMode: the service starts in apprentice mode
// (the first action, "a-home", serves, exploring 30% of the time: it is
// right only on the home page). A candidate trained on its logs matches
// (here beats) the baseline at the gate, in the shadow and in the canary
// against the baseline arm; the loop promotes it and switches the
// service to online, which then serves the model.
func TestLoopEndsTheApprenticeMode(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.put("/admin/mode", map[string]any{"mode": "apprentice", "baseline": "first", "epsilon": 0.3})
	s.traffic(1500, best)
	evalFrom := time.Now()
	s.traffic(1000, best)
	turn := s.step(t, evalFrom, nil)
	if turn.Kind != loop.EventShadow || !turn.Verdicts[0].Passed {
		t.Fatalf("first turn: %+v", turn)
	}
	t.Logf("gate: %s", turn.Verdicts[0].Reason)
	shadowFrom := time.Now()
	s.traffic(800, best)
	if turn = s.step(t, shadowFrom, nil); turn.Kind != loop.EventCanary {
		t.Fatalf("after the shadow: %+v", turn)
	}
	means := s.traffic(2400, best)
	t.Logf("canary traffic, mean reward by arm: %v", means)
	turn = s.step(t, evalFrom, nil)
	if turn.Kind != loop.EventPromoted || !strings.Contains(turn.Reason, "leaves apprentice mode") {
		t.Fatalf("third turn: %+v", turn)
	}
	var m loop.Mode
	if err := (&loop.HTTPService{Target: s.base}).Do(context.Background(), "GET", "/admin/mode", nil, &m); err != nil || m.Apprentice() {
		t.Fatalf("after the promotion the mode is %+v (%v)", m, err)
	}
	s.waitServes(t, turn.Version, nil)
}

// TestBlindApprenticeGoesToTheCanary: a baseline that does not explore
// (ε = 0) leaves nothing to judge off-policy: the gate lets the candidate
// through with that reason, the shadow is skipped, and the canary judges.
func TestBlindApprenticeGoesToTheCanary(t *testing.T) {
	t.Parallel()
	s := startService(t)
	s.put("/admin/mode", map[string]any{"mode": "apprentice", "epsilon": 0})
	s.traffic(1500, best)
	evalFrom := time.Now()
	s.traffic(600, best)
	turn := s.step(t, evalFrom, nil)
	if turn.Kind != loop.EventCanary || !strings.Contains(turn.Verdicts[0].Reason, "does not explore") {
		t.Fatalf("first turn: %+v", turn)
	}
	if got := kinds(t, s.reg); got != "mode_set,gate_passed,experiment_put,canary_started" {
		t.Errorf("history: %s", got)
	}
}

// put sends a PUT to the admin API and fails the test on an error.
func (s *service) put(path string, body any) {
	s.t.Helper()
	if err := (&loop.HTTPService{Target: s.base}).Do(context.Background(), "PUT", path, body, nil); err != nil {
		s.t.Fatal(err)
	}
}

// TestWaitForOutcomes: a turn comes after N new outcomes, before its
// interval, counted from a real service's /v1/stats; without them, after
// the interval.
func TestWaitForOutcomes(t *testing.T) {
	t.Parallel()
	s := startService(t)
	h := &loop.HTTPService{Target: s.base}
	ctx := context.Background()
	since, err := h.Outcomes(ctx)
	if err != nil || since != 0 {
		t.Fatalf("outcomes before any: %d %v", since, err)
	}
	done := make(chan int64)
	go func() {
		n, err := loop.Wait(ctx, time.Hour, 20, 10*time.Millisecond, h, since)
		if err != nil {
			t.Error(err)
		}
		done <- n
	}()
	for {
		s.traffic(100, best) // about 30 conversions per 100 decisions
		select {
		case n := <-done:
			if n-since < 20 {
				t.Fatalf("the turn came after %d outcomes, want at least 20", n-since)
			}
			// too few new outcomes: the interval decides, and the count
			// at the turn is the service's
			now, _ := h.Outcomes(ctx)
			if n2, err := loop.Wait(ctx, 50*time.Millisecond, 1000, 10*time.Millisecond, h, n); err != nil || n2 != now {
				t.Fatalf("after the interval: %d %v, want %d", n2, err, now)
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}
