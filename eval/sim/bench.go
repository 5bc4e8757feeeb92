package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/logs"
	"nextbest/models"
)

// PolicyKind names how a benchmarked policy chooses.
type PolicyKind string

// The policy kinds of the learning benchmark.
const (
	// Random picks uniformly among the eligible actions (decide's ε-greedy
	// explorer with ε = 1 on the fallback ranking).
	Random PolicyKind = "random"
	// ContextFree is ε-greedy over a per-action mean conversion rate that
	// ignores the customer and the context.
	ContextFree PolicyKind = "context_free"
	// Ridge is decide.Engine scoring with an online models.Ridge, explored
	// by Explorer (LinUCB with ε-greedy or UCB; linear Thompson sampling).
	Ridge PolicyKind = "ridge"
	// Oracle picks the eligible action with the largest true expected
	// reward.
	Oracle PolicyKind = "oracle"
)

// PolicySpec is one policy of the learning benchmark.
type PolicySpec struct {
	Name string
	Kind PolicyKind
	// Explorer is the explorer of ContextFree and Ridge policies.
	Explorer decide.Explorer
	// Disjoint keeps one ridge posterior per action (Ridge only).
	Disjoint bool
	// Lambda is the ridge prior precision (default 1).
	Lambda float64
}

// DefaultPolicies are the policies the project has: uniform random,
// context-free ε-greedy, LinUCB on the service's model (a shared ridge
// model, LinUCB scores explored ε-greedily), LinUCB with per-action
// models, linear Thompson sampling (shared and per action), and the
// oracle.
func DefaultPolicies() []PolicySpec {
	return []PolicySpec{
		{Name: "random", Kind: Random},
		{Name: "egreedy_context_free", Kind: ContextFree, Explorer: decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: 0.1}},
		{Name: "linucb", Kind: Ridge, Explorer: decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: 0.05, Alpha: 0.5}},
		{Name: "linucb_disjoint", Kind: Ridge, Disjoint: true, Explorer: decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: 0.05, Alpha: 0.5}},
		{Name: "thompson", Kind: Ridge, Explorer: decide.Explorer{Kind: decide.Thompson, V: 0.3}},
		{Name: "thompson_disjoint", Kind: Ridge, Disjoint: true, Explorer: decide.Explorer{Kind: decide.Thompson, V: 0.3}},
		{Name: "oracle", Kind: Oracle},
	}
}

// RunConfig configures one run of one policy on one population.
type RunConfig struct {
	Population Config
	Policy     PolicySpec
	// Horizon is the number of visits (default 10000).
	Horizon int
	// Start is the simulated clock at the first visit (default
	// 2026-11-22T00:00:00Z); Step the simulated time between visits
	// (default 30s, so 10000 visits are about 3.5 days).
	Start time.Time
	Step  time.Duration
	// PublishEvery is how many visits pass between model publications
	// (default 50), like the service's publish interval under load.
	PublishEvery int
	// Points is the number of samples of the cumulative-regret curve
	// (default 100).
	Points int
	// OnStep, if set, is called after every visit that made a decision.
	OnStep func(StepInfo)
}

// StepInfo describes one decision of a run, for tests and tracing.
type StepInfo struct {
	Step     int
	Customer string
	Channel  string
	Chosen   string
	Eligible int
	Reward   float64 // true expected reward of the chosen action
	Oracle   float64 // the best eligible action's
	Realized float64
}

