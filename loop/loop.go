// Package loop is the retraining loop: it trains candidate models on a
// window of the journal, evaluates each off-policy against the serving
// policy on a later window it never saw, lets through only a candidate
// that beats the serving policy with confidence (the gate), serves it to
// a share of customers as an experiment arm (the canary), and promotes it
// when the canary is better on the primary metric with no guardrail
// worse, or rolls it back when it is worse, a guardrail is breached or the
// split cannot be trusted. Every step is recorded in the model registry's
// history (models.Event), which is also the loop's state: a loop
// restarted (or run by another instance that took its lease) continues
// where the last one stopped.
//
// Step runs one turn; nextbest loop runs it every interval.
package loop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"nextbest/decide"
	"nextbest/experiment"
	"nextbest/features"
	"nextbest/logs"
	"nextbest/models"
	"nextbest/training"
)

// Kinds of the loop's events in the registry's history.
const (
	EventGatePassed   = "gate_passed"
	EventGateRejected = "gate_rejected"
	EventShadow       = "shadow_running"
	EventShadowFailed = "shadow_rejected"
	EventCanary       = "canary_started"
	EventPromoted     = "canary_promoted"
	EventRolledBack   = "canary_rolled_back"
	EventExpired      = "canary_expired"
	EventIdle         = "idle" // a turn that did nothing, with why (not recorded)
	// A person's steps (nextbest loop pause|resume|approve).
	EventPaused   = "loop_paused"
	EventResumed  = "loop_resumed"
	EventAwaiting = "awaiting_approval"
	EventApproved = "approved"
)

// Registry is where candidates are saved and promoted, and where the loop
// keeps its history: a models.Registry directory or the cluster's.
type Registry interface {
	models.Promotable
	Save(*models.Artifact) (int, error)
}

// Service is the running service the loop steers: its experiments (the
// canary is one) and their analysis.
type Service interface {
	// PutExperiment creates or replaces an experiment on every instance.
	PutExperiment(ctx context.Context, e *decide.Experiment) error
	// ArchiveExperiment removes it (its analysis stays in the journal).
	ArchiveExperiment(ctx context.Context, name string) error
	// Experiment returns its analysis so far, nil when it has no data.
	Experiment(ctx context.Context, name string) (*experiment.Result, error)
	// Fallbacks returns, per arm of experiment name, its decisions, those
	// that fell back to the value ranking (the arm's model failed) and
	// those whose model scored every action the same.
	Fallbacks(ctx context.Context, name string) (ArmCounts, error)
	// Latency returns, per arm of experiment name, the p99 of its
	// decisions' compute time in seconds and how many decisions that is.
	Latency(ctx context.Context, name string) (p99 map[string]float64, count map[string]uint64, err error)
	// SetShadow makes version score every decision beside the serving
	// policy, exploring with explorer (nil: the service's); 0 stops it.
	SetShadow(ctx context.Context, version int, explorer *decide.Explorer) error
	// Mode returns the service's learning mode; SetMode sets it on every
	// instance.
	Mode(ctx context.Context) (Mode, error)
	SetMode(ctx context.Context, m Mode) error
}

// ArmCounts are an experiment's decisions per arm, and of them those that
// fell back to the value ranking and those whose model was degenerate
// (every eligible action scored the same: a constant model).
type ArmCounts struct {
	Decisions, Fallbacks, Degenerate map[string]int64
}

// Mode is a service's learning mode (GET /admin/mode): "online", or
// "apprentice" with the baseline rule that serves and its exploration.
type Mode struct {
	Mode     string   `json:"mode"`
	Baseline string   `json:"baseline,omitempty"`
	Epsilon  *float64 `json:"epsilon,omitempty"`
}

// Apprentice reports whether a baseline rule serves.
func (m Mode) Apprentice() bool { return m.Mode == "apprentice" }

// blind reports an apprentice that does not explore: its logs show one
// action per decision, and no other policy can be judged off-policy on
// them.
func (m Mode) blind() bool { return m.Apprentice() && m.Epsilon != nil && *m.Epsilon == 0 }

