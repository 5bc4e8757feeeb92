package journal_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"nextbest/journal"
)

// TestPreallocate writes across several preallocated segments and checks
// the files' shapes (finished segments trimmed to their data, the last one
// zero-filled to its full size), that readers stop cleanly at the zeros,
// and that a reopen keeps every record and the preallocation.
func TestPreallocate(t *testing.T) {
	dir := t.TempDir()
	const seg = 32 << 10
	cfg := journal.Config{Dir: dir, SegmentBytes: seg, Preallocate: true}
	j := openT(t, cfg)
	appendN(t, j, 1, 2000)
	// a live reader sees everything written so far and then io.EOF
	r, err := journal.NewReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r); len(got) != 2000 {
		t.Fatalf("live reader read %d records, want 2000", len(got))
	}
	r.Close()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	files := segments(t, dir)
	if len(files) < 3 {
		t.Fatalf("want several segments, got %d", len(files))
	}
	for i, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if last := i == len(files)-1; last && fi.Size() != seg {
			t.Errorf("last segment %s is %d bytes, want its preallocated %d", f, fi.Size(), seg)
		} else if !last && fi.Size() >= seg+int64(2<<10) {
			t.Errorf("finished segment %s is %d bytes: its zeros were not trimmed", f, fi.Size())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "spare.seg.tmp")); !os.IsNotExist(err) {
		t.Errorf("the spare segment outlived Close: %v", err)
	}

	j = openT(t, cfg)
	checkSeq(t, replayAll(t, j, 0), 1)
	if got := len(replayAll(t, j, 0)); got != 2000 {
		t.Fatalf("after reopen %d records", got)
	}
	appendN(t, j, 2001, 50) // LSNs continue into the preallocated space
	checkSeq(t, replayAll(t, j, 0), 1)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	// a torn frame in preallocated space: cut, zero-filled again, and
	// nothing acknowledged lost
	last := segments(t, dir)[len(segments(t, dir))-1]
	f, err := os.OpenFile(last, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err = journal.NewReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, r)
	r.Close()
	if len(recs) != 2050 {
		t.Fatalf("reader: %d records", len(recs))
	}
	// find the end of the data and write half a frame there
	data, _ := io.ReadAll(f)
	end := len(data)
	for end > 0 && data[end-1] == 0 {
		end--
	}
	if _, err := f.WriteAt([]byte{0x40, 0, 0, 0, 1, 2, 3}, int64(end)+8); err != nil {
		t.Fatal(err)
	}
	f.Close()
	j = openT(t, cfg)
	if got := replayAll(t, j, 0); len(got) != 2050 {
		t.Fatalf("after a torn frame: %d records, want 2050", len(got))
	}
	appendN(t, j, 2051, 5)
	checkSeq(t, replayAll(t, j, 0), 1)
	j.Close()
	if fi, _ := os.Stat(last); fi.Size() != seg {
		t.Errorf("after recovery the last segment is %d bytes, want %d (preallocated again)", fi.Size(), seg)
	}
}
