package serve

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/pprof"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"github.com/valyala/fasthttp/pprofhandler"

	"nextbest/cluster/rstore"
	"nextbest/cluster/stream"
	"nextbest/decide"
	"nextbest/features"
	"nextbest/journal"
	"nextbest/models"
	"nextbest/personalizer"
	"nextbest/state"
)

// Handler returns the service's HTTP handler: the v1 API, health, metrics.
func (s *Service) Handler() fasthttp.RequestHandler {
	return s.handle
}

// route is one endpoint: its metrics label, its method ("" for any) and
// its handler, which gets the path's remainder after a prefix route.
type route struct {
	name   string
	method string
	// scope is the API-key scope the route needs ("" none: the health
	// probes, the dashboard's page; scopePerOperation: operationScope
	// says, by method); see authorize
	scope string
	// batch routes take bodies up to all the server reads (readLimit),
	// not MaxBodyBytes: a batch is many requests in one
	batch   bool
	handler func(s *Service, ctx *fasthttp.RequestCtx, rest string)
}

// routes are the exact paths; prefixRoutes match by prefix (and suffix,
// when they have one), in order. Their names label the request metrics, a
// fixed set.
var (
	routes = map[string]route{
		"/v1/decide":           {"decide", "POST", ScopeDecide, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handleDecide(c) }},
		"/v1/decide/batch":     {"decide_batch", "POST", ScopeDecide, true, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handleDecideBatch(c) }},
		"/v1/outcomes":         {"outcomes", "POST", ScopeIngest, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handleOutcome(c) }},
		"/v1/events":           {"events", "POST", ScopeIngest, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handleEvent(c) }},
		"/v1/profiles:batch":   {routeProfilesBatch, "POST", ScopeIngest, true, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handleProfilesBatch(c) }},
		"/v1/actions":          {"actions", "GET", ScopeRead, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { writeRawJSON(c, 200, s.actionsJSON) }},
		"/v1/experiments":      {"experiments", "GET", ScopeRead, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handleExperiments(c) }},
		"/v1/stats":            {"stats", "GET", ScopeRead, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handleStats(c) }},
		"/v1/models":           {"models", "GET", ScopeRead, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handleModels(c) }},
		"/admin/models/reload": {"admin", "POST", ScopeAdmin, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handleReload(c) }},
		"/admin/shadow":        {"admin", "", ScopeAdmin, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handleShadowAdmin(c) }},
		"/v1/audit":            {"audit", "GET", ScopeAdmin, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handleAudit(c) }},
		"/admin/mode":          {"admin", "", ScopeAdmin, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handleModeAdmin(c) }},
		"/admin/clv":           {"admin", "", ScopeAdmin, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handleCLVAdmin(c) }},
		"/healthz":             {"healthz", "", "", false, func(s *Service, c *fasthttp.RequestCtx, _ string) { writeRawJSON(c, 200, []byte(`{"status":"ok"}`)) }},
		"/readyz":              {"readyz", "", "", false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handleReady(c) }},
		"/metrics":             {"metrics", "", ScopeRead, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.metrics.write(c) }},
		"/openapi.json":        {"openapi", "GET", "", false, func(_ *Service, c *fasthttp.RequestCtx, _ string) { handleOpenAPI(c) }},
		// the Personalizer-compatible API (personalizer.go)
		pzBase + "rank":                   {routePZRank, "POST", ScopeDecide, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handlePZRank(c, false) }},
		pzBase + "multislot/rank":         {routePZRank, "POST", ScopeDecide, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handlePZRank(c, true) }},
		pzBase + "configurations/service": {routePZConfig, "", scopePerOperation, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handlePZService(c) }},
		pzBase + "configurations/policy":  {routePZConfig, "", scopePerOperation, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handlePZPolicy(c) }},
	}
	prefixRoutes = []struct {
		prefix, suffix string
		route
	}{
		{"/v1/decisions/", "/activate", route{"activate", "POST", ScopeDecide, false, func(s *Service, c *fasthttp.RequestCtx, rest string) { s.handleActivate(c, rest) }}},
		{"/v1/decisions/", "", route{"decisions", "GET", ScopeProfilesRead, false, func(s *Service, c *fasthttp.RequestCtx, rest string) { s.handleDecision(c, rest) }}},
		{"/v1/profiles/", "", route{"profiles", "GET", ScopeProfilesRead, false, func(s *Service, c *fasthttp.RequestCtx, rest string) { s.handleProfile(c, rest) }}},
		{"/v1/customers/", "", route{"erasure", "DELETE", ScopePrivacy, false, func(s *Service, c *fasthttp.RequestCtx, rest string) { s.handleErase(c, rest) }}},
		{"/v1/reports/", "", route{"reports", "GET", ScopeRead, false, func(s *Service, c *fasthttp.RequestCtx, rest string) { s.handleReport(c, rest) }}},
		{"/admin/keys", "", route{"admin", "", ScopeAdmin, false, func(s *Service, c *fasthttp.RequestCtx, rest string) { s.handleKeysAdmin(c, rest) }}},
		{"/admin/experiments", "", route{"admin", "", ScopeAdmin, false, func(s *Service, c *fasthttp.RequestCtx, rest string) { s.handleExperimentsAdmin(c, rest) }}},
		{"/ui", "", route{routeUI, "", "", false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handleUI(c, string(c.Path())) }}},
		// the Personalizer-compatible events (personalizer.go)
		{pzBase + "events/", "/reward", route{routePZEvents, "POST", ScopeIngest, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handlePZEvent(c, pzReward, false) }}},
		{pzBase + "events/", "/activate", route{routePZEvents, "POST", ScopeDecide, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handlePZEvent(c, pzActivate, false) }}},
		{pzBase + "multislot/events/", "/reward", route{routePZEvents, "POST", ScopeIngest, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handlePZEvent(c, pzReward, true) }}},
		{pzBase + "multislot/events/", "/activate", route{routePZEvents, "POST", ScopeDecide, false, func(s *Service, c *fasthttp.RequestCtx, _ string) { s.handlePZEvent(c, pzActivate, true) }}},
		// the Go runtime's profiles (net/http/pprof's endpoints), for the
		// operator only
		{"/debug/pprof/", "", route{"admin", "GET", ScopeAdmin, false, func(_ *Service, c *fasthttp.RequestCtx, rest string) { pprofServe(c, rest) }}},
	}
)

