//go:build linux

package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"nextbest/internal/tmpfs"
)

// fill writes to path until the volume is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// TestDiskFullRecovers is the second fault of the issue: after one ENOSPC
// every write failed until a restart. Now the failed appends get
// ErrNoSpace and are not acknowledged, Health reports it, Appends fail
// fast meanwhile, and once space is freed the journal writes again by
// itself; after a reopen every acknowledged record is there, with
// contiguous LSNs, and no failed one is.
func TestDiskFullRecovers(t *testing.T) {
	mnt := t.TempDir()
	tmpfs.Mount(t, mnt, 1<<20)
	dir := filepath.Join(mnt, "journal")
	cfg := Config{Dir: dir, SegmentBytes: 128 << 10, RetryInterval: 100 * time.Millisecond}
	j, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if j != nil {
			j.Close()
		}
	}()
	ctx := context.Background()
	var (
		mu     sync.Mutex
		acked  = make(map[uint64]string)
		failed = make(map[string]bool)
		seq    int
	)
	// app appends one record; it returns the error.
	app := func(tag string) error {
		mu.Lock()
		seq++
		p := fmt.Sprintf(`{"v":1,"%s":%d,"pad":"%0200d"}`, tag, seq, 0)
		mu.Unlock()
		lsn, err := j.Append(ctx, TypeEvent, time.Time{}, []byte(p))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failed[p] = true
			return err
		}
		if _, dup := acked[lsn]; dup {
			t.Errorf("LSN %d acknowledged twice", lsn)
		}
		acked[lsn] = p
		return nil
	}
	for range 100 {
		if err := app("before"); err != nil {
			t.Fatal(err)
		}
	}

	// Fill the volume while 8 appenders run, so that batches are queued
	// behind the one that fails.
	filler := filepath.Join(mnt, "filler")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for {
				if err := app("racing"); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	fill(t, filler)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrNoSpace) || !errors.Is(err, ErrFailed) {
			t.Fatalf("append on a full disk: %v, want ErrNoSpace and ErrFailed", err)
		}
	}
	fill(t, filler) // take back what the failed writes freed
	if err := j.Health(); !errors.Is(err, ErrNoSpace) {
		// a probe may have found the freed space before the top-up: fail once more
		if err := app("again"); !errors.Is(err, ErrNoSpace) {
			t.Fatalf("Append on a full disk: %v", err)
		}
	}
	if err := j.Health(); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Health on a full disk = %v, want ErrNoSpace", err)
	}
	changed := j.healthChanged()
	// Degraded: appends fail fast, without being queued.
	if err := app("fast"); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Append while degraded = %v, want ErrNoSpace", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatalf("still degraded 10 s after space was freed: %v", j.Health())
	}
	if err := j.Health(); err != nil {
		t.Fatalf("Health after space was freed = %v", err)
	}
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if err := app("after"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = nil

	j2, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	var next uint64 = 1
	err = j2.Replay(0, func(r Record) error {
		if r.LSN != next {
			return fmt.Errorf("LSN %d where %d was due", r.LSN, next)
		}
		next++
		p := string(r.Payload)
		if want, ok := acked[r.LSN]; ok && p != want {
			return fmt.Errorf("LSN %d: %q, acknowledged as %q", r.LSN, p, want)
		}
		if failed[p] {
			return fmt.Errorf("LSN %d holds a record whose Append failed: %q", r.LSN, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for lsn := range acked {
		if lsn >= next {
			t.Fatalf("acknowledged LSN %d missing after reopen (journal ends at %d)", lsn, next-1)
		}
	}
	t.Logf("%d acknowledged, %d failed, journal ends at LSN %d", len(acked), len(failed), next-1)
}

// TestPreallocateSmallVolume is the third fault of the issue: on a volume
// smaller than a segment, Preallocate made Open fail. Now it opens,
// appends and reopens without preallocating, and leaves no spare behind.
func TestPreallocateSmallVolume(t *testing.T) {
	mnt := t.TempDir()
	tmpfs.Mount(t, mnt, 512<<10)
	dir := filepath.Join(mnt, "journal")
	cfg := Config{Dir: dir, SegmentBytes: 4 << 20, Preallocate: true}
	for round := range 2 {
		j, err := Open(cfg)
		if err != nil {
			t.Fatalf("round %d: Open: %v", round, err)
		}
		for i := range 100 {
			lsn, err := j.Append(context.Background(), TypeEvent, time.Time{}, fmt.Appendf(nil, `{"v":1,"i":%d}`, i))
			if err != nil || lsn != uint64(round*100+i+1) {
				t.Fatalf("round %d: Append = %d, %v", round, lsn, err)
			}
		}
		if err := j.Health(); err != nil {
			t.Fatal(err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, spareName)); !os.IsNotExist(err) {
			t.Fatalf("a spare segment was left: %v", err)
		}
	}
	rep, err := Verify(dir)
	if err != nil || !rep.Clean() || rep.LastLSN != 200 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
}
