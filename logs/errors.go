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
)
