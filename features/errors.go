package features

import "errors"

// FieldError is returned for invalid input (a spec, a request context, an
// event, an action's features, a logged profile): Field is the path of the
// offending field ("vector.features[3].buckets", "context.cart_value") and
// Reason says what is wrong with it. serve maps it to 400/422.
type FieldError struct {
	Field  string
	Reason string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

var (
	// ErrCorrupt is returned (wrapped) by the Store when a stored profile
	// cannot be decoded.
	ErrCorrupt = errors.New("features: corrupt profile encoding")
	// ErrUnknownCodec is returned (wrapped) by the Store when a stored
	// profile starts with a codec version this build cannot read.
	ErrUnknownCodec = errors.New("features: unknown profile codec version")
)

func fieldErr(field, reason string) *FieldError { return &FieldError{Field: field, Reason: reason} }
