package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"gopkg.in/yaml.v3"

	"nextbest/decide"
	"nextbest/journal"
	"nextbest/personalizer"
	"nextbest/state"
)

// The Personalizer-compatible API: Azure Personalizer's REST routes under
// /personalizer/v1.0/, for its applications and client SDKs unchanged.
// It is a namespace of its own, a Personalizer "resource": its events are
// journal records of their own types (journal.TypePersonalizer…), indexed
// by the state applier under z/, learned by a model of their own
// (online.Personalizer) with the resource's configuration (the service
// configuration and the learning settings, kept like the learning mode: a
// file in the data directory, a key of the cluster's registry bucket).
// Actions are defined by each request; their features are hashed by
// package personalizer's featurization. docs/personalizer.md is the
// migration guide.
//
//	POST   rank                              → 201 RankResponse
//	POST   events/{eventId}/reward           → 204
//	POST   events/{eventId}/activate         → 204
//	POST   multislot/rank                    → 201 MultiSlotRankResponse
//	POST   multislot/events/{eventId}/reward → 204
//	POST   multislot/events/{eventId}/activate → 204
//	GET    configurations/service            → 200 ServiceConfiguration (PUT: replace it)
//	GET    configurations/policy             → 200 PolicyContract (PUT: replace, DELETE: reset)
//
// Errors carry Personalizer's body, {"error": {"code", "message",
// "target"}}, its codes (personalizer.Status gives the statuses) and the
// x-ms-error-code header of the 2022-09-01-preview.

const (
	// pzBase is the Personalizer-compatible API's base path.
	pzBase = "/personalizer/v1.0/"
	// route names (the request metrics' endpoint labels)
	routePZRank   = "personalizer_rank"
	routePZEvents = "personalizer_events"
	routePZConfig = "personalizer_config"
	// scopePerOperation is the scope of a route whose methods need
	// different scopes (operationScope).
	scopePerOperation = "(per operation)"
)

// The operations of an event.
const (
	pzReward   = "reward"
	pzActivate = "activate"
)

// isPZPath reports whether a request path is the Personalizer-compatible
// API's: its errors carry Personalizer's body.
func isPZPath(p []byte) bool { return bytes.HasPrefix(p, []byte("/personalizer/")) }

// pzVersioned returns the request's path, with the query-versioned form
// of the Personalizer routes that the later previews' clients send
// (/personalizer/multislot/rank?api-version=2022-09-01-preview) mapped
// onto the path-versioned one this service serves
// (/personalizer/v1.0/multislot/rank): the bodies are the same.
func pzVersioned(ctx *fasthttp.RequestCtx) string {
	path := string(ctx.Path())
	if rest, ok := strings.CutPrefix(path, "/personalizer/"); ok && !strings.HasPrefix(rest, "v1.0/") &&
		ctx.QueryArgs().Has("api-version") {
		path = pzBase + rest
		ctx.URI().SetPath(path)
	}
	return path
}

// operationScope is the scope of a method of a scopePerOperation route
// (the Personalizer configuration's): reading needs read, changing admin.
func operationScope(method string) string {
	if method == fasthttp.MethodGet || method == fasthttp.MethodHead {
		return ScopeRead
	}
	return ScopeAdmin
}

// pzErrorBody is Personalizer's ErrorResponse.
type pzErrorBody struct {
	Error pzErrorDetail `json:"error"`
}

// pzErrorDetail is a PersonalizerError; Target names the field at fault.
type pzErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target,omitempty"`
}

// writePZError answers an error of the Personalizer-compatible API: the
// code given when it is Personalizer's (personalizer.Error's), else the
// one of its status (and, for a 400, of the operation: a bad rank request
// is InvalidRankRequest), in Personalizer's body, with the code in the
// x-ms-error-code header too.
func writePZError(ctx *fasthttp.RequestCtx, status int, code, field, msg string) {
	if code == "" || code[0] < 'A' || code[0] > 'Z' {
		code = pzStatusCode(string(ctx.Path()), status)
	}
	ctx.Response.Header.Set("x-ms-error-code", code)
	writeJSON(ctx, status, pzErrorBody{pzErrorDetail{Code: code, Message: msg, Target: field}})
}

