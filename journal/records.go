package journal

import (
	"encoding/json"
	"time"
)

// SchemaVersion is the version of the JSON payload schemas below. A reader
// accepts every version up to and including this one; fields are only ever
// added, never renamed or re-typed, within a major version.
const SchemaVersion = 1

// Type says what a record's payload is.
type Type uint8

// Record types. The numbers are part of the on-disk format: never reuse one.
const (
	TypeDecision Type = 1 // payload: Decision
	TypeOutcome  Type = 2 // payload: Outcome
	TypeEvent    Type = 3 // payload: Event
	// TypeLost is a tombstone that Repair writes in place of a record it
	// could not recover, so that LSNs stay contiguous. Append refuses it;
	// Replay and Reader skip it (Verify counts it).
	TypeLost Type = 4 // payload: Lost
	// TypeAudit records an administrative change: who (the API key's
	// name), what and when.
	TypeAudit Type = 5 // payload: Audit
	// TypeErasure asks for a customer's erasure: the state forgets them
	// at once, and Redact later replaces every earlier record about them
	// with a TypeErased tombstone and this record with one that no longer
	// names them (see package erasure).
	TypeErasure Type = 6 // payload: Erasure
	// TypeErased is the tombstone Redact writes in place of a record of an
	// erased customer, so that LSNs stay contiguous. Append refuses it;
	// Replay and Reader skip it (Verify counts it).
	TypeErased Type = 7 // payload: Erased
	// TypeActivation says which slots of a decision made with
	// defer_activation were actually shown.
	TypeActivation Type = 8 // payload: Activation

	// The Personalizer-compatible namespace (serve's /personalizer/
	// routes) numbers its records from 16: a Personalizer "resource" has
	// its own events, model and configuration in the same journal.

	// TypePersonalizerRank records a rank or multi-slot rank call: the
	// request's actions and features, what was answered and with which
	// probabilities, and the learning settings it is learned under.
	TypePersonalizerRank Type = 16 // payload: PersonalizerRank
	// TypePersonalizerReward records a reward call (one slot's, or
	// several slots' of a multi-slot event).
	TypePersonalizerReward Type = 17 // payload: PersonalizerReward
	// TypePersonalizerActivate records the activation of an event ranked
	// with deferActivation: it is learned from from then on.
	TypePersonalizerActivate Type = 18 // payload: PersonalizerActivate
)

// Known reports whether t is a record type this version reads.
func Known(t Type) bool { return Appendable(t) || Tombstone(t) }

// Appendable reports whether records of type t may be appended (every
// type but the tombstones, which only Repair and Redact write).
func Appendable(t Type) bool {
	switch t {
	case TypeDecision, TypeOutcome, TypeEvent, TypeAudit, TypeErasure, TypeActivation,
		TypePersonalizerRank, TypePersonalizerReward, TypePersonalizerActivate:
		return true
	}
	return false
}

// Tombstone reports whether t is a tombstone (TypeLost, TypeErased): a
// record kept only so that LSNs stay contiguous, which readers skip.
func Tombstone(t Type) bool { return t == TypeLost || t == TypeErased }

// String returns the lower-case name of t ("decision", "outcome", "event",
// "lost", "audit", "erasure", "erased", "activation", "personalizer_rank",
// "personalizer_reward", "personalizer_activate").
func (t Type) String() string {
	switch t {
	case TypeDecision:
		return "decision"
	case TypeOutcome:
		return "outcome"
	case TypeEvent:
		return "event"
	case TypeLost:
		return "lost"
	case TypeAudit:
		return "audit"
	case TypeErasure:
		return "erasure"
	case TypeErased:
		return "erased"
	case TypeActivation:
		return "activation"
	case TypePersonalizerRank:
		return "personalizer_rank"
	case TypePersonalizerReward:
		return "personalizer_reward"
	case TypePersonalizerActivate:
		return "personalizer_activate"
	}
	return "unknown"
}

