package decide

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr/vm"

	"nextbest/features"
	"nextbest/internal/logthrottle"
	"nextbest/models"
)

// Scorer estimates the reward of candidate actions: models.Scorer, the one
// interface every served model implements.
type Scorer = models.Scorer

// Config configures an Engine.
type Config struct {
	Catalog *Catalog
	Spec    *features.Spec
	// Explorer is how the engine explores its model's scores (defaults
	// filled in by New).
	Explorer Explorer
	// MaxLimit is the largest limit a request may ask for (default 20).
	MaxLimit int
	// Seed seeds the exploration randomness; 0 picks a random seed. Each
	// decision draws from its own stream (seed, n) where n counts the
	// engine's decisions, so with a fixed seed the n-th decision draws the
	// same numbers whatever goroutine makes it.
	Seed uint64
	// Logger hears of models that answer non-finite estimates (at ERROR,
	// at most one line every 10 seconds); default: discard.
	Logger *slog.Logger
}

// Engine runs the decision funnel. It is safe for concurrent use.
type Engine struct {
	cat      *Catalog
	spec     *features.Spec
	explorer Explorer
	max      int
	scorer   atomic.Pointer[scorerBox]
	pool     sync.Pool
	seed     uint64
	streams  atomic.Uint64
	// fallback is the fallback explorer of explorer; names their String()s
	fallback Explorer
	names    [2]string
	log      *slog.Logger
	// nonFiniteLog throttles the log of non-finite estimates
	nonFiniteLog *logthrottle.Throttle
}

type scorerBox struct{ s Scorer }

// New validates cfg and returns an Engine serving with scorer, which may be
// nil: decisions then use the fallback ranking until SetScorer is called.
func New(cfg Config, scorer Scorer) (*Engine, error) {
	if cfg.Catalog == nil || cfg.Spec == nil {
		return nil, errors.New("decide: Config.Catalog and Config.Spec are required")
	}
	if err := cfg.Explorer.setDefaults(); err != nil {
		return nil, fmt.Errorf("decide: explorer: %w", err)
	}
	if cfg.MaxLimit == 0 {
		cfg.MaxLimit = 20
	}
	if cfg.MaxLimit < 1 {
		return nil, fmt.Errorf("decide: MaxLimit must be >= 1, got %d", cfg.MaxLimit)
	}
	for _, a := range cfg.Catalog.Actions {
		if a.compiled == nil {
			return nil, fmt.Errorf("decide: action %q has no compiled features: parse the catalog with the feature spec", a.ID)
		}
	}
	e := &Engine{cat: cfg.Catalog, spec: cfg.Spec, explorer: cfg.Explorer, max: cfg.MaxLimit, seed: cfg.Seed, log: cfg.Logger,
		nonFiniteLog: logthrottle.New(10 * time.Second)}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.seed == 0 {
		e.seed = rand.Uint64()
	}
	e.fallback = FallbackExplorer(e.explorer)
	e.names = [2]string{e.explorer.String(), e.fallback.String()}
	e.pool.New = func() any { return e.newScratch() }
	if err := e.SetScorer(scorer); err != nil {
		return nil, err
	}
	return e, nil
}

// SetScorer swaps the serving model. Decisions already running finish with
// the model they started with; none fails or waits. A nil scorer switches
// to the fallback ranking.
func (e *Engine) SetScorer(s Scorer) error {
	if s != nil && s.Dim() != e.spec.Dim() {
		return fmt.Errorf("decide: scorer %s has dimension %d, the feature spec %d", s.Name(), s.Dim(), e.spec.Dim())
	}
	e.scorer.Store(&scorerBox{s})
	return nil
}

