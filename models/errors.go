package models

import "errors"

// Sentinel errors returned by this package. Test for them with errors.Is;
// the returned errors wrap them with the detail.
var (
	// ErrInvalidConfig is returned by NewRidge and ReadRidge for a
	// configuration that cannot describe a model (Dim ≤ 0, Lambda ≤ 0, ...).
	ErrInvalidConfig = errors.New("models: invalid config")
	// ErrInvalidInput is returned by Ridge.Update for an observation that
	// would corrupt the posterior: wrong length, action out of range, a
	// non-finite feature or reward.
	ErrInvalidInput = errors.New("models: invalid input")
	// ErrOverflow is returned by Ridge.Update and Ridge.AddReward for an
	// observation or correction that would take the model's statistics
	// past MaxRidgeStat (and on to infinity): refused, nothing changed.
	ErrOverflow = errors.New("models: update would overflow the model's statistics")
	// ErrBadMagic is returned by ReadRidge when the stream does not start
	// with the ridge model magic: it is not a ridge model file.
	ErrBadMagic = errors.New("models: not a ridge model file (bad magic)")
	// ErrVersion is returned by ReadRidge for a format version it cannot read.
	ErrVersion = errors.New("models: unsupported model format version")
	// ErrTruncated is returned by ReadRidge when the stream ends before the
	// length its header announces.
	ErrTruncated = errors.New("models: model file truncated")
	// ErrCorrupt is returned by ReadRidge when the checksum does not match
	// or the decoded statistics are not a valid posterior.
	ErrCorrupt = errors.New("models: model file corrupt")
)
