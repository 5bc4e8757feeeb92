// Package attribution shares each conversion, and its revenue, out among
// the touches that came before it: multi-touch attribution over the
// service's journal, by channel or by action, under five rules and one
// data-driven model. The models, formulas and the simulation that tests
// them are in docs/attribution.md; the command is nextbest report
// attribution.
//
// # Where things live
//
//	journey.go    Journey, Touch, Conversion (pure) and Paths: a journey cut into paths under the lookback
//	build.go      the journal read into journeys (Build): decisions are touches, converting outcomes and purchase events conversions;
//	              with BuildConfig.Everything also every event and the decisions that showed nothing (package journeys reads them)
//	attribute.go  the rule-based models (Weights) and Attribute, which runs every model
//	markov.go     the first-order Markov chain and its exact removal effects (Chain)
//	report.go     the HTML report (inline SVG chart), its JSON and CSV
//
// # Journeys and paths
//
// A touch is a logged decision that showed actions: its time, channel
// and the actions in slot order. A conversion is an outcome whose
// declared type converts (logs.OutcomeType.Converts: a conversion type
// with a positive reward), its revenue the posted reward, or a purchase
// event, its revenue the "amount" property. One purchase reported both
// ways is merged (BuildConfig.MergeWithin).
//
// Each conversion is credited to the touches since the customer's
// previous conversion that are at most the lookback (30 days by default)
// before it. Journey.Paths cuts a journey into such paths; the touches
// that no conversion claims form paths that did not convert, which only
// the Markov model reads.
//
// # Models
//
// The rules give each touch of a converting path a weight, summing to 1:
// last touch, first touch, linear, time decay (weight halving every
// half-life before the conversion, 7 days by default) and position-based
// (40% first, 40% last, 20% spread between). By action, a touch's weight
// is split equally among the actions it showed.
//
// The data-driven model is a first-order Markov chain over the paths:
// states start, one per channel (or action), conversion and null. A key's
// removal effect is the fraction of the chain's conversion probability
// lost when the key leads to null instead; the attributed conversions are
// shared in proportion. The absorbing chain is solved exactly, with one
// LU factorisation of I − Q (gonum/mat), not by simulating walks.
//
// # Why Markov, not Shapley
//
// Shapley values over channels need the conversion rate of every
// coalition of channels: 2ⁿ subsets, most of them seen in few journeys
// or none once there are more than a handful of channels (and never, by
// action). The Markov chain needs only first-order transition counts,
// which every path supplies, the ones that did not convert included — a
// channel that is on many paths that go nowhere earns less. Its cost is
// a linear solve in the number of keys.
//
// # What it is not
//
// It is not a measure of incrementality. Every model here, the Markov
// one included, shares out conversions by where touches sit on paths; none
// knows what would have happened without a touch. The simulation in
// sim_test.go shows the Markov model beating the rule a trap is built
// against, and still far from the truth: a channel on most paths (an
// opener) or triggered by a decision already made (a reminder) gets
// credit it did not earn. Incrementality needs a holdout: an experiment
// (eval, nextbest report). It keeps no state and serves nothing: Build
// reads the journal read-only, once; the service computes the report in
// the background for its dashboard (serve/reports.go).
package attribution