// ServableModel loads art as a scorer for a service with spec and cat,
// checking everything a serving instance checks before it serves a model
// (models.LoadScorer's feature spec and actions, SetScorer's dimension):
// a manual promotion validates exactly this.
func ServableModel(art *models.Artifact, spec *features.Spec, cat *Catalog) (Scorer, error) {
	ids := make([]string, len(cat.Actions))
	for i, a := range cat.Actions {
		ids[i] = a.ID
	}
	sc, err := models.LoadScorer(art, spec.Hash(), ids)
	if err != nil {
		return nil, err
	}
	if sc.Dim() != spec.Dim() {
		return nil, fmt.Errorf("decide: scorer %s has dimension %d, the feature spec %d", sc.Name(), sc.Dim(), spec.Dim())
	}
	return sc, nil
}

// Scorer returns the serving model (nil when serving the fallback).
func (e *Engine) Scorer() Scorer { return e.scorer.Load().s }

// Catalog returns the engine's catalog.
func (e *Engine) Catalog() *Catalog { return e.cat }

// Spec returns the engine's feature spec.
func (e *Engine) Spec() *features.Spec { return e.spec }

// Explorer returns the engine's explorer, defaults filled in.
func (e *Engine) Explorer() Explorer { return e.explorer }

// MaxLimit is the largest limit a request may ask for.
func (e *Engine) MaxLimit() int { return e.max }

// Baselines of Request.Baseline.
const (
	BaselineFirst = "first"
	BaselineValue = "value"
)

// Request is one decision request, already decoded.
type Request struct {
	CustomerID string
	Channel    string
	Context    map[string]any
	// Candidates restricts the decision to these action ids; empty means
	// the whole catalog.
	Candidates []string
	Limit      int
	Explain    bool
	Now        time.Time
	// NoCapped drops every action with a frequency cap: for a decision
	// whose contact history is out of reach (the profile store is down),
	// which cannot tell whether a cap is reached.
	NoCapped bool
	// Scorer, if set, serves this decision instead of the engine's model
	// (an experiment arm's model); it must have the spec's dimension.
	Scorer Scorer
	// Fallback forces the fallback ranking (value × weight).
	Fallback bool
	// Baseline, if set, serves the decision by a business rule instead of
	// a model (apprentice mode): BaselineFirst ranks the candidates in the
	// request's order (the catalog's without candidates), BaselineValue by
	// value × weight. It explores ε-greedily (Explorer's or the engine's
	// ε when that is ε-greedy, else FallbackExplorer's), so the logged
	// propensities stay exact; the decision is
	// logged with Policy "baseline:first" or "baseline:value", not as a
	// fallback.
	Baseline string
	// Explorer, if set, overrides the engine's explorer (an
	// experiment arm's explorer). Its defaults must be filled in: use
	// NewExplorer.
	Explorer *Explorer
	// Slots, if set, declares the decision's slots in order (see Slot):
	// Limit must equal len(Slots), and the action of slot k is scored
	// with slot k's context merged over Context (SlotContext).
	Slots []Slot
}

// Slot is one declared slot of a decision (a hero banner, a sidebar):
// its id, unique and non-empty within the request, and its context,
// values of context fields of the feature spec (vector.context) that
// hold for this slot only. The candidates' rows for slot k are assembled
// with SlotContext(Request.Context, Slots[k].Context), so a feature or a
// cross of a context field (context.placement × action.category) tells
// the slots apart. Eligibility rules see Request.Context only.
type Slot struct {
	ID      string
	Context map[string]any
}

// SlotContext writes ctx with slot's values over it into dst (cleared
// first; a new map when dst is nil) and returns it: the context a slot's
// rows are assembled with. It is the one home of the merge, for the
// engine and for rebuilding a slotted decision's rows from its log.
func SlotContext(dst, ctx, slot map[string]any) map[string]any {
	if dst == nil {
		dst = make(map[string]any, len(ctx)+len(slot))
	}
	clear(dst)
	for k, v := range ctx {
		dst[k] = v
	}
	for k, v := range slot {
		dst[k] = v
	}
	return dst
}

