package journal

import "errors"

// Sentinel errors. Test for them with errors.Is: most are returned wrapped
// with the file, offset or LSN they concern.
var (
	// ErrClosed is returned by Append (and by a second Close) once Close has
	// been called.
	ErrClosed = errors.New("journal: closed")

	// ErrDuplicate is returned, with the LSN of the record already held,
	// by an appender that de-duplicates records by id (the cluster path's
	// JetStream journal): the record was appended before (a retry), and
	// this append added nothing. The embedded journal never returns it.
	ErrDuplicate = errors.New("journal: duplicate record")

	// ErrCorrupt is returned by Open, Replay and Reader.Next when a segment
	// holds a frame or header that fails its checksum or format checks
	// anywhere other than the torn tail (damage at the physical end of the
	// data with nothing valid after it), or when segments do not follow
	// each other without gaps. Open returns it inside a *CorruptError.
	ErrCorrupt = errors.New("journal: corrupt segment")

	// ErrBehind is returned by Open when the journal ends below
	// Config.AppliedLSN: state derived from it has applied records the
	// journal no longer holds, and appending would reuse their LSNs.
	ErrBehind = errors.New("journal: journal is behind the applied state")

	// ErrTooLarge is returned by Append for a payload over MaxPayload bytes.
	ErrTooLarge = errors.New("journal: payload too large")

	// ErrBadType is returned by Append for a Type this package does not know.
	ErrBadType = errors.New("journal: unknown record type")

	// ErrBadTime is returned by Append for a timestamp outside the range of
	// int64 Unix nanoseconds (years 1678 to 2262).
	ErrBadTime = errors.New("journal: timestamp out of range")

	// ErrPending is returned by Append, wrapped together with ctx.Err(),
	// when ctx is done after the record was enqueued but before it was
	// durable. The record will still be written unless the journal fails
	// first; the caller cannot know which. If it is written, it has the
	// LSN Append returned. If the journal fails first (Health turns
	// non-nil), the record is dropped and its LSN goes to a later record,
	// so LastLSN() >= lsn proves durability only if the journal did not
	// fail in between.
	ErrPending = errors.New("journal: record enqueued, durability unknown")

	// ErrFailed is returned by Append, wrapped with the cause, when the
	// write or fsync of its batch failed (the record is not acknowledged,
	// and its bytes are cut off the segment), and by every Append while the journal is degraded after
	// such a failure (see Journal.Health). It is not sticky: the journal
	// cuts the failed bytes off, probes the disk every
	// Config.RetryInterval, and accepts appends again once a probe
	// succeeds.
	ErrFailed = errors.New("journal: write failed")

	// ErrNoSpace is returned together with ErrFailed (both match
	// errors.Is) when the failure was ENOSPC: the disk is full.
	ErrNoSpace = errors.New("journal: no space left on device")

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
