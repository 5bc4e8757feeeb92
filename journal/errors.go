package journal

import "errors"

// Sentinel errors. Test for them with errors.Is: most are returned wrapped
// with the file, offset or LSN they concern.
var (
	// ErrClosed is returned by Append (and by a second Close) once Close has
	// been called.
	ErrClosed = errors.New("journal: closed")

	// ErrCorrupt is returned by Open, Replay and Reader.Next when a segment
	// holds a frame or header that fails its checksum or format checks
	// anywhere other than the torn tail of the last segment, or when
	// segments do not follow each other without gaps.
	ErrCorrupt = errors.New("journal: corrupt segment")

	// ErrTooLarge is returned by Append for a payload over MaxPayload bytes.
	ErrTooLarge = errors.New("journal: payload too large")

	// ErrBadType is returned by Append for a Type this package does not know.
	ErrBadType = errors.New("journal: unknown record type")

	// ErrBadTime is returned by Append for a timestamp outside the range of
	// int64 Unix nanoseconds (years 1678 to 2262).
	ErrBadTime = errors.New("journal: timestamp out of range")

	// ErrPending is returned by Append, wrapped together with ctx.Err(),
	// when ctx is done after the record was enqueued but before it was
	// durable. The record keeps its LSN and will still be written unless the
	// journal fails; the caller cannot know whether it is durable yet
	// (LastLSN() >= lsn tells, later).
	ErrPending = errors.New("journal: record enqueued, durability unknown")

	// ErrFailed is returned by Append, wrapped with the cause, after a write
	// or fsync of the journal failed. The failure is sticky: an fsync error
	// cannot be retried safely, so every later Append fails too; reopen the
	// journal (Open truncates whatever the failed write left behind).
	ErrFailed = errors.New("journal: write failed")

	// ErrLocked is returned by Open when another Journal, in this process or
	// another, holds the directory. Readers (NewReader) take no lock.
	ErrLocked = errors.New("journal: directory locked by another writer")

	// ErrBadPayload is returned by Encode and the Decode helpers for a
	// payload that does not decode, or a value of a type they do not know.
	ErrBadPayload = errors.New("journal: bad payload")

	// ErrBadConfig is returned by Open for an invalid Config.
	ErrBadConfig = errors.New("journal: invalid config")
)

// errTorn reports a frame that ends past the end of the available bytes.
// It is internal: at the end of the last segment it means a torn tail.
var errTorn = errors.New("journal: truncated frame")