// Result is what Decide answers. Reuse one per goroutine (or pool it):
// Decide resets it, and its slices keep their capacity.
type Result struct {
	Policy   string
	Explorer string
	Fallback bool
	// Degenerate is set when the scorer gave every eligible action (two
	// or more) the same posterior mean and std: a constant model, which
	// cannot tell actions apart (see degenerate).
	Degenerate bool
	Actions    []Chosen
	// Eligible are the actions that passed the funnel, in catalog order.
	Eligible []*Action
	// Inputs are the feature inputs of the decision (log Inputs.ProfileMap
	// with it so the vectors can be rebuilt offline).
	Inputs features.Inputs
	// X holds the feature rows of the returned actions, len(Actions)×dim,
	// for online learning.
	X       []float64
	Explain *Explanation
}

// Chosen is one returned action.
type Chosen struct {
	Action *Action
	Slot   int
	// SlotID is the id of the declared slot (Request.Slots[Slot].ID), ""
	// for a decision without declared slots.
	SlotID     string
	Score      float64 // what the explorer ranked by
	Estimate   float64 // model reward estimate (posterior mean)
	Propensity float64 // P(this action in this slot | eligible set, earlier slots)
}

// Explanation is the decision funnel of one decision.
type Explanation struct {
	Dropped []Drop   `json:"dropped"`
	Scored  []Scored `json:"scored"`
}

// Drop says which funnel stage removed an action and why.
type Drop struct {
	ActionID string `json:"action_id"`
	Stage    string `json:"stage"` // candidates, channel, consent, eligibility, contact
	Reason   string `json:"reason"`
}

// Scored shows the score parts of an action that reached scoring.
type Scored struct {
	ActionID string  `json:"action_id"`
	Mean     float64 `json:"mean"`
	Std      float64 `json:"std"`
	Estimate float64 `json:"estimate"` // mean (+ alpha·std for UCB)
	Value    float64 `json:"value"`
	Weight   float64 `json:"weight"`
	Score    float64 `json:"score"` // estimate × value × weight
	SlotProb float64 `json:"first_slot_probability"`
}

type scratch struct {
	pcg   *rand.PCG
	rng   *rand.Rand
	vm    vm.VM
	env   Env
	acts  []*Action
	feats []*features.ActionFeatures
	idx   []int
	xs    []float64
	mean  []float64
	std   []float64
	score []float64 // deterministic score per candidate
	// policySeen is each contact policy's count of impressions in the
	// profile's history, -1 until worked out (fullPolicy)
	policySeen []int
	c          []float64 // value × weight
	// per-slot working arrays over the remaining candidates
	rem   []int
	probs []float64
	slate Slate
	// a declared slot's merged context and feature inputs
	ctx map[string]any
	in  features.Inputs
}

func (e *Engine) newScratch() *scratch {
	n := len(e.cat.Actions)
	s := &scratch{
		pcg:   rand.NewPCG(e.seed, 0),
		acts:  make([]*Action, 0, n),
		feats: make([]*features.ActionFeatures, 0, n),
		idx:   make([]int, 0, n),
		xs:    make([]float64, 0, n*e.spec.Dim()),
		mean:  make([]float64, n),
		std:   make([]float64, n),
		score: make([]float64, n),
		c:     make([]float64, n),
		rem:   make([]int, 0, n),
		probs: make([]float64, n),
	}
	s.rng = rand.New(s.pcg)
	s.slate = Slate{score: make([]float64, n), rScore: make([]float64, n),
		tMean: make([]float64, n), tSd: make([]float64, n), argmax: models.NewArgmax(n)}
	s.env.Profile = &ProfileEnv{Counters: make(map[string]float64), Recency: make(map[string]float64)}
	return s
}

