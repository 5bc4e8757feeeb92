package personalizer

import "fmt"

// Error codes of the Personalizer API (its PersonalizerErrorCode), those
// nextbest answers with, and the HTTP status of each (Status).
const (
	CodeBadRequest                  = "BadRequest"
	CodeInvalidRankRequest          = "InvalidRankRequest"
	CodeInvalidRewardRequest        = "InvalidRewardRequest"
	CodeInvalidEventIDToActivate    = "InvalidEventIdToActivate"
	CodeInvalidServiceConfiguration = "InvalidServiceConfiguration"
	CodeInvalidLearningModeConfig   = "InvalidLearningModeServiceConfiguration"
	CodeInvalidPolicyConfiguration  = "InvalidPolicyConfiguration"
	CodeInvalidPolicyContract       = "InvalidPolicyContract"
	CodeInvalidRewardWaitTime       = "InvalidRewardWaitTime"
	CodeInvalidLogRetentionDays     = "InvalidLogRetentionDays"
	CodeResourceNotFound            = "ResourceNotFound"
	CodePayloadSizeExceeded         = "PayloadSizeExceeded"
	CodeOperationNotAllowed         = "OperationNotAllowed"
	CodeInternalServerError         = "InternalServerError"
	CodeUnauthorized                = "Unauthorized"
	CodePermissionDenied            = "PermissionDenied"
	CodeTooManyRequests             = "TooManyRequests"
	CodeServiceUnavailable          = "ServiceUnavailable"
	CodeUnsupportedMediaType        = "UnsupportedMediaType"
)

// Error is a Personalizer call refused: the spec's error code, the field
// (the error body's "target") and why. Status gives its HTTP status.
type Error struct {
	Code   string
	Field  string
	Reason string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Errorf returns an *Error of code about field.
func Errorf(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Status is the HTTP status of an error code: 404 for ResourceNotFound,
// 413 for PayloadSizeExceeded, 405 for OperationNotAllowed, 401, 403,
// 429, 415 and 503 for the codes nextbest adds for them, 500 for
// InternalServerError, and 400 for the others (BadRequest and the
// Invalid… codes).
func Status(code string) int {
	switch code {
	case CodeResourceNotFound:
		return 404
	case CodePayloadSizeExceeded:
		return 413
	case CodeOperationNotAllowed:
		return 405
	case CodeUnauthorized:
		return 401
	case CodePermissionDenied:
		return 403
	case CodeTooManyRequests:
		return 429
	case CodeUnsupportedMediaType:
		return 415
	case CodeServiceUnavailable:
		return 503
	case CodeInternalServerError:
		return 500
	}
	return 400
}
