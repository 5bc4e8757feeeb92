// Package state owns the embedded keyspace of a nextbest instance: one
// Pebble database that holds everything derived from the journal — the
// customer profiles, the decision index, the request-id index, the
// outcome de-duplication keys, each experiment's sums, the volume
// counters and the applied LSN — and the one writer that derives it, the
// Applier.
//
// # Data flow
//
//	journal ──Apply──▶ Applier ──▶ Store (Pebble: p/ d/ r/ o/ s/ e/ u/ x/ v/ a/ y/ z/ m/)
//	(durable batch,                 │
//	 live values)                   ├──Learn──▶ Learner (online.Learner)
//	                                └──Learn──▶ Personalizer learner (online.Personalizer)
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
// (Contacts) in the step that commits their impressions. In the same
// batch it keeps each experiment's sufficient statistics (the Sums of
// package experiment, per arm and day, channel and stage: a decision adds
// to them, an attributed outcome adds the change it makes to its
// decision's values) and the volume counters, so the dashboard's figures
// are as durable as the applied LSN and need no scan of the journal.
//
// # Activation
//
// A decision made with defer_activation is journaled and indexed (d/, r/)
// when it is made, and counted as a decision made (v/decisions,
// v/deferred), but its slots are not impressions until an activation
// record shows them: then, and only for the slots shown, the profile
// records the impressions (what contact limits count), the volume
// counters count the actions, the experiment counts the decision (its
// first activation) and the learner learns the rows. Its outcomes are
// de-duplicated and aggregated (o/) as they arrive; what they change in
// the profile, the experiment's values and the learning reward is held in
// the decision's s/ entry until their slot is shown, and counted then,
// once. A deferred decision never activated changes none of these. An
// activation past the decision's attribution window, of a decision made
// without defer_activation, or of slots already shown changes nothing
// (logs.ActivationCounts; logs.Join applies the same rule).
//
// # Where things live
//
//	key                           written by              read by
//	p/<customer_id>               Applier (decisions and  serve (decide, GET /v1/profiles),
//	                              activations:            Applier
//	                              impressions; outcomes:
//	                              conversions; events:
//	                              counters), seed (Load)
//	d/<decision_id>               Applier (every          Decision: serve (outcomes,
//	                              decision: its journal   GET /v1/decisions), the learner
//	                              payload)                (rewards), DecisionForRequest
//	r/<customer_id>/<request_id>  Applier (decisions      DecisionForRequest: serve
//	                              with a request_id)      (decide replays a repeated request)
//	o/<decision_id>/<action_id>   Applier (outcomes:      Applier (first learned
//	o/<decision_id>/<action_id>/<type>   de-duplication   outcome, type aggregates);
//	o/<decision_id>//<outcome_id>        and aggregates)  OutcomeFirstLSN: serve (outcomes
//	                                                      answer a duplicate)
//	s/<decision_id>               Applier (a deferred     Activation: serve (activate,
//	                              decision's outcomes     GET /v1/decisions); Applier
//	                              and activations)        (what its slots held back)
//	e/<exp>/<arm>/<dim>/<value>   Applier (experiment     Experiment: serve
//	e/<exp>/<arm>/span            decisions; their        (GET /v1/experiments →
//	                              attributed outcomes)    experiment.Analyze)
//	u/<exp>/<customer>            Applier (the customer's Applier
//	                              experiment.Unit)
//	x/<decision_id>               Applier (an experiment  Applier (its outcomes)
//	                              decision that showed
//	                              actions)
//	v/<counter>/<labels>, v/since Applier (every record   Volume: serve (GET /v1/stats)
//	                              applied)
//	a/<LSN, 16 hex digits>        Applier (audit records: Audit: serve (GET /v1/audit)
//	                              their journal payload)
//	y/<customer_id>               Applier (an erasure:    Decision (hides the customer's
//	                              erasure.Pending);       decisions), PendingErasures (the
//	                              FinishErasure deletes   eraser: serve.PurgeErasures)
//	z/e/<event_id>                Applier (Personalizer   PersonalizerEvent: serve (rank
//	                              rank calls: LSN and     replays an event id, reward and
//	                              payload)                activate find it), the Applier
//	z/s/<event_id>                Applier (Personalizer   the Applier (what to learn),
//	                              activations, rewards)   PersonalizerEvent
//	z/t/<time>/<event_id>         Applier (rank calls)    Sweep
//	m/applied                     Applier (every batch)   NewApplier (where CatchUp starts)
//	m/seeded                      MarkSeeded              Seeded (serve loads the seed once)
//
// An erasure record (package erasure) deletes the customer's p/ and u/
// keys in its batch and sets y/; FinishErasure, once the journal is
// redacted, deletes their decisions' d/, x/, o/, s/ and r/ keys and the
// y/ mark, and Compact makes the engine's files forget them (Pebble:
// flush, compact the whole key range, rotate the manifest past the old
// tables' boundary keys). The Personalizer namespace's events name no
// customer (z/).
//
// Sweep deletes the d/, r/, o/, x/ and s/ entries of decisions older
// than the retention (decision ids begin with their time, so d/, o/, x/
// and s/ go by key range), and the z/ entries of Personalizer events
// ranked before it (by their time index, z/t/); the journal keeps every
// record. The sums, units and
// counters stay: they are what the journal added up to.
//
// # The Personalizer-compatible namespace
//
// Records of types journal.TypePersonalizer… are a namespace of their
// own: the applier indexes each rank call by its event id (a repeated
// id keeps the first record), keeps what happens to it (activation,
// rewards) and hands a second learner (ApplierConfig.Personalizer) the
// work, by one rule (package personalizer's Learned): an event is
// learned once it is active (at its rank call, or at its activation when
// deferred) with the aggregate of the rewards it has within the reward
// wait (the default reward without any), and each later reward as the
// change it makes to that aggregate. The learning settings are the ones
// the rank call recorded, so a rebuild learns what the live service did.
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
// (online.Learner).
package state