// Decide runs the funnel for req on profile p (a cold-start profile for an
// unknown customer) and fills res. It returns a *RequestError for bad
// input, or ErrNoActions when nothing survives the funnel. If ctx ends
// before scoring, the decision is made by the fallback ranking instead
// (res.Fallback): a slow model never turns into a failed decision.
func (e *Engine) Decide(ctx context.Context, req *Request, p *features.Profile, res *Result) error {
	res.reset()
	if req.CustomerID == "" {
		return &RequestError{Field: "customer_id", Reason: "must not be empty"}
	}
	if !e.cat.HasChannel(req.Channel) {
		if req.Channel == "" {
			return &RequestError{Field: "channel", Reason: "must not be empty"}
		}
		return &RequestError{Field: "channel", Reason: fmt.Sprintf("unknown channel %q", req.Channel), Unprocessable: true}
	}
	if len(req.Slots) > e.max {
		return &RequestError{Field: "slots", Reason: fmt.Sprintf("must have at most %d entries", e.max)}
	}
	if len(req.Slots) > 0 && req.Limit != len(req.Slots) {
		return &RequestError{Field: "limit", Reason: fmt.Sprintf("must equal the number of slots (%d) when slots are given", len(req.Slots))}
	}
	if req.Limit < 1 || req.Limit > e.max {
		return &RequestError{Field: "limit", Reason: fmt.Sprintf("must be between 1 and %d", e.max)}
	}
	if err := e.spec.ValidateContext(req.Context); err != nil {
		return err
	}
	s := e.pool.Get().(*scratch)
	defer func() {
		clear(s.ctx) // keep no request values in the pool
		e.pool.Put(s)
	}()
	if err := e.validateSlots(s, req); err != nil {
		return err
	}
	s.pcg.Seed(e.seed, e.streams.Add(1))
	// the model is chosen once, up front: a swap during this decision does
	// not change it, and even a decision with nothing to show names it
	sc := e.scorer.Load().s
	if req.Scorer != nil {
		if req.Scorer.Dim() != e.spec.Dim() {
			return fmt.Errorf("decide: scorer %s has dimension %d, the feature spec %d", req.Scorer.Name(), req.Scorer.Dim(), e.spec.Dim())
		}
		sc = req.Scorer
	}
	if req.Fallback {
		sc = nil
	}
	switch req.Baseline {
	case "":
	case BaselineFirst, BaselineValue:
		sc = nil
	default:
		return fmt.Errorf("decide: unknown baseline %q", req.Baseline)
	}
	pol := e.explorer
	if req.Explorer != nil {
		pol = *req.Explorer
	}
	if req.Baseline != "" {
		// a rule has no posterior: it explores ε-greedily
		res.Policy = "baseline:" + req.Baseline
		if pol.Kind != EpsilonGreedy {
			pol = FallbackExplorer(pol)
		}
	} else if sc == nil {
		res.Fallback = true
		res.Policy = "fallback"
		pol = FallbackExplorer(pol)
	} else {
		res.Policy = sc.Name()
	}
	res.Explorer = e.explorerName(pol)
	if req.Explain {
		res.Explain = &Explanation{}
	}

	// catalog / candidates
	s.acts = s.acts[:0]
	if len(req.Candidates) > 0 {
		for i, id := range req.Candidates {
			a, ok := e.cat.Lookup(id)
			if !ok {
				return &RequestError{Field: fmt.Sprintf("candidates[%d]", i), Reason: fmt.Sprintf("unknown action %q", id), Unprocessable: true}
			}
			if !containsAction(s.acts, a) {
				s.acts = append(s.acts, a)
			}
		}
		if res.Explain != nil {
			for _, a := range e.cat.Actions {
				if !containsAction(s.acts, a) {
					res.drop(a, "candidates", "not among the request's candidates")
				}
			}
		}
	} else {
		s.acts = append(s.acts, e.cat.Actions...)
	}

	// channel, consent, eligibility, contact policy. Reasons are written
	// only when the request asked for an explanation: a dropped action
	// costs nothing more than the check that dropped it. The profile is
	// evaluated once, at req.Now: the rules read the counters and the
	// clock that the vector reads.
	e.spec.Inputs(&res.Inputs, p, req.Channel, req.Context, req.Now)
	e.fillEnv(&s.env, req, p, &res.Inputs)
	consent, hasConsent := p.Consents[req.Channel]
	explain := res.Explain != nil
	kept := s.acts[:0]
	s.policySeen = resetSeen(s.policySeen, len(e.cat.Policies))
	for _, a := range s.acts {
		if !a.onChannel(req.Channel) {
			if explain {
				res.drop(a, "channel", "not offered on channel "+req.Channel)
			}
			continue
		}
		if hasConsent && !consent {
			if explain {
				res.drop(a, "consent", "customer has no consent for channel "+req.Channel)
			}
			continue
		}
		if pur, c, missing := a.missingConsent(p, req.Channel); missing {
			if explain {
				res.drop(a, "consent", consentReason(pur, req.Channel, c))
			}
			continue
		}
		if a.rule != nil {
			ok, err := evalRule(&s.vm, a.rule, &s.env)
			if err != nil {
				if explain {
					res.drop(a, "eligibility", "rule error: "+err.Error())
				}
				continue
			}
			if !ok {
				if explain {
					res.drop(a, "eligibility", "rule is false: "+a.Eligible)
				}
				continue
			}
		}
		if req.NoCapped && a.Capped() {
			res.drop(a, "contact", "frequency cap: the contact history is unavailable")
			continue
		}
		if blocked, why := contactBlock(a, p, req.Now, explain); blocked {
			res.drop(a, "contact", why)
			continue
		}
		if cp, n := e.fullPolicy(s, a, p, req.Now, nil); cp != nil {
			if explain {
				res.drop(a, "contact", fmt.Sprintf("contact policy %s: %d contacts in the last %s (max %d)", cp.Name, n, cp.Window.String(), cp.Max))
			}
			continue
		}
		kept = append(kept, a)
	}
	s.acts = kept
	if len(s.acts) == 0 {
		return ErrNoActions
	}
	if ctx.Err() != nil && sc != nil {
		// past the deadline: answer with the cheap fallback ranking rather
		// than fail (a channel always gets an answer)
		sc, pol = nil, FallbackExplorer(pol)
		res.Fallback, res.Policy, res.Explorer = true, "fallback", e.explorerName(pol)
	}

	// score: the candidates once, or once per declared slot that gets an
	// action (with the slot's context), block k of n rows for slot k
	n := len(s.acts)
	dim := e.spec.Dim()
	limit := min(req.Limit, n)
	blocks := 1
	if len(req.Slots) > 0 {
		blocks = limit
	}
	s.feats = s.feats[:0]
	s.idx = s.idx[:0]
	for _, a := range s.acts {
		s.feats = append(s.feats, a.compiled)
		s.idx = append(s.idx, a.index)
	}
	s.xs = grow(s.xs, blocks*n*dim)
	s.mean, s.std, s.score = grow(s.mean, blocks*n), grow(s.std, blocks*n), grow(s.score, blocks*n)
	mean, std := s.mean, s.std
	if len(req.Slots) == 0 {
		e.spec.Assemble(s.xs, &res.Inputs, s.feats)
	} else {
		for k := range blocks {
			s.ctx = SlotContext(s.ctx, req.Context, req.Slots[k].Context)
			e.spec.Inputs(&s.in, p, req.Channel, s.ctx, req.Now)
			e.spec.Assemble(s.xs[k*n*dim:(k+1)*n*dim], &s.in, s.feats)
		}
	}
	if sc == nil {
		for i := range mean {
			mean[i], std[i] = 1, 0
		}
	} else {
		for k := range blocks {
			sc.Predict(mean[k*n:(k+1)*n], std[k*n:(k+1)*n], s.idx, s.xs[k*n*dim:(k+1)*n*dim])
		}
	}
	for i, a := range s.acts {
		s.c[i] = a.value(&res.Inputs) * a.Weight
	}
	for k := range blocks {
		for i := range n {
			est := mean[k*n+i]
			if pol.Kind != Thompson {
				est += pol.Alpha * std[k*n+i]
			}
			s.score[k*n+i] = est * s.c[i]
			if req.Baseline == BaselineFirst {
				s.score[k*n+i] = float64(n - i)
			}
		}
	}
	if sc != nil {
		if i := nonFinite(mean, std, s.score); i >= 0 {
			// The model is broken for this input (a poisoned profile or
			// model state): the fallback ranking answers rather than an
			// error, and the log says which model and action.
			e.logNonFinite(sc.Name(), s.acts[i%n].ID, mean[i], std[i], s.score[i])
			sc, pol = nil, FallbackExplorer(pol)
			res.Fallback, res.Policy, res.Explorer = true, "fallback", e.explorerName(pol)
			for i := range mean {
				mean[i], std[i] = 1, 0
				s.score[i] = s.c[i%n]
			}
		}
	}
	res.Eligible = append(res.Eligible, s.acts...)
	if sc != nil {
		for k := range blocks {
			res.Degenerate = res.Degenerate || degenerate(mean[k*n:(k+1)*n], std[k*n:(k+1)*n])
		}
	}

	// explore, slot by slot
	s.rem = s.rem[:0]
	for i := range n {
		s.rem = append(s.rem, i)
	}
	res.X = grow(res.X, limit*dim)
	// for Thompson, one quadrature grid serves all the slots of a decision
	// without declared slots; a declared slot has scores, and a grid, of
	// its own
	if req.Baseline == BaselineFirst {
		s.slate.ResetScores(pol, s.score[:n]) // the request's order
	} else {
		s.slate.Reset(pol, mean[:n], std[:n], s.c[:n])
	}
	for slot := 0; slot < limit; slot++ {
		base := 0 // the slot's block of scores and rows
		if blocks > 1 {
			base = slot * n
			if slot > 0 && req.Baseline != BaselineFirst {
				s.slate.Reset(pol, mean[base:base+n], std[base:base+n], s.c[:n])
			}
		}
		m := len(s.rem)
		probs := s.probs[:m]
		s.slate.Probabilities(probs, s.rem)
		if slot == 0 && res.Explain != nil {
			for j, i := range s.rem {
				a := s.acts[i]
				est := mean[i]
				if pol.Kind != Thompson {
					est += pol.Alpha * std[i]
				}
				res.Explain.Scored = append(res.Explain.Scored, Scored{
					ActionID: a.ID, Mean: mean[i], Std: std[i], Estimate: est,
					Value: s.c[i] / a.Weight, Weight: a.Weight, Score: s.score[i], SlotProb: probs[j],
				})
			}
		}
		j := Draw(s.rng, probs)
		i := s.rem[j]
		score := s.score[base+i]
		if pol.Kind == Thompson {
			score = s.c[i] * mean[base+i]
		}
		ch := Chosen{Action: s.acts[i], Slot: slot, Score: score, Estimate: mean[base+i], Propensity: probs[j]}
		if len(req.Slots) > 0 {
			ch.SlotID = req.Slots[slot].ID
		}
		res.Actions = append(res.Actions, ch)
		copy(res.X[slot*dim:(slot+1)*dim], s.xs[(base+i)*dim:(base+i+1)*dim])
		s.rem = append(s.rem[:j], s.rem[j+1:]...)
		if len(s.acts[i].policies) > 0 {
			// the slots drawn so far may fill a contact policy: its other
			// actions are not drawn for the later slots
			s.rem = e.dropFilled(s, s.rem, res.Actions, p, req.Now)
			if len(s.rem) == 0 {
				break
			}
		}
	}
	return nil
}

