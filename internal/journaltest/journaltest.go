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
	return dir
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
