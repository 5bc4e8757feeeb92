package journal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"nextbest/journal"
)

// TestRedact: records chosen by the function become tombstones with
// their LSNs and times, in sealed segments and in the one being appended
// to (sealed first); their bytes are gone from every file; readers and
// replays skip them; Verify passes; modification times are kept; appends
// go on meanwhile; the journal reopens and continues.
func TestRedact(t *testing.T) {
	dir := t.TempDir()
	cfg := journal.Config{Dir: dir, NoSync: true, SegmentBytes: 2000}
	j := openT(t, cfg)
	secret := func(i int) bool { return i%7 == 3 }
	for i := 1; i <= 300; i++ {
		p := payloadFor(i)
		if secret(i) {
			p = fmt.Appendf(nil, `{"v":1,"customer_id":"secret-%04d"}`, i)
		}
		if _, err := j.Append(context.Background(), typeFor(i), tsFor(i), p); err != nil {
			t.Fatal(err)
		}
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	old := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	for _, p := range segs[:len(segs)-1] {
		os.Chtimes(p, old, old)
	}
	// appends continue while Redact runs
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 301; i <= 400; i++ {
			if _, err := j.Append(context.Background(), typeFor(i), tsFor(i), payloadFor(i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	tomb := []byte(`{"v":1,"erasure_id":"e1"}`)
	seen := 0
	res, err := j.Redact(300, func(rec journal.Record) (journal.Type, []byte, bool) {
		seen++
		if bytes.Contains(rec.Payload, []byte("secret-")) {
			return journal.TypeErased, tomb, true
		}
		return 0, nil, false
	})
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := 1; i <= 300; i++ {
		if secret(i) {
			want++
		}
	}
	if res.Records != want || seen != 300 {
		t.Fatalf("Redact: %+v, fn saw %d records; want %d replaced of 300", res, seen, want)
	}
	// no file holds the secrets; the sealed segments kept their times
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte("secret-")) {
			t.Errorf("%s still holds a redacted payload", filepath.Base(p))
		}
		if filepath.Ext(p) == ".tmp" {
			t.Errorf("left %s", p)
		}
	}
	for _, p := range segs[:len(segs)-1] {
		if st, err := os.Stat(p); err != nil || !st.ModTime().Equal(old) {
			t.Errorf("%s: modification time %v, want %v (%v)", filepath.Base(p), st.ModTime(), old, err)
		}
	}
	// the reader skips the tombstones and reads everything else intact
	r, err := journal.NewReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		i := int(rec.LSN)
		if secret(i) && i <= 300 {
			t.Fatalf("reader returned redacted LSN %d", i)
		}
		if !bytes.Equal(rec.Payload, payloadFor(i)) || !rec.Time.Equal(tsFor(i)) || rec.Type != typeFor(i) {
			t.Fatalf("LSN %d changed: %s", i, rec.Payload)
		}
		got++
	}
	r.Close()
	if got != 400-want {
		t.Fatalf("reader: %d records, want %d", got, 400-want)
	}
	rep, err := journal.Verify(dir)
	if err != nil || rep.LastLSN != 400 {
		t.Fatalf("Verify after Redact: %+v %v", rep, err)
	}
	// a second pass finds nothing more to do
	if res, err := j.Redact(300, func(rec journal.Record) (journal.Type, []byte, bool) {
		return 0, nil, bytes.Contains(rec.Payload, []byte("secret-"))
	}); err != nil || res.Records != 0 {
		t.Fatalf("second Redact: %+v %v", res, err)
	}
	if _, err := j.Redact(1000, nil); err == nil {
		t.Fatal("Redact past the end: no error")
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2 := openT(t, cfg)
	if lsn, err := j2.Append(context.Background(), typeFor(401), tsFor(401), payloadFor(401)); err != nil || lsn != 401 {
		t.Fatalf("Append after reopen: %d %v", lsn, err)
	}
	n := 0
	if err := j2.Replay(1, func(rec journal.Record) error {
		if rec.Type == journal.TypeErased {
			t.Fatalf("Replay returned a tombstone at %d", rec.LSN)
		}
		n++
		return nil
	}); err != nil || n != 401-want {
		t.Fatalf("Replay: %d records, %v", n, err)
	}
}
