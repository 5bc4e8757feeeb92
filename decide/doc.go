// Package decide turns a customer, a channel and a request context into a
// ranked list of actions, each with the exact probability that the policy
// chose it.
//
// # The funnel
//
// Every decision runs the same stages, and every action that does not make
// it is dropped by exactly one named stage (see Explanation):
//
//	catalog     the actions of the Catalog, or the request's candidates
//	channel     the action may be shown on the request's channel
//	consent     the customer has not withdrawn consent for the channel
//	eligibility the action's rule (an expr-lang expression over profile,
//	            context, channel and time, compiled once at catalog load);
//	            it reads the profile as the features evaluated it
//	            (features.Inputs: decayed counters, the clock in the
//	            spec's time zone), so rules and vectors agree
//	contact     contact policy: at most N impressions per window, and
//	            suppression for a while after a conversion
//	score       model estimate (posterior mean, plus exploration bonus for
//	            LinUCB) × business value × business weight
//	explore     an Explorer turns scores into a probability for every
//	            remaining action, draws one per slot, and logs the
//	            probability of the draw: exact, by construction
//
// # Propensities
//
// The logged propensity of the action in slot k is the probability that the
// policy put it there given the eligible set and the actions already placed
// in slots 0..k-1. Slot 0's propensity is therefore the marginal
// probability used by off-policy estimators of single-slot decisions. For
// ε-greedy and softmax the probabilities are closed-form; for Thompson
// sampling (independent Gaussian posteriors per candidate) they are the
// probabilities that each candidate's posterior draw is the largest,
// integrated numerically to 1e-6 (models.Argmax, one quadrature grid for
// all the slots of a decision), and the draw is made from those
// probabilities, so the logged number is the one that was used. Slate
// recomputes every slot's numbers exactly as the engine does, for
// off-policy evaluation.
//
// # Declared slots
//
// A request may declare its slots (Request.Slots: a hero banner, a
// sidebar), each with context of its own: values of the feature spec's
// context fields that hold for that slot, merged over the request's
// context (SlotContext). Slot k's candidates are scored with rows
// assembled from slot k's merged context, so a feature or a cross of a
// slot field (context.placement × action.category) lets the model prefer
// different actions in different slots. Slot k draws from its own scores
// over the actions not yet placed, so its logged propensity is its exact
// conditional probability given the earlier slots, as for undeclared
// slots; for Thompson each declared slot has a quadrature grid of its
// own. The funnel runs once: eligibility rules see the request's context
// only, never a slot's. A non-finite estimate in any slot sends the whole
// decision to the fallback ranking; Degenerate is set when any slot's
// scores are degenerate; an explanation shows slot 0's scores. Result.X
// holds each returned action's row as its slot scored it, and a logged
// decision records its slots so that the rows can be rebuilt (package
// logs). With more slots than eligible actions, the first slots are
// filled.
//
// # What it is not
//
// decide does no I/O: it never reads a store or writes the journal. The
// caller hands it the customer's profile and gets back everything it needs
// to log the decision. Models are reached through the Scorer interface, so
// the serving model can be swapped while decisions run.
package decide
