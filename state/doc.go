// Package state owns the embedded keyspace of a nextbest instance: one
// Pebble database that holds everything derived from the journal — the
// customer profiles, the decision index, the request-id index, the
// outcome de-duplication keys and the applied LSN — and the one writer
// that derives it, the Applier.
//
// # Data flow
//
//	journal ──Apply──▶ Applier ──▶ Store (Pebble: p/ d/ r/ o/ m/)
//	(durable batch,                 │
//	 live values)                   └──Learn──▶ Learner (training.Online)
//
// The Applier is the journal's subscriber (journal.Subscriber[Live]): each
// durable batch reaches it in LSN order, from the journal's apply
// goroutine, before the batch's Appends return; at start CatchUp replays
// what the store (or the learner) lacks through the same path. Records at
// or below the applied LSN are never written twice, so replays are
// idempotent. The appender's Live value (the decoded payload, the feature
// rows, a contact reservation) spares the applier a decode; on replay
// records arrive without it. The applier works out the learning reward
// with the declared reward rule (package logs) and hands the Learner the
// work of each batch; it releases the batch's contact reservations
// (Contacts) in the step that commits their impressions.
//
// # Where things live
//
//	key                           written by              read by
//	p/<customer_id>               Applier (decisions:     serve (decide, GET /v1/profiles),
//	                              impressions; outcomes:  Applier
//	                              conversions; events:
//	                              counters), seed (Load)
//	d/<decision_id>               Applier (a decision     Decision: serve (outcomes),
//	                              that showed actions:    the learner (rewards),
//	                              its journal payload)    DecisionForRequest
//	r/<customer_id>/<request_id>  Applier (decisions      DecisionForRequest: serve
//	                              with a request_id)      (decide replays a repeated request)
//	o/<decision_id>/<action_id>   Applier (outcomes:      Applier (first learned
//	o/<decision_id>/<action_id>/<type>   de-duplication   outcome, type aggregates);
//	o/<decision_id>//<outcome_id>        and aggregates)  OutcomeFirstLSN: serve (outcomes
//	                                                      answer a duplicate)
//	m/applied                     Applier (every batch)   NewApplier (where CatchUp starts)
//	m/seeded                      MarkSeeded              Seeded (serve loads the seed once)
//
// Sweep deletes the d/, r/ and o/ entries of decisions older than the
// retention (decision ids begin with their time, so d/ and o/ go by key
// range); the journal keeps every record.
//
// # Durability
//
// Pebble runs without its write-ahead log and the Applier commits without
// fsync: the journal is the durable copy. After a crash Pebble comes back
// as of its last flushed memtable, a consistent prefix, and CatchUp
// replays the journal from the applied LSN that prefix holds. Writes that
// are not in the journal (the seed) are flushed at once.
//
// # What it is not
//
// Not the source of truth (the journal is), not shared between instances
// (the cluster path keeps the same keys in Redis behind serve's
// contracts), and not a query engine: every lookup is one key. Contact
// reservations of decisions not yet applied are serve's (its contact
// ledger); the online model and its snapshot are the learner's
// (training.Online).
package state
