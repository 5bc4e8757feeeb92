package journal_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"nextbest/journal"
)

// TestAppendBatch: a batch's records are journaled in its order, with
// their live values, across group commits (MaxBatch smaller than the
// batch) and between concurrent plain appends; the answer is the last
// one's LSN, applied before AppendBatch returns.
func TestAppendBatch(t *testing.T) {
	type live struct{ i int }
	var (
		mu      sync.Mutex
		applied = map[uint64]int{} // LSN → live value, -1 for none
	)
	sub := journal.SubscriberFunc[live](func(recs []journal.Record, lv []*live) error {
		mu.Lock()
		defer mu.Unlock()
		for k, r := range recs {
			applied[r.LSN] = -1
			if lv[k] != nil {
				applied[r.LSN] = lv[k].i
			}
		}
		return nil
	})
	j, err := journal.OpenWith(journal.Config{Dir: t.TempDir(), NoSync: true, MaxBatch: 7}, sub)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	const n = 100
	entries := make([]journal.Entry[live], n)
	lives := make([]live, n)
	for i := range entries {
		lives[i].i = i
		entries[i] = journal.Entry[live]{Type: journal.TypeEvent, Time: tsFor(i), Payload: fmt.Appendf(nil, `{"i":%d}`, i), Live: &lives[i]}
	}
	var wg sync.WaitGroup
	for range 3 { // plain appends in between
		wg.Go(func() {
			for range 20 {
				if _, err := j.Append(context.Background(), journal.TypeEvent, time.Now(), []byte(`{"plain":1}`)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	last, err := j.AppendBatch(context.Background(), entries)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if applied[last] != n-1 {
		t.Errorf("AppendBatch returned LSN %d, which holds live value %d, want %d (applied before the return)", last, applied[last], n-1)
	}
	mu.Unlock()
	wg.Wait()

	next := 0
	err = j.Replay(1, func(r journal.Record) error {
		if string(r.Payload) == `{"plain":1}` {
			return nil
		}
		if want := fmt.Sprintf(`{"i":%d}`, next); string(r.Payload) != want || !r.Time.Equal(tsFor(next)) {
			return fmt.Errorf("LSN %d: %s at %v, want %s at %v", r.LSN, r.Payload, r.Time, want, tsFor(next))
		}
		mu.Lock()
		defer mu.Unlock()
		if applied[r.LSN] != next {
			return fmt.Errorf("LSN %d applied with live value %d, want %d", r.LSN, applied[r.LSN], next)
		}
		next++
		return nil
	})
	if err != nil || next != n {
		t.Fatalf("replay: %v after %d of the batch's records", err, next)
	}
	if j.LastLSN() != n+60 {
		t.Errorf("LastLSN %d, want %d", j.LastLSN(), n+60)
	}

	// a bad entry: the ones before it are journaled, the error says so
	bad := []journal.Entry[live]{{Type: journal.TypeEvent, Payload: []byte(`{}`)}, {Type: journal.Type(200), Payload: []byte(`{}`)}}
	if _, err := j.AppendBatch(context.Background(), bad); !errors.Is(err, journal.ErrBadType) || !errors.Is(err, journal.ErrPending) {
		t.Errorf("a bad type after a good entry: %v, want ErrBadType and ErrPending", err)
	}
	if _, err := j.AppendBatch(context.Background(), bad[1:]); !errors.Is(err, journal.ErrBadType) || errors.Is(err, journal.ErrPending) {
		t.Errorf("a bad type first: %v, want ErrBadType alone", err)
	}
	j.Close()
	if _, err := j.AppendBatch(context.Background(), entries[:1]); !errors.Is(err, journal.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
