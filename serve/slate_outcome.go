package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/journal"
	"nextbest/logs"
	"nextbest/state"
)

// slateOutcome records an outcome given for the whole slate of decision d
// (POST /v1/outcomes with "slate": true): one outcome record per
// returned slot, each with the slot's share of the reward
// (logs.SlateShares under the service's position model), marked Slate. A
// client's outcome_id becomes OUTCOME_ID#k for slot k, so a re-sent slate
// outcome is a duplicate slot by slot (a retry after a failure records
// the slots that are missing). The answer is 202 once every slot's record
// is durable.
func (s *Service) slateOutcome(ctx *fasthttp.RequestCtx, r *outcomeRequest, t *logs.OutcomeType, d *journal.Decision, ts time.Time) {
	if len(d.Actions) == 0 {
		writeErr(ctx, &fieldError{status: 422, code: "unprocessable", field: "slate", reason: fmt.Sprintf("decision %s returned no action: there is no slate to reward", r.DecisionID)})
		return
	}
	if ts.Before(d.Time.Add(-maxClockSkew)) {
		writeErr(ctx, &fieldError{status: 422, code: "unprocessable", field: "ts", reason: "is before the decision"})
		return
	}
	shares := logs.SlateShares(len(d.Actions), s.positions)
	type slot struct {
		o      journal.Outcome
		dedupe []string
	}
	slots := make([]slot, len(d.Actions))
	var keys []string
	for k, a := range d.Actions {
		id := ""
		if r.OutcomeID != "" {
			id = r.OutcomeID + "#" + strconv.Itoa(a.Slot)
		}
		slots[k] = slot{
			o: journal.Outcome{V: journal.SchemaVersion, DecisionID: r.DecisionID, ActionID: a.ActionID, CustomerID: d.CustomerID,
				Type: r.Type, Reward: *r.Reward * shares[k], Time: ts, DecisionTime: d.Time, OutcomeID: id, Slate: true},
			dedupe: state.DedupeKeys(r.DecisionID, a.ActionID, id, t),
		}
		keys = append(keys, slots[k].dedupe...)
	}
	release, ok := s.outcomesInFlight.acquire(keys, 5*time.Second)
	if !ok {
		writeErr(ctx, fmt.Errorf("%w: an identical outcome is still being recorded; retry", errUnavailable))
		return
	}
	defer release()
	if !s.admitIngest(ctx) {
		return
	}
	defer s.ingest.done()
	lsns := make([]uint64, 0, len(slots))
	duplicates := 0
	for i := range slots {
		sl := &slots[i]
		var first uint64
		for _, key := range sl.dedupe {
			lsn, err := s.index.OutcomeFirstLSN(key)
			if err != nil {
				writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
				return
			}
			if lsn != 0 {
				first = lsn
				break
			}
		}
		if first != 0 {
			lsns, duplicates = append(lsns, first), duplicates+1
			continue
		}
		payload, err := json.Marshal(&sl.o)
		if err != nil {
			writeErr(ctx, err)
			return
		}
		lv := &state.Live{Outcome: &sl.o}
		if len(sl.dedupe) > 0 {
			lv.ID = sl.dedupe[0]
		}
		lsn, err := s.journal.AppendLive(context.Background(), journal.TypeOutcome, ts, payload, lv)
		switch {
		case errors.Is(err, journal.ErrDuplicate):
			duplicates++
		case err != nil:
			s.journalError(ctx, err)
			return
		default:
			s.metrics.outcomes.WithLabelValues(t.Name).Inc()
		}
		lsns = append(lsns, lsn)
	}
	ans := map[string]any{"status": "accepted", "lsn": lsns[len(lsns)-1], "slots": len(slots), "shares": shares}
	if duplicates == len(slots) {
		ans["duplicate"] = true
	}
	writeJSON(ctx, 202, ans)
}
