// Package export writes the service's journal out for analysts and for
// other learners: Parquet and CSV tables, JSON lines, and Vowpal Wabbit's
// DSJSON and cb_adf text. docs/export.md documents every format and
// column; "nextbest export" is its command line.
//
// By default it exports decisions joined with their outcomes by
// logs.Join, so an exported reward is the reward the service learns
// (the same attribution window, outcome declarations and default
// reward). The tables (Parquet, CSV, JSON lines) hold one row per shown
// action (slot) of a decision; DSJSON and cb_adf hold one contextual-bandit
// example per decision, labelled with its first slot, and read back
// through the training package's readers (training.ReadDSJSON,
// training.ReadCBADF) to the same actions, propensities and costs.
// Options.Raw exports every record as it was journaled instead (type,
// LSN, time, the payload's identifying fields and the payload itself).
//
// # Where things live
//
//	export.go   Options, Journal and Decisions: filters, the join, the writer loop
//	table.go    the Row of the tables and its Parquet, CSV and JSON-lines writers
//	vw.go       DSJSON and cb_adf, one example per decision
//	raw.go      --raw: every record as it is
//
// # What it is not
//
// It does not rebuild the feature vectors a model scored (logs.RowBuilder
// does, for training and evaluation): it exports the logged inputs (the
// request context and the profile inputs) as they were journaled, and an
// action's features in DSJSON and cb_adf are its id only. It reads a
// local journal directory; the cluster's JetStream journal is first
// copied with "nextbest journal pull" (the command does it for --stream).
// It holds the joined decisions in memory, as logs.Join does.
package export