// routeOther labels requests for no endpoint.
const routeOther = "other"

func (s *Service) handle(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	name := routeOther
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in handler", "panic", fmt.Sprint(p), "path", string(ctx.Path()), "stack", string(debug.Stack()))
			ctx.Response.Reset()
			writeError(ctx, fasthttp.StatusInternalServerError, "internal", "", "internal error")
		}
		s.metrics.observe(name, ctx.Response.StatusCode(), time.Since(start))
	}()
	if s.corsAllowed != nil && s.cors(ctx) {
		return // a preflight from a configured origin
	}
	path := pzVersioned(ctx)
	r, _, rest, ok := findRoute(path)
	if !ok {
		writeError(ctx, 404, "not_found", "", "no such endpoint: "+path)
		return
	}
	name = r.name
	m := string(ctx.Method())
	sc := r.scope
	if sc == scopePerOperation {
		sc = operationScope(m)
	}
	if !s.authorize(ctx, sc) {
		return
	}
	if r.method != "" && !s.method(ctx, r.method) {
		return
	}
	if limit := s.bodyLimit(r); len(ctx.Request.Body()) > limit {
		s.bodyTooLarge(ctx, limit)
		return
	}
	if (r.method == fasthttp.MethodPost || sc == ScopeAdmin && (m == fasthttp.MethodPost || m == fasthttp.MethodPut)) &&
		!jsonMediaType(ctx.Request.Header.ContentType()) {
		// every write takes JSON only, the admin API's too: a browser page
		// can post a form or text/plain cross-site, not JSON (which needs a
		// CORS preflight the service never grants)
		writeError(ctx, fasthttp.StatusUnsupportedMediaType, "unsupported_media_type", "", "Content-Type must be application/json")
		return
	}
	r.handler(s, ctx, rest)
}

// findRoute returns the route that serves path, its key in the routes
// tables (the exact path, or a prefix route's prefix and suffix) and, for
// a prefix route, what of the path is between its prefix and suffix.
func findRoute(path string) (r route, key, rest string, ok bool) {
	if r, ok := routes[path]; ok {
		return r, path, "", true
	}
	for _, pr := range prefixRoutes {
		after, found := strings.CutPrefix(path, pr.prefix)
		if !found {
			continue
		}
		if pr.suffix != "" {
			if after, found = strings.CutSuffix(after, pr.suffix); !found {
				continue
			}
		}
		return pr.route, pr.prefix + pr.suffix, after, true
	}
	return route{}, "", "", false
}

