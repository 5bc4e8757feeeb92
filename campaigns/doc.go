// Package campaigns is the campaign and channel report: per action (a
// campaign) and per channel, over time and by segment (channel, journey
// stage at the decision, experiment arm), how often actions were shown
// (impressions), clicked and converted, with intervals, the revenue they
// brought, and the lift of the programme against its holdout (or of an
// experiment's arms against its control). The figures, formulas and the
// command are in docs/reports.md ("Campaign and channel reports"); the
// command is nextbest report campaigns.
//
// # Where things live
//
//	analyze.go  Analyze: joined decisions (and, for the lift, journeys) → Report (pure)
//	lift.go     the lift of an experiment's arms, customers as units (LiftExperiment picks the experiment)
//	journal.go  FromJournal: the journal joined (logs.Join) and, for the lift, read into journeys (attribution.Build)
//	report.go   the opening lines, the HTML page with its SVG charts, JSON and CSV
//
// # One home for each rule
//
// Impressions, clicks, conversions and revenue are the join's: an
// impression is a returned action of a logged decision (logs.Joined), a
// click an outcome of a declared click type with a positive reward, a
// conversion what the declared outcome types call one
// (logs.Joined.Converted), the revenue the joined rewards of the declared
// revenue types. The intervals are the experiment analysis' (package
// experiment): a rate per impression is clustered by customer and gets
// the Wilson score interval on its design-effect-adjusted count. The
// lift's conversions are attribution's (converting outcomes and purchase
// events, one purchase heard twice merged), because a held-out customer
// is shown nothing and so has no outcome to report.
//
// # What it is not
//
// It keeps no state: a report reads the journal once for the join and,
// with a lift, once more for the journeys. The rates of
// one action against another are not causal: they were shown to
// different customers at different moments. Only the lift, between
// randomised arms, is.
package campaigns
