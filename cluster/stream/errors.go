package stream

import "errors"

// Sentinel errors. Test for them with errors.Is: they are returned
// wrapped with the URL, stream or sequence they concern. Bad input to
// Publish is refused with the journal's own sentinels (journal.ErrBadType,
// journal.ErrBadTime, journal.ErrTooLarge), so that a caller maps them as
// it maps the embedded journal's.
var (
	// ErrUnavailable is returned by Open, Publish, Records and LastSeq
	// when the NATS server cannot be reached or JetStream does not answer
	// in time: disconnected (reconnecting), no responders, a JetStream
	// 5xx error (temporarily unavailable, insufficient resources), no
	// acknowledgement before ctx ended, or no room for another pending
	// publish before ctx ended. From Publish it means not acknowledged:
	// the record may or may not be stored (see the package doc on
	// de-duplication), so a re-send with the same id is safe within the
	// duplicate window. The HTTP layer answers 503 with Retry-After.
	ErrUnavailable = errors.New("stream: JetStream unavailable")

	// ErrClosed is returned by every method of a Stream once Close has
	// been called.
	ErrClosed = errors.New("stream: closed")

	// ErrBadConfig is returned by Open for an invalid Config, and for an
	// existing stream that cannot hold the journal (memory storage, a
	// retention other than limits).
	ErrBadConfig = errors.New("stream: invalid config")

	// ErrBadID is returned by Publish for an id longer than MaxIDLength
	// bytes or holding control characters, which a message header cannot
	// carry faithfully.
	ErrBadID = errors.New("stream: bad record id")

	// ErrBadRecord is returned by Records for a message of the journal's
	// subject whose Nb-Type or Nb-Time header is missing or malformed:
	// something other than Publish wrote to the subject. Records stops
	// there rather than skip a record the state may depend on; the error
	// names the stream sequence.
	ErrBadRecord = errors.New("stream: bad journal record")
)
