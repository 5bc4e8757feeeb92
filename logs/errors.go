package logs

import "errors"

// Sentinel errors returned by this package. Test for them with errors.Is;
// the returned errors wrap them with the detail.
var (
	// ErrInvalidOutcomeType is returned by NewOutcomes (and the YAML
	// decoding of an OutcomeType) for a declaration that cannot be used:
	// a bad or repeated name, an unknown reward mapping or aggregation, a
	// weight out of range.
	ErrInvalidOutcomeType = errors.New("logs: invalid outcome type declaration")
	// ErrBadReward is returned by CheckReward for a reward that is not
	// finite or exceeds MaxReward in magnitude.
	ErrBadReward = errors.New("logs: reward out of range")
	// ErrInvalidConfig is returned by Join for a configuration it cannot
	// use (a negative attribution window), and by NewRowBuilder for a
	// catalog that was not compiled with the feature spec.
	ErrInvalidConfig = errors.New("logs: invalid configuration")
	// ErrOtherSpec is returned by RowBuilder.Rows for a decision logged
	// under another feature spec: its rows cannot be rebuilt.
	ErrOtherSpec = errors.New("logs: decision made with another feature spec")
	// ErrBadLoggedInputs is returned by RowBuilder.Rows for a decision
	// whose logged feature inputs the spec rejects.
	ErrBadLoggedInputs = errors.New("logs: logged feature inputs do not fit the spec")
)