// fullPolicy returns the first contact policy of a that p's contact
// history, with the actions already chosen in this decision, fills at
// now, and its count; nil if none. A policy's count in the history is
// worked out once per decision (s.policySeen), however many of its
// actions are checked.
func (e *Engine) fullPolicy(s *scratch, a *Action, p *features.Profile, now time.Time, chosen []Chosen) (*ContactPolicy, int) {
	for _, cp := range a.policies {
		n := s.policySeen[cp.index]
		if n < 0 {
			n = cp.seen(e.cat, p, now)
			s.policySeen[cp.index] = n
		}
		for _, c := range chosen {
			if slices.Contains(cp.members, c.Action.index) {
				n++
			}
		}
		if n >= cp.Max {
			return cp, n
		}
	}
	return nil, 0
}

// dropFilled removes from rem the candidates that a contact policy,
// filled by p's history and the actions chosen so far, excludes.
func (e *Engine) dropFilled(s *scratch, rem []int, chosen []Chosen, p *features.Profile, now time.Time) []int {
	kept := rem[:0]
	for _, i := range rem {
		if cp, _ := e.fullPolicy(s, s.acts[i], p, now, chosen); cp == nil {
			kept = append(kept, i)
		}
	}
	return kept
}

// resetSeen returns seen with n entries, each -1 (not counted yet).
func resetSeen(seen []int, n int) []int {
	if cap(seen) < n {
		seen = make([]int, n)
	}
	seen = seen[:n]
	for i := range seen {
		seen[i] = -1
	}
	return seen
}