// pzStatusCode is the Personalizer error code of a status the native
// layers answer with (authorization, limits, routing, overload).
func pzStatusCode(path string, status int) string {
	switch status {
	case 400, 422:
		switch {
		case strings.HasSuffix(path, "/rank"):
			return personalizer.CodeInvalidRankRequest
		case strings.HasSuffix(path, "/reward"):
			return personalizer.CodeInvalidRewardRequest
		case strings.HasSuffix(path, "/activate"):
			return personalizer.CodeInvalidEventIDToActivate
		case strings.HasSuffix(path, "/configurations/service"):
			return personalizer.CodeInvalidServiceConfiguration
		case strings.HasSuffix(path, "/configurations/policy"):
			return personalizer.CodeInvalidPolicyContract
		}
		return personalizer.CodeBadRequest
	case 401:
		return personalizer.CodeUnauthorized
	case 403:
		return personalizer.CodePermissionDenied
	case 404:
		return personalizer.CodeResourceNotFound
	case 405:
		return personalizer.CodeOperationNotAllowed
	case 413:
		return personalizer.CodePayloadSizeExceeded
	case 415:
		return personalizer.CodeUnsupportedMediaType
	case 429:
		return personalizer.CodeTooManyRequests
	case 503:
		return personalizer.CodeServiceUnavailable
	}
	return personalizer.CodeInternalServerError
}

// pzResource is the live configuration of the Personalizer resource.
type pzResource struct {
	settings personalizer.Settings
	policy   personalizer.Policy
}

// pzDoc is the resource's configuration as kept (DATA/personalizer.yaml,
// or the cluster's registry bucket): what was PUT, nil for the defaults.
type pzDoc struct {
	Service *personalizer.ServiceConfiguration `yaml:"service,omitempty"`
	Policy  *personalizer.Policy               `yaml:"policy,omitempty"`
}

// resolvePZ makes a resource of a kept document.
func resolvePZ(d pzDoc) (*pzResource, error) {
	r := &pzResource{settings: personalizer.DefaultSettings(), policy: personalizer.DefaultPolicy()}
	if d.Service != nil {
		st, err := personalizer.Resolve(personalizer.Settings{}, *d.Service, time.Time{})
		if err != nil {
			return nil, fmt.Errorf("service configuration: %w", err)
		}
		r.settings = st
	}
	if d.Policy != nil {
		p, err := personalizer.ResolvePolicy(personalizer.PolicyContract{Name: &d.Policy.Name, Arguments: &d.Policy.Arguments})
		if err != nil {
			return nil, fmt.Errorf("learning settings: %w", err)
		}
		r.policy = p
	}
	return r, nil
}

func (r *pzResource) doc() pzDoc {
	svc, pol := r.settings.Doc, r.policy
	return pzDoc{Service: &svc, Policy: &pol}
}

// openPersonalizer starts the resource's saved configuration, or the
// defaults, and follows changes another instance saves.
func (s *Service) openPersonalizer() error {
	s.pzStore = s.liveStore("personalizer")
	doc, err := s.pzStore.Load()
	if err != nil {
		return err
	}
	var d pzDoc
	if doc != nil {
		if err := yaml.Unmarshal(doc, &d); err != nil {
			return fmt.Errorf("the personalizer configuration saved through its API: %w", err)
		}
	}
	r, err := resolvePZ(d)
	if err != nil {
		return fmt.Errorf("the personalizer configuration saved through its API: %w", err)
	}
	s.pz.Store(r)
	s.watchDoc(s.pzStore, "not using the personalizer configuration another instance saved", func(doc []byte) error {
		var d pzDoc
		if err := yaml.Unmarshal(doc, &d); err != nil {
			return err
		}
		r, err := resolvePZ(d)
		if err != nil {
			return err
		}
		s.pz.Store(r)
		return nil
	})
	return nil
}