// Decision is the payload of a TypeDecision record: everything a channel was
// told, and everything needed to learn from it or evaluate another policy on
// it offline (the feature inputs, the eligible set, the exact propensities).
type Decision struct {
	V          int       `json:"v"`
	DecisionID string    `json:"decision_id"`
	RequestID  string    `json:"request_id,omitempty"`
	CustomerID string    `json:"customer_id"`
	Channel    string    `json:"channel"`
	Time       time.Time `json:"ts"`
	// Context is the request context exactly as the channel sent it.
	Context map[string]any `json:"context,omitempty"`
	// Profile holds the profile-derived feature inputs as they were at
	// decision time (decayed counters, recency, stage, attributes), keyed by
	// the feature spec's source names without the "profile." prefix.
	Profile map[string]any `json:"profile,omitempty"`
	// Policy names the serving policy and its version, e.g. "linucb@v3".
	Policy string `json:"policy"`
	// FeatureSpec is the hash of the feature spec that built the vectors.
	FeatureSpec string `json:"feature_spec"`
	// Explorer describes the exploration step, e.g. "epsilon_greedy(0.1)".
	Explorer   string         `json:"explorer,omitempty"`
	Experiment *ExperimentArm `json:"experiment,omitempty"`
	// Eligible lists the actions that passed the funnel (channel,
	// eligibility, contact policy), in the order the explorer saw them.
	Eligible []string `json:"eligible"`
	// Actions are the returned actions in slot order.
	Actions []LoggedAction `json:"actions"`
	// Slots are the slots the request declared, in order (empty when it
	// declared none): the action of slot k was scored with Slots[k].Context
	// merged over Context (decide.SlotContext), which is how its row is
	// rebuilt (logs.RowBuilder).
	Slots    []SlotLog `json:"slots,omitempty"`
	Fallback bool      `json:"fallback,omitempty"`
	// Degenerate says the model scored every eligible action the same (a
	// constant or broken model): it could not tell them apart, and the
	// ranking came from the business value and exploration alone.
	Degenerate bool `json:"degenerate,omitempty"`
	// DeferActivation says the channel asked to activate the decision
	// later (POST /v1/decisions/{id}/activate, an Activation record): until
	// a slot is activated its action is not an impression, takes no contact
	// limit, counts in no experiment and teaches no model.
	DeferActivation bool `json:"defer_activation,omitempty"`
	// Shadow is what a shadow policy would have done (it was not served):
	// the retraining loop's candidate scoring every decision beside the
	// serving policy, for a near-on-policy estimate of its value.
	Shadow *Shadow `json:"shadow,omitempty"`
	// Explanation is the decision's funnel (the eligible actions, those
	// dropped with the rule that dropped them, the scores and slot
	// probabilities) when the request asked for one: journaled, so that
	// a question about the decision months later can be answered.
	Explanation json.RawMessage `json:"explanation,omitempty"`
}

// Shadow is a shadow policy's would-be first slot of a decision: its
// choice and its exact probability of each eligible action (in
// Decision.Eligible's order).
type Shadow struct {
	Policy        string    `json:"policy"`
	Action        string    `json:"action"`
	Probabilities []float64 `json:"probabilities"`
}

// ExperimentArm records the experiment assignment of a decision.
type ExperimentArm struct {
	Name string `json:"name"`
	Arm  string `json:"arm"`
	// Covariate is the customer's value of the experiment's covariate
	// (decide.Experiment.Covariate) at the decision: the pre-period
	// behaviour CUPED adjusts for. 0 when the experiment names none or the
	// profile has no value.
	Covariate float64 `json:"covariate,omitempty"`
}

// SlotLog is one declared slot of a decision: its id and its context,
// as the request sent them.
type SlotLog struct {
	ID      string         `json:"id"`
	Context map[string]any `json:"context,omitempty"`
}

// LoggedAction is one returned action of a decision.
type LoggedAction struct {
	ActionID string  `json:"action_id"`
	Slot     int     `json:"slot"` // 0-based
	Score    float64 `json:"score"`
	// Estimate is the model's reward estimate for the action (before value
	// and business weight).
	Estimate float64 `json:"estimate"`
	// Propensity is the exact probability that the policy put this action
	// in this slot, given the eligible set and the actions in earlier slots.
	Propensity float64 `json:"propensity"`
}

// Outcome is the payload of a TypeOutcome record: what a customer did after
// a decision. It always names an existing decision and an action that
// decision returned.
type Outcome struct {
	V          int       `json:"v"`
	DecisionID string    `json:"decision_id"`
	ActionID   string    `json:"action_id"`
	CustomerID string    `json:"customer_id"`
	Type       string    `json:"type"` // e.g. "click", "conversion", "revenue"
	Reward     float64   `json:"reward"`
	Time       time.Time `json:"ts"`
	// DecisionTime is the time of the decision the outcome belongs to, so a
	// reader can apply an attribution window without a join.
	DecisionTime time.Time `json:"decision_ts"`
	// OutcomeID is the client's id of the outcome, if it sent one: unique
	// per decision, it makes a re-sent outcome a duplicate.
	OutcomeID string `json:"outcome_id,omitempty"`
	// Slate says the outcome is one slot's share of a reward given for the
	// whole slate (logs.SlateShares): Reward is the share, ActionID the
	// slot's action; the slate's outcome is journaled as one such record
	// per returned slot.
	Slate bool `json:"slate,omitempty"`
}

