package logs

import (
	"context"
	"errors"
	"fmt"
	"io"

	"nextbest/erasure"
	"nextbest/journal"
)

// EachRecord reads the journal in dir from the start to its current end
// with a journal.Reader (read-only; another process may be appending) and
// calls fn with each record, in LSN order, until fn returns an error
// (EachRecord returns it). rec's payload is valid only during the call.
// It checks ctx every 4,096 records. A torn tail of the last segment is
// the end of the data; corruption elsewhere is an error. It returns how
// many records fn was given.
//
// Records of erased customers are never given to fn: erasures whose
// records the server has not yet redacted are read first (a pass over
// the journal that decodes only erasure records), and their customers'
// records skipped (erasure.Set.Erases: the one rule, shared with the
// redaction).
func EachRecord(ctx context.Context, dir string, fn func(rec *journal.Record) error) (int, error) {
	erased, err := PendingErasures(ctx, dir)
	if err != nil {
		return 0, err
	}
	given := 0
	_, err = eachRecord(ctx, dir, func(rec *journal.Record) error {
		if _, ok := erased.Erases(rec); ok {
			return nil
		}
		given++
		return fn(rec)
	})
	return given, err
}

// PendingErasures reads the erasures in the journal in dir whose records
// are not yet redacted.
func PendingErasures(ctx context.Context, dir string) (*erasure.Set, error) {
	var ps []erasure.Pending
	_, err := eachRecord(ctx, dir, func(rec *journal.Record) error {
		if p, ok := erasure.FromRecord(rec); ok {
			ps = append(ps, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return erasure.NewSet(ps), nil
}

func eachRecord(ctx context.Context, dir string, fn func(rec *journal.Record) error) (int, error) {
	r, err := journal.NewReader(dir)
	if err != nil {
		return 0, fmt.Errorf("cannot read journal %q: %w", dir, err)
	}
	defer r.Close()
	n := 0
	for {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("cannot read journal %q: %w", dir, err)
		}
		n++
		if err := fn(&rec); err != nil {
			return n, err
		}
	}
}