// pzModelUpdate is the live model update frequency, for the learner;
// while the service starts (before the configuration is read) the model
// takes in the journal's replay at once.
func (s *Service) pzModelUpdate() time.Duration {
	if r := s.pz.Load(); r != nil {
		return r.settings.ModelUpdate
	}
	return 0
}

// savePZ saves and makes live a new configuration, and records the change
// in the audit trail. The caller holds pzMu.
func (s *Service) savePZ(ctx *fasthttp.RequestCtx, r *pzResource, kind string, detail any) bool {
	doc, err := yaml.Marshal(r.doc())
	if err == nil {
		err = s.pzStore.Save(doc)
	}
	if err != nil {
		writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
		return false
	}
	s.pz.Store(r)
	b, _ := json.Marshal(detail)
	s.audit(caller(ctx), kind, string(b))
	return true
}

// handlePZService serves configurations/service: GET the service
// configuration, PUT a new one (every v1.0 field required; learningMode
// kept when left out).
func (s *Service) handlePZService(ctx *fasthttp.RequestCtx) {
	s.pzMu.Lock()
	defer s.pzMu.Unlock()
	cur := s.pz.Load()
	switch string(ctx.Method()) {
	case fasthttp.MethodGet:
		writeJSON(ctx, 200, cur.settings.Doc)
	case fasthttp.MethodPut:
		var c personalizer.ServiceConfiguration
		if err := decodeJSON(ctx.PostBody(), &c); err != nil {
			writeErr(ctx, err)
			return
		}
		st, err := personalizer.Resolve(cur.settings, c, s.cfg.Now())
		if err != nil {
			writeErr(ctx, err)
			return
		}
		next := &pzResource{settings: st, policy: cur.policy}
		if s.savePZ(ctx, next, "personalizer_service_configuration_set", st.Doc) {
			writeJSON(ctx, 200, st.Doc)
		}
	default:
		ctx.Response.Header.Set("Allow", "GET, PUT")
		writeError(ctx, 405, "", "", "use GET or PUT")
	}
}

// handlePZPolicy serves configurations/policy: GET the learning settings,
// PUT new ones, DELETE to reset them to the default.
func (s *Service) handlePZPolicy(ctx *fasthttp.RequestCtx) {
	s.pzMu.Lock()
	defer s.pzMu.Unlock()
	cur := s.pz.Load()
	var next personalizer.Policy
	switch string(ctx.Method()) {
	case fasthttp.MethodGet:
		writeJSON(ctx, 200, cur.policy)
		return
	case fasthttp.MethodPut:
		var c personalizer.PolicyContract
		if err := decodeJSON(ctx.PostBody(), &c); err != nil {
			writeErr(ctx, err)
			return
		}
		p, err := personalizer.ResolvePolicy(c)
		if err != nil {
			writeErr(ctx, err)
			return
		}
		next = p
	case fasthttp.MethodDelete:
		next = personalizer.DefaultPolicy()
	default:
		ctx.Response.Header.Set("Allow", "GET, PUT, DELETE")
		writeError(ctx, 405, "", "", "use GET, PUT or DELETE")
		return
	}
	if s.savePZ(ctx, &pzResource{settings: cur.settings, policy: next}, "personalizer_policy_set", next) {
		writeJSON(ctx, 200, next)
	}
}

