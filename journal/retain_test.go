package journal_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"nextbest/journal"
)

// TestRetain: old sealed segments go, oldest first and only while they
// hold nothing at or after Keep; the segment being appended to stays; a
// size limit drops the oldest until the journal fits; the journal then
// reopens, continues its LSNs, and a reader starts at the first kept LSN.
func TestRetain(t *testing.T) {
	dir := t.TempDir()
	cfg := journal.Config{Dir: dir, NoSync: true, SegmentBytes: 1000}
	j := openT(t, cfg)
	appendN(t, j, 1, 200)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 6 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	// every segment but the last three written a day ago
	old := time.Now().Add(-24 * time.Hour)
	for _, p := range segs[:len(segs)-3] {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	firstOf := func(p string) uint64 {
		var lsn uint64
		for _, c := range filepath.Base(p)[:20] {
			lsn = 10*lsn + uint64(c-'0')
		}
		return lsn
	}
	// Keep inside the second segment: only the first may go
	keep := firstOf(segs[1]) + 1
	res, err := j.Retain(journal.RetainConfig{MaxAge: time.Hour, Keep: keep})
	if err != nil || res.Segments != 1 || res.FirstLSN != firstOf(segs[1]) {
		t.Fatalf("Retain with Keep %d: %+v %v", keep, res, err)
	}
	// Keep far ahead: every old one goes, none of the recent ones
	res, err = j.Retain(journal.RetainConfig{MaxAge: time.Hour, Keep: 10_000})
	if err != nil || res.Segments != len(segs)-4 || res.FirstLSN != firstOf(segs[len(segs)-3]) {
		t.Fatalf("Retain by age: %+v %v (segments %d)", res, err, len(segs))
	}
	// a size limit of one byte: every sealed segment goes, the last stays
	res, err = j.Retain(journal.RetainConfig{MaxBytes: 1, Keep: 10_000})
	if err != nil || res.Segments != 2 {
		t.Fatalf("Retain by size: %+v %v", res, err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(left) != 1 || left[0] != segs[len(segs)-1] {
		t.Fatalf("left %v", left)
	}
	first := firstOf(left[0])
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	// reopen: the LSNs continue; a reader starts at the first kept LSN
	j = openT(t, cfg)
	if got := j.LastLSN(); got != 200 {
		t.Fatalf("reopened at LSN %d, want 200", got)
	}
	appendN(t, j, 201, 5)
	r, err := journal.NewReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := first
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.LSN != want {
			t.Fatalf("read LSN %d, want %d", rec.LSN, want)
		}
		want++
	}
	if want != 206 {
		t.Errorf("read up to LSN %d, want 205", want-1)
	}
	// Keep 0 keeps everything
	if res, err := j.Retain(journal.RetainConfig{MaxBytes: 1}); err != nil || res.Segments != 0 {
		t.Errorf("Keep 0: %+v %v", res, err)
	}
}
