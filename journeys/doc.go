// Package journeys is journey analytics over the service's journal: how
// customers move through the feature spec's journey stages (a stage
// funnel, the transitions between stages, the time spent in each, where
// they drop off), the paths of events and actions they most often take
// (a journey map), and where they arrive and get nothing (a touchpoint
// gap view). The figures, formulas and the command are in
// docs/reports.md ("Journey analytics"); the command is nextbest report
// journeys.
//
// # Where things live
//
//	analyze.go  Analyze: journeys and a feature spec → Report (pure)
//	journal.go  FromJournal: the journal read into journeys (attribution.Build) and analysed
//	report.go   the opening lines (Headline), the HTML page with its SVG charts, JSON and CSV
//
// # One home for each rule
//
// The journeys are attribution's (attribution.Build with Everything: a
// customer's events, the decisions that showed actions and those that
// showed none, the conversions). The stages are the feature spec's: each
// customer's events are replayed, in time order, through
// features.Spec.ApplyEvent on a fresh profile, so a stage here changes
// exactly when the service's transition rules change it. Nothing in this
// package knows a transition rule.
//
// # What it is not
//
// It keeps no state and serves nothing: it reads the journal once per
// report. It does not say why customers stall (an experiment does), and
// the stage it replays can differ from the one the service logged when
// events arrived late or profiles were imported with a stage; the report
// counts such decisions (Stats.StageMismatch).
package journeys
