package eval

import (
	"fmt"
	"math"
	"strings"
)

// Round is one logged bandit decision, independent of where it was logged
// (the service journal, the Open Bandit Dataset, a randomised trial, a
// simulation). The round's eligible actions are numbered 0..N-1; Target
// and, when present, Qhat and Logging are indexed by that number.
//
// Estimators read rounds and never modify or retain them, so rounds may
// share their slices (every OBD round of one position shares one Target).
type Round struct {
	// Logged is the index of the action the logging policy took.
	Logged int
	// Propensity is the logging policy's probability of Logged, in (0, 1].
	Propensity float64
	// Reward is the observed reward of the logged action.
	Reward float64
	// Target is the target (evaluated) policy's probability of each of the
	// round's N eligible actions; it sums to 1.
	Target []float64
	// Qhat is a reward model's estimate of the expected reward of each of
	// the N actions in this round's context, for DM, DR, SNDR and
	// Switch-DR; nil if there is none. To keep the estimates honest it
	// should be fitted on other rounds (cross-fitting).
	Qhat []float64
	// Logging optionally holds the logging policy's full distribution over
	// the N actions, when it is known. It is used only to detect missing
	// support exactly (target mass on actions the logger could not take);
	// nil means unknown, and support is then judged from the actions
	// actually logged (see Estimate.Warnings).
	Logging []float64
	// Position is the slot of a multi-slot decision (0-based), or 0. Missing
	// support is judged per position; the estimators otherwise treat every
	// round alike ("position-wise" evaluation).
	Position int
	// Actions, if set, names the round's N candidates with ids shared
	// across rounds (catalog indices), for logs whose candidate set varies
	// per round (the service's eligible sets); missing support is then
	// judged per action id. Nil means candidate i is the same action in
	// every round with N candidates.
	Actions []int
	// Context optionally holds features of the round's context (the
	// customer, the request), for a RewardModel to read through its
	// featurizer (see LogisticModel and CellModel); the estimators ignore
	// it. Rounds may share it.
	Context []float64
}

// sumTol is how far a probability vector's sum may stray from 1: input
// written with 6 to 7 significant digits (CSV, JSON) sums to 1 within
// about N·5e-7, so 1e-4 accepts that for N up to hundreds while still
// catching a vector that is not a distribution.
const sumTol = 1e-4

