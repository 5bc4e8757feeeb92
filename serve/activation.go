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
// without a body, or {"slots": [...]}). What it newly shows is journaled
// (an activation record, fsynced and applied before the answer) and from
// then on counts as impressions, for contact limits, in the experiment
// and for learning (see state's Activation). The answer is 200 with the
// decision's activation; it is idempotent: activating what was activated
// already journals nothing and answers the same. A decision made without
// defer_activation was activated whole when it was made: 200, nothing
// journaled. An unknown decision is a 404, a slot the decision does not
// have a 422 (field slots), a decision whose attribution window closed
// before what is asked was activated a 409 (it can count for nothing any
// more).
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
	now := s.cfg.Now().UTC()
	d, err := s.index.Decision(id)
	switch {
	case errors.Is(err, state.ErrNotFound):
		if s.indexLagging(ctx) {
			return
		}
		writeErr(ctx, &fieldError{status: 404, code: "not_found", field: "decision_id",
			reason: fmt.Sprintf("no decision %q (unknown, or older than the decision retention)", id)})
		return
	case errors.Is(err, state.ErrCorrupt):
		writeErr(ctx, err)
		return
	case err != nil:
		writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	if slots == nil {
		slots = make([]int, len(d.Actions))
		for i := range slots {
			slots[i] = i
		}
	} else if last := slots[len(slots)-1]; last >= len(d.Actions) {
		writeErr(ctx, &fieldError{status: 422, code: "unprocessable", field: "slots",
			reason: fmt.Sprintf("decision %s has no slot %d: it returned %d actions (slots 0 to %d)", id, last, len(d.Actions), len(d.Actions)-1)})
		return
	}
	act, err := s.index.Activation(d)
	if err != nil {
		writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	var fresh []int // the slots this call shows first
	for _, sl := range slots {
		if !slices.ContainsFunc(act.Slots, func(a state.ActivatedSlot) bool { return a.Slot == sl }) {
			fresh = append(fresh, sl)
		}
	}
	if !d.DeferActivation || (act.Activated && len(fresh) == 0) {
		writeJSON(ctx, 200, &activationAnswer{DecisionID: id, Activation: act})
		return
	}
	if !logs.ActivationCounts(true, d.Time, now, s.cfg.AttributionWindow) {
		writeErr(ctx, &fieldError{status: 409, code: "conflict", field: "decision_id",
			reason: fmt.Sprintf("decision %s can no longer be activated: its attribution window (%v) closed at %s", id, s.cfg.AttributionWindow,
				d.Time.Add(s.cfg.AttributionWindow).Format(time.RFC3339))})
		return
	}
	a := journal.Activation{V: journal.SchemaVersion, ActivationID: newDecisionID(now), DecisionID: id,
		CustomerID: d.CustomerID, Slots: fresh, Time: now, DecisionTime: d.Time}
	if a.Slots == nil {
		a.Slots = []int{} // a decision that returned nothing: shown itself
	}
	payload, err := json.Marshal(&a)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	if !s.admitIngest(ctx) {
		return
	}
	defer s.ingest.done()
	// the capped actions shown count from now on: reserved until the
	// applier records them in the profile, as a decision's are
	var capped []string
	for _, sl := range fresh {
		if ca, ok := s.cat.Lookup(d.Actions[sl].ActionID); ok && len(ca.Limits) > 0 {
			capped = append(capped, ca.ID)
		}
	}
	lv := &state.Live{Activation: &a}
	if len(capped) > 0 {
		resv, err := s.contacts.Reserve(d.CustomerID, a.ActivationID, now, capped)
		if err != nil {
			writeErr(ctx, err)
			return
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
		s.journalError(ctx, err)
		return
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
	writeJSON(ctx, 200, &activationAnswer{DecisionID: id, Activation: act, LSN: lsn})
}

// indexLagging answers 503 and reports true when the decision index may
// not hold a decision yet because it lags the journal (the cluster path:
// a decision in the stream not yet applied to Redis).
func (s *Service) indexLagging(ctx *fasthttp.RequestCtx) bool {
	lagging, ok := s.journal.(interface {
		CaughtUp(context.Context) (bool, error)
	})
	if !ok {
		return false
	}
	if done, err := lagging.CaughtUp(context.Background()); err != nil || !done {
		writeUnavailable(ctx, "the decision index is catching up with the journal; retry")
		return true
	}
	return false
}
