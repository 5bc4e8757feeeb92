package campaigns

import "errors"

// Sentinel errors returned by this package. Test for them with errors.Is;
// the returned errors wrap them with the detail.
var (
	// ErrInvalidOptions is returned by Analyze and LiftExperiment for
	// options they cannot use: an unknown period or segment, an outcome
	// type that is not declared, a level outside (0, 1), a negative
	// window, an experiment that is not configured.
	ErrInvalidOptions = errors.New("campaigns: invalid options")
	// ErrNoDecisions is returned by Analyze when there is no decision to
	// report on.
	ErrNoDecisions = errors.New("campaigns: no decision in the journal (or in the period)")
)