// Validate reports whether r can be evaluated; i is its index, used in the
// error. A returned error is a *RoundError wrapping ErrInvalidRound.
func (r *Round) Validate(i int) error {
	bad := func(field, format string, args ...any) error {
		return &RoundError{Index: i, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	n := len(r.Target)
	if n == 0 {
		return bad("target", "no eligible actions")
	}
	if r.Logged < 0 || r.Logged >= n {
		return bad("logged", "action %d outside 0..%d", r.Logged, n-1)
	}
	if !(r.Propensity > 0 && r.Propensity <= 1) {
		return bad("propensity", "%v is not in (0, 1]", r.Propensity)
	}
	if math.IsNaN(r.Reward) || math.IsInf(r.Reward, 0) {
		return bad("reward", "%v is not finite", r.Reward)
	}
	if err := checkDist(r.Target); err != "" {
		return bad("target", "%s", err)
	}
	if r.Qhat != nil {
		if len(r.Qhat) != n {
			return bad("qhat", "%d values for %d actions", len(r.Qhat), n)
		}
		for a, q := range r.Qhat {
			if math.IsNaN(q) || math.IsInf(q, 0) {
				return bad("qhat", "value %d is %v", a, q)
			}
		}
	}
	if r.Logging != nil {
		if len(r.Logging) != n {
			return bad("logging", "%d values for %d actions", len(r.Logging), n)
		}
		if err := checkDist(r.Logging); err != "" {
			return bad("logging", "%s", err)
		}
	}
	if r.Position < 0 {
		return bad("position", "%d is negative", r.Position)
	}
	for k, v := range r.Context {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return bad("context", "feature %d is %v", k, v)
		}
	}
	return nil
}

func checkDist(p []float64) string {
	var s float64
	for a, v := range p {
		if !(v >= 0 && v <= 1) {
			return fmt.Sprintf("probability %d is %v", a, v)
		}
		s += v
	}
	if math.Abs(s-1) > sumTol {
		return fmt.Sprintf("probabilities sum to %v, not 1", s)
	}
	return ""
}

// Estimator names an off-policy estimator of a target policy's value
// V(π) = E_x[Σ_a π(a|x) r(x,a)].
type Estimator int

// The estimators, in report order. With w = π(aᵢ|xᵢ)/p(aᵢ|xᵢ) the importance
// weight of round i, q̂ the reward model and q̂ᵢ(π) = Σ_a π(a|xᵢ) q̂(xᵢ,a):
const (
	// IPS is inverse propensity scoring, (1/n) Σ wᵢrᵢ (Horvitz & Thompson
	// 1952). Unbiased when the logger covers the target's support.
	IPS Estimator = iota + 1
	// SNIPS is self-normalised IPS, Σ wᵢrᵢ / Σ wᵢ (Swaminathan & Joachims
	// 2015, "The self-normalized estimator for counterfactual learning").
	// Biased by O(1/n), usually of much lower variance, and always inside
	// the range of the rewards.
	SNIPS
	// DM is the direct method, (1/n) Σ q̂ᵢ(π). Unbiased only if the reward
	// model is; its interval covers context sampling only, not model error.
	DM
	// DR is doubly robust, (1/n) Σ [q̂ᵢ(π) + wᵢ(rᵢ − q̂(xᵢ,aᵢ))] (Dudík,
	// Langford & Li 2011, "Doubly robust policy evaluation and learning").
	// Unbiased if the propensities are right, whatever the model.
	DR
	// SNDR is self-normalised DR, (1/n) Σ q̂ᵢ(π) + Σ wᵢ(rᵢ − q̂ᵢ) / Σ wᵢ: the
	// DR correction term normalised by the weights' sum, following the
	// Open Bandit Pipeline's SelfNormalizedDoublyRobust and Kallus & Uehara
	// 2019 ("Intrinsically efficient, stable, and bounded off-policy
	// evaluation for reinforcement learning").
	SNDR
	// SwitchDR uses the DR correction only for rounds whose weight is at
	// most τ and the model alone elsewhere: (1/n) Σ [q̂ᵢ(π) + 1{wᵢ ≤ τ}
	// wᵢ(rᵢ − q̂ᵢ)] (Wang, Agarwal & Dudík 2017, "Optimal and adaptive
	// off-policy evaluation in contextual bandits"; the OBP form). τ is
	// Options.Tau or, when that is 0, chosen by the rule in Options.Tau.
	SwitchDR
	// DRos is doubly robust with optimistic shrinkage of the weights,
	// (1/n) Σ [q̂ᵢ(π) + ŵᵢ(rᵢ − q̂ᵢ)] with ŵ = λw/(w² + λ) (Su,
	// Dimakopoulou, Krishnamurthy & Dudík 2020, "Doubly robust off-policy
	// evaluation with shrinkage"). λ = ∞ is DR and λ → 0 is DM; λ is
	// Options.Lambda or, when that is 0, chosen by SLOPE (Options.Lambda).
	DRos
	// ClippedIPS is IPS with the weights clipped at λ, (1/n) Σ min(wᵢ, λ)
	// rᵢ (Ionides 2008; the Open Bandit Pipeline's IPW with lambda_): less
	// variance, biased towards 0 by E[(w − λ)₊ r]. λ is Options.Clip or,
	// when that is 0, chosen by SLOPE.
	ClippedIPS
)

// AllEstimators returns every estimator in report order.
func AllEstimators() []Estimator {
	return []Estimator{IPS, SNIPS, ClippedIPS, DM, DR, SNDR, SwitchDR, DRos}
}

// String returns the estimator's short name ("IPS", "SNIPS", "DM", "DR",
// "SNDR", "Switch-DR", "DRos", "Clipped-IPS").
func (e Estimator) String() string {
	switch e {
	case IPS:
		return "IPS"
	case SNIPS:
		return "SNIPS"
	case DM:
		return "DM"
	case DR:
		return "DR"
	case SNDR:
		return "SNDR"
	case SwitchDR:
		return "Switch-DR"
	case DRos:
		return "DRos"
	case ClippedIPS:
		return "Clipped-IPS"
	}
	return fmt.Sprintf("Estimator(%d)", int(e))
}

// NeedsModel reports whether the estimator needs Round.Qhat.
func (e Estimator) NeedsModel() bool {
	return e == DM || e == DR || e == SNDR || e == SwitchDR || e == DRos
}

// ParseEstimator returns the estimator named s (case-insensitive, dashes
// ignored; "switch" names Switch-DR, "clip" and "ipsclip" Clipped-IPS).
func ParseEstimator(s string) (Estimator, error) {
	switch strings.ToLower(strings.ReplaceAll(s, "-", "")) {
	case "ips":
		return IPS, nil
	case "snips":
		return SNIPS, nil
	case "dm":
		return DM, nil
	case "dr":
		return DR, nil
	case "sndr":
		return SNDR, nil
	case "switchdr", "switch":
		return SwitchDR, nil
	case "dros":
		return DRos, nil
	case "clippedips", "clip", "ipsclip":
		return ClippedIPS, nil
	}
	return 0, fmt.Errorf("%w: unknown estimator %q", ErrInvalidOptions, s)
}
