// Package serve is the nextbest service: the v1 HTTP API over fasthttp,
// and the runtime that keeps its state.
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
// events must be of a type the feature spec knows. Every handler runs
// under one recover: a panic is logged and answered with a JSON 500.
//
// # State
//
// The journal is the only durable copy. One applier (apply.go), fed by
// the journal's commits in LSN order, derives everything else into Pebble
// in one batch per group commit: profiles (impressions, conversions,
// events), the decision index for outcome validation, outcome
// de-duplication, idempotency keys. Pebble runs without its own WAL: after
// a crash, Open replays the journal past the LSN Pebble holds. The
// learner (learner.go) updates the online ridge model from the same
// stream, publishes it to decisions every few milliseconds, and snapshots
// it with the LSN it reflects. A promoted registry model, when there is
// one, serves instead (registry.go) and is hot-swapped without failing a
// request; the online model keeps learning.
//
// # What it is not
//
// serve holds no state that another instance needs beyond its data
// directory, and does no modelling of its own: scoring is decide's and
// models', training and evaluation are offline tools (training, eval).
package serve