// Activation is the payload of a TypeActivation record: slots of a
// decision made with DeferActivation were shown. It always names an
// existing deferred decision; activating a slot twice changes nothing
// (readers take a slot's first activation), and an activation later than
// its decision's attribution window counts for nothing (logs.Attributed,
// as for outcomes).
type Activation struct {
	V int `json:"v"`
	// ActivationID identifies the record (unique; it sorts by time, as
	// decision ids do).
	ActivationID string `json:"activation_id"`
	DecisionID   string `json:"decision_id"`
	CustomerID   string `json:"customer_id"`
	// Slots are the activated slots (0-based indices into the decision's
	// Actions), ascending. A decision that returned no action (a
	// holdout's) is activated with none: the decision itself was shown.
	Slots []int     `json:"slots"`
	Time  time.Time `json:"ts"`
	// DecisionTime is the time of the decision, so a reader can apply the
	// attribution window without a join.
	DecisionTime time.Time `json:"decision_ts"`
}

// Event is the payload of a TypeEvent record: a journey event that updates
// the customer's profile.
type Event struct {
	V          int            `json:"v"`
	CustomerID string         `json:"customer_id"`
	Type       string         `json:"type"`
	Channel    string         `json:"channel,omitempty"`
	Time       time.Time      `json:"ts"`
	Properties map[string]any `json:"properties,omitempty"`
}

// Audit is the payload of a TypeAudit record: an administrative change
// (keys, models, experiments, the learning mode, erasures), the audit
// trail's entry.
type Audit struct {
	V    int       `json:"v"`
	Time time.Time `json:"ts"`
	// By names who made it: the API key's name, "admin" (development
	// mode), "config" (a reload), "loop" or "cli".
	By string `json:"by"`
	// Kind says what changed, e.g. "key_added", "experiment_put",
	// "mode_set", "promoted", "customer_erased".
	Kind string `json:"kind"`
	// Detail says it in words.
	Detail string `json:"detail,omitempty"`
}

// Erasure is the payload of a TypeErasure record: a customer's erasure
// (DELETE /v1/customers/{id}). CustomerID names them until Redact has
// replaced their earlier records with tombstones; then it rewrites this
// record without it (Redacted set), so that nothing in the journal names
// them any more, and the record stays as the audit trail's entry.
type Erasure struct {
	V int `json:"v"`
	// ID identifies the erasure (in the audit trail, and in the
	// tombstones of the records it erased).
	ID         string    `json:"erasure_id"`
	CustomerID string    `json:"customer_id,omitempty"`
	Time       time.Time `json:"ts"`
	// By names who asked: the API key's name, or "admin" (development
	// mode).
	By string `json:"by"`
	// Redacted says Redact has run: the records before it are tombstones.
	Redacted bool `json:"redacted,omitempty"`
	// Records is how many records Redact replaced (when Redacted).
	Records int `json:"records,omitempty"`
	// Replaces is the LSN of the erasure record this redacted one stands
	// for, when it was published anew (the cluster path deletes the
	// original from the stream).
	Replaces uint64 `json:"replaces,omitempty"`
}

// Erased is the payload of a TypeErased tombstone: the erasure that
// replaced the record.
type Erased struct {
	V       int    `json:"v"`
	Erasure string `json:"erasure_id"`
}

// Lost is the payload of a TypeLost tombstone: why the record with this
// LSN is gone and where its bytes went.
type Lost struct {
	V int `json:"v"`
	// Reason is the damage found, e.g. "frame checksum mismatch".
	Reason string `json:"reason"`
	// File and Offset locate the damaged region in the journal as it was
	// before the repair (File is the segment's base name).
	File   string `json:"file,omitempty"`
	Offset int64  `json:"offset"`
	// Quarantine is the file that holds the region's bytes, if it had any.
	Quarantine string `json:"quarantine,omitempty"`
	// Time is when the repair wrote the tombstone.
	Time time.Time `json:"ts"`
}

