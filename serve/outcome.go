package serve

import (
	"sync"
	"time"
)

// inFlight is the set of outcome de-duplication keys (state.DedupeKeys)
// of outcomes being journaled. The outcome handler holds its keys from the
// check against the state store until its record is applied (AppendLive
// returns after the applier wrote the keys), so of two identical outcomes
// sent at once only one is journaled: the other waits for it, then finds
// its keys stored and answers as a duplicate. It is the in-process half of
// the check; the stored keys are the half that survives restarts.
type inFlight struct {
	mu   sync.Mutex
	keys map[string]chan struct{}
}

// acquire takes keys, waiting while another request holds any of them, at
// most wait. It returns the function that gives them back, or ok false if
// the wait ran out. No request holds some keys while waiting for others,
// so requests cannot deadlock.
func (f *inFlight) acquire(keys []string, wait time.Duration) (release func(), ok bool) {
	if len(keys) == 0 {
		return func() {}, true
	}
	var timeout <-chan time.Time
	for {
		f.mu.Lock()
		var busy chan struct{}
		for _, k := range keys {
			if c, held := f.keys[k]; held {
				busy = c
				break
			}
		}
		if busy == nil {
			if f.keys == nil {
				f.keys = make(map[string]chan struct{})
			}
			done := make(chan struct{})
			for _, k := range keys {
				f.keys[k] = done
			}
			f.mu.Unlock()
			return func() {
				f.mu.Lock()
				for _, k := range keys {
					delete(f.keys, k)
				}
				f.mu.Unlock()
				close(done)
			}, true
		}
		f.mu.Unlock()
		if timeout == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-busy:
		case <-timeout:
			return nil, false
		}
	}
}