func (s *Service) method(ctx *fasthttp.RequestCtx, m string) bool {
	if string(ctx.Method()) == m {
		return true
	}
	ctx.Response.Header.Set("Allow", m)
	writeError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed", "", "use "+m)
	return false
}

// handleReady answers whether this instance can take traffic: 503 while
// it starts or stops, and while its journal cannot write (a full disk), so
// that a load balancer sends writes elsewhere until it recovers.
func (s *Service) handleReady(ctx *fasthttp.RequestCtx) {
	if !s.ready.Load() {
		writeUnavailable(ctx, "not ready")
		return
	}
	if err := s.journal.Health(); err != nil {
		if errors.Is(err, journal.ErrNoSpace) {
			writeUnavailable(ctx, "the journal is out of disk space")
		} else {
			writeUnavailable(ctx, "the journal cannot write")
		}
		return
	}
	writeRawJSON(ctx, 200, []byte(`{"status":"ready"}`))
}

func (s *Service) handleStats(ctx *fasthttp.RequestCtx) {
	st, err := s.stats()
	if err != nil {
		writeErr(ctx, err)
		return
	}
	writeJSON(ctx, 200, st)
}

// decideWork is the per-request scratch of a decision, pooled.
type decideWork struct {
	buf  []byte
	req  decideRequest
	res  decide.Result
	jd   journal.Decision
	lv   state.Live
	acts []int
	// capped and resv are the contact reservation's scratch
	capped []string
	resv   state.Reservation
	// shadowRes is the shadow model's scratch result
	shadowRes decide.Result
	// what DecideOn (the state.Decider the contact guard calls) decides
	// with, and what it found
	svc       *Service
	dctx      context.Context
	dreq      decide.Request
	slots     []decide.Slot
	arm       *armRuntime
	storeDown bool
	shadow    *journal.Shadow
	// pending: the decision's record was enqueued but not acknowledged in
	// time; the journal may still hand lv to the applier
	pending bool
}