// Apprentice configures how the loop ends the service's apprentice mode.
// There the serving policy is a business rule (the baseline), and a
// candidate need not beat it to go on: it must match it. The gate and the
// shadow pass a candidate whose paired difference with the baseline has a
// lower bound above −Margin × the baseline's value; the canary promotes
// one whose always-valid lower bound of the lift is above −Margin × the
// baseline arm's mean (a non-inferiority test), with trusted data and no
// guardrail worse, and then switches the service to online. A baseline
// that does not explore (ε = 0) leaves nothing to judge off-policy: the
// gate and the shadow are skipped, and the canary alone decides.
type Apprentice struct {
	// Margin is the share of the baseline's value a candidate may fall
	// short by and still match it (default 0.05).
	Margin float64
}

// Shadow configures the shadow stage between the gate and the canary.
type Shadow struct {
	// Off skips the stage: a candidate that passes the gate goes to the
	// canary at once.
	Off bool
	// MinRounds is the fewest shadowed decisions with their rewards joined
	// before the shadow is judged (default Gate.MinRounds); MaxDuration
	// ends a shadow that has not reached them (default 3 days).
	MinRounds   int
	MaxDuration time.Duration
}

// Gate configures the off-policy gate.
type Gate struct {
	// MinRounds is the fewest evaluation rounds a verdict needs (default
	// 500); MinESS the smallest effective sample size of the candidate's
	// importance weights (default 100).
	MinRounds int
	MinESS    float64
	// Level is the intervals' confidence (default 0.95).
	Level float64
	// Off lets every trained candidate through to the next stage: for a
	// team that trusts the canary alone (the simulator's "broken"
	// scenario checks that the canary then guards by itself).
	Off bool
}

// Canary configures the online stage.
type Canary struct {
	// Share is the share of customers the candidate serves (default 0.1).
	Share float64
	// MaxDuration ends a canary that has not decided (default 7 days): it
	// is archived, not promoted.
	MaxDuration time.Duration
	// PrimaryMetric and Guardrails are the experiment's (default "reward",
	// guardrail "conversion").
	PrimaryMetric string
	Guardrails    []string
	// Covariate is the canary experiment's CUPED covariate: a numeric
	// profile input of the feature spec ("counters.purchases_30d") that
	// measures a customer's behaviour before the canary (see
	// decide.Experiment.Covariate). Empty: the canary is analysed without
	// adjustment.
	Covariate string
	// Approve, when set, holds a canary that won until a person approves
	// its promotion (nextbest loop approve VERSION): the turn records
	// awaiting_approval once and then waits; a canary that turns worse
	// meanwhile is still rolled back.
	Approve bool
	// MaxFallbackShare is how much more often than the serving arm's the
	// canary's decisions may fall back to the value ranking (its model
	// gave non-finite scores or ran out of time) before it is rolled back
	// as misbehaving (default 0.01), once it has MinFallbackDecisions
	// decisions (default 100).
	MaxFallbackShare     float64
	MinFallbackDecisions int64
	// MaxDegenerateShare is how much more often than the serving arm's
	// the canary's model may score every action the same (a constant
	// model) before it is rolled back as degenerate (default 0.5), once it
	// has MinFallbackDecisions decisions.
	MaxDegenerateShare float64
	// MaxLatency is the budget of the canary's decisions' compute time at
	// the 99th percentile (default 50 ms, the service's default decision
	// budget): a canary over it, with MinFallbackDecisions decisions, is
	// rolled back as slow.
	MaxLatency time.Duration
}

// Config configures the loop.
type Config struct {
	// Spec, Catalog, Join and Explorer are the service's: candidates are
	// trained on its rows and rewards and evaluated as they would serve.
	Spec     *features.Spec
	Catalog  *decide.Catalog
	Join     logs.JoinConfig
	Explorer decide.Explorer
	// Journal is a journal directory to read: the service's (embedded), or
	// one nextbest journal pull keeps up to date (cluster).
	Journal string
	// Candidates are the models trained each turn (default: per-action
	// ridge, "linucb").
	Candidates []training.TrainConfig
	// TrainWindow and EvalWindow: candidates train on decisions in
	// [now − EvalWindow − TrainWindow, now − EvalWindow) and are evaluated
	// on [now − EvalWindow, now) (defaults 7 days and 1 day).
	TrainWindow, EvalWindow time.Duration
	Gate                    Gate
	Shadow                  Shadow
	Canary                  Canary
	Apprentice              Apprentice
	Registry                Registry
	Service                 Service
	Now                     func() time.Time
	Logger                  *slog.Logger
}

