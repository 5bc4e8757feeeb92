package erasure

import (
	"encoding/json"
	"testing"
	"time"

	"nextbest/journal"
)

// TestSetErases: records of the customer before the erasure go, a record
// naming one of their decisions goes even without the customer's id, the
// customer's records after the erasure stay, other customers' stay; the
// erasure record is redacted once, with the count, and never again.
func TestSetErases(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	rec := func(lsn uint64, typ journal.Type, v any) journal.Record {
		b, _ := json.Marshal(v)
		return journal.Record{LSN: lsn, Type: typ, Time: at, Payload: b}
	}
	recs := []journal.Record{
		rec(1, journal.TypeDecision, map[string]any{"decision_id": "d1", "customer_id": "x", "request_id": "r1"}),
		rec(2, journal.TypeDecision, map[string]any{"decision_id": "d2", "customer_id": "y"}),
		rec(3, 8, map[string]any{"decision_id": "d1", "slots": []int{0}}), // a later record type naming the decision
		rec(4, journal.TypeOutcome, map[string]any{"decision_id": "d1", "customer_id": "x", "action_id": "a", "type": "click"}),
		rec(5, journal.TypeAudit, map[string]any{"by": "x", "kind": "k"}),
		rec(6, journal.TypeErasure, journal.Erasure{ID: "e1", CustomerID: "x", Time: at}),
		rec(7, journal.TypeEvent, map[string]any{"customer_id": "x", "type": "page_view"}),
	}
	p, ok := FromRecord(&recs[5])
	if !ok || p.Customer != "x" || p.LSN != 6 {
		t.Fatalf("FromRecord: %+v %v", p, ok)
	}
	s := NewSet([]Pending{p})
	want := map[uint64]bool{1: true, 3: true, 4: true}
	for _, r := range recs {
		typ, payload, replaced := s.Redact(r)
		switch {
		case want[r.LSN]:
			if !replaced || typ != journal.TypeErased {
				t.Errorf("LSN %d: not erased", r.LSN)
			}
		case r.LSN == 6:
			var e journal.Erasure
			json.Unmarshal(payload, &e)
			if !replaced || typ != journal.TypeErasure || e.CustomerID != "" || !e.Redacted || e.Records != 3 || e.ID != "e1" {
				t.Errorf("erasure record: %v %s", replaced, payload)
			}
			again := journal.Record{LSN: 6, Type: journal.TypeErasure, Payload: payload}
			if _, ok := s.Redacted(&again); ok {
				t.Error("a redacted erasure record redacted again")
			}
			if _, ok := FromRecord(&again); ok {
				t.Error("a redacted erasure is still pending")
			}
		case replaced:
			t.Errorf("LSN %d replaced", r.LSN)
		}
	}
	if d := s.Decisions(); len(d) != 1 || d[0].ID != "d1" || d[0].RequestID != "r1" || len(s.Outcomes()) != 1 {
		t.Errorf("decisions %+v outcomes %+v", d, s.Outcomes())
	}
}
