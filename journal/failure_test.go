package journal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"
)

// doneOnAsk is a context whose Done channel closes the first time it is
// asked for: Append asks only once its record is enqueued, so it returns
// ErrPending right after enqueueing (the batch is never full in these
// tests), so it sees a cancelled ctx exactly after enqueue.
type doneOnAsk struct {
	context.Context
	once sync.Once
	ch   chan struct{}
}

func (c *doneOnAsk) Done() <-chan struct{} {
	c.once.Do(func() { close(c.ch) })
	return c.ch
}

// DoneOnAsk returns a doneOnAsk context of parent, for the black-box tests
// (TestCtxDoneAfterEnqueue).
func DoneOnAsk(parent context.Context) context.Context {
	return &doneOnAsk{Context: parent, ch: make(chan struct{})}
}

func (c *doneOnAsk) Err() error {
	select {
	case <-c.ch:
		return context.Canceled
	default:
		return nil
	}
}

// TestFailedCommitFailsQueuedAndRewinds: when a batch fails, the batch
// queued behind it fails too, its LSNs are handed out again (no gap, no
// reuse), Appends fail fast while degraded, and a successful probe makes
// the journal healthy again. An fsync-like error (EIO) is not ENOSPC.
func TestFailedCommitFailsQueuedAndRewinds(t *testing.T) {
	dir := t.TempDir()
	entered, release := make(chan struct{}), make(chan error)
	var armed sync.Once
	var arm bool // set before the commit that must fail; read by the committer after entered
	var mu sync.Mutex
	cfg := Config{Dir: dir, NoSync: true, RetryInterval: 10 * time.Millisecond,
		commitHook: func() error {
			mu.Lock()
			a := arm
			arm = false
			mu.Unlock()
			if !a {
				return nil
			}
			armed.Do(func() { close(entered) })
			return <-release
		}}
	j, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	payload := func(s string, i int) []byte { return fmt.Appendf(nil, `{"v":1,%q:%d}`, s, i) }
	for i := 1; i <= 10; i++ {
		if _, err := j.Append(ctx, TypeEvent, time.Time{}, payload("ok", i)); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	arm = true
	mu.Unlock()
	victim := make(chan error)
	go func() {
		_, err := j.Append(ctx, TypeEvent, time.Time{}, payload("victim", 11))
		victim <- err
	}()
	<-entered // the committer holds batch {11}
	for i := 12; i <= 14; i++ {
		c := &doneOnAsk{Context: ctx, ch: make(chan struct{})}
		lsn, err := j.Append(c, TypeEvent, time.Time{}, payload("queued", i))
		if lsn != uint64(i) || !errors.Is(err, ErrPending) {
			t.Fatalf("queued Append = %d, %v", lsn, err)
		}
	}
	changed := j.healthChanged()
	release <- fmt.Errorf("injected: %w", syscall.EIO)
	if err := <-victim; !errors.Is(err, ErrFailed) || errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("failed Append = %v, want ErrFailed wrapping EIO", err)
	}
	<-changed // degraded
	if err := j.Health(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Health = %v", err)
	}
	if j.LastLSN() != 10 {
		t.Fatalf("LastLSN = %d after the failure, want 10", j.LastLSN())
	}
	changed = j.healthChanged()
	// While degraded an Append fails fast (it is not queued), unless the
	// probe has already succeeded.
	if _, err := j.Append(ctx, TypeEvent, time.Time{}, payload("fast", 0)); err != nil && !errors.Is(err, ErrFailed) {
		t.Fatalf("Append while degraded = %v", err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("no recovery 10 s after the failure")
	}
	if err := j.Health(); err != nil {
		t.Fatalf("Health after the probe = %v", err)
	}
	lsn, err := j.Append(ctx, TypeEvent, time.Time{}, payload("after", 11))
	if err != nil || lsn != 11 {
		t.Fatalf("Append after recovery = %d, %v; want LSN 11 (the failed LSNs are handed out again)", lsn, err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, err = Open(Config{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var got []string
	if err := j.Replay(0, func(r Record) error { got = append(got, string(r.Payload)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 11 || got[10] != string(payload("after", 11)) {
		t.Fatalf("after reopen: %q", got)
	}
}