// PersonalizerRank is the payload of a TypePersonalizerRank record: one
// rank (Slots empty) or multi-slot rank (Slots set) call of the
// Personalizer-compatible API, with everything needed to answer it again
// (a replay of its event id), to learn from it, and to evaluate another
// policy on it offline. The features are kept as the request sent them
// (JSON objects); the model's rows are rebuilt from them by package
// personalizer's featurization.
type PersonalizerRank struct {
	V       int       `json:"v"`
	EventID string    `json:"event_id"`
	Time    time.Time `json:"ts"`
	// RequestHash is the SHA-256 (hex) of the request as decoded, keys
	// sorted: a replay of the event id with another request is refused.
	RequestHash     string               `json:"request_hash"`
	ContextFeatures []map[string]any     `json:"context_features,omitempty"`
	Actions         []PersonalizerAction `json:"actions"`
	// Excluded are the request's excludedActions (single-slot rank).
	Excluded []string `json:"excluded_actions,omitempty"`
	// Deferred is the request's deferActivation: the event is not learned
	// from until a TypePersonalizerActivate record activates it.
	Deferred bool `json:"defer_activation,omitempty"`
	// Ranking is the single-slot answer: every action, excluded ones with
	// probability 0, in the order returned; RewardActionID the chosen one.
	Ranking        []PersonalizerRanked `json:"ranking,omitempty"`
	RewardActionID string               `json:"reward_action_id,omitempty"`
	// Slots are the multi-slot request's slots with their answers.
	Slots []PersonalizerSlot `json:"slots,omitempty"`
	// Mode is the learning mode the call was served in: Online (the
	// model's ε-greedy choice), Apprentice (the baseline served, learned
	// from) or LoggingOnly (the baseline served, not learned from).
	Mode string `json:"learning_mode"`
	// Policy names the model and exploration that served the call, e.g.
	// "ridge(bits=9)+epsilon_greedy(0.2)", or "baseline".
	Policy string `json:"policy"`
	// Learning are the settings the event is learned under, as they were
	// at the call: a rebuild from the journal learns what the live
	// service learned.
	Learning PersonalizerLearning `json:"learning"`
}

// PersonalizerAction is one action of a rank call: its id and features
// (free-form JSON objects).
type PersonalizerAction struct {
	ID       string           `json:"id"`
	Features []map[string]any `json:"features,omitempty"`
}

// PersonalizerRanked is one entry of a rank call's ranking.
type PersonalizerRanked struct {
	ID string `json:"id"`
	// Probability is the exact probability that the policy chose the
	// action (0 for an excluded one).
	Probability float64 `json:"probability"`
}

// PersonalizerSlot is one slot of a multi-slot rank call and its answer.
type PersonalizerSlot struct {
	ID       string           `json:"id"`
	Features []map[string]any `json:"features,omitempty"`
	Excluded []string         `json:"excluded_actions,omitempty"`
	Baseline string           `json:"baseline_action"`
	// ActionID is the action chosen for the slot ("" when every action
	// was excluded or taken by an earlier slot), Probability the exact
	// probability of that choice given the earlier slots' choices.
	ActionID    string  `json:"reward_action_id,omitempty"`
	Probability float64 `json:"probability,omitempty"`
}

// PersonalizerLearning are the learning settings of a rank call.
type PersonalizerLearning struct {
	// RewardWaitMillis is how long after its activation (the call, when
	// not deferred) the event's rewards count.
	RewardWaitMillis int64 `json:"reward_wait_ms"`
	// DefaultReward is the reward of an active event without one.
	DefaultReward float64 `json:"default_reward"`
	// Aggregation combines several rewards of one slot: "earliest",
	// "average" or "sum".
	Aggregation string `json:"reward_aggregation"`
}

// PersonalizerReward is the payload of a TypePersonalizerReward record.
type PersonalizerReward struct {
	V       int                      `json:"v"`
	EventID string                   `json:"event_id"`
	Time    time.Time                `json:"ts"`
	Rewards []PersonalizerSlotReward `json:"rewards"`
}

// PersonalizerSlotReward is one reward value: for the event's one slot
// (Slot "", the single-slot API) or for the slot it names.
type PersonalizerSlotReward struct {
	Slot  string  `json:"slot_id,omitempty"`
	Value float64 `json:"value"`
}

// PersonalizerActivate is the payload of a TypePersonalizerActivate
// record.
type PersonalizerActivate struct {
	V       int       `json:"v"`
	EventID string    `json:"event_id"`
	Time    time.Time `json:"ts"`
}