// validateSlots checks req's declared slots: ids non-empty and unique,
// and each slot's context merged over the request's valid for the
// feature spec (the one validation of the request's context; the error
// names the slot, "slots[1].context.placement").
func (e *Engine) validateSlots(s *scratch, req *Request) error {
	for k, sl := range req.Slots {
		field := fmt.Sprintf("slots[%d]", k)
		if sl.ID == "" {
			return &RequestError{Field: field + ".id", Reason: "must not be empty"}
		}
		for _, o := range req.Slots[:k] {
			if o.ID == sl.ID {
				return &RequestError{Field: field + ".id", Reason: fmt.Sprintf("duplicate slot id %q", sl.ID)}
			}
		}
		if len(sl.Context) == 0 {
			continue
		}
		s.ctx = SlotContext(s.ctx, req.Context, sl.Context)
		if err := e.spec.ValidateContext(s.ctx); err != nil {
			var fe *features.FieldError
			if errors.As(err, &fe) {
				return &features.FieldError{Field: field + "." + fe.Field, Reason: fe.Reason}
			}
			return fmt.Errorf("%s: %w", field, err)
		}
	}
	return nil
}

// degenerate reports whether two or more candidates all have the same
// posterior mean and std, to a millionth of a reward unit (or 1e-9
// relative): a model that cannot tell them apart.
func degenerate(mean, std []float64) bool {
	if len(mean) < 2 {
		return false
	}
	same := func(a, b float64) bool { return math.Abs(a-b) <= 1e-6+1e-9*max(math.Abs(a), math.Abs(b)) }
	for i := 1; i < len(mean); i++ {
		if !same(mean[i], mean[0]) || !same(std[i], std[0]) {
			return false
		}
	}
	return true
}

