package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/journal"
	"nextbest/logs"
	"nextbest/state"
)

// activateRequest is the body of POST /v1/decisions/{id}/activate; an
// empty body activates every slot.
type activateRequest struct {
	// Slots are the slots shown (0-based positions in the decision's
	// actions); absent: all of them.
	Slots *[]int `json:"slots"`
}

// activationAnswer is the answer of the activate route: the decision's
// activation after the call, and the LSN of the activation record when
// the call journaled one.
type activationAnswer struct {
	DecisionID string `json:"decision_id"`
	*state.Activation
	LSN uint64 `json:"lsn,omitempty"`
}

// parseActivate decodes and checks an activate body (the slots' range is
// the handler's: it needs the decision). It returns nil slots for all.
func parseActivate(body []byte) ([]int, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	var r activateRequest
	if err := decodeJSON(body, &r); err != nil {
		return nil, err
	}
	if r.Slots == nil {
		return nil, nil
	}
	if len(*r.Slots) == 0 {
		return nil, badField("slots", "must name at least one slot; leave it out to activate every slot")
	}
	slots := slices.Clone(*r.Slots)
	for i, s := range slots {
		if s < 0 {
			return nil, badField(fmt.Sprintf("slots[%d]", i), "must be a slot number, 0 or more")
		}
	}
	slices.Sort(slots)
	return slices.Compact(slots), nil
}

// handleActivate answers POST /v1/decisions/{id}/activate: the channel
// showed slots of a decision made with defer_activation (all of them
// without a body, or {"slots": [...]}); see activate. The answer is 200
// with the decision's activation.
func (s *Service) handleActivate(ctx *fasthttp.RequestCtx, raw string) {
	id, err := pathID(raw, "decision_id", "decision")
	if err != nil {
		writeErr(ctx, err)
		return
	}
	slots, err := parseActivate(ctx.PostBody())
	if err != nil {
		writeErr(ctx, err)
		return
	}
	ans, err := s.activate(id, slots, s.cfg.Now().UTC())
	var af *appendFailed
	switch {
	case errors.As(err, &af):
		s.journalError(ctx, af.err)
	case err != nil:
		writeErr(ctx, err)
	default:
		writeJSON(ctx, 200, ans)
	}
}

// appendFailed is an activation the journal did not acknowledge
// (journalError answers it).
type appendFailed struct{ err error }

func (e *appendFailed) Error() string { return e.err.Error() }
func (e *appendFailed) Unwrap() error { return e.err }

