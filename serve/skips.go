package serve

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
	count    *prometheus.CounterVec
	log      *slog.Logger
	interval time.Duration

	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

func newApplyErrors(count *prometheus.CounterVec, log *slog.Logger) *applyErrors {
	for _, k := range state.Kinds {
		count.WithLabelValues(k) // export every kind, at 0
	}
	return &applyErrors{count: count, log: log, interval: 10 * time.Second,
		last: make(map[string]time.Time), held: make(map[string]int)}
}

// Skip counts and logs a record skipped for err (a *state.ApplyError,
// else of kind state).
func (e *applyErrors) Skip(lsn uint64, typ journal.Type, err error) {
	kind := state.KindOf(err)
	e.count.WithLabelValues(kind).Inc()
	e.mu.Lock()
	now := time.Now()
	if now.Sub(e.last[kind]) < e.interval {
		e.held[kind]++
		e.mu.Unlock()
		return
	}
	held := e.held[kind]
	e.last[kind], e.held[kind] = now, 0
	e.mu.Unlock()
	e.log.Error("skipped a journal record that cannot be applied", "kind", kind, "lsn", lsn, "type", typ.String(), "err", err, "suppressed_since_last", held)
}