func (s *Service) handleDecide(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	if !s.admitDecision(ctx) {
		return
	}
	defer s.decisions.done()
	w := s.work.Get().(*decideWork)
	w.pending = false
	defer func() {
		// a record still pending in the journal carries pointers into w
		// (its live meta): leave w to the garbage collector
		if !w.pending {
			s.work.Put(w)
		}
	}()
	if err := s.decodeDecide(ctx.PostBody(), &w.req); err != nil {
		writeErr(ctx, err)
		return
	}
	now := s.cfg.Now().UTC()
	if w.req.RequestID != "" {
		if done := s.replayDecision(ctx, w.req.CustomerID, w.req.RequestID); done {
			return
		}
	}
	// the budget covers everything from here to the acknowledgement,
	// the journal's group commit included
	dctx, cancel := context.WithTimeout(context.Background(), s.cfg.DecisionTimeout)
	defer cancel()
	w.svc, w.dctx = s, dctx
	defer func() { w.dctx = nil }() // w is pooled: do not keep the context
	w.dreq = decide.Request{
		CustomerID: w.req.CustomerID, Channel: w.req.Channel, Context: w.req.Context,
		Candidates: w.req.Candidates, Limit: w.req.limit(), Explain: w.req.Explain, Now: now,
	}
	w.slots = w.slots[:0]
	for _, sl := range w.req.Slots {
		w.slots = append(w.slots, decide.Slot{ID: sl.ID, Context: sl.Context})
	}
	if len(w.slots) > 0 {
		w.dreq.Slots = w.slots
	}
	exp, arm := s.assign(&w.dreq, now)
	w.arm = arm
	if m := s.mode.Load(); m.apprentice() && (arm == nil || arm.arm.Policy == "promoted") {
		w.dreq.Baseline, w.dreq.Explorer = m.spec.Baseline, m.explorer
	}

	// The profile is read, the contact policy checked and the capped
	// actions given reserved in one step (Contacts, which calls
	// w.DecideOn): concurrent decisions for one customer never exceed a
	// cap.
	id := newDecisionID(now)
	reserved, err := s.contacts.Decide(w.req.CustomerID, id, now, w, &w.resv)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	var resv *state.Reservation
	if reserved {
		resv = &w.resv
	}
	storeDown, shadow := w.storeDown, w.shadow
	res := &w.res
	d := &w.jd
	// the record's slices and profile map are reused: the applier is
	// done with them once AppendLive returns
	eligible, actions, profile, slots := d.Eligible[:0], d.Actions[:0], d.Profile, d.Slots[:0]
	*d = journal.Decision{
		V: journal.SchemaVersion, DecisionID: id, RequestID: w.req.RequestID,
		CustomerID: w.req.CustomerID, Channel: w.req.Channel, Time: now, Context: w.req.Context,
		Profile: res.Inputs.FillProfileMap(profile), Policy: res.Policy, FeatureSpec: s.spec.Hash(),
		Explorer: res.Explorer, Fallback: res.Fallback || storeDown, Degenerate: res.Degenerate, Experiment: exp, Shadow: shadow,
		DeferActivation: w.req.DeferActivation,
	}
	if arm != nil && arm.name != "" {
		d.Policy = arm.name
	}
	if arm != nil && arm.covariate != "" {
		exp.Covariate, _ = d.Profile[arm.covariate].(float64)
	}
	for _, a := range res.Eligible {
		eligible = append(eligible, a.ID)
	}
	w.acts = w.acts[:0]
	for _, c := range res.Actions {
		actions = append(actions, journal.LoggedAction{ActionID: c.Action.ID, Slot: c.Slot, Score: c.Score, Estimate: c.Estimate, Propensity: c.Propensity})
		w.acts = append(w.acts, c.Action.Index())
	}
	d.Eligible, d.Actions = eligible, actions
	for _, sl := range w.req.Slots {
		slots = append(slots, journal.SlotLog{ID: sl.ID, Context: sl.Context})
	}
	if len(slots) > 0 {
		d.Slots = slots
	}
	if res.Explain != nil {
		// journaled with the decision: the question of why a customer was
		// shown something can be answered later (GET /v1/decisions/{id})
		if d.Explanation, err = json.Marshal(&explanationWire{Eligible: d.Eligible, Dropped: res.Explain.Dropped, Scored: res.Explain.Scored, Explorer: res.Explorer}); err != nil {
			if resv != nil {
				s.contacts.Release(resv)
			}
			writeErr(ctx, err)
			return
		}
	}
	w.buf, err = journal.AppendDecision(w.buf[:0], d)
	if err != nil {
		if resv != nil {
			s.contacts.Release(resv)
		}
		writeErr(ctx, err)
		return
	}
	w.lv = state.Live{Decision: d, X: res.X, Acts: w.acts, Reservation: resv}
	computed := time.Now()
	if _, err := s.journal.AppendLive(dctx, journal.TypeDecision, now, w.buf, &w.lv); err != nil {
		if errors.Is(err, journal.ErrDuplicate) {
			// the journal holds this request's decision already (made by
			// a try whose answer was lost): answer with it
			if resv != nil {
				s.contacts.Release(resv)
			}
			if s.replayDecision(ctx, w.req.CustomerID, w.req.RequestID) {
				return
			}
		}
		// Not acknowledged. A record still pending may yet be applied and
		// release its reservation then; one that was never enqueued or
		// failed is released here (its reservation would otherwise expire).
		if errors.Is(err, journal.ErrPending) {
			w.pending = true
		} else if resv != nil {
			s.contacts.Release(resv)
		}
		s.journalError(ctx, err)
		return
	}
	s.metrics.decideCompute.Observe(computed.Sub(start).Seconds())
	if e := d.Experiment; e != nil {
		s.metrics.armCompute.WithLabelValues(e.Name, e.Arm).Observe(computed.Sub(start).Seconds())
	}
	s.metrics.decideJournal.Observe(time.Since(computed).Seconds())
	s.metrics.decided(d)
	if res.Explain == nil {
		w.buf = appendDecideResponse(w.buf[:0], d)
		writeRawJSON(ctx, 200, w.buf)
		return
	}
	resp := newDecideResponse(d)
	resp.Explain = d.Explanation
	writeJSON(ctx, 200, &resp)
}