// nonFinite returns the index of the first candidate whose mean, std or
// score is not finite, or -1.
func nonFinite(mean, std, score []float64) int {
	for i := range mean {
		if math.IsNaN(mean[i]+std[i]+score[i]) || math.IsInf(mean[i], 0) || math.IsInf(std[i], 0) || math.IsInf(score[i], 0) {
			return i
		}
	}
	return -1
}

// logNonFinite logs a model's non-finite estimate at ERROR, at most once
// every 10 seconds, with the count of the decisions held back since.
func (e *Engine) logNonFinite(model, action string, mean, std, score float64) {
	ok, held := e.nonFiniteLog.Allow("non-finite")
	if !ok {
		return
	}
	e.log.Error("model answered a non-finite estimate; the decision used the fallback ranking",
		"model", model, "action", action, "mean", mean, "std", std, "score", score,
		"suppressed_since_last", held)
}

// explorerName is pol.String(), without formatting it again for the
// engine's own explorer and its fallback (every decision logs it).
func (e *Engine) explorerName(pol Explorer) string {
	switch pol {
	case e.explorer:
		return e.names[0]
	case e.fallback:
		return e.names[1]
	}
	return pol.String()
}

// FallbackExplorer is the explorer of the fallback ranking (every candidate
// scored value × weight) when the engine serves with pol: ε-greedy with
// pol's ε, or 0.1 when pol is not ε-greedy or has ε = 0, so fallback
// decisions keep exact, non-degenerate propensities. It is the one home
// of the rule: off-policy evaluation (package eval) asks it what the
// engine did on a decision logged with Fallback.
func FallbackExplorer(pol Explorer) Explorer {
	eps := pol.Epsilon
	if pol.Kind != EpsilonGreedy || eps == 0 {
		eps = 0.1
	}
	return Explorer{Kind: EpsilonGreedy, Epsilon: eps}
}

