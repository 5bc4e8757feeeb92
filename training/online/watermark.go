package online

import (
	"context"
	"sync"
)

// watermark is a learner's published LSN: the last journal record whose
// learning work the model that decisions read holds. Waiters block on it
// until it reaches theirs.
type watermark struct {
	mu   sync.Mutex
	cond *sync.Cond
	done uint64
}

func newWatermark(at uint64) *watermark {
	w := &watermark{done: at}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// set raises the watermark to lsn (never lowers it) and wakes waiters.
func (w *watermark) set(lsn uint64) {
	w.mu.Lock()
	if lsn > w.done {
		w.done = lsn
	}
	w.cond.Broadcast()
	w.mu.Unlock()
}

func (w *watermark) get() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
}

// wait blocks until the watermark reaches lsn, or ctx ends (its error).
func (w *watermark) wait(ctx context.Context, lsn uint64) error {
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.done < lsn {
		if err := ctx.Err(); err != nil {
			return err
		}
		w.cond.Wait()
	}
	return nil
}
