package decide

import (
	"errors"
	"fmt"
)

// ErrNoActions is returned by Engine.Decide when no action survives the
// funnel. It is not a failure of the service: the answer is "nothing".
var ErrNoActions = errors.New("decide: no eligible action")

// RequestError is bad input to Decide: it names the offending request field
// and says why. Unprocessable marks input that is well-formed but refers to
// something that does not exist (an unknown candidate), which an HTTP edge
// answers with 422 rather than 400.
type RequestError struct {
	Field         string
	Reason        string
	Unprocessable bool
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("decide: %s: %s", e.Field, e.Reason)
}

// CatalogError is a problem in an action catalog, naming the action and the
// field.
type CatalogError struct {
	Field  string // e.g. "actions[3].eligible"
	Reason string
}

func (e *CatalogError) Error() string {
	return fmt.Sprintf("decide: catalog: %s: %s", e.Field, e.Reason)
}
