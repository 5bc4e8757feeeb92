// Package stream is nextbest's journal and model registry on NATS
// JetStream, for the cluster path: several service instances publish
// decisions, outcomes and events to one stream and read it back in one
// order, and share one registry of models.
//
// # What it is
//
// A Stream holds a connection to a NATS server and one JetStream stream
// (default NEXTBEST) with file storage, limits retention and discard-old,
// whose only subject (default nextbest.journal) carries the journal's
// records. Each message is one journal.Record:
//
//	body         the payload: JSON of journal.Decision, Outcome or Event
//	Nb-Type      journal.Type as decimal text ("1" decision, "2" outcome, "3" event)
//	Nb-Time      the record's time, RFC 3339 with nanoseconds, UTC
//	Nats-Msg-Id  the id the publisher gave (de-duplication, below)
//
// Publish appends a record and returns its stream sequence: the record's
// LSN. Records reads the stream from a sequence on, in batches, and hands
// each batch to a function (the state applier, the online learner).
// Registry keeps model artifacts in a JetStream object store and the
// promoted version in a key-value bucket.
//
// # Acknowledged means stored
//
// Publish returns once JetStream has acknowledged the record: the server
// has stored it in the stream's file store. With the server's jetstream
// sync_interval set to always (run it so: internal/engines does), the
// store is fsynced before the ack, so an acknowledged record survives a
// crash of the server and of its machine; with the default sync interval
// (2 minutes) a machine crash can lose the last acknowledged records, and
// with Replicas > 1 the ack comes once a quorum of replicas has stored
// it. Publish holds at most Config.MaxPending publishes awaiting their
// acks; beyond that it waits, within its ctx, for room.
//
// An error wrapping ErrUnavailable means not acknowledged, not "not
// stored": the record may have been stored and its ack lost. The caller
// re-sends it with the same id (the HTTP layer answers 503 with
// Retry-After, and the client retries).
//
// # De-duplication and its window
//
// Publish sets Nats-Msg-Id to the id it is given: JetStream drops a
// message whose id it has seen within Config.DuplicateWindow (default 2
// minutes) and acknowledges it with the original's sequence and
// Duplicate set; Publish returns that sequence and duplicate = true, and
// the record is stored once. A re-send after the window is stored again,
// as a new record with a new sequence. The service's own idempotency keys
// in Redis catch those: a decision re-sent with its request_id, and an
// outcome re-sent with its outcome_id, are answered from the key without
// being published again. A record without such a key (a decision without
// request_id, an event) re-sent after the window is a second record. The
// window is held in the server's memory and rebuilt from the stream's
// last DuplicateWindow of messages at a restart.
//
// # Order
//
// The stream sequence is the order of truth: every reader of the stream
// sees the records in sequence order, whatever order the publishers'
// calls began or returned in. Two Publishes that overlap may be stored in
// either order; a Publish that begins after another returned is stored
// after it. Sequences are consecutive from 1 unless the stream's limits
// (MaxAge, MaxBytes, MaxMsgs, which an operator may set; Open leaves them
// as they are) removed old messages.
//
// # Failure
//
// The connection reconnects forever, so a restarted server is picked up
// by itself. While it is down, Publish fails at once with ErrUnavailable
// (nothing is buffered to be sent later), Health says so, and Records
// waits; after it comes back Records resumes after the last record it
// handed over, with none skipped or repeated.
//
// # What it is not
//
// It is not the embedded journal: it has no segments, no Verify or Repair
// (the server owns the storage), no AppliedLSN check, and no subscribers
// called before Publish returns; readers follow the stream with Records.
// It does not make records idempotent beyond the duplicate window (see
// above). It manages no NATS server or cluster: internal/engines starts
// one for tests.
package stream