func (r *Result) reset() {
	r.Policy, r.Explorer, r.Fallback, r.Degenerate = "", "", false, false
	r.Actions = r.Actions[:0]
	r.Eligible = r.Eligible[:0]
	r.X = r.X[:0]
	r.Explain = nil
}

func (r *Result) drop(a *Action, stage, reason string) {
	if r.Explain != nil {
		r.Explain.Dropped = append(r.Explain.Dropped, Drop{ActionID: a.ID, Stage: stage, Reason: reason})
	}
}

func (a *Action) onChannel(ch string) bool {
	for _, c := range a.Channels {
		if c == ch {
			return true
		}
	}
	return false
}

func containsAction(as []*Action, a *Action) bool {
	for _, b := range as {
		if b == a {
			return true
		}
	}
	return false
}

// contactBlock reports whether the contact policy blocks a for p at now,
// and why when explain is set.
func contactBlock(a *Action, p *features.Profile, now time.Time, explain bool) (bool, string) {
	c := p.Contacts[a.ID]
	if c == nil {
		return false, ""
	}
	if d := a.SuppressAfterConversion.D(); d > 0 && !c.LastConversion.IsZero() && now.Sub(c.LastConversion) < d {
		if !explain {
			return true, ""
		}
		return true, fmt.Sprintf("suppressed for %s after conversion at %s", a.SuppressAfterConversion.String(), c.LastConversion.UTC().Format(time.RFC3339))
	}
	if ok, at := a.SuppressAfterRejects.suppressedByRejects(c.Rejects, now); ok {
		if !explain {
			return true, ""
		}
		r := a.SuppressAfterRejects
		return true, fmt.Sprintf("suppressed for %s after %d rejects within %s (the last at %s)", r.For.String(), r.Count, r.Within.String(), at.UTC().Format(time.RFC3339))
	}
	for _, l := range a.Limits {
		if seen := l.Seen(c, now); seen >= l.Max {
			if !explain {
				return true, ""
			}
			return true, fmt.Sprintf("frequency cap: %d impressions in the last %s (max %d)", seen, l.Window.String(), l.Max)
		}
	}
	return false, ""
}

// String formats d like MarshalText.
func (d Duration) String() string {
	b, _ := d.MarshalText()
	return string(b)
}

// fillEnv sets what the rules see from the request, p and in, the
// features' evaluation of p at req.Now.
func (e *Engine) fillEnv(env *Env, req *Request, p *features.Profile, in *features.Inputs) {
	pe := env.Profile
	pe.ID = req.CustomerID
	pe.Known = !p.Cold
	pe.Stage = p.Stage
	pe.LastChannel = p.LastChannel
	pe.TenureDays = 0
	if !p.FirstSeen.IsZero() {
		pe.TenureDays = req.Now.Sub(p.FirstSeen).Hours() / 24
	}
	pe.Attributes = p.Attributes
	pe.Consents = p.Consents
	clear(pe.Counters)
	for name, v := range in.Counters() {
		pe.Counters[name] = v
	}
	e.spec.FillRecency(pe.Recency, p, req.Now)
	// the CLV figures only when a rule reads them: a customer's first
	// decision of a day would compute them otherwise
	if !e.cat.rulesReadCLV {
		pe.CLV = CLVEnv{}
	} else if figs, ok := in.CLV(); ok {
		pe.CLV = CLVEnv{Known: true, Value: figs.Value, PAlive: figs.PAlive, ExpectedPurchases: figs.ExpectedPurchases, RepeatPurchases: figs.RepeatPurchases}
	} else {
		pe.CLV = CLVEnv{}
	}
	env.Context = req.Context
	env.Channel = req.Channel
	lt := in.Time()
	env.Hour = lt.Hour()
	env.Weekday = int(lt.Weekday())
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}
