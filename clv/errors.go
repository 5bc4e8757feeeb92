package clv

import (
	"errors"
	"fmt"
)

// Sentinel errors returned by this package. Test for them with errors.Is;
// the returned errors wrap them with the detail.
var (
	// ErrSyntax is returned by Parse and ReadTransactions for input that
	// is not a transaction file; it is wrapped in a *ParseError naming the
	// line and the column.
	ErrSyntax = errors.New("clv: bad transaction file")
	// ErrNoCustomers is returned by Summarize when no customer made a
	// first purchase by the end of the calibration period, and by the
	// fits when they are given no customer.
	ErrNoCustomers = errors.New("clv: no customers")
	// ErrNoRepeatBuyers is returned by FitGammaGamma when no customer has
	// a repeat purchase with a positive mean spend: spend per purchase
	// cannot be estimated.
	ErrNoRepeatBuyers = errors.New("clv: no customer with a repeat purchase")
	// ErrInvalidOptions is returned for options that cannot be used: a
	// holdout that ends before the calibration period, a horizon or step
	// that is not positive, a discount rate of −100% or less.
	ErrInvalidOptions = errors.New("clv: invalid options")
	// ErrInvalidModel is returned by Predict and the fits for parameters
	// outside the model's domain: not positive and finite, a = 1 (the
	// BG/NBD expectations divide by a − 1), or q ≤ 1 (the Gamma-Gamma
	// mean spend is infinite).
	ErrInvalidModel = errors.New("clv: invalid model parameters")
	// ErrFit is returned by the fits when the optimiser does not converge
	// or the Hessian at its optimum is not positive definite (no standard
	// errors).
	ErrFit = errors.New("clv: maximum-likelihood fit failed")
)

// ParseError is a transaction file's first problem: where it is (line,
// 1-based; column, the 1-based field, 0 for the whole line) and why. It
// wraps ErrSyntax.
type ParseError struct {
	Line   int
	Column int
	Field  string // the column's name, "" when unknown
	Value  string // the offending text, shortened
	Reason string
}

func (e *ParseError) Error() string {
	where := fmt.Sprintf("line %d", e.Line)
	if e.Column > 0 {
		where += fmt.Sprintf(", column %d", e.Column)
		if e.Field != "" {
			where += " (" + e.Field + ")"
		}
	}
	if e.Value != "" {
		return fmt.Sprintf("%s: %q: %s", where, e.Value, e.Reason)
	}
	return where + ": " + e.Reason
}

// Unwrap returns ErrSyntax.
func (e *ParseError) Unwrap() error { return ErrSyntax }
