package logs_test

import (
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/internal/journaltest"
	"nextbest/journal"
)

// The fixtures live in internal/journaltest; these names keep the tests short.

func retailSample(t testing.TB) (*features.Spec, *decide.Catalog) {
	t.Helper()
	return journaltest.Retail(t)
}

func writeJournal(t testing.TB, recs ...any) string {
	t.Helper()
	return journaltest.Write(t, recs...)
}

var t0 = journaltest.T0

func decision(id string, at time.Time, specHash string, ids ...string) journal.Decision {
	return journaltest.Decision(id, at, specHash, ids...)
}

func outcome(dec, act, typ string, reward float64, at time.Time) journal.Outcome {
	return journaltest.Outcome(dec, act, typ, reward, at)
}
