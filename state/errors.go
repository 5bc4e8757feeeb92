package state

import (
	"errors"
	"fmt"
)

// Sentinel errors of the lookups (Store.Decision, Store.DecisionForRequest,
// Store.OutcomeFirstLSN). Test for them with errors.Is: they are returned
// wrapped with what was looked up.
var (
	// ErrNotFound is returned by Decision and DecisionForRequest when the
	// index holds no such decision: unknown, or swept (older than the
	// retention).
	ErrNotFound = errors.New("state: not found")

	// ErrUnavailable is returned, wrapped with the cause, when the store
	// cannot answer (a read failed).
	ErrUnavailable = errors.New("state: store unavailable")

	// ErrCorrupt is returned, wrapped with the cause, for an index entry
	// that does not decode.
	ErrCorrupt = errors.New("state: entry does not decode")
)

// LockedError is returned by Open when another instance holds the store's
// directory lock.
type LockedError struct {
	// Path is the lock file.
	Path string
	Err  error
}

func (e *LockedError) Error() string { return fmt.Sprintf("%s is locked: %v", e.Path, e.Err) }

func (e *LockedError) Unwrap() error { return e.Err }

// Kinds of skipped records, as ApplyError.Kind names them: the label
// values of nextbest_apply_errors_total.
const (
	KindDecode = "decode" // a payload that does not decode
	KindType   = "type"   // an outcome of an undeclared type
	KindReward = "reward" // an outcome reward not finite or out of range
	KindEvent  = "event"  // an event the profile refuses
	KindModel  = "model"  // an update the online model refuses (the learner's)
	KindState  = "state"  // the state store failed
)

// Kinds lists every kind of skipped record.
var Kinds = []string{KindDecode, KindType, KindReward, KindEvent, KindModel, KindState}

// ApplyError is why a journal record was skipped, with its kind. The
// Applier reports such records to its Skips; the learner does the same.
type ApplyError struct {
	Kind string
	Err  error
}

func (e *ApplyError) Error() string { return e.Err.Error() }

func (e *ApplyError) Unwrap() error { return e.Err }

// KindOf returns the kind of a skipped record's error: ApplyError's, else
// KindState.
func KindOf(err error) string {
	if ae, ok := errors.AsType[*ApplyError](err); ok {
		return ae.Kind
	}
	return KindState
}
