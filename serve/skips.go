package serve

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"nextbest/internal/logthrottle"
	"nextbest/journal"
	"nextbest/state"
)

// applyErrors counts the records skipped in nextbest_apply_errors_total
// and logs them at ERROR with their LSN, at most one line per kind every
// interval (with the count held back since): a poisoned journal replays
// the same failure for every restart, and an old one may hold many.
// It is the state applier's and the learner's state.Skips, safe for
// concurrent use.
type applyErrors struct {
	count *prometheus.CounterVec
	log   *slog.Logger
	limit *logthrottle.Throttle
}

func newApplyErrors(count *prometheus.CounterVec, log *slog.Logger) *applyErrors {
	for _, k := range state.Kinds {
		count.WithLabelValues(k) // export every kind, at 0
	}
	return &applyErrors{count: count, log: log, limit: logthrottle.New(10 * time.Second)}
}

// Skip counts and logs a record skipped for err (a *state.ApplyError,
// else of kind state).
func (e *applyErrors) Skip(lsn uint64, typ journal.Type, err error) {
	kind := state.KindOf(err)
	e.count.WithLabelValues(kind).Inc()
	ok, held := e.limit.Allow(kind)
	if !ok {
		return
	}
	e.log.Error("skipped a journal record that cannot be applied", "kind", kind, "lsn", lsn, "type", typ.String(), "err", err, "suppressed_since_last", held)
}
