package journeys

import "errors"

// Sentinel errors returned by this package. Test for them with errors.Is;
// the returned errors wrap them with the detail.
var (
	// ErrInvalidOptions is returned by Analyze for options it cannot use:
	// a negative inactivity period, step or path count, From not before
	// To, or no feature spec.
	ErrInvalidOptions = errors.New("journeys: invalid options")
	// ErrNoCustomers is returned by Analyze when no customer's journey
	// falls in the period: there is nothing to report.
	ErrNoCustomers = errors.New("journeys: no customer in the period")
)
