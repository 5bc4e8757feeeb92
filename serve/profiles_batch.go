package serve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/features"
	"nextbest/journal"
	"nextbest/state"
)

// MaxBatchProfiles is the most profiles one POST /v1/profiles:batch
// takes; more are refused with 413, nothing written. The body may be as
// large as the server reads (4 × max_body_bytes, at least 1 MiB).
const MaxBatchProfiles = 1000

// routeProfilesBatch names the batch import route (its metrics label).
const routeProfilesBatch = "profiles_batch"

// profilesBatchRequest is the body of POST /v1/profiles:batch.
type profilesBatchRequest struct {
	Profiles []profileRow `json:"profiles"`
}

// profileRow is one profile of a batch: attributes set at ts (now when
// empty).
type profileRow struct {
	CustomerID string         `json:"customer_id"`
	Attributes map[string]any `json:"attributes"`
	TS         string         `json:"ts"`
}

// handleProfilesBatch answers POST /v1/profiles:batch: profiles from
// another system (a CRM, a warehouse) as attribute events of the feature
// spec's attribute event type, one journal record a profile, applied
// exactly as POST /v1/events would apply them. Every row is validated
// before any is journaled: one bad row is refused naming
// profiles[i].attributes.NAME and nothing is written. Then the rows are
// appended together, so that they share the journal's group commits.
func (s *Service) handleProfilesBatch(ctx *fasthttp.RequestCtx) {
	var r profilesBatchRequest
	if err := decodeJSON(ctx.PostBody(), &r); err != nil {
		writeErr(ctx, err)
		return
	}
	switch n := len(r.Profiles); {
	case n == 0:
		writeErr(ctx, badField("profiles", "is required and must not be empty"))
		return
	case n > MaxBatchProfiles:
		writeErr(ctx, &fieldError{status: 413, code: "payload_too_large", field: "profiles",
			reason: fmt.Sprintf("has %d profiles, at most %d per request; split the batch", n, MaxBatchProfiles)})
		return
	}
	typ := s.spec.AttributeEvent()
	if typ == "" {
		writeErr(ctx, &fieldError{status: 422, code: "unprocessable", field: "profiles",
			reason: "the feature spec declares no attribute event type (profile.attribute_events), so profiles cannot be imported"})
		return
	}
	now := s.cfg.Now().UTC()
	events := make([]journal.Event, len(r.Profiles))
	ends := make([]int, len(r.Profiles))
	// every payload, one after the other: a row's payload is its row plus
	// the version, the type and the time
	buf := make([]byte, 0, len(ctx.PostBody())+96*len(events))
	for i := range r.Profiles {
		e, err := s.profileEvent(&r.Profiles[i], typ, now)
		if err != nil {
			writeErr(ctx, rowError(i, err))
			return
		}
		if buf, err = journal.AppendEvent(buf, &e); err != nil {
			writeErr(ctx, err)
			return
		}
		events[i], ends[i] = e, len(buf)
	}
	payloads := make([][]byte, len(events))
	start := 0
	for i, end := range ends {
		payloads[i], start = buf[start:end:end], end
	}
	if !s.admitIngest(ctx) {
		return
	}
	last, err := s.appendEvents(events, payloads)
	s.ingest.done()
	if err != nil {
		s.journalError(ctx, err)
		return
	}
	s.metrics.events.Add(float64(len(events)))
	writeJSON(ctx, 202, map[string]any{"status": "accepted", "count": len(events), "lsn": last})
}

// profileEvent is the attribute event of row: checked as POST /v1/events
// checks an event (checkEvent, journalEvent), and its attributes declared
// ones.
func (s *Service) profileEvent(row *profileRow, typ string, now time.Time) (journal.Event, error) {
	if len(row.Attributes) == 0 {
		return journal.Event{}, badField("properties", "is required and must not be empty")
	}
	r := eventRequest{CustomerID: row.CustomerID, Type: typ, TS: row.TS, Properties: row.Attributes}
	ts, err := checkEvent(&r, now)
	if err != nil {
		return journal.Event{}, err
	}
	var ve *features.FieldError
	if err := s.spec.CheckAttributeNames("properties.", row.Attributes); errors.As(err, &ve) {
		return journal.Event{}, &fieldError{status: 422, code: "unprocessable", field: ve.Field, reason: ve.Reason}
	}
	return s.journalEvent(&r, ts)
}

// rowError renames the field of an event's error to the batch's:
// "properties.age" of row 3 becomes "profiles[3].attributes.age".
func rowError(i int, err error) error {
	rename := func(field string) string {
		prefix := fmt.Sprintf("profiles[%d]", i)
		switch {
		case field == "properties":
			return prefix + ".attributes"
		case strings.HasPrefix(field, "properties."):
			return prefix + ".attributes." + strings.TrimPrefix(field, "properties.")
		case field == "":
			return prefix
		}
		return prefix + "." + field
	}
	var fe *fieldError
	var ve *features.FieldError
	switch {
	case errors.As(err, &fe):
		return &fieldError{status: fe.status, code: fe.code, field: rename(fe.field), reason: fe.reason}
	case errors.As(err, &ve):
		return &features.FieldError{Field: rename(ve.Field), Reason: ve.Reason}
	}
	return err
}

// batchAppender is a Journal that appends many records in order with one
// wait (journal.Journal[state.Live]). Where the journal has none (the
// cluster's stream), appendEvents appends concurrently.
type batchAppender interface {
	AppendBatch(ctx context.Context, entries []journal.Entry[state.Live]) (uint64, error)
}

// appendEvents journals events (their payloads encoded), in order, and
// returns the highest LSN. They share group commits: appended as one
// journal batch, or concurrently where the journal has no batch append
// (the events of one customer then one after the other, so that a later
// row of the batch wins as it would sent alone). On error some events
// may have been journaled: a retry sets the same attributes again, which
// changes nothing.
func (s *Service) appendEvents(events []journal.Event, payloads [][]byte) (uint64, error) {
	lives := make([]state.Live, len(events)) // one allocation, not one a record
	if ba, ok := s.journal.(batchAppender); ok {
		entries := make([]journal.Entry[state.Live], len(events))
		for i := range events {
			lives[i].Event = &events[i]
			entries[i] = journal.Entry[state.Live]{Type: journal.TypeEvent, Time: events[i].Time, Payload: payloads[i], Live: &lives[i]}
		}
		return ba.AppendBatch(context.Background(), entries)
	}
	var groups [][]int
	byCustomer := make(map[string]int, len(events))
	for i := range events {
		g, ok := byCustomer[events[i].CustomerID]
		if !ok {
			g = len(groups)
			byCustomer[events[i].CustomerID] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		last     uint64
		firstErr error
	)
	for _, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, i := range g {
				lives[i].Event = &events[i]
				lsn, err := s.journal.AppendLive(context.Background(), journal.TypeEvent, events[i].Time, payloads[i], &lives[i])
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				last = max(last, lsn)
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return last, firstErr
}
