package eval

import (
	"errors"
	"fmt"
)

// Sentinel errors returned by this package. Test for them with errors.Is;
// the returned errors wrap them with the detail.
var (
	// ErrInvalidRound is returned by the estimators for a round that cannot
	// be evaluated: a logged index out of range, a propensity outside
	// (0, 1], target probabilities that are negative or do not sum to 1,
	// a non-finite reward, or a reward model of the wrong length. It is
	// wrapped in a *RoundError naming the round and the field.
	ErrInvalidRound = errors.New("eval: invalid round")
	// ErrNoRewardModel is returned by the estimators that need a reward
	// model (DM, DR, SNDR, Switch-DR) when a round has no Qhat.
	ErrNoRewardModel = errors.New("eval: estimator needs a reward model (Qhat)")
	// ErrTooFewRounds is returned when fewer than two rounds are given: no
	// standard error can be estimated from one.
	ErrTooFewRounds = errors.New("eval: need at least two rounds")
	// ErrNoOverlap is returned by the self-normalised estimators when every
	// importance weight is zero: the target policy never chose any logged
	// action, so the data say nothing about it.
	ErrNoOverlap = errors.New("eval: target policy has zero weight on every logged action")
	// ErrInvalidOptions is returned for Options that cannot be used (a
	// confidence level outside (0, 1), a negative bootstrap count, ...).
	ErrInvalidOptions = errors.New("eval: invalid options")
	// ErrFormat is returned by the readers (ReadRounds, ReadOBDLog,
	// ReadOBDItems, ReadBTSPrior, ReadHillstrom) for input they cannot
	// parse. It is wrapped with the line and column where possible.
	ErrFormat = errors.New("eval: malformed input")
)

// RoundError is an invalid round: its index in the input, the field and
// the reason. It wraps ErrInvalidRound.
type RoundError struct {
	Index  int
	Field  string
	Reason string
}

func (e *RoundError) Error() string {
	return fmt.Sprintf("eval: round %d: %s: %s", e.Index, e.Field, e.Reason)
}

// Unwrap returns ErrInvalidRound.
func (e *RoundError) Unwrap() error { return ErrInvalidRound }
