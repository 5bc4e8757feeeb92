package journal_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"nextbest/journal"
)

// plain is a journal without live values.
type plain = journal.Journal[journal.NoLive]

// openT opens a journal in dir, with subs if any, and closes it at the end
// of the test unless the test closed it already.
func openT(t testing.TB, cfg journal.Config, subs ...journal.Subscriber[journal.NoLive]) *plain {
	t.Helper()
	j, err := journal.OpenWith(cfg, subs...)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.Dir, err)
	}
	t.Cleanup(func() {
		if err := j.Close(); err != nil && !errors.Is(err, journal.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return j
}

// payloadFor returns a deterministic payload for record i, of a size that
// varies with i so frame boundaries move around.
func payloadFor(i int) []byte {
	return fmt.Appendf(nil, `{"v":1,"i":%d,"pad":"%s"}`, i, string(make([]byte, i%37)))
}

// typeFor cycles through the record types.
func typeFor(i int) journal.Type { return journal.Type(1 + i%3) }

// tsFor returns a deterministic timestamp for record i.
func tsFor(i int) time.Time { return time.Unix(1_700_000_000, int64(i)*1_001).UTC() }

// appendN appends records first..first+n-1 (by payloadFor index) one by one.
func appendN(t testing.TB, j *plain, first, n int) {
	t.Helper()
	for i := first; i < first+n; i++ {
		lsn, err := j.Append(context.Background(), typeFor(i), tsFor(i), payloadFor(i))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		if lsn != uint64(i) {
			t.Fatalf("Append %d: got LSN %d", i, lsn)
		}
	}
}

// replayAll returns copies of every record of j.
func replayAll(t testing.TB, j *plain, from uint64) []journal.Record {
	t.Helper()
	var out []journal.Record
	err := j.Replay(from, func(r journal.Record) error {
		r.Payload = slices.Clone(r.Payload)
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Replay(%d): %v", from, err)
	}
	return out
}

// checkSeq asserts recs are LSNs first.. in order, each as appendN wrote it.
func checkSeq(t testing.TB, recs []journal.Record, first int) {
	t.Helper()
	for k, r := range recs {
		i := first + k
		if r.LSN != uint64(i) || r.Type != typeFor(i) || !r.Time.Equal(tsFor(i)) || string(r.Payload) != string(payloadFor(i)) {
			t.Fatalf("record %d: got {LSN %d, %s, %s, %q}, want {%d, %s, %s, %q}",
				k, r.LSN, r.Type, r.Time, r.Payload, i, typeFor(i), tsFor(i), payloadFor(i))
		}
	}
}

// segments returns the segment files of dir, sorted.
func segments(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+journal.SegmentExt))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// readAll reads every record with a Reader until io.EOF.
func readAll(t testing.TB, r *journal.Reader) []journal.Record {
	t.Helper()
	var out []journal.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next after %d records: %v", len(out), err)
		}
		rec.Payload = slices.Clone(rec.Payload)
		out = append(out, rec)
	}
}

func copyFile(t testing.TB, dst string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
