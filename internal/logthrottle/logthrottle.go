// Package logthrottle limits a repeating log line to one per interval and
// counts the ones it held back, so that a failure that repeats for every
// request (a full disk, a poisoned record replayed at every start) says
// so once, with a count, instead of flooding the log. It is the one home
// of that rule (VictoriaMetrics' lib/logger/throttler.go is the model).
package logthrottle

import (
	"sync"
	"time"
)

// Throttle lets one event through per interval, per key. The zero value
// is not usable: call New. Safe for concurrent use.
type Throttle struct {
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	keys map[string]*window
}

type window struct {
	last time.Time
	held int
}

// New returns a Throttle that lets one event per key through every
// interval.
func New(interval time.Duration) *Throttle {
	return &Throttle{interval: interval, now: time.Now, keys: make(map[string]*window)}
}

// Allow reports whether the event of key may be logged now and, if so,
// how many events of key it held back since the last one it let through.
// The first event of a key always passes. Keys must come from a small
// fixed set: each is remembered.
func (t *Throttle) Allow(key string) (ok bool, held int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.keys[key]
	if w == nil {
		w = new(window)
		t.keys[key] = w
	}
	now := t.now()
	if !w.last.IsZero() && now.Sub(w.last) < t.interval {
		w.held++
		return false, 0
	}
	held, w.held, w.last = w.held, 0, now
	return true, held
}