// RunResult is the outcome of one run.
type RunResult struct {
	Policy string `json:"policy"`
	Seed   uint64 `json:"seed"`
	Visits int    `json:"visits"`
	// Decisions counts the visits where some action was eligible.
	Decisions int `json:"decisions"`
	// Reward is the sum of the true expected rewards of the chosen
	// actions; Oracle the sum of the best eligible actions' on the same
	// visits; Regret their difference; Share Reward/Oracle.
	Reward float64 `json:"reward"`
	Oracle float64 `json:"oracle"`
	Regret float64 `json:"regret"`
	Share  float64 `json:"share"`
	// Realized is the value of the conversions actually drawn.
	Realized float64 `json:"realized"`
	// VsOracleRun is Reward over the reward of the oracle policy's own run
	// on the same seed (set by Bench when it runs the oracle). Share
	// compares with the oracle's choice on the policy's own visits, where
	// fatigue and contact caps left by the policy's earlier choices shape
	// what is best; VsOracleRun compares whole trajectories.
	VsOracleRun float64 `json:"vs_oracle_run,omitempty"`
	// Curve is the cumulative regret after each of Points equal parts of
	// the horizon; CurveAt the visit counts they were taken at.
	Curve   []float64     `json:"curve"`
	CurveAt []int         `json:"curve_at"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

func (c *RunConfig) setDefaults() error {
	if c.Horizon == 0 {
		c.Horizon = 10000
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	}
	if c.Step == 0 {
		c.Step = 30 * time.Second
	}
	if c.PublishEvery == 0 {
		c.PublishEvery = 50
	}
	if c.Points == 0 {
		c.Points = 100
	}
	if c.Horizon < 1 || c.Step < 0 || c.PublishEvery < 1 || c.Points < 1 {
		return fmt.Errorf("sim: bad run config: horizon %d, step %s, publish every %d, points %d", c.Horizon, c.Step, c.PublishEvery, c.Points)
	}
	return nil
}

// Run runs one policy against a fresh population for the horizon, learning
// online the way the service's learner does: each shown action is added to
// the model with the default reward 0 (Update), a conversion (a
// "conversion" outcome of reward 1) adds the change package logs' reward
// rule gives it (AddReward), and the model is published every PublishEvery
// visits. Rewards are conversions (1) and the engine scores
// estimate × value × weight, as in the service. Run is deterministic for
// a given config.
func Run(ctx context.Context, cfg RunConfig) (*RunResult, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	pop, err := New(cfg.Population)
	if err != nil {
		return nil, err
	}
	// the reward rule: an impression teaches the default reward r0, a
	// conversion the change its outcome makes (logs.Fold, ActionDelta)
	const r0 = 0.0
	outcomes, err := logs.NewOutcomes(nil)
	if err != nil {
		return nil, err
	}
	conv, _ := outcomes.Lookup(logs.DefaultOutcomeType)
	_, convType, _ := conv.Fold(logs.Aggregate{}, conv.Reward.Apply(1))
	convDelta := logs.ActionDelta(convType, r0, true)
	seed := cfg.Population.Seed
	spec, cat := pop.Spec(), pop.Catalog()
	pol := cfg.Policy
	var (
		model  *models.Ridge
		means  *actionMeans
		scorer decide.Scorer
		dpol   = pol.Explorer
	)
	switch pol.Kind {
	case Random, Oracle:
		dpol = decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: 1}
	case ContextFree:
		means = newActionMeans(len(cat.Actions), spec.Dim())
		scorer = means
	case Ridge:
		rc := models.RidgeConfig{Dim: spec.Dim(), Lambda: pol.Lambda, Name: pol.Name}
		if pol.Disjoint {
			rc.Actions = len(cat.Actions)
		}
		if model, err = models.NewRidge(rc); err != nil {
			return nil, err
		}
		model.Publish()
		scorer = model
	default:
		return nil, fmt.Errorf("sim: unknown policy kind %q", pol.Kind)
	}
	eng, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Explorer: dpol, Seed: seed*7919 + 17}, scorer)
	if err != nil {
		return nil, err
	}
	// separate streams, so that who visits when does not depend on the
	// policy, and the journey and the outcomes depend on it only through
	// the customers' states
	arrive := rand.New(rand.NewPCG(seed, 1))
	journey := rand.New(rand.NewPCG(seed, 2))
	outcome := rand.New(rand.NewPCG(seed, 3))
	explore := rand.New(rand.NewPCG(seed, 4))

	res := &RunResult{Policy: pol.Name, Seed: seed, Visits: cfg.Horizon}
	every := max(cfg.Horizon/cfg.Points, 1)
	var (
		v     Visit
		out   Response
		dr    decide.Result
		shown []*decide.Action
		probs []float64
		feats = make([]*features.ActionFeatures, 1)
	)
	dim := spec.Dim()
	row := make([]float64, dim)
	begin := time.Now()
	for step := range cfg.Horizon {
		if step%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		now := cfg.Start.Add(time.Duration(step) * cfg.Step)
		c := pop.PickCustomer(arrive, 0, len(pop.customers))
		pop.Begin(&v, journey, c, now)
		// Explain gives the explorer's exact first-slot probabilities; the
		// draw is made here from the run's own stream, so that every policy
		// of a seed sees the same sequence of uniforms (the engine's own
		// per-decision streams are reproducible too, but differ by policy).
		req := decide.Request{CustomerID: c.ID, Channel: v.Channel, Context: v.Context, Limit: 1, Now: now, Explain: pol.Kind != Oracle}
		err := eng.Decide(ctx, &req, c.Profile, &dr)
		shown = shown[:0]
		var best float64
		switch {
		case errors.Is(err, decide.ErrNoActions):
		case err != nil:
			return nil, fmt.Errorf("sim: %s step %d: %w", pol.Name, step, err)
		default:
			var oa *decide.Action
			oa, best = pop.Oracle(&v, dr.Eligible)
			if pol.Kind == Oracle {
				shown = append(shown, oa)
			} else {
				sc := dr.Explain.Scored
				if len(sc) != len(dr.Eligible) {
					panic("BUG: sim: the explanation does not score every eligible action")
				}
				probs = probs[:0]
				for _, x := range sc {
					probs = append(probs, x.SlotProb)
				}
				shown = append(shown, dr.Eligible[decide.Draw(explore, probs)])
			}
			feats[0] = shown[0].Compiled()
			spec.Assemble(row, &dr.Inputs, feats)
		}
		var got float64
		if len(shown) > 0 {
			got = v.TrueReward(shown[0]) // before Respond records the impression
		}
		pop.Respond(&out, outcome, &v, shown, now.Add(time.Second))
		if len(shown) > 0 {
			res.Decisions++
			res.Reward += got
			res.Oracle += best
			res.Realized += out.Realized
			if cfg.OnStep != nil {
				cfg.OnStep(StepInfo{Step: step, Customer: c.ID, Channel: v.Channel, Chosen: shown[0].ID,
					Eligible: len(dr.Eligible), Reward: got, Oracle: best, Realized: out.Realized})
			}
			// learn, as serve's learner does
			for k, a := range shown {
				switch {
				case model != nil:
					x := row[k*dim : (k+1)*dim]
					if err := model.Update(a.Index(), x, r0); err != nil {
						return nil, err
					}
					if out.Converted[k] {
						if err := model.AddReward(a.Index(), x, convDelta); err != nil {
							return nil, err
						}
					}
				case means != nil:
					means.add(a.Index(), out.Converted[k])
				}
			}
		}
		if (step+1)%cfg.PublishEvery == 0 {
			if model != nil {
				model.Publish()
			}
			if means != nil {
				means.publish()
			}
		}
		if (step+1)%every == 0 || step == cfg.Horizon-1 {
			if len(res.CurveAt) == 0 || res.CurveAt[len(res.CurveAt)-1] != step+1 {
				res.Curve = append(res.Curve, res.Oracle-res.Reward)
				res.CurveAt = append(res.CurveAt, step+1)
			}
		}
	}
	res.Regret = res.Oracle - res.Reward
	if res.Oracle > 0 {
		res.Share = res.Reward / res.Oracle
	}
	res.Elapsed = time.Since(begin)
	return res, nil
}

// actionMeans is the context-free scorer: the mean conversion rate of each
// action so far, with one optimistic pseudo-observation of 0.5 so that
// untried actions get tried. It ignores the feature rows.
type actionMeans struct {
	dim  int
	n, s []float64
	pub  atomic.Pointer[[]float64]
}

func newActionMeans(actions, dim int) *actionMeans {
	m := &actionMeans{dim: dim, n: make([]float64, actions), s: make([]float64, actions)}
	m.publish()
	return m
}

func (m *actionMeans) Name() string { return "context_free_mean" }
func (m *actionMeans) Dim() int     { return m.dim }

func (m *actionMeans) Predict(mean, std []float64, acts []int, _ []float64) {
	p := *m.pub.Load()
	for i, a := range acts {
		mean[i], std[i] = p[a], 0
	}
}

func (m *actionMeans) add(a int, converted bool) {
	m.n[a]++
	if converted {
		m.s[a]++
	}
}

func (m *actionMeans) publish() {
	p := make([]float64, len(m.n))
	for i := range p {
		p[i] = (m.s[i] + 0.5) / (m.n[i] + 1)
	}
	m.pub.Store(&p)
}

// BenchConfig configures the learning benchmark: every policy against the
// same population, once per seed.
type BenchConfig struct {
	Population Config // Seed is replaced by each of Seeds
	Policies   []PolicySpec
	Seeds      []uint64
	Horizon    int
	Step       time.Duration
	// PublishEvery and Points as in RunConfig.
	PublishEvery int
	Points       int
	// Parallel runs this many runs at once (default GOMAXPROCS).
	Parallel int
	// Progress, if set, is called after each finished run (from any
	// goroutine, one call at a time).
	Progress func(done, total int, r *RunResult)
}

// BenchResult holds every run and the summary per policy.
type BenchResult struct {
	Horizon  int             `json:"horizon"`
	Seeds    []uint64        `json:"seeds"`
	Runs     []*RunResult    `json:"runs"`
	Policies []PolicySummary `json:"policies"`
}

// PolicySummary is the mean and standard deviation over seeds of one
// policy's results.
type PolicySummary struct {
	Policy   string `json:"policy"`
	Reward   Stat   `json:"reward"`
	Regret   Stat   `json:"regret"`
	Share    Stat   `json:"share"`
	Realized Stat   `json:"realized"`
	Oracle   Stat   `json:"oracle"`
	// VsOracleRun is the reward relative to the oracle policy's run.
	VsOracleRun Stat    `json:"vs_oracle_run"`
	Seconds     float64 `json:"seconds_per_run"`
	// Curve is the mean cumulative regret at CurveAt.
	Curve   []float64 `json:"curve"`
	CurveAt []int     `json:"curve_at"`
}

// Stat is a mean and a sample standard deviation.
type Stat struct {
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
}

func statOf(xs []float64) Stat {
	var s Stat
	for _, x := range xs {
		s.Mean += x
	}
	s.Mean /= float64(len(xs))
	if len(xs) > 1 {
		for _, x := range xs {
			s.SD += (x - s.Mean) * (x - s.Mean)
		}
		s.SD = math.Sqrt(s.SD / float64(len(xs)-1))
	}
	return s
}

// Bench runs every policy against every seed's population.
func Bench(ctx context.Context, cfg BenchConfig) (*BenchResult, error) {
	if len(cfg.Policies) == 0 {
		cfg.Policies = DefaultPolicies()
	}
	if len(cfg.Seeds) == 0 {
		cfg.Seeds = []uint64{1, 2, 3}
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = runtime.GOMAXPROCS(0)
	}
	type job struct{ pi, si int }
	jobs := make(chan job)
	runs := make([]*RunResult, len(cfg.Policies)*len(cfg.Seeds))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		done     int
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range cfg.Parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				pc := cfg.Population
				pc.Seed = cfg.Seeds[j.si]
				r, err := Run(ctx, RunConfig{Population: pc, Policy: cfg.Policies[j.pi], Horizon: cfg.Horizon,
					Step: cfg.Step, PublishEvery: cfg.PublishEvery, Points: cfg.Points})
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				if err == nil {
					runs[j.pi*len(cfg.Seeds)+j.si] = r
					done++
					if cfg.Progress != nil {
						cfg.Progress(done, len(runs), r)
					}
				}
				mu.Unlock()
			}
		}()
	}
	// the slow policies first, so the pool finishes together
	order := make([]job, 0, len(runs))
	for pi, p := range cfg.Policies {
		if p.Explorer.Kind == decide.Thompson {
			for si := range cfg.Seeds {
				order = append(order, job{pi, si})
			}
		}
	}
	for pi, p := range cfg.Policies {
		if p.Explorer.Kind != decide.Thompson {
			for si := range cfg.Seeds {
				order = append(order, job{pi, si})
			}
		}
	}
feed:
	for _, j := range order {
		select {
		case jobs <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	br := &BenchResult{Seeds: cfg.Seeds, Runs: runs, Horizon: runs[0].Visits}
	for pi, p := range cfg.Policies {
		if p.Kind != Oracle {
			continue
		}
		for si := range cfg.Seeds {
			if o := runs[pi*len(cfg.Seeds)+si]; o.Reward > 0 {
				for pj := range cfg.Policies {
					r := runs[pj*len(cfg.Seeds)+si]
					r.VsOracleRun = r.Reward / o.Reward
				}
			}
		}
		break
	}
	for pi, p := range cfg.Policies {
		rs := runs[pi*len(cfg.Seeds) : (pi+1)*len(cfg.Seeds)]
		col := func(f func(*RunResult) float64) Stat {
			xs := make([]float64, len(rs))
			for i, r := range rs {
				xs[i] = f(r)
			}
			return statOf(xs)
		}
		ps := PolicySummary{
			Policy:      p.Name,
			Reward:      col(func(r *RunResult) float64 { return r.Reward }),
			Regret:      col(func(r *RunResult) float64 { return r.Regret }),
			Share:       col(func(r *RunResult) float64 { return r.Share }),
			Realized:    col(func(r *RunResult) float64 { return r.Realized }),
			Oracle:      col(func(r *RunResult) float64 { return r.Oracle }),
			VsOracleRun: col(func(r *RunResult) float64 { return r.VsOracleRun }),
			Seconds:     col(func(r *RunResult) float64 { return r.Elapsed.Seconds() }).Mean,
			CurveAt:     rs[0].CurveAt,
			Curve:       make([]float64, len(rs[0].Curve)),
		}
		for _, r := range rs {
			for i := range ps.Curve {
				ps.Curve[i] += r.Curve[i] / float64(len(rs))
			}
		}
		br.Policies = append(br.Policies, ps)
	}
	return br, nil
}