// DecideOn is the decision the contact guard holds the customer for
// (state.Decider): the engine's funnel on p, the holdout's empty answer,
// the shadow's score; it returns the capped actions given (none for a
// decision whose activation is deferred: it gives nothing yet). It may run
// more than once for one request (a concurrent decision took what it
// gave); the last run is the one logged.
func (w *decideWork) DecideOn(p *features.Profile, storeErr error) ([]string, error) {
	s := w.svc
	w.storeDown = storeErr != nil
	if w.storeDown {
		// the contact history is out of reach: no capped action is given
		s.logThrottled("profile-store", "profile store failed; deciding on a cold-start profile without capped actions", storeErr)
	}
	w.dreq.NoCapped = w.storeDown
	if err := s.engine.Decide(w.dctx, &w.dreq, p, &w.res); err != nil && !errors.Is(err, decide.ErrNoActions) {
		return nil, err
	}
	if w.arm != nil && w.arm.none {
		// a holdout arm shows nothing: the decision is logged with its
		// eligible actions and no action
		w.res.Actions = w.res.Actions[:0]
	}
	w.shadow = nil
	if rt := s.shadow.Load(); rt != nil && !w.storeDown && len(w.res.Actions) > 0 {
		w.shadow = s.shadowScore(w.dctx, rt, w.dreq, p, w.res.Eligible, &w.shadowRes)
	}
	w.capped = w.capped[:0]
	if w.req.DeferActivation {
		// nothing is shown yet: its activation reserves what it shows
		return w.capped, nil
	}
	for _, c := range w.res.Actions {
		if c.Action.Capped() {
			w.capped = append(w.capped, c.Action.ID)
		}
	}
	return w.capped, nil
}

// replayDecision answers a repeated request_id with the decision already
// made for it, and reports whether it did.
func (s *Service) replayDecision(ctx *fasthttp.RequestCtx, customer, requestID string) bool {
	d, err := s.index.DecisionForRequest(customer, requestID)
	if err != nil {
		return false
	}
	ctx.Response.Header.Set("Idempotent-Replay", "true")
	writeRawJSON(ctx, 200, appendDecideResponse(nil, d))
	return true
}

