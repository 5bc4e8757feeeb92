// Package sim simulates customer journeys with a known ground truth, so
// that policies can be compared against the best possible one (the
// oracle) and the service can be shown, tested and loaded with realistic
// traffic.
//
// # The population
//
// New builds a Population from a seed: the retail sample's catalog and
// feature spec (package nextbest/examples/retail), its 200 demo profiles
// as the first customers (c-0001..c-0200) and made-up customers after
// them (c-0201, ...), each in one of four hidden segments (DealSeeker,
// LoyalPremium, CasualBrowser, Lapsing). A customer's state is a
// features.Profile changed exactly as the service changes it: journey
// events through Spec.ApplyEvent, impressions and outcomes through
// features.RecordImpression and RecordOutcome. Its journey stage
// therefore advances with the events the visits draw: page views and
// product views (awareness → consideration), add_to_cart (cart), checkout,
// purchase or cart_abandoned (purchase → retention), e-mail opens and
// clicks, support calls.
//
// A Visit (Begin) draws the channel from the segment's mix and the hour
// (the call centre is open 8-20h UTC), the journey events up to the
// decision, and the request context (page, device, cart_value, campaign).
// Respond draws a conversion per shown action and the rest of the
// journey.
//
// # The truth
//
// The probability that a customer converts on an action is logistic in:
// a base per action (dearer actions convert less), the segment's affinity
// for the action's category, the customer's own taste per category, a
// latent segment×action taste drawn from the seed, the discount times the
// segment's discount sensitivity, the journey stage × category, channel ×
// category, device × category, page and tier effects per action, the hour
// of the day, and fatigue: each impression of the same action in the last
// 72 hours lowers the log-odds by 0.45. TrueReward is that probability
// times the action's business value; Oracle picks the eligible action
// (the same decide funnel: channel, consent, rules, contact policy) with
// the largest. Some of the truth is visible to the retail feature vector
// (stage, page, category, discount), some only to per-action models
// (tier, device, channel), and the segments never are: no policy can
// reach the oracle.
//
// A Drift shifts a segment's taste from one action to another at a given
// time, so that its best action changes.
//
// # The learning benchmark
//
// Run plays one policy (PolicySpec) against a fresh population for a
// horizon of visits on a simulated clock, learning online exactly as
// serve's learner does (Update with reward 0 for every shown action,
// AddReward 1 on a conversion, Publish every PublishEvery visits), and
// sums the true expected reward of its choices and of the oracle's on the
// same visits. Bench runs every policy for several seeds and summarises;
// WriteMarkdown, WriteCSV and WriteRegretChart write the results.
// Everything is reproducible from the seed: the runner draws the
// explorer's choice itself from the exact slot probabilities the engine
// reports (Explain), from the run's own stream, so that the policies of
// one seed are compared on the same uniforms.
//
// # What it is not
//
// Not a model of any real retailer: the numbers are plausible, not
// fitted. Not a load test by itself: package driver sends the visits to a
// running service over HTTP. Not a source of training data for real
// models: its logs only teach the simulator's own truth.
package sim
