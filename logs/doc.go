// Package logs is the way back from the log: how a logged decision and
// what channels reported after it become what a model learns and what an
// off-policy estimate weighs. It is the one home of that rule, so the
// online learner and batch training (training), off-policy
// evaluation and experiment analysis (eval) cannot drift apart; a
// property test (serve's TestOnlineEqualsBatch) feeds one journal to the
// online learner and to the batch path and requires the same ridge
// statistics.
//
// # Where things live
//
//	outcome.go  declared outcome types and the reward rule (Fold, ActionDelta, ActionReward)
//	join.go     the join of outcomes to decisions with its attribution window (Join, Attributed)
//	rows.go     a logged decision's feature rows, rebuilt as they were scored (RowBuilder)
//	position.go the position model of multi-slot rewards (PositionModel, EstimatePositions)
//
// # Declared outcome types
//
// An outcome type is declared, not guessed (OutcomeType): its name, how a
// posted outcome maps to the learning reward (the posted value, or a fixed
// weight), whether it counts as a conversion, and how repeats for one
// (decision, action) aggregate:
//
//	first  the first outcome of the type counts; repeats are duplicates
//	sum    every outcome adds its reward
//	max    the largest reward counts
//
// Outcomes (NewOutcomes) is a validated set of declarations; without any,
// DefaultOutcomeTypes serves the retail sample: conversion and purchase
// (conversions), click and revenue, each taking the posted value and
// counting its first outcome only.
//
// # The reward rule
//
// An action shown without outcome has the default reward r₀. Once
// outcomes arrive, its reward is the sum over its outcome types of each
// type's aggregate (ActionReward). Fold and ActionDelta give the change
// one outcome makes to that sum, given the type's aggregate so far, so a
// learner that keeps sufficient statistics (ridge: b += Δr·x) stays exact
// whatever order the repeats arrive in.
//
// # The join and its attribution window
//
// Join reads a journal and folds each outcome into its decision: an
// outcome teaches when its decision and action are in the journal, its
// type is declared, its reward usable (CheckReward), it is not a
// duplicate (an outcome_id seen before for the decision, or a repeat of a
// first type, late ones included) and it is attributed — at most the
// window after its decision (Attributed; earlier is fine, clocks differ).
// Everything else is counted in JoinStats and skipped. The online
// learner applies the same checks, one record at a time, with its
// aggregates in the state store.
//
// # Activation
//
// A decision made with defer_activation is an impression only where an
// activation record says its slots were shown (ActivationCounts: within
// the attribution window). Join leaves out a deferred decision no
// activation counted for, and marks which slots of an activated one were
// shown (Joined.Activated, Joined.Shown): training, evaluation, export
// and experiment analysis read only shown slots. Outcomes are folded
// whether they came before or after the activation, so an outcome that
// arrived first is learned once the slot is shown, as the online learner
// learns it at the activation.
//
// # Rows
//
// RowBuilder rebuilds the feature rows of a logged decision's actions —
// the feature spec's InputsFromLog on the logged inputs, then Assemble
// with the catalog's compiled action features — bit for bit the vectors
// scored live. Training labels them with the joined rewards, the online
// learner learns from them during replay, and eval scores a target
// policy's probabilities over the eligible set with them.
//
// # Position
//
// A reward logged in slot k of a ranking is damped by how often slot k
// is looked at. PositionModel is the position-based model E[r | x, a, k]
// = θₖ·ρ(x, a); EstimatePositions estimates θ from the logged
// propensities, and RowBuilder.ShownRows, the learning rows of a
// decision, scales slot k's row by θₖ when SetPositions gave a model, so
// a linear model learns ρ, the reward at slot 0. Off by default; slot
// 0's rows, and so single-slot decisions, never change.
//
// # Limits
//
// A reward is finite and at most MaxReward in magnitude (CheckReward);
// anything else is refused at the edge and skipped if met in a journal.
//
// # What it is not
//
// It keeps no state between calls: Join reads the journal read-only and
// holds its aggregates in memory for one pass; the service's running
// aggregates, de-duplication keys and decision index live in its state
// store. It does not validate outcome requests (ids, times: serve does),
// train or score models (training, models), or compute target
// probabilities (decide's explorers; eval asks them, with
// decide.FallbackExplorer for decisions served by the fallback ranking).
package logs
