// Package erasure holds the rules of a customer's erasure (DELETE
// /v1/customers/{id}): which journal records are about an erased
// customer, what replaces them, and how a reader of the journal skips
// them until they are gone.
//
// # How an erasure goes
//
//  1. The server appends a journal.Erasure record naming the customer
//     (fsynced, then applied) and answers. The state applier forgets the
//     customer in the same step: the profile, the request ids, the
//     experiment units, and a pending mark (y/<customer>, state.PendingErasures)
//     that hides their decisions from GET /v1/decisions/{id} and their
//     outcomes from being recorded. Readers of the journal (logs.EachRecord:
//     export, training, evaluation, reports) skip their records from then
//     on: they read the erasures still pending first (Pending).
//  2. Within the configured delay (erasure_delay), the server's eraser
//     runs Redact: every record about the customer before the erasure — a
//     decision, an outcome, an event, anything naming one of their
//     decisions — becomes a journal.TypeErased tombstone with its LSN, and
//     the erasure record itself is rewritten without the customer's id
//     (Redacted). On the cluster path the stream's messages are deleted
//     with JetStream's secure erase instead, and a redacted erasure record
//     is published in their place. Then the state drops the decisions'
//     index entries and the pending mark, and the engines compact (Pebble
//     flushes and compacts its whole key range; Redis rewrites its
//     append-only file) so that no old file keeps the bytes.
//
// Records about the customer after the erasure (they came back) are a new
// relationship and are kept. The aggregates (experiment sums, volume
// counters, the online model's sufficient statistics) keep what the
// customer added to them: they name no one.
package erasure

import (
	"encoding/json"
	"time"

	"nextbest/journal"
)

// Pending is an erasure whose records are not yet redacted.
type Pending struct {
	// Customer is the erased customer; LSN the erasure record's (records
	// about the customer before it are erased); ID the erasure's id.
	Customer string    `json:"customer_id"`
	LSN      uint64    `json:"lsn"`
	ID       string    `json:"erasure_id"`
	Time     time.Time `json:"ts"`
}

// Set is the erasures a reader or Redact applies, and the decisions it has
// found to be theirs (a record naming one of them is theirs too).
type Set struct {
	byCustomer map[string]Pending
	byLSN      map[uint64]Pending
	decisions  map[string]Decision // by id
	outcomes   []Outcome
	counts     map[string]int // erasure id → records erased
}

// Decision is an erased decision, as the state indexes it.
type Decision struct {
	ID, Customer, RequestID string
	// Erasure is the id of the erasure that erased it.
	Erasure string
}

// Outcome is an erased outcome, as the state's de-duplication keys name
// it.
type Outcome struct {
	DecisionID, ActionID, Type, OutcomeID string
}

// NewSet returns the set of pending erasures ps.
func NewSet(ps []Pending) *Set {
	s := &Set{
		byCustomer: make(map[string]Pending, len(ps)),
		byLSN:      make(map[uint64]Pending, len(ps)),
		decisions:  make(map[string]Decision),
		counts:     make(map[string]int),
	}
	for _, p := range ps {
		s.Add(p)
	}
	return s
}

// Add adds the pending erasure p; of two erasures of one customer the
// later one counts (it erases everything before it).
func (s *Set) Add(p Pending) {
	if q, ok := s.byCustomer[p.Customer]; !ok || q.LSN < p.LSN {
		s.byCustomer[p.Customer] = p
	}
	s.byLSN[p.LSN] = p
}

// Len is the number of pending erasures.
func (s *Set) Len() int { return len(s.byLSN) }

// MaxLSN is the highest erasure LSN: Redact must read up to it.
func (s *Set) MaxLSN() uint64 {
	var m uint64
	for lsn := range s.byLSN {
		m = max(m, lsn)
	}
	return m
}

// Decisions returns the erased decisions found so far.
func (s *Set) Decisions() []Decision {
	ds := make([]Decision, 0, len(s.decisions))
	for _, d := range s.decisions {
		ds = append(ds, d)
	}
	return ds
}

// Outcomes returns the erased outcomes found so far.
func (s *Set) Outcomes() []Outcome { return s.outcomes }

// Pending returns the set's pending erasures.
func (s *Set) Pending() []Pending {
	ps := make([]Pending, 0, len(s.byLSN))
	for _, p := range s.byLSN {
		ps = append(ps, p)
	}
	return ps
}