// handleOutcome answers POST /v1/outcomes. The type must be declared
// (422 otherwise); a re-sent outcome (the same outcome_id for the
// decision, or for a first-aggregated type the same decision, action and
// type) is answered 202 with "duplicate": true and the first one's LSN,
// and changes nothing: it is not journaled, counted or applied.
func (s *Service) handleOutcome(ctx *fasthttp.RequestCtx) {
	var r outcomeRequest
	now := s.cfg.Now().UTC()
	ts, err := parseOutcome(ctx.PostBody(), &r, now)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	t, ok := s.outcomes.Lookup(r.Type)
	if !ok {
		writeErr(ctx, &fieldError{status: 422, code: "unprocessable", field: "type",
			reason: fmt.Sprintf("unknown outcome type %q; the declared types are: %s", r.Type, s.outcomes)})
		return
	}
	d, err := s.index.Decision(r.DecisionID)
	switch {
	case errors.Is(err, state.ErrNotFound):
		// the cluster path: the decision may be in the stream and not yet
		// applied (a fallback decision made while Redis was down)
		if s.indexLagging(ctx) {
			return
		}
		writeErr(ctx, &fieldError{status: 404, code: "not_found", field: "decision_id", reason: fmt.Sprintf("no decision %q (unknown, or older than the retention)", r.DecisionID)})
		return
	case errors.Is(err, state.ErrCorrupt):
		writeErr(ctx, err)
		return
	case err != nil:
		writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	if r.Slate {
		s.slateOutcome(ctx, &r, t, d, ts)
		return
	}
	shown := false
	for _, a := range d.Actions {
		if a.ActionID == r.ActionID {
			shown = true
			break
		}
	}
	if !shown {
		writeErr(ctx, &fieldError{status: 422, code: "unprocessable", field: "action_id", reason: fmt.Sprintf("decision %s did not return action %q", r.DecisionID, r.ActionID)})
		return
	}
	if ts.Before(d.Time.Add(-maxClockSkew)) {
		writeErr(ctx, &fieldError{status: 422, code: "unprocessable", field: "ts", reason: "is before the decision"})
		return
	}
	// the de-duplication keys are held from the check until the record is
	// applied: a concurrent identical outcome waits, then finds them
	dedupe := state.DedupeKeys(r.DecisionID, r.ActionID, r.OutcomeID, t)
	release, ok := s.outcomesInFlight.acquire(dedupe, 5*time.Second)
	if !ok {
		writeErr(ctx, fmt.Errorf("%w: an identical outcome is still being recorded; retry", errUnavailable))
		return
	}
	defer release()
	for _, key := range dedupe {
		first, err := s.index.OutcomeFirstLSN(key)
		if err != nil {
			writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
			return
		}
		if first != 0 {
			writeJSON(ctx, 202, map[string]any{"status": "accepted", "lsn": first, "duplicate": true})
			return
		}
	}
	o := journal.Outcome{
		V: journal.SchemaVersion, DecisionID: r.DecisionID, ActionID: r.ActionID, CustomerID: d.CustomerID,
		Type: r.Type, Reward: *r.Reward, Time: ts, DecisionTime: d.Time, OutcomeID: r.OutcomeID,
	}
	payload, err := json.Marshal(&o)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	if !s.admitIngest(ctx) {
		return
	}
	lv := &state.Live{Outcome: &o}
	if len(dedupe) > 0 {
		lv.ID = dedupe[0] // an identical outcome is the same record
	}
	lsn, err := s.journal.AppendLive(context.Background(), journal.TypeOutcome, ts, payload, lv)
	s.ingest.done()
	if errors.Is(err, journal.ErrDuplicate) {
		writeJSON(ctx, 202, map[string]any{"status": "accepted", "lsn": lsn, "duplicate": true})
		return
	}
	if err != nil {
		s.journalError(ctx, err)
		return
	}
	s.metrics.outcomes.WithLabelValues(t.Name).Inc()
	writeJSON(ctx, 202, map[string]any{"status": "accepted", "lsn": lsn})
}

func (s *Service) handleEvent(ctx *fasthttp.RequestCtx) {
	var r eventRequest
	now := s.cfg.Now().UTC()
	ts, err := parseEvent(ctx.PostBody(), &r, now)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	e, err := s.journalEvent(&r, ts)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	payload, err := json.Marshal(&e)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	if !s.admitIngest(ctx) {
		return
	}
	lsn, err := s.journal.AppendLive(context.Background(), journal.TypeEvent, ts, payload, &state.Live{Event: &e})
	s.ingest.done()
	if err != nil {
		s.journalError(ctx, err)
		return
	}
	s.metrics.events.Inc()
	writeJSON(ctx, 202, map[string]any{"status": "accepted", "lsn": lsn})
}

// journalEvent is the journal record of a checked event request (see
// checkEvent), validated exactly as the applier will apply it: a type the
// feature spec declares (422 otherwise), properties of the types the spec
// reads from it.
func (s *Service) journalEvent(r *eventRequest, ts time.Time) (journal.Event, error) {
	if !s.spec.HasEvent(r.Type) {
		return journal.Event{}, &fieldError{status: 422, code: "unprocessable", field: "type", reason: fmt.Sprintf("unknown event type %q (the feature spec lists the accepted types)", r.Type)}
	}
	e := journal.Event{V: journal.SchemaVersion, CustomerID: r.CustomerID, Type: r.Type, Channel: r.Channel, Time: ts, Properties: r.Properties}
	if err := s.spec.ValidateEvent(features.Event{Type: e.Type, Channel: e.Channel, Time: ts, Properties: e.Properties}); err != nil {
		return journal.Event{}, err
	}
	return e, nil
}

// profileView is the answer of GET /v1/profiles/{id}: the stored profile
// and its values as of now.
type profileView struct {
	*features.Profile
	Now         time.Time          `json:"now"`
	CountersNow map[string]float64 `json:"counters_now,omitempty"`
	RecencyDays map[string]float64 `json:"recency_days,omitempty"`
}

// pathProfile is the profile of the customer a path ends in (GET
// /v1/profiles/{id}, DELETE /v1/customers/{id}); it has answered the
// request (400, 404 or 503) when ok is false.
func (s *Service) pathProfile(ctx *fasthttp.RequestCtx, raw string) (id string, p *features.Profile, ok bool) {
	id, err := pathID(raw, "customer_id", "customer")
	if err != nil {
		writeErr(ctx, err)
		return "", nil, false
	}
	p, err = s.profiles.Get(id)
	if err != nil {
		writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
		return "", nil, false
	}
	if p == nil {
		writeErr(ctx, &fieldError{status: 404, code: "not_found", field: "customer_id", reason: fmt.Sprintf("no profile for customer %q", id)})
		return "", nil, false
	}
	return id, p, true
}

func (s *Service) handleProfile(ctx *fasthttp.RequestCtx, raw string) {
	_, p, ok := s.pathProfile(ctx, raw)
	if !ok {
		return
	}
	now := s.cfg.Now().UTC()
	v := profileView{Profile: p, Now: now, CountersNow: map[string]float64{}, RecencyDays: map[string]float64{}}
	for name := range p.Counters {
		if c, ok := s.spec.CounterValue(p, name, now); ok {
			v.CountersNow[name] = c
		}
	}
	for typ, t := range p.LastEvent {
		v.RecencyDays[typ] = now.Sub(t).Hours() / 24
	}
	writeJSON(ctx, 200, &v)
}

// pathID is the id a path ends in, percent-decoded and checked as the
// request bodies' ids are; field and what name it in the error.
func pathID(raw, field, what string) (string, error) {
	id, err := url.PathUnescape(raw)
	if err != nil || checkID(field, id) != nil {
		return "", badField(field, "invalid %s id in path", what)
	}
	return id, nil
}

// handleDecision answers GET /v1/decisions/{id}: the decision as it was
// journaled (its inputs, eligible set, ranked actions with propensities,
// policy, experiment arm, and its explanation when the request asked for
// one; attributes marked pii masked), the outcomes it has received so
// far and its activation (which slots were shown, when). It answers while the
// decision is in the index (decision_retention); older ones are in the
// journal (nextbest export).
func (s *Service) handleDecision(ctx *fasthttp.RequestCtx, raw string) {
	id, err := pathID(raw, "decision_id", "decision")
	if err != nil {
		writeErr(ctx, err)
		return
	}
	d, err := s.state.Decision(id)
	switch {
	case errors.Is(err, state.ErrNotFound):
		writeErr(ctx, &fieldError{status: 404, code: "not_found", field: "decision_id",
			reason: fmt.Sprintf("no decision %q (unknown, or older than the decision retention)", id)})
		return
	case err != nil:
		writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	outs, err := s.state.DecisionOutcomes(d, s.outcomes.Names())
	if err != nil {
		writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	if outs == nil {
		outs = []state.OutcomeSummary{}
	}
	act, err := s.state.Activation(d)
	if err != nil {
		writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	d.Profile = s.spec.MaskPII(d.Profile)
	writeJSON(ctx, 200, map[string]any{"decision": d, "outcomes": outs, "activation": act})
}

// admin checks the caller may use /admin/ endpoints: the bearer token
// when one is configured, else a loopback peer. It answers 401/403 itself.
func (s *Service) admin(ctx *fasthttp.RequestCtx) bool {
	if tok := s.cfg.AdminToken; tok != "" {
		got, ok := strings.CutPrefix(string(ctx.Request.Header.Peek("Authorization")), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
			writeError(ctx, 401, "unauthenticated", "", "admin endpoints need Authorization: Bearer <admin token>")
			return false
		}
		return true
	}
	if !ctx.RemoteIP().IsLoopback() {
		writeError(ctx, 403, "permission_denied", "", "admin endpoints answer loopback callers unless an admin token is configured")
		return false
	}
	return true
}

func (s *Service) handleReload(ctx *fasthttp.RequestCtx) {
	if s.registry == nil {
		writeError(ctx, 422, "unprocessable", "", "no model registry configured")
		return
	}
	changed, err := s.loadPromoted(true)
	if err != nil {
		writeError(ctx, 422, "unprocessable", "", err.Error())
		return
	}
	writeJSON(ctx, 200, map[string]any{"changed": changed, "serving": s.servingName()})
}

// handleModels answers GET /v1/models: what is served and what the
// online model has learned.
func (s *Service) handleModels(ctx *fasthttp.RequestCtx) {
	s.swapMu.Lock()
	v := s.servedVersion
	s.swapMu.Unlock()
	out := map[string]any{
		"serving":          s.servingName(),
		"promoted_version": v,
		"online":           map[string]any{"name": s.model.Name(), "observations": s.model.Updates(), "dim": s.model.Dim()},
		"explorer":         s.engine.Explorer().String(),
		"feature_spec":     s.spec.Hash(),
		"learning_mode":    s.mode.Load().spec,
	}
	if m := s.mode.Load(); m.apprentice() {
		out["serving"] = "baseline:" + m.spec.Baseline
	}
	if s.registry != nil {
		if list, err := s.registry.List(); err == nil {
			out["registry"] = list
		}
		if h, ok := s.registry.(interface {
			History() ([]models.Event, error)
		}); ok {
			if hist, err := h.History(); err == nil {
				out["history"] = hist[max(0, len(hist)-50):] // the latest 50 steps
			}
		}
	}
	writeJSON(ctx, 200, out)
}

func (s *Service) servingName() string {
	if sc := s.engine.Scorer(); sc != nil {
		return sc.Name()
	}
	return "fallback"
}

var errUnavailable = errors.New("service unavailable")

// bodyTooLarge answers a request whose body is over MaxBodyBytes.
//
// The server reads bodies up to readLimit (a multiple of MaxBodyBytes)
// whole and refuses them here, keeping the connection: a client that is
// still writing when the answer comes would otherwise see its connection
// reset, not the 413. Only a body over readLimit is refused by fasthttp
// unread, with the connection closed.
func (s *Service) bodyTooLarge(ctx *fasthttp.RequestCtx, limit int) {
	writeError(ctx, 413, "payload_too_large", "", fmt.Sprintf("request body is larger than %d bytes", limit))
}

// bodyLimit is the largest body route r takes: MaxBodyBytes, and for a
// batch route all the server reads (readLimit).
func (s *Service) bodyLimit(r route) int {
	if r.batch {
		return readLimit(s.cfg.MaxBodyBytes)
	}
	return s.cfg.MaxBodyBytes
}

// readLimit is the largest body the HTTP server reads before the handler
// refuses it (see bodyTooLarge).
func readLimit(maxBody int) int { return max(4*maxBody, 1<<20) }

// serverError answers errors fasthttp meets before our handler runs, such
// as a body over readLimit.
func (s *Service) serverError(ctx *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		s.bodyTooLarge(ctx, s.cfg.MaxBodyBytes)
	default:
		writeError(ctx, 400, "invalid_argument", "", "malformed HTTP request: "+err.Error())
	}
	s.metrics.observe(routeOther, ctx.Response.StatusCode(), 0)
}

// writeErr maps err to a status and a JSON error body, in one place.
func writeErr(ctx *fasthttp.RequestCtx, err error) {
	var fe *fieldError
	var re *decide.RequestError
	var ve *features.FieldError
	var pe *personalizer.Error
	switch {
	case errors.As(err, &pe):
		writeError(ctx, personalizer.Status(pe.Code), pe.Code, pe.Field, pe.Error())
	case errors.As(err, &fe):
		writeError(ctx, fe.status, fe.code, fe.field, fe.Error())
	case errors.As(err, &re):
		status, code := 400, "invalid_argument"
		if re.Unprocessable {
			status, code = 422, "unprocessable"
		}
		writeError(ctx, status, code, re.Field, re.Field+": "+re.Reason)
	case errors.As(err, &ve):
		writeError(ctx, 400, "invalid_argument", ve.Field, ve.Error())
	case errors.Is(err, context.DeadlineExceeded):
		writeUnavailable(ctx, "decision deadline exceeded")
	case errors.Is(err, errUnavailable):
		writeUnavailable(ctx, err.Error())
	case errors.Is(err, rstore.ErrUnavailable), errors.Is(err, stream.ErrUnavailable):
		writeUnavailable(ctx, "a shared store of the cluster is unavailable; retry")
	case errors.Is(err, rstore.ErrContended):
		writeUnavailable(ctx, err.Error())
	default:
		writeError(ctx, 500, "internal", "", err.Error())
	}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// writeError answers with the JSON error body: the native API's, or on
// the Personalizer-compatible routes Personalizer's (pzError).
func writeError(ctx *fasthttp.RequestCtx, status int, code, field, msg string) {
	if isPZPath(ctx.Path()) {
		writePZError(ctx, status, code, field, msg)
		return
	}
	writeJSON(ctx, status, errorBody{errorDetail{Code: code, Message: msg, Field: field}})
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"error":{"code":"internal","message":"cannot encode response"}}`)
	}
	writeRawJSON(ctx, status, b)
}

func writeRawJSON(ctx *fasthttp.RequestCtx, status int, b []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// newDecisionID returns a 32-hex-digit id that sorts by time: 48 bits of
// Unix milliseconds, then 80 random bits.
func newDecisionID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	binary.BigEndian.PutUint64(b[8:], rand.Uint64())
	binary.BigEndian.PutUint16(b[6:8], uint16(rand.Uint32()))
	return hex.EncodeToString(b[:])
}

// pprofIndex is net/http/pprof's index page: fasthttp's pprofhandler
// answers 404 for /debug/pprof/ (a path that ends in /).
var pprofIndex = fasthttpadaptor.NewFastHTTPHandlerFunc(pprof.Index)

// pprofServe serves /debug/pprof/REST: the index for an empty REST, the
// named profile otherwise.
func pprofServe(c *fasthttp.RequestCtx, rest string) {
	if rest == "" {
		pprofIndex(c)
		return
	}
	pprofhandler.PprofHandler(c)
}