// newEventID returns an event id for a rank call without one: a random
// UUID (version 4), as Personalizer's look.
func newEventID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// handlePZRank answers rank (multi false) and multislot/rank: 201 with
// the answer, journaled before it is given. A call with the eventId of an
// earlier call answers that call's answer again (a retry), or 400 when
// the request differs; the draw is seeded by the event id.
func (s *Service) handlePZRank(ctx *fasthttp.RequestCtx, multi bool) {
	if !s.admitDecision(ctx) {
		return
	}
	defer s.decisions.done()
	var req pzRankRequest
	if err := decodeJSON(ctx.PostBody(), &req); err != nil {
		writeErr(ctx, err)
		return
	}
	if err := checkPZRank(&req, multi); err != nil {
		writeErr(ctx, err)
		return
	}
	hash := pzRequestHash(&req, multi)
	id := newEventID()
	if req.EventID != nil {
		id = *req.EventID
	}
	// one call per event id at a time: a concurrent retry waits, then
	// finds the first one's answer
	release, ok := s.pzRanking.acquire([]string{id}, 5*time.Second)
	if !ok {
		writeErr(ctx, fmt.Errorf("%w: a rank call with this eventId is still being recorded; retry", errUnavailable))
		return
	}
	defer release()
	if req.EventID != nil && s.pzReplay(ctx, id, hash) {
		return
	}
	now := s.cfg.Now().UTC()
	rec, err := s.pzDecide(&req, multi, id, hash, now)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	payload, err := json.Marshal(rec)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	dctx, cancel := context.WithTimeout(context.Background(), s.cfg.DecisionTimeout)
	defer cancel()
	if _, err := s.journal.AppendLive(dctx, journal.TypePersonalizerRank, now, payload, &state.Live{PersonalizerRank: rec, ID: "z/" + id}); err != nil {
		if errors.Is(err, journal.ErrDuplicate) && s.pzReplay(ctx, id, hash) {
			return
		}
		s.journalError(ctx, err)
		return
	}
	s.metrics.pzRanks.WithLabelValues(rec.Mode).Inc()
	writePZRank(ctx, rec)
}

// writePZRank answers a journaled rank call.
func writePZRank(ctx *fasthttp.RequestCtx, rec *journal.PersonalizerRank) {
	if len(rec.Slots) > 0 {
		out := pzMultiRankResponse{EventID: rec.EventID, Slots: make([]pzSlotAnswer, len(rec.Slots))}
		for i, sl := range rec.Slots {
			out.Slots[i] = pzSlotAnswer{ID: sl.ID, RewardActionID: sl.ActionID}
		}
		writeJSON(ctx, 201, out)
		return
	}
	out := pzRankResponse{EventID: rec.EventID, RewardActionID: rec.RewardActionID, Ranking: make([]pzRankedWire, len(rec.Ranking))}
	for i, r := range rec.Ranking {
		out.Ranking[i] = pzRankedWire(r)
	}
	writeJSON(ctx, 201, out)
}

// pzReplay answers a rank call whose event id was ranked already, and
// reports whether it did: the first call's answer for the same request,
// 400 for another.
func (s *Service) pzReplay(ctx *fasthttp.RequestCtx, id, hash string) bool {
	ev, err := s.pzEvents.PersonalizerEvent(id)
	switch {
	case errors.Is(err, state.ErrNotFound):
		return false
	case err != nil:
		writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
		return true
	case ev.Rank.RequestHash != hash:
		writeErr(ctx, personalizer.Errorf(personalizer.CodeInvalidRankRequest, "eventId",
			"event %q was ranked already, with another request: an eventId identifies one rank call (a retry answers the first one's answer)", id))
		return true
	}
	ctx.Response.Header.Set("Idempotent-Replay", "true")
	writePZRank(ctx, ev.Rank)
	return true
}