// subject is what every record payload that concerns a customer names:
// the customer, and the keys the state indexes the record under.
type subject struct {
	CustomerID string `json:"customer_id"`
	DecisionID string `json:"decision_id"`
	RequestID  string `json:"request_id"`
	ActionID   string `json:"action_id"`
	Type       string `json:"type"`
	OutcomeID  string `json:"outcome_id"`
}

// Erases reports whether rec is about an erased customer from before
// their erasure, and which erasure erases it. It must see the records in
// LSN order: a decision it erases makes the records that name it erased
// too. Erasure records themselves are not erased (Redacted rewrites them).
func (s *Set) Erases(rec *journal.Record) (erasure string, ok bool) {
	if len(s.byLSN) == 0 || journal.Tombstone(rec.Type) || rec.Type == journal.TypeErasure || rec.Type == journal.TypeAudit {
		return "", false
	}
	var sub subject
	if json.Unmarshal(rec.Payload, &sub) != nil {
		return "", false
	}
	id := ""
	if p, found := s.byCustomer[sub.CustomerID]; found && sub.CustomerID != "" && rec.LSN < p.LSN {
		id = p.ID
		if rec.Type == journal.TypeDecision && sub.DecisionID != "" {
			s.decisions[sub.DecisionID] = Decision{ID: sub.DecisionID, Customer: sub.CustomerID, RequestID: sub.RequestID, Erasure: p.ID}
		}
	} else if d, found := s.decisions[sub.DecisionID]; found && sub.DecisionID != "" {
		id = d.Erasure
	} else {
		return "", false
	}
	if rec.Type == journal.TypeOutcome {
		s.outcomes = append(s.outcomes, Outcome{sub.DecisionID, sub.ActionID, sub.Type, sub.OutcomeID})
	}
	s.counts[id]++
	return id, true
}

// Redacted returns the payload that replaces the erasure record rec if it
// is one of the set's: the same erasure without the customer's id.
func (s *Set) Redacted(rec *journal.Record) ([]byte, bool) {
	if rec.Type != journal.TypeErasure {
		return nil, false
	}
	p, ok := s.byLSN[rec.LSN]
	if !ok {
		return nil, false
	}
	var e journal.Erasure
	if json.Unmarshal(rec.Payload, &e) != nil {
		e = journal.Erasure{V: journal.SchemaVersion, ID: p.ID, Time: p.Time}
	}
	if e.Redacted {
		return nil, false // a purge that stopped before its end, run again
	}
	e.Redacted, e.Records = true, s.counts[p.ID]
	return Anonymous(e), true
}

// Anonymous returns the payload of erasure record e without the
// customer's id: what the journal keeps of it once redacted, and what an
// export shows of it before.
func Anonymous(e journal.Erasure) []byte {
	e.CustomerID = ""
	b, _ := json.Marshal(e) // plain strings, numbers and a time: cannot fail
	return b
}

// AuditEntry is the audit trail's entry of erasure e: who asked and when,
// and the erasure's id, never the customer's.
func AuditEntry(e journal.Erasure) journal.Audit {
	return journal.Audit{V: journal.SchemaVersion, Time: e.Time, By: e.By, Kind: "customer_erased", Detail: "erasure " + e.ID}
}

// Redact is the journal.RedactFunc of the set: an erased record becomes a
// TypeErased tombstone, a pending erasure record its redacted form.
func (s *Set) Redact(rec journal.Record) (journal.Type, []byte, bool) {
	if id, ok := s.Erases(&rec); ok {
		b, _ := json.Marshal(journal.Erased{V: journal.SchemaVersion, Erasure: id})
		return journal.TypeErased, b, true
	}
	if b, ok := s.Redacted(&rec); ok {
		return journal.TypeErasure, b, true
	}
	return 0, nil, false
}

// FromRecord returns the pending erasure an erasure record asks for, ok
// false when rec is not one or is already redacted.
func FromRecord(rec *journal.Record) (Pending, bool) {
	if rec.Type != journal.TypeErasure {
		return Pending{}, false
	}
	var e journal.Erasure
	if json.Unmarshal(rec.Payload, &e) != nil || e.Redacted || e.CustomerID == "" {
		return Pending{}, false
	}
	return Pending{Customer: e.CustomerID, LSN: rec.LSN, ID: e.ID, Time: e.Time}, true
}
