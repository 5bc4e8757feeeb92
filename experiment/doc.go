// Package experiment is the statistics of the service's A/B experiments:
// the sufficient statistics of an experiment's decisions, kept per arm,
// day, channel and journey stage (Sums, Aggregates), and the analysis
// that turns them into a result (Analyze): per-arm metrics with
// intervals, lifts against the control with fixed-horizon and
// always-valid inference, the probability to beat the control, the
// sample-ratio-mismatch check, sample-size guidance and a plain-language
// verdict.
//
// # One analysis, two ways to the sums
//
//	journal ──state.Applier──▶ Unit.Change per record ──▶ Aggregates (Pebble) ──┐
//	                           (as decisions and outcomes are applied)          ├──▶ Analyze ──▶ Result
//	journal ──logs.Join──▶ eval.AnalyzeExperiment ──▶ Builder ──▶ Aggregates ───┘   (+ off-policy: eval)
//
// The service keeps each experiment's Aggregates in its state store as it
// applies the journal (package state): a decision adds one to its
// customer's cell of its arm's day, channel and stage, and a joined
// outcome adds the change it makes to the decision's values. GET
// /v1/experiments reads them and calls Analyze; nothing re-reads the
// journal. "nextbest report" joins the journal (logs.Join) and sums the
// joined decisions with a Builder, through the same Unit.Change, then
// calls the same Analyze, so the service and the report agree number for
// number on the same journal; the report adds the off-policy estimates,
// which need every logged decision (eval.ExperimentResult).
//
// # Where things live
//
//	stats.go      intervals and tests: Wilson, Newcombe, Welch, delta-method
//	              relative lift, chi-square, mSPRT (SequentialTest),
//	              Beta and normal probability to beat, sample size
//	sums.go       Values, Sums, Group, Unit (a customer's cells) and Change
//	aggregates.go Aggregates of an experiment, Builder
//	analyze.go    Analyze: Sums → Result
//	result.go     Options, Result and its parts, the metric glossary
//	verdict.go    the verdict and the formatting of numbers in sentences
//
// The metrics of a decision (Values) are the conversion flag, the revenue
// and the reward of its joined outcomes (Result.Metrics defines them);
// the join and the reward rule that give them are package logs'.
//
// # What it is not
//
// Not the join (logs), not the store of the sums (state), not off-policy
// evaluation (eval). Customers are the unit of randomisation: the
// standard errors cluster a customer's decisions (see Sums), so a Unit per
// customer is kept next to the sums.
package experiment
