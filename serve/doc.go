// Package serve is the nextbest service: the v1 HTTP API over fasthttp,
// and the wiring of one running instance (Open).
//
// # Request path
//
// A decide request is decoded and validated (wire.go; errors name the
// field and map to a status in one place, writeErr), the customer's
// profile read (features.Store: ristretto, then Pebble; a cold-start
// profile for an unknown customer), the experiment arm assigned
// (experiments.go), and the decision made by decide.Engine under its own
// deadline. The decision record is appended to the journal and fsynced
// (group commit) before the answer leaves: nothing acknowledged is lost.
// Outcomes must name a decision in the index and an action it returned;
// events must be of a type the feature spec knows; a batch of imported
// profiles (profiles_batch.go) is a batch of such events, of the spec's
// attribute event type, all checked before any is journaled. Every handler runs
// under one recover: a panic is logged and answered with a JSON 500.
//
// # The Personalizer-compatible API
//
// personalizer.go answers Azure Personalizer's REST API under
// /personalizer/v1.0/ (rank, reward, activate, the multi-slot calls, the
// configuration), with Personalizer's bodies, statuses and error body
// (writeError gives the routes under /personalizer/ Personalizer's), for
// its applications and client SDKs unchanged. It is a namespace of its
// own on the same server: its calls are journal records of their own
// types, indexed by the applier, learned by a second learner
// (online.Personalizer) under its own configuration; package personalizer
// holds its rules. docs/personalizer.md is the migration guide.
//
// # Contracts and wiring
//
// The handlers use what they need through the small interfaces of
// contracts.go: Profiles (read a profile), DecisionIndex (a decision by id
// or by request, the outcome de-duplication keys), Aggregates (an
// experiment's sums, the volume counters), Journal (append with a live
// value, health), ModelSource (the promoted models) and
// PersonalizerEvents (the Personalizer namespace's events). Open wires
// the embedded implementations in — features.Store, state.Store,
// journal.Journal[state.Live], models.Registry — and the cluster path's
// Redis and JetStream ones will fill the same contracts.
//
// # State
//
// The journal is the only durable copy; everything else is derived from
// it (the store by package state), in this order:
//
//	journal ─▶ state.Applier ─▶ online.Learner
//	                         └─▶ online.Personalizer
//
// The journal's one subscriber is the state applier, which writes
// profiles, the decision index, request ids and outcome de-duplication
// keys into the state store (Pebble, without its own WAL: after a crash
// Open replays the journal past the LSN the store holds), releases the
// contact reservations of the decisions and activations it applies
// (contact.go: the ledger that keeps frequency caps exact under
// concurrency; activation.go: a deferred decision's slots count only
// once activated), and hands
// the learning work to the online learner (online.Learner, a
// state.Learner, wired in service.go). The learner updates the online
// ridge model from it, publishes it to decisions every few milliseconds,
// and snapshots it with the LSN it reflects. A promoted registry model,
// when there is one, serves instead (registry.go) and is hot-swapped
// without failing a request; the online model keeps learning. Records
// the applier or learner cannot apply are counted and logged (skips.go).
//
// The applier also keeps, in the same batches, each experiment's sums and
// the volume counters: GET /v1/experiments runs experiment.Analyze on the
// sums (experiments_http.go), GET /v1/stats reads the counters
// (metrics.go), through the Aggregates contract. Neither reads the
// journal, and both survive restarts with the state; nextbest report's
// offline analysis of the journal (eval) gives the same numbers.
//
// The dashboard's other reports — campaigns and channels, journeys,
// attribution, CLV — need the whole journal (or every profile), which no
// request can afford to read: one background goroutine computes them
// with the packages nextbest report uses (campaigns, journeys,
// attribution; clv for the profiles' histories) when the service starts
// and every ReportsEvery, and GET /v1/reports/{name} serves the last
// result with the journal LSN it covers (reports.go). They read the
// journal, so they survive restarts too; the cluster path does not
// compute them (501).
//
// # What it is not
//
// serve holds no state that another instance needs beyond its data
// directory, and does no modelling of its own: scoring is decide's and
// models', and offline analysis is eval's (nextbest report).
package serve