// pzDecide scores a checked rank request's actions with the resource's
// model, explores, and returns the journal record of the answer.
func (s *Service) pzDecide(req *pzRankRequest, multi bool, id, hash string, now time.Time) (*journal.PersonalizerRank, error) {
	res := s.pz.Load()
	st := res.settings
	model, bits := s.pzLearner.Model(), s.pzLearner.Bits()
	ctxF := personalizer.ContextFeatures(nil, req.ContextFeatures)
	if len(ctxF) > personalizer.MaxContextFeatures {
		return nil, personalizer.Errorf(personalizer.CodeInvalidRankRequest, "contextFeatures",
			"%d features once flattened: at most %d", len(ctxF), personalizer.MaxContextFeatures)
	}
	n := len(req.Actions)
	actF := make([][]personalizer.Feature, n)
	rec := &journal.PersonalizerRank{
		V: journal.SchemaVersion, EventID: id, Time: now, RequestHash: hash, ContextFeatures: req.ContextFeatures,
		Actions: make([]journal.PersonalizerAction, n), Deferred: req.DeferActivation, Mode: string(st.Mode),
		Learning: journal.PersonalizerLearning{
			RewardWaitMillis: st.RewardWait.Milliseconds(), DefaultReward: st.DefaultReward, Aggregation: string(st.Aggregation),
		},
	}
	for i, a := range req.Actions {
		actF[i] = personalizer.ActionFeatures(nil, a.ID, a.Features)
		if len(actF[i]) > personalizer.MaxActionFeatures {
			return nil, personalizer.Errorf(personalizer.CodeInvalidRankRequest, fmt.Sprintf("actions[%d].features", i),
				"%d features once flattened: at most %d", len(actF[i])-1, personalizer.MaxActionFeatures-1)
		}
		rec.Actions[i] = journal.PersonalizerAction{ID: a.ID, Features: a.Features}
	}
	rec.Policy = "baseline"
	if !st.Mode.ServesBaseline() {
		rec.Policy = fmt.Sprintf("%s+epsilon_greedy(%g)", model.Name(), st.Exploration)
	}
	var row personalizer.Row
	scores := make([]float64, n)
	score := func(slotF []personalizer.Feature) {
		for i := range n {
			row.Reset()
			row.Build(bits, ctxF, actF[i], slotF)
			scores[i] = model.MeanSparse(0, row.Index, row.Value)
		}
	}
	rng := personalizer.Seed(id)
	probs := make([]float64, n)
	excluded := make([]bool, n)
	index := func(id string) int {
		return slices.IndexFunc(req.Actions, func(a pzActionWire) bool { return a.ID == id })
	}
	if !multi {
		for _, x := range req.ExcludedActions {
			if i := index(x); i >= 0 {
				excluded[i] = true
			}
		}
		rec.Excluded = req.ExcludedActions
		baseline := -1
		if st.Mode.ServesBaseline() {
			baseline = slices.Index(excluded, false) // the first non-excluded action
		}
		score(nil)
		personalizer.Probabilities(probs, scores, excluded, st.Exploration, baseline)
		rec.RewardActionID = req.Actions[decide.Draw(rng, probs)].ID
		for _, i := range personalizer.Order(scores) {
			rec.Ranking = append(rec.Ranking, journal.PersonalizerRanked{ID: req.Actions[i].ID, Probability: probs[i]})
		}
		return rec, nil
	}
	taken := make([]bool, n)
	rec.Slots = make([]journal.PersonalizerSlot, len(req.Slots))
	for j, sl := range req.Slots {
		slotF := personalizer.SlotFeatures(nil, sl.ID, sl.Features)
		if len(slotF) > personalizer.MaxActionFeatures {
			return nil, personalizer.Errorf(personalizer.CodeInvalidRankRequest, fmt.Sprintf("slots[%d].features", j),
				"%d features once flattened: at most %d", len(slotF)-1, personalizer.MaxActionFeatures-1)
		}
		copy(excluded, taken)
		for _, x := range sl.ExcludedActions {
			if i := index(x); i >= 0 {
				excluded[i] = true
			}
		}
		baseline := -1
		if st.Mode.ServesBaseline() {
			baseline = index(sl.BaselineAction)
		}
		score(slotF)
		out := journal.PersonalizerSlot{ID: sl.ID, Features: sl.Features, Excluded: sl.ExcludedActions, Baseline: sl.BaselineAction}
		if c := personalizer.Probabilities(probs, scores, excluded, st.Exploration, baseline); c >= 0 {
			c = decide.Draw(rng, probs)
			out.ActionID, out.Probability = req.Actions[c].ID, probs[c]
			taken[c] = true
		}
		rec.Slots[j] = out
	}
	return rec, nil
}

// pzEventID returns the event id of an event operation's path, from the
// path as sent (the router's is decoded and cleaned, and an event id may
// hold an escaped slash or dot segments): what is between the route's
// prefix and "/"+op, unescaped.
func pzEventID(ctx *fasthttp.RequestCtx, op string, multi bool) (string, bool) {
	prefix := pzBase + "events/"
	if multi {
		prefix = pzBase + "multislot/events/"
	}
	raw, found := strings.CutPrefix(string(ctx.Request.URI().PathOriginal()), prefix)
	if !found {
		return "", false
	}
	if raw, found = strings.CutSuffix(raw, "/"+op); !found {
		return "", false
	}
	id, err := url.PathUnescape(raw)
	return id, err == nil
}

