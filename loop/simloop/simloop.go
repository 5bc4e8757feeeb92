// Package simloop runs the retraining loop against the simulator in
// accelerated time: a real service in process, on loopback HTTP, with a
// clock the simulation advances, simulated customers (eval/sim) whose
// true response is known, and a loop turn every TurnEvery of simulated
// time. It is what "nextbest simulate loop" runs and what the loop's
// scenario tests check.
//
// Scenarios:
//
//	better  the service serves a model that knows nothing (constant scores:
//	        the actions ranked by value alone); a model trained on its logs is
//	        truly better, and should be promoted.
//	worse   the service serves a model trained on a long warm-up; the
//	        candidate is a weak one (a heavily shrunk ridge), and should be
//	        rejected, never serving more than the canary share.
//	broken  as better, but the candidate is a constant model and the gate is
//	        bypassed: the canary must be rolled back.
//	drift   as better; at mid-run one segment's tastes change: the loop must
//	        retrain and the share of the oracle recover.
package simloop

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/decide"
	"nextbest/eval/sim"
	"nextbest/examples/retail"
	"nextbest/features"
	"nextbest/loop"
	"nextbest/models"
	"nextbest/serve"
	"nextbest/training"
)

// Config configures a run.
type Config struct {
	Scenario string
	Seed     uint64
	// Days of simulated time (default 8), VisitsPerDay (default 1500),
	// TurnEvery the loop's period (default 24h).
	Days         int
	VisitsPerDay int
	TurnEvery    time.Duration
	// CanaryShare is the canary's share of customers (default 0.5: a
	// simulated week is short for a canary to reach a verdict).
	CanaryShare float64
	// Dir holds the service's data and registry (default a temporary
	// directory, removed after).
	Dir    string
	Logger *slog.Logger
}

// Summary is what happened.
type Summary struct {
	Scenario    string   `json:"scenario"`
	Seed        uint64   `json:"seed"`
	Days        int      `json:"days"`
	Decisions   int      `json:"decisions"`
	Promotions  int      `json:"promotions"`
	Rejections  []string `json:"rejections"`
	Rollbacks   []string `json:"rollbacks"`
	Canaries    int      `json:"canaries"`
	FailedCalls int      `json:"failed_requests"`
	// ShareOfOracleBefore and After are the served policy's expected
	// reward over the oracle's, on the first and the last simulated day
	// (for drift: the day before the drift, and the last day); Daily is
	// every day's.
	ShareOfOracleBefore float64   `json:"share_of_oracle_before"`
	ShareOfOracleAfter  float64   `json:"share_of_oracle_after"`
	Daily               []float64 `json:"share_of_oracle_daily"`
	// CandidateShare is the largest share of a day's decisions that a
	// version not promoted at the time served (the canary share bounds it).
	CandidateShare float64        `json:"max_unpromoted_share"`
	Timeline       []models.Event `json:"timeline"`
}

// clock is the simulated time every part reads.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *clock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func newClock(t time.Time) *clock        { c := &clock{}; c.Set(t); return c }
func dayOf(start, t time.Time) int       { return int(t.Sub(start) / (24 * time.Hour)) }

