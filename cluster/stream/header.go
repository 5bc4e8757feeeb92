package stream

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"nextbest/journal"
)

// Message headers of a journal record. The payload is the message body.
const (
	// HeaderType holds the record's journal.Type as decimal text.
	HeaderType = "Nb-Type"
	// HeaderTime holds the record's time as RFC 3339 with nanoseconds, in
	// UTC (time.RFC3339Nano).
	HeaderTime = "Nb-Time"
	// HeaderMsgID is JetStream's de-duplication header (Nats-Msg-Id),
	// holding the id passed to Publish.
	HeaderMsgID = "Nats-Msg-Id"
)

// setHeaders writes the record headers of typ and ts into h.
func setHeaders(h nats.Header, typ journal.Type, ts time.Time) {
	h.Set(HeaderType, strconv.FormatUint(uint64(typ), 10))
	h.Set(HeaderTime, ts.UTC().Format(time.RFC3339Nano))
}

// The range of int64 Unix nanoseconds, which a journal record's time must
// fit (as journal.Append requires).
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// checkTime refuses a time outside int64 Unix nanoseconds (about 1677-09-21
// to 2262-04-11) with journal.ErrBadTime.
func checkTime(ts time.Time) error {
	if ts.Before(minTime) || ts.After(maxTime) {
		return fmt.Errorf("%w: %s", journal.ErrBadTime, ts.Format(time.RFC3339Nano))
	}
	return nil
}

// parseHeaders decodes the type and time headers of a record. Every
// error wraps ErrBadRecord. The time is returned in UTC.
func parseHeaders(h nats.Header) (journal.Type, time.Time, error) {
	tv := h.Get(HeaderType)
	n, err := strconv.ParseUint(tv, 10, 8)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("%w: %s header %q is not a record type", ErrBadRecord, HeaderType, tv)
	}
	typ := journal.Type(n)
	if !journal.Known(typ) {
		return 0, time.Time{}, fmt.Errorf("%w: %s header %q: unknown record type", ErrBadRecord, HeaderType, tv)
	}
	sv := h.Get(HeaderTime)
	ts, err := time.Parse(time.RFC3339Nano, sv)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("%w: %s header %q is not an RFC 3339 time", ErrBadRecord, HeaderTime, sv)
	}
	ts = ts.UTC()
	if err := checkTime(ts); err != nil {
		return 0, time.Time{}, fmt.Errorf("%w: %s header %q: %w", ErrBadRecord, HeaderTime, sv, err)
	}
	return typ, ts, nil
}