// handlePZEvent answers events/{eventId}/reward and /activate (op, multi
// false), and their multislot/ forms.
func (s *Service) handlePZEvent(ctx *fasthttp.RequestCtx, op string, multi bool) {
	code := personalizer.CodeInvalidRewardRequest
	if op == pzActivate {
		code = personalizer.CodeInvalidEventIDToActivate
	}
	id, ok := pzEventID(ctx, op, multi)
	if !ok {
		writeErr(ctx, personalizer.Errorf(code, "eventId", "is not a valid escaped path segment"))
		return
	}
	if err := pzID(code, "eventId", id); err != nil {
		writeErr(ctx, err)
		return
	}
	var req pzRewardRequest
	if op == pzReward {
		if err := decodeJSON(ctx.PostBody(), &req); err != nil {
			writeErr(ctx, err)
			return
		}
		if err := checkPZReward(&req, multi); err != nil {
			writeErr(ctx, err)
			return
		}
	}
	ev, err := s.pzEvents.PersonalizerEvent(id)
	switch {
	case errors.Is(err, state.ErrNotFound):
		if lagging, ok := s.journal.(interface {
			CaughtUp(context.Context) (bool, error)
		}); ok {
			// the cluster path: the rank call may be in the stream and
			// not yet applied
			if done, err := lagging.CaughtUp(context.Background()); err != nil || !done {
				writeUnavailable(ctx, "the event index is catching up with the journal; retry")
				return
			}
		}
		writeErr(ctx, personalizer.Errorf(personalizer.CodeResourceNotFound, "eventId",
			"no event %q (never ranked, or older than the retention)", id))
		return
	case err != nil:
		writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	if isMulti := len(ev.Rank.Slots) > 0; isMulti != multi && op == pzReward {
		want := "events/{eventId}/reward"
		if isMulti {
			want = "multislot/events/{eventId}/reward"
		}
		writeErr(ctx, personalizer.Errorf(code, "eventId", "event %q was ranked by %s: reward it through %s", id,
			map[bool]string{true: "multislot/rank", false: "rank"}[isMulti], want))
		return
	}
	now := s.cfg.Now().UTC()
	var typ journal.Type
	var live state.Live
	if op == pzActivate {
		if !ev.Rank.Deferred || ev.Activated {
			ctx.SetStatusCode(204) // active already: nothing to record
			return
		}
		typ, live.PersonalizerActivate = journal.TypePersonalizerActivate, &journal.PersonalizerActivate{V: journal.SchemaVersion, EventID: id, Time: now}
	} else {
		rw := &journal.PersonalizerReward{V: journal.SchemaVersion, EventID: id, Time: now}
		if multi {
			for i, w := range req.Reward {
				if !slices.ContainsFunc(ev.Rank.Slots, func(sl journal.PersonalizerSlot) bool { return sl.ID == w.SlotID }) {
					writeErr(ctx, personalizer.Errorf(code, fmt.Sprintf("reward[%d].slotId", i), "event %q has no slot %q", id, w.SlotID))
					return
				}
				rw.Rewards = append(rw.Rewards, journal.PersonalizerSlotReward{Slot: w.SlotID, Value: *w.Value})
			}
		} else {
			rw.Rewards = []journal.PersonalizerSlotReward{{Value: *req.Value}}
		}
		typ, live.PersonalizerReward = journal.TypePersonalizerReward, rw
	}
	var v any = live.PersonalizerReward
	if typ == journal.TypePersonalizerActivate {
		v = live.PersonalizerActivate
	}
	payload, err := json.Marshal(v)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	if !s.admitIngest(ctx) {
		return
	}
	_, err = s.journal.AppendLive(context.Background(), typ, now, payload, &live)
	s.ingest.done()
	if err != nil {
		s.journalError(ctx, err)
		return
	}
	s.metrics.pzEvents.WithLabelValues(op).Inc()
	ctx.SetStatusCode(204)
}