// Run runs the scenario.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if cfg.Days == 0 {
		cfg.Days = 8
	}
	if cfg.VisitsPerDay == 0 {
		cfg.VisitsPerDay = 4000
	}
	if cfg.CanaryShare == 0 {
		cfg.CanaryShare = 0.5
	}
	if cfg.TurnEvery == 0 {
		cfg.TurnEvery = 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch cfg.Scenario {
	case "better", "worse", "broken", "drift":
	default:
		return nil, fmt.Errorf("simloop: unknown scenario %q (better, worse, broken, drift)", cfg.Scenario)
	}
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "nextbest-simloop-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	clk := newClock(start)
	popCfg := sim.Config{Customers: 1000, Seed: cfg.Seed}
	if cfg.Scenario == "drift" {
		popCfg.Drift = &sim.Drift{At: start.Add(time.Duration(cfg.Days/2) * 24 * time.Hour), Segment: sim.DealSeeker, From: "free-shipping", To: "style-guide", Shift: 3}
	}
	pop, err := sim.New(popCfg)
	if err != nil {
		return nil, err
	}
	spec, cat := pop.Spec(), pop.Catalog()
	regDir := filepath.Join(cfg.Dir, "models")
	reg, err := models.OpenRegistry(regDir)
	if err != nil {
		return nil, err
	}
	// the service explores enough for its logs to judge other policies
	explorer := decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: 0.3}
	// the serving model: a model that knows nothing (every estimate equal,
	// so the actions rank by value × weight), or, for "worse", one trained
	// on a warm-up
	if err := promoteBlank(reg, spec, cat); err != nil {
		return nil, err
	}
	svc, err := serve.Open(serve.Config{
		DataDir: filepath.Join(cfg.Dir, "data"), Catalog: retail.Catalog, FeatureSpec: retail.FeatureSpec, Profiles: retail.Profiles,
		Explorer: explorer, Registry: regDir, RegistryPoll: time.Hour, Seed: cfg.Seed,
		DecisionTimeout: 10 * time.Second, JournalNoSync: true, ExperimentsTTL: time.Nanosecond,
		Now: clk.Now, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	defer svc.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go svc.Serve(ln)
	base := "http://" + ln.Addr().String()
	d := &driver{pop: pop, base: base, client: &fasthttp.Client{}, r: rand.New(rand.NewPCG(cfg.Seed, 99)), clk: clk}

	lcfg := loop.Config{
		Spec: spec, Catalog: cat, Explorer: explorer,
		Journal:     filepath.Join(cfg.Dir, "data", "journal"),
		TrainWindow: 3 * 24 * time.Hour, EvalWindow: 24 * time.Hour,
		Gate:     loop.Gate{MinRounds: 500, MinESS: 50},
		Shadow:   loop.Shadow{Off: true},
		Canary:   loop.Canary{Share: cfg.CanaryShare, MaxDuration: 3 * 24 * time.Hour, Covariate: "counters.purchases_30d"},
		Registry: reg, Service: &loop.HTTPService{Target: base},
		Now: clk.Now, Logger: cfg.Logger,
	}
	sum := &Summary{Scenario: cfg.Scenario, Seed: cfg.Seed, Days: cfg.Days, Rejections: []string{}, Rollbacks: []string{}}
	switch cfg.Scenario {
	case "worse":
		// a warm-up of two days on the blank model, then a model trained on
		// it serves; the loop's candidates are heavily shrunk ridges
		if err := d.day(ctx, cfg.VisitsPerDay*2, 2*24*time.Hour, nil); err != nil {
			return nil, err
		}
		rep, err := training.Run(ctx, training.Job{Journal: lcfg.Journal, Spec: spec, Catalog: cat, Train: training.TrainConfig{Model: "linucb", PerAction: true, HoldOut: -1}})
		if err != nil {
			return nil, err
		}
		v, err := reg.Save(rep.Artifact)
		if err != nil {
			return nil, err
		}
		check := func(a *models.Artifact) error { _, err := decide.ServableModel(a, spec, cat); return err }
		if _, err := models.PromoteChecked(reg, v, check, "simloop", "warm-up model"); err != nil {
			return nil, err
		}
		svc.ReloadModel()
		d.resetDay()
		lcfg.Candidates = []training.TrainConfig{{Model: "linucb", PerAction: true, Lambda: 1e6, HoldOut: -1}}
	case "broken":
		lcfg.Candidates = []training.TrainConfig{{Model: "linucb", PerAction: true, Lambda: 1e12, HoldOut: -1}}
		lcfg.Gate.Off = true
	}
	dayStart := clk.Now()
	nextTurn := dayStart.Add(cfg.TurnEvery)
	for day := 0; day < cfg.Days; day++ {
		err := d.day(ctx, cfg.VisitsPerDay, 24*time.Hour, func() error {
			if clk.Now().Before(nextTurn) {
				return nil
			}
			nextTurn = nextTurn.Add(cfg.TurnEvery)
			turn, err := loop.Step(ctx, lcfg)
			if err != nil {
				return err
			}
			if turn.Kind == loop.EventPromoted {
				svc.ReloadModel()
			}
			cfg.Logger.Info("loop turn", "day", dayOf(start, clk.Now()), "kind", turn.Kind, "reason", turn.Reason)
			return nil
		})
		if err != nil {
			return nil, err
		}
		sum.Daily = append(sum.Daily, d.share())
		if s := d.unpromotedShare(reg); s > sum.CandidateShare {
			sum.CandidateShare = s
		}
		d.resetDay()
	}
	sum.Decisions, sum.FailedCalls = d.decisions, d.failed
	sum.ShareOfOracleBefore, sum.ShareOfOracleAfter = sum.Daily[0], sum.Daily[len(sum.Daily)-1]
	if cfg.Scenario == "drift" {
		sum.ShareOfOracleBefore = sum.Daily[cfg.Days/2-1]
	}
	hist, err := reg.History()
	if err != nil {
		return nil, err
	}
	sum.Timeline = hist
	for _, e := range hist {
		switch e.Kind {
		case loop.EventPromoted:
			sum.Promotions++
		case loop.EventCanary:
			sum.Canaries++
		case loop.EventGateRejected, loop.EventShadowFailed:
			sum.Rejections = append(sum.Rejections, e.Reason)
		case loop.EventRolledBack, loop.EventExpired:
			sum.Rollbacks = append(sum.Rollbacks, e.Reason)
		}
	}
	return sum, nil
}

// promoteBlank saves and promotes a per-action ridge that has seen
// nothing: its estimates are all equal.
func promoteBlank(reg *models.Registry, spec *features.Spec, cat *decide.Catalog) error {
	ids := make([]string, len(cat.Actions))
	for i, a := range cat.Actions {
		ids[i] = a.ID
	}
	m, err := models.NewRidge(models.RidgeConfig{Dim: spec.Dim(), Actions: len(ids), Name: "blank"})
	if err != nil {
		return err
	}
	m.Publish()
	art, err := models.NewArtifact(models.Metadata{Name: "blank", FeatureSpec: spec.Hash(), ActionIDs: ids, Source: "simloop"}, m)
	if err != nil {
		return err
	}
	v, err := reg.Save(art)
	if err != nil {
		return err
	}
	return reg.Promote(v)
}

// driver plays the simulated customers against the service.
type driver struct {
	pop    *sim.Population
	base   string
	client *fasthttp.Client
	r      *rand.Rand
	clk    *clock

	visit     sim.Visit
	out       sim.Response
	res       decide.Result
	decisions int
	failed    int
	// the day's expected reward of what was served, of the oracle, and
	// the decisions by policy
	got, best float64
	policies  map[string]int
}

func (d *driver) resetDay() { d.got, d.best, d.policies = 0, 0, nil }

func (d *driver) share() float64 {
	if d.best == 0 {
		return math.NaN()
	}
	return d.got / d.best
}

// unpromotedShare is the share of the day's decisions served by a
// registry version other than the promoted one at the end of the day.
func (d *driver) unpromotedShare(reg *models.Registry) float64 {
	v, _ := reg.PromotedVersion()
	promoted := fmt.Sprintf("@v%d", v)
	total, other := 0, 0
	for p, n := range d.policies {
		total += n
		if strings.Contains(p, "@v") && !strings.HasSuffix(p, promoted) {
			other += n
		}
	}
	if total == 0 {
		return 0
	}
	return float64(other) / float64(total)
}

// day makes n visits spread over span of simulated time, calling turn
// (if not nil) after each visit.
func (d *driver) day(ctx context.Context, n int, span time.Duration, turn func() error) error {
	step := span / time.Duration(n)
	if d.policies == nil {
		d.policies = map[string]int{}
	}
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		d.clk.Advance(step)
		if err := d.visitOnce(ctx); err != nil {
			return err
		}
		if turn != nil {
			if err := turn(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *driver) post(path string, body any, out any) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI(d.base + path)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(b)
	if err := d.client.DoTimeout(req, resp, 30*time.Second); err != nil {
		return 0, err
	}
	if out != nil && resp.StatusCode() == 200 {
		if err := json.Unmarshal(resp.Body(), out); err != nil {
			return 0, err
		}
	}
	return resp.StatusCode(), nil
}

func (d *driver) event(customer string, e *features.Event) {
	body := map[string]any{"customer_id": customer, "type": e.Type, "ts": e.Time.Format(time.RFC3339Nano)}
	if e.Channel != "" {
		body["channel"] = e.Channel
	}
	if len(e.Properties) > 0 {
		body["properties"] = e.Properties
	}
	code, err := d.post("/v1/events", body, nil)
	if err != nil || code != 202 {
		d.failed++
	}
}

func (d *driver) visitOnce(ctx context.Context) error {
	pop := d.pop
	c := pop.PickCustomer(d.r, 0, len(pop.Customers()))
	now := d.clk.Now()
	v := &d.visit
	pop.Begin(v, d.r, c, now)
	for i := range v.Before {
		d.event(c.ID, &v.Before[i])
	}
	var ans struct {
		DecisionID string `json:"decision_id"`
		Policy     string `json:"policy"`
		Actions    []struct {
			ActionID string `json:"action_id"`
		} `json:"actions"`
	}
	code, err := d.post("/v1/decide", map[string]any{"customer_id": c.ID, "channel": v.Channel, "context": v.Context}, &ans)
	if err != nil || code != 200 {
		d.failed++
		pop.Respond(&d.out, d.r, v, nil, now)
		return nil
	}
	d.decisions++
	d.policies[ans.Policy]++
	var shown []*decide.Action
	for _, a := range ans.Actions {
		act, ok := pop.Catalog().Lookup(a.ActionID)
		if !ok {
			return fmt.Errorf("simloop: unknown action %q in the answer", a.ActionID)
		}
		shown = append(shown, act)
	}
	if len(shown) > 0 {
		got := v.TrueReward(shown[0])
		best := got
		if el, err := pop.Eligible(ctx, v, &d.res); err == nil {
			_, b := pop.Oracle(v, el)
			best = math.Max(best, b)
		}
		d.got += got
		d.best += best
	}
	pop.Respond(&d.out, d.r, v, shown, now)
	for k, conv := range d.out.Converted {
		if !conv {
			continue
		}
		code, err := d.post("/v1/outcomes", map[string]any{"decision_id": ans.DecisionID, "action_id": shown[k].ID, "reward": 1, "type": "conversion", "ts": now.Format(time.RFC3339Nano)}, nil)
		if err != nil || code != 202 {
			d.failed++
		}
	}
	for i := range d.out.After {
		d.event(c.ID, &d.out.After[i])
	}
	return nil
}
