// Package journaltest writes journals for tests: the fixtures of the
// packages that read the service's journal (training, eval).
package journaltest

import (
	"context"
	"testing"
	"time"

	"nextbest/journal"
)

// Write appends recs (journal.Decision, journal.Outcome or journal.Event,
// values or pointers) in order to a new journal in a temporary directory,
// each stamped with its own time, and returns the directory.
func Write(t testing.TB, recs ...any) string {
	t.Helper()
	dir := t.TempDir()
	WriteDir(t, dir, recs...)
	return dir
}

// WriteDir is Write into the journal directory dir (created if need be),
// for tests that need the journal at a given place, such as a service's
// data directory.
func WriteDir(t testing.TB, dir string, recs ...any) {
	t.Helper()
	j, err := journal.Open(journal.Config{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		typ, payload, err := journal.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := j.Append(context.Background(), typ, timeOf(r), payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

func timeOf(r any) time.Time {
	switch v := r.(type) {
	case journal.Decision:
		return v.Time
	case *journal.Decision:
		return v.Time
	case journal.Outcome:
		return v.Time
	case *journal.Outcome:
		return v.Time
	case journal.Event:
		return v.Time
	case *journal.Event:
		return v.Time
	}
	return time.Time{}
}
