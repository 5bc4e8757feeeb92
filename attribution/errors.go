package attribution

import "errors"

// Sentinel errors returned by this package. Test for them with errors.Is;
// the returned errors wrap them with the detail.
var (
	// ErrInvalidOptions is returned by Attribute and Build for options
	// they cannot use: a negative lookback or half-life, an unknown
	// dimension or conversion source.
	ErrInvalidOptions = errors.New("attribution: invalid options")
	// ErrNoConversions is returned by Attribute when no journey has a
	// conversion with a touch in its lookback window: there is nothing to
	// credit.
	ErrNoConversions = errors.New("attribution: no conversion with a touch before it")
)