// activate shows slots (sorted, unique; nil: every slot) of decision id
// at time now, for the native route and any other that activates (a
// compatible API's). What it newly shows is journaled (an activation
// record, fsynced and applied before it returns) and from then on counts
// as impressions, for contact limits, in the experiment and for learning
// (see state's Activation). It is idempotent: activating what was
// activated already journals nothing and returns the same activation; a
// decision made without defer_activation was activated whole when it was
// made, and activating it journals nothing. Its errors: a *fieldError for
// an unknown decision (404), a slot the decision does not have (422,
// field slots), a decision whose attribution window closed before what
// is asked was activated (409: it could count for nothing any more); one
// wrapping errUnavailable when the index lags the journal or the service
// is overloaded; an *appendFailed when the journal did not acknowledge.
func (s *Service) activate(id string, slots []int, now time.Time) (*activationAnswer, error) {
	d, err := s.index.Decision(id)
	switch {
	case errors.Is(err, state.ErrNotFound):
		if s.indexBehind() {
			return nil, fmt.Errorf("%w: the decision index is catching up with the journal; retry", errUnavailable)
		}
		return nil, &fieldError{status: 404, code: "not_found", field: "decision_id",
			reason: fmt.Sprintf("no decision %q (unknown, or older than the decision retention)", id)}
	case errors.Is(err, state.ErrCorrupt):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: %w", errUnavailable, err)
	}
	if slots == nil {
		slots = make([]int, len(d.Actions))
		for i := range slots {
			slots[i] = i
		}
	} else if last := slots[len(slots)-1]; last >= len(d.Actions) {
		return nil, &fieldError{status: 422, code: "unprocessable", field: "slots",
			reason: fmt.Sprintf("decision %s has no slot %d: it returned %d actions (slots 0 to %d)", id, last, len(d.Actions), len(d.Actions)-1)}
	}
	act, err := s.index.Activation(d)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnavailable, err)
	}
	var fresh []int // the slots this call shows first
	for _, sl := range slots {
		if !slices.ContainsFunc(act.Slots, func(a state.ActivatedSlot) bool { return a.Slot == sl }) {
			fresh = append(fresh, sl)
		}
	}
	if !d.DeferActivation || (act.Activated && len(fresh) == 0) {
		return &activationAnswer{DecisionID: id, Activation: act}, nil
	}
	if !logs.ActivationCounts(true, d.Time, now, s.cfg.AttributionWindow) {
		return nil, &fieldError{status: 409, code: "conflict", field: "decision_id",
			reason: fmt.Sprintf("decision %s can no longer be activated: its attribution window (%v) closed at %s", id, s.cfg.AttributionWindow,
				d.Time.Add(s.cfg.AttributionWindow).Format(time.RFC3339))}
	}
	a := journal.Activation{V: journal.SchemaVersion, ActivationID: newDecisionID(now), DecisionID: id,
		CustomerID: d.CustomerID, Slots: fresh, Time: now, DecisionTime: d.Time}
	if a.Slots == nil {
		a.Slots = []int{} // a decision that returned nothing: shown itself
	}
	payload, err := json.Marshal(&a)
	if err != nil {
		return nil, err
	}
	if !s.ingest.admit() {
		return nil, fmt.Errorf("%w: overloaded: too many writes in flight; retry shortly", errUnavailable)
	}
	defer s.ingest.done()
	// the capped actions shown count from now on: reserved until the
	// applier records them in the profile, as a decision's are
	var capped []string
	for _, sl := range fresh {
		if ca, ok := s.cat.Lookup(d.Actions[sl].ActionID); ok && ca.Capped() {
			capped = append(capped, ca.ID)
		}
	}
	lv := &state.Live{Activation: &a}
	if len(capped) > 0 {
		resv, err := s.contacts.Reserve(d.CustomerID, a.ActivationID, now, capped)
		if err != nil {
			return nil, err
		}
		lv.Reservation = &resv
	}
	lsn, err := s.journal.AppendLive(context.Background(), journal.TypeActivation, now, payload, lv)
	if errors.Is(err, journal.ErrDuplicate) {
		err = nil // the cluster's stream holds this very record already (a retried publish): it is applied
	}
	if err != nil {
		// a record still pending may yet be applied and release its
		// reservation then; one that was never enqueued is released here
		if lv.Reservation != nil && !errors.Is(err, journal.ErrPending) {
			s.contacts.Release(lv.Reservation)
		}
		return nil, &appendFailed{err}
	}
	s.metrics.activations.Inc()
	// the answer: what was activated before, and what this call showed
	if !act.Activated {
		act.Activated, act.At = true, &now
	}
	for _, sl := range fresh {
		act.Slots = append(act.Slots, state.ActivatedSlot{Slot: sl, ActionID: d.Actions[sl].ActionID, At: now, LSN: lsn})
	}
	slices.SortFunc(act.Slots, func(x, y state.ActivatedSlot) int { return x.Slot - y.Slot })
	return &activationAnswer{DecisionID: id, Activation: act, LSN: lsn}, nil
}

// indexLagging answers 503 and reports true when the decision index may
// not hold a decision yet because it lags the journal (indexBehind).
func (s *Service) indexLagging(ctx *fasthttp.RequestCtx) bool {
	if s.indexBehind() {
		writeUnavailable(ctx, "the decision index is catching up with the journal; retry")
		return true
	}
	return false
}

// indexBehind reports whether the decision index may not hold a decision
// yet because it lags the journal (the cluster path: a decision in the
// stream not yet applied to Redis; or the stream cannot say).
func (s *Service) indexBehind() bool {
	lagging, ok := s.journal.(interface {
		CaughtUp(context.Context) (bool, error)
	})
	if !ok {
		return false
	}
	done, err := lagging.CaughtUp(context.Background())
	return err != nil || !done
}