func (c *Config) defaults() error {
	if c.Spec == nil || c.Catalog == nil || c.Journal == "" || c.Registry == nil || c.Service == nil {
		return errors.New("loop: Config.Spec, Catalog, Journal, Registry and Service are required")
	}
	if len(c.Candidates) == 0 {
		c.Candidates = []training.TrainConfig{{Model: "linucb", PerAction: true, HoldOut: -1}}
	}
	if c.TrainWindow == 0 {
		c.TrainWindow = 7 * 24 * time.Hour
	}
	if c.EvalWindow == 0 {
		c.EvalWindow = 24 * time.Hour
	}
	if c.Gate.MinRounds == 0 {
		c.Gate.MinRounds = 500
	}
	if c.Gate.MinESS == 0 {
		c.Gate.MinESS = 100
	}
	if c.Gate.Level == 0 {
		c.Gate.Level = 0.95
	}
	if c.Shadow.MinRounds == 0 {
		c.Shadow.MinRounds = c.Gate.MinRounds
	}
	if c.Shadow.MaxDuration == 0 {
		c.Shadow.MaxDuration = 3 * 24 * time.Hour
	}
	if c.Apprentice.Margin == 0 {
		c.Apprentice.Margin = 0.05
	}
	if !(c.Apprentice.Margin > 0 && c.Apprentice.Margin < 1) {
		return fmt.Errorf("loop: apprentice margin %v is not in (0, 1)", c.Apprentice.Margin)
	}
	if c.Canary.Share == 0 {
		c.Canary.Share = 0.1
	}
	if !(c.Canary.Share > 0 && c.Canary.Share < 1) {
		return fmt.Errorf("loop: canary share %v is not in (0, 1)", c.Canary.Share)
	}
	if c.Canary.MaxDegenerateShare == 0 {
		c.Canary.MaxDegenerateShare = 0.5
	}
	if c.Canary.MaxFallbackShare == 0 {
		c.Canary.MaxFallbackShare = 0.01
	}
	if c.Canary.MinFallbackDecisions == 0 {
		c.Canary.MinFallbackDecisions = 100
	}
	if c.Canary.MaxLatency == 0 {
		c.Canary.MaxLatency = 50 * time.Millisecond
	}
	if c.Canary.MaxDuration == 0 {
		c.Canary.MaxDuration = 7 * 24 * time.Hour
	}
	if c.Canary.PrimaryMetric == "" {
		c.Canary.PrimaryMetric = decide.MetricReward
		if c.Canary.Guardrails == nil {
			c.Canary.Guardrails = []string{decide.MetricConversion}
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Verdict is the gate's judgement of one candidate.
type Verdict struct {
	Candidate string `json:"candidate"`
	// Version is the candidate's registry version (0: not saved, it was
	// rejected).
	Version int `json:"version,omitempty"`
	Figures
	Passed bool   `json:"passed"`
	Reason string `json:"reason"`
}

// Turn is what one Step did.
type Turn struct {
	// Kind is the event recorded (EventIdle when nothing was).
	Kind     string    `json:"kind"`
	Reason   string    `json:"reason"`
	Version  int       `json:"version,omitempty"`
	Verdicts []Verdict `json:"verdicts,omitempty"`
}

// canaryName is the experiment that canaries version v.
func canaryName(v int) string { return "loop-canary-v" + strconv.Itoa(v) }

// Step runs one turn of the loop: with a canary running, it judges it
// (promote, roll back, let it run, or end it at MaxDuration); otherwise it
// trains candidates, gates them and starts a canary of the best that
// passes.
func Step(ctx context.Context, cfg Config) (*Turn, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	hist, err := cfg.Registry.History()
	if err != nil {
		return nil, err
	}
	if paused(hist) {
		return &Turn{Kind: EventIdle, Reason: "the loop is paused (nextbest loop resume)"}, nil
	}
	switch e := running(hist); {
	case e != nil && e.Kind == EventShadow:
		return judgeShadow(ctx, &cfg, e)
	case e != nil:
		return judgeCanary(ctx, &cfg, e)
	}
	return trainAndGate(ctx, &cfg)
}

// paused reports whether a person paused the loop and did not resume it.
func paused(hist []models.Event) bool {
	for i := len(hist) - 1; i >= 0; i-- {
		switch hist[i].Kind {
		case EventPaused:
			return true
		case EventResumed:
			return false
		}
	}
	return false
}

// approved reports whether version v's promotion was approved since its
// canary started, and whether approval was already asked for.
func approved(hist []models.Event, v int) (ok, asked bool) {
	for i := len(hist) - 1; i >= 0; i-- {
		e := hist[i]
		switch {
		case e.Kind == EventCanary && e.Version == v:
			return ok, asked
		case e.Kind == EventApproved && e.Version == v:
			ok = true
		case e.Kind == EventAwaiting && e.Version == v:
			asked = true
		}
	}
	return ok, asked
}

// Pause, Resume and Approve are a person's steps, recorded in reg's
// history by who.
func Pause(reg Registry, who, reason string) error {
	return reg.Record(models.Event{Kind: EventPaused, By: who, Reason: reason})
}

// Resume lets a paused loop go on.
func Resume(reg Registry, who, reason string) error {
	return reg.Record(models.Event{Kind: EventResumed, By: who, Reason: reason})
}

// Approve approves the promotion of version v, held by Canary.Approve.
func Approve(reg Registry, v int, who, reason string) error {
	return reg.Record(models.Event{Kind: EventApproved, Version: v, By: who, Reason: reason})
}

// running returns the event that started the running stage (a shadow or
// a canary), nil when none runs.
func running(hist []models.Event) *models.Event {
	for i := len(hist) - 1; i >= 0; i-- {
		switch hist[i].Kind {
		case EventCanary, EventShadow:
			return &hist[i]
		case EventPromoted, EventRolledBack, EventExpired, EventShadowFailed:
			return nil
		}
	}
	return nil
}

// trainAndGate trains the candidates, gates each and starts the canary of
// the best one that passes.
func trainAndGate(ctx context.Context, cfg *Config) (*Turn, error) {
	now := cfg.Now()
	evalFrom := now.Add(-cfg.EvalWindow)
	trainJoin := cfg.Join
	trainJoin.From, trainJoin.To = evalFrom.Add(-cfg.TrainWindow), evalFrom
	evalJoin := cfg.Join
	evalJoin.From, evalJoin.To = evalFrom, now
	evalJoined, _, err := logs.Join(ctx, cfg.Journal, evalJoin)
	if err != nil {
		return nil, err
	}
	mode, err := cfg.Service.Mode(ctx)
	if err != nil {
		return nil, err
	}
	turn := &Turn{Kind: EventIdle}
	var best *Verdict
	var bestArt *models.Artifact
	for _, tc := range cfg.Candidates {
		rep, err := training.Run(ctx, training.Job{Journal: cfg.Journal, Join: trainJoin, Spec: cfg.Spec, Catalog: cfg.Catalog, Train: tc})
		if errors.Is(err, training.ErrNoData) {
			turn.Reason = "no decisions to train on in " + window(trainJoin.From, trainJoin.To)
			return turn, nil
		}
		if err != nil {
			return nil, fmt.Errorf("training %s: %w", tc.Model, err)
		}
		v := Verdict{Candidate: rep.Result.Name}
		sc, err := decide.ServableModel(rep.Artifact, cfg.Spec, cfg.Catalog)
		if err != nil {
			return nil, fmt.Errorf("candidate %s cannot serve: %w", v.Candidate, err)
		}
		explorer, err := decide.NewExplorer(cfg.Explorer)
		if err != nil {
			return nil, err
		}
		fig, err := compare(evalJoined, cfg, sc, explorer)
		if err != nil {
			return nil, fmt.Errorf("evaluating candidate %s: %w", v.Candidate, err)
		}
		v.Figures = fig
		v.Passed, v.Reason = cfg.judge(fig, cfg.Gate, mode)
		switch {
		case cfg.Gate.Off:
			v.Passed, v.Reason = true, "the gate is off: "+v.Reason
		case mode.blind():
			v.Passed, v.Reason = true, "the apprentice's baseline does not explore (ε = 0): no log can judge another policy off-policy, so the canary judges; "+v.Reason
		}
		turn.Verdicts = append(turn.Verdicts, v)
		if v.Passed && (best == nil || v.Diff.Lo > best.Diff.Lo || math.IsNaN(best.Diff.Lo)) {
			best, bestArt = &turn.Verdicts[len(turn.Verdicts)-1], rep.Artifact
		}
	}
	for i := range turn.Verdicts {
		v := &turn.Verdicts[i]
		if v == best {
			continue
		}
		if err := cfg.Registry.Record(models.Event{Time: cfg.Now().UTC(), Kind: EventGateRejected, By: "loop", Reason: v.Candidate + ": " + v.Reason, Figures: v.Figures.Map()}); err != nil {
			return nil, err
		}
	}
	if best == nil {
		turn.Kind, turn.Reason = EventGateRejected, "no candidate passed the gate"
		return turn, nil
	}
	if best.Version, err = cfg.Registry.Save(bestArt); err != nil {
		return nil, err
	}
	if err := cfg.Registry.Record(models.Event{Time: cfg.Now().UTC(), Kind: EventGatePassed, Version: best.Version, By: "loop", Reason: best.Candidate + ": " + best.Reason, Figures: best.Figures.Map()}); err != nil {
		return nil, err
	}
	if !cfg.Shadow.Off && !mode.blind() {
		if err := cfg.Service.SetShadow(ctx, best.Version, cfg.explorer()); err != nil {
			return nil, fmt.Errorf("cannot start the shadow of v%d: %w", best.Version, err)
		}
		reason := fmt.Sprintf("v%d scores every decision beside the serving policy, unserved", best.Version)
		if err := cfg.Registry.Record(models.Event{Time: cfg.Now().UTC(), Kind: EventShadow, Version: best.Version, By: "loop", Reason: reason}); err != nil {
			return nil, err
		}
		turn.Kind, turn.Version, turn.Reason = EventShadow, best.Version, reason
		return turn, nil
	}
	return startCanary(ctx, cfg, turn, best.Version, best.Candidate)
}

// explorer is the explorer candidates are evaluated, shadowed and
// canaried with: nil for the service's own.
func (c *Config) explorer() *decide.Explorer {
	if c.Explorer == (decide.Explorer{}) {
		return nil
	}
	x := c.Explorer
	return &x
}

// startCanary serves version to the canary share as an experiment arm.
func startCanary(ctx context.Context, cfg *Config, turn *Turn, version int, candidate string) (*Turn, error) {
	now := cfg.Now()
	best := &Verdict{Version: version, Candidate: candidate}
	exp := &decide.Experiment{
		Name:          canaryName(best.Version),
		Description:   fmt.Sprintf("the retraining loop's canary of model v%d (%s)", best.Version, best.Candidate),
		Start:         now.UTC().Truncate(time.Second),
		PrimaryMetric: cfg.Canary.PrimaryMetric,
		Guardrails:    cfg.Canary.Guardrails,
		Covariate:     cfg.Canary.Covariate,
		Control:       "serving",
		Arms: []decide.Arm{
			{Name: "serving", Policy: "promoted", Share: 1 - cfg.Canary.Share},
			{Name: "canary", Policy: "model:" + strconv.Itoa(best.Version), Share: cfg.Canary.Share},
		},
	}
	// the canary explores as the candidate was evaluated
	exp.Arms[1].Explorer = cfg.explorer()
	if err := cfg.Service.PutExperiment(ctx, exp); err != nil {
		return nil, fmt.Errorf("cannot start the canary of v%d: %w", best.Version, err)
	}
	reason := fmt.Sprintf("experiment %s: %.0f%% of customers", exp.Name, 100*cfg.Canary.Share)
	if err := cfg.Registry.Record(models.Event{Time: cfg.Now().UTC(), Kind: EventCanary, Version: best.Version, By: "loop", Reason: reason}); err != nil {
		return nil, err
	}
	turn.Kind, turn.Version, turn.Reason = EventCanary, best.Version, reason
	return turn, nil
}

// judge applies the gate's rule for the service's mode: gate online,
// matches in apprentice mode.
func (c *Config) judge(f Figures, g Gate, m Mode) (bool, string) {
	if m.Apprentice() {
		return matches(f, g, c.Apprentice.Margin)
	}
	return gate(f, g)
}

// matches is the apprentice's gate: enough rounds and effective sample
// size, and a paired difference with the baseline whose lower bound is
// above −margin × the baseline's value (non-inferiority).
func matches(f Figures, g Gate, margin float64) (bool, string) {
	if ok, reason := gate(f, g); ok || f.Rounds < g.MinRounds || f.ESS < g.MinESS {
		return ok, reason
	}
	m := margin * math.Abs(f.Serving.Value)
	if !(f.Diff.Lo > -m) {
		return false, fmt.Sprintf("it does not match the baseline: difference %+.4g [%+.4g, %+.4g], lower bound below −%.4g (%.0f%% of the baseline's %.4g)",
			f.Diff.Value, f.Diff.Lo, f.Diff.Hi, m, 100*margin, f.Serving.Value)
	}
	return true, fmt.Sprintf("it matches the baseline: estimate %.4g [%.4g, %.4g] against the baseline's %.4g [%.4g, %.4g]; difference %+.4g [%+.4g, %+.4g], above −%.4g, over %d rounds, ESS %.0f",
		f.Candidate.Value, f.Candidate.Lo, f.Candidate.Hi, f.Serving.Value, f.Serving.Lo, f.Serving.Hi, f.Diff.Value, f.Diff.Lo, f.Diff.Hi, m, f.Rounds, f.ESS)
}

// gate applies the gate's rule to a candidate's figures: enough rounds
// and effective sample size, a higher estimate than the serving policy's
// realised value, and a lower bound above the serving policy's lower bound
// (Personalizer's rule for adopting new settings). The reason is always
// given.
func gate(f Figures, g Gate) (bool, string) {
	switch {
	case f.Rounds < g.MinRounds:
		return false, fmt.Sprintf("%d evaluation rounds, fewer than the %d the gate needs", f.Rounds, g.MinRounds)
	case f.ESS < g.MinESS:
		return false, fmt.Sprintf("effective sample size %.0f, below %.0f: the candidate is too far from what was logged to be judged", f.ESS, g.MinESS)
	case !(f.Candidate.Value > f.Serving.Value):
		return false, fmt.Sprintf("estimate %.4g is not above the serving policy's %.4g", f.Candidate.Value, f.Serving.Value)
	case !(f.Candidate.Lo > f.Serving.Lo):
		return false, fmt.Sprintf("lower bound %.4g is not above the serving policy's %.4g", f.Candidate.Lo, f.Serving.Lo)
	}
	return true, fmt.Sprintf("estimate %.4g [%.4g, %.4g] against the serving policy's %.4g [%.4g, %.4g]; difference %+.4g [%+.4g, %+.4g] over %d rounds, ESS %.0f",
		f.Candidate.Value, f.Candidate.Lo, f.Candidate.Hi, f.Serving.Value, f.Serving.Lo, f.Serving.Hi, f.Diff.Value, f.Diff.Lo, f.Diff.Hi, f.Rounds, f.ESS)
}

// judgeCanary reads the canary's analysis and promotes, rolls back, ends
// or lets it run.
func judgeCanary(ctx context.Context, cfg *Config, started *models.Event) (*Turn, error) {
	v := started.Version
	name := canaryName(v)
	res, err := cfg.Service.Experiment(ctx, name)
	if err != nil {
		return nil, err
	}
	turn := &Turn{Kind: EventIdle, Version: v}
	end := func(kind, reason string) (*Turn, error) {
		if err := cfg.Service.ArchiveExperiment(ctx, name); err != nil {
			return nil, err
		}
		if err := cfg.Registry.Record(models.Event{Time: cfg.Now().UTC(), Kind: kind, Version: v, By: "loop", Reason: reason}); err != nil {
			return nil, err
		}
		turn.Kind, turn.Reason = kind, reason
		return turn, nil
	}
	// a misbehaving or slow model first: it needs no statistics
	counts, err := cfg.Service.Fallbacks(ctx, name)
	if err != nil {
		return nil, err
	}
	p99, count, err := cfg.Service.Latency(ctx, name)
	if err != nil {
		return nil, err
	}
	if bad, reason := cfg.Canary.unhealthy(counts, p99, count); bad {
		return end(EventRolledBack, reason)
	}
	if res != nil {
		if res.Verdict.Status == experiment.VerdictUntrustworthy {
			return end(EventRolledBack, "the canary's split cannot be trusted: "+res.Verdict.Trust)
		}
		var primary *experiment.Comparison
		for i := range res.Comparisons {
			c := &res.Comparisons[i]
			if c.Arm != "canary" {
				continue
			}
			if c.Role == "guardrail" && c.Direction == "worse" {
				return end(EventRolledBack, fmt.Sprintf("guardrail %s is worse on the canary: %.4g against %.4g (always-valid p %.3g)", c.Metric, c.ArmMean, c.ControlMean, c.AlwaysValidP))
			}
			if c.Role == "primary" {
				primary = c
			}
		}
		if primary != nil && primary.Direction == "worse" {
			return end(EventRolledBack, fmt.Sprintf("the canary is worse on %s: %.4g against %.4g (always-valid p %.3g)", primary.Metric, primary.ArmMean, primary.ControlMean, primary.AlwaysValidP))
		}
		if primary != nil {
			cfg.Logger.Info("canary analysed", "experiment", name, "direction", primary.Direction, "trusted", res.Verdict.Trusted,
				"status", res.Verdict.Status, "always_valid_p", primary.AlwaysValidP, "trust", res.Verdict.Trust)
		}
		mode, err := cfg.Service.Mode(ctx)
		if err != nil {
			return nil, err
		}
		won := primary != nil && primary.Direction == "better"
		if mode.Apprentice() && primary != nil {
			// non-inferiority: the always-valid lower bound of the lift
			// above −Margin × the baseline's mean
			won = primary.AlwaysValidAbsolute.Lo > -cfg.Apprentice.Margin*math.Abs(primary.ControlMean)
		}
		if won && res.Verdict.Trusted {
			if cfg.Canary.Approve {
				hist, err := cfg.Registry.History()
				if err != nil {
					return nil, err
				}
				ok, asked := approved(hist, v)
				if !ok {
					turn.Kind, turn.Reason = EventIdle, fmt.Sprintf("the canary of v%d won; its promotion awaits approval (nextbest loop approve %d)", v, v)
					if !asked {
						turn.Kind = EventAwaiting
						if err := cfg.Registry.Record(models.Event{Time: cfg.Now().UTC(), Kind: EventAwaiting, Version: v, By: "loop", Reason: turn.Reason}); err != nil {
							return nil, err
						}
					}
					return turn, nil
				}
			}
			check := func(a *models.Artifact) error { _, err := decide.ServableModel(a, cfg.Spec, cfg.Catalog); return err }
			reason := fmt.Sprintf("the canary is better on %s: %.4g against %.4g, lift %+.4g [%+.4g, %+.4g] (always-valid p %.3g)",
				primary.Metric, primary.ArmMean, primary.ControlMean, primary.AlwaysValidAbsolute.Estimate, primary.AlwaysValidAbsolute.Lo, primary.AlwaysValidAbsolute.Hi, primary.AlwaysValidP)
			if mode.Apprentice() {
				reason = fmt.Sprintf("the canary matches the baseline (%s) on %s: %.4g against %.4g, lift %+.4g [%+.4g, %+.4g], lower bound above −%.4g (%.0f%% of the baseline's mean); the service leaves apprentice mode",
					mode.Baseline, primary.Metric, primary.ArmMean, primary.ControlMean, primary.AlwaysValidAbsolute.Estimate, primary.AlwaysValidAbsolute.Lo, primary.AlwaysValidAbsolute.Hi,
					cfg.Apprentice.Margin*math.Abs(primary.ControlMean), 100*cfg.Apprentice.Margin)
			}
			if cu := primary.CUPED; cu != nil {
				reason += fmt.Sprintf("; CUPED on %s removed %.0f%% of the lift's variance", cu.Covariate, 100*cu.VarianceReduction)
			}
			if _, err := models.PromoteChecked(cfg.Registry, v, check, "loop", reason); err != nil {
				return end(EventRolledBack, "the promotion was refused: "+err.Error())
			}
			if mode.Apprentice() {
				// the promoted model is in the registry first, so that no
				// instance goes online before it can serve it
				if err := cfg.Service.SetMode(ctx, Mode{Mode: "online"}); err != nil {
					return nil, fmt.Errorf("v%d is promoted, but the service stays in apprentice mode: %w", v, err)
				}
			}
			return end(EventPromoted, reason)
		}
	}
	if cfg.Now().Sub(started.Time) > cfg.Canary.MaxDuration {
		return end(EventExpired, fmt.Sprintf("no decision after %v: the canary ends without a promotion", cfg.Canary.MaxDuration))
	}
	turn.Reason = "the canary runs: no verdict yet"
	return turn, nil
}

// unhealthy applies the canary's health rules to its arms' figures: a
// model whose decisions fall back to the value ranking (non-finite scores,
// timeouts) more often than the serving arm's by MaxFallbackShare, or
// whose compute time's 99th percentile is over MaxLatency, once it has
// MinFallbackDecisions decisions. It says why.
func (c Canary) unhealthy(counts ArmCounts, p99 map[string]float64, count map[string]uint64) (bool, string) {
	n := counts.Decisions["canary"]
	if n >= c.MinFallbackDecisions {
		// the share of each arm's decisions a rule counts (the serving
		// arm's is the baseline: a store outage falls back on both)
		shares := func(of map[string]int64) (canary, serving float64) {
			canary = float64(of["canary"]) / float64(n)
			if m := counts.Decisions["serving"]; m > 0 {
				serving = float64(of["serving"]) / float64(m)
			}
			return canary, serving
		}
		if share, base := shares(counts.Degenerate); share > base+c.MaxDegenerateShare {
			return true, fmt.Sprintf("the canary's model is degenerate: it scored every action the same on %d of its %d decisions (%.0f%% against %.0f%% on the serving arm), so it cannot tell them apart",
				counts.Degenerate["canary"], n, 100*share, 100*base)
		}
		if share, base := shares(counts.Fallbacks); share > base+c.MaxFallbackShare {
			return true, fmt.Sprintf("the canary's model misbehaves: %d of its %d decisions fell back to the value ranking (non-finite scores or timeouts), %.1f%% against %.1f%% on the serving arm",
				counts.Fallbacks["canary"], n, 100*share, 100*base)
		}
	}
	if count["canary"] >= uint64(c.MinFallbackDecisions) && p99["canary"] > c.MaxLatency.Seconds() {
		return true, fmt.Sprintf("the canary's model is too slow: the 99th percentile of its decisions' compute time is over %v (budget %v; the serving arm's: %v)",
			seconds(p99["canary"]), c.MaxLatency, seconds(p99["serving"]))
	}
	return false, ""
}

// seconds renders a latency in seconds as a duration ("+Inf" past the
// histogram's last bucket).
func seconds(s float64) string {
	if math.IsInf(s, 1) {
		return "the last bucket"
	}
	return time.Duration(s * float64(time.Second)).String()
}

func window(from, to time.Time) string {
	return "[" + from.UTC().Format(time.RFC3339) + ", " + to.UTC().Format(time.RFC3339) + ")"
}

// Interval is an estimate with its confidence interval.
type Interval struct {
	Value float64 `json:"value"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
}

// Figures are the off-policy comparison of a candidate with the serving
// policy on the evaluation window.
type Figures struct {
	Rounds int     `json:"rounds"`
	ESS    float64 `json:"ess"`
	// Serving is the serving policy's realised value, Candidate the
	// candidate's estimate, Diff the paired difference (candidate −
	// serving), each with its interval.
	Serving   Interval `json:"serving"`
	Candidate Interval `json:"candidate"`
	Diff      Interval `json:"diff"`
	Estimator string   `json:"estimator"`
	Warnings  []string `json:"warnings,omitempty"`
}

// Map flattens the figures for a models.Event.
func (f Figures) Map() map[string]float64 {
	m := map[string]float64{"rounds": float64(f.Rounds), "ess": f.ESS}
	for name, iv := range map[string]Interval{"serving": f.Serving, "candidate": f.Candidate, "diff": f.Diff} {
		m[name], m[name+"_lo"], m[name+"_hi"] = iv.Value, iv.Lo, iv.Hi
	}
	for k, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			delete(m, k)
		}
	}
	return m
}
