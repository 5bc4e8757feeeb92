// Package logs is the way back from the log: how what a channel reported
// after a decision becomes what a model learns. Today it holds the reward
// rule; tomorrow the join of outcomes to decisions and the rows built from
// them. It is the one home for the rule, so the online learner and the
// batch paths cannot drift apart.
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
// type's aggregate. Delta gives the change one outcome makes to that
// sum, given the type's aggregate so far, so a learner that keeps
// sufficient statistics (ridge: b += Δr·x) stays exact whatever order
// the repeats arrive in.
//
// # Limits
//
// A reward is finite and at most MaxReward in magnitude (CheckReward);
// anything else is refused at the edge and skipped if met in a journal.
//
// # What it is not
//
// It does no I/O: it neither reads the journal nor keeps the aggregates
// (serve's applier keeps them in its state store). It does not validate
// the rest of an outcome request (ids, times): serve does.
package logs
