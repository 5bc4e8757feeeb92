package journal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nextbest/journal"
)

func TestRoundTripConcurrent(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, journal.Config{Dir: dir, NoSync: true})
	const goroutines, perG = 16, 150 // 50 of each type per goroutine
	got := make(map[uint64][]byte)   // LSN -> payload written
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for k := range perG {
				typ := journal.Type(1 + k%3)
				p := fmt.Appendf(nil, `{"g":%d,"k":%d,"t":%d}`, g, k, typ)
				lsn, err := j.Append(context.Background(), typ, tsFor(k), p)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				p = append(p, byte(typ)) // remember the type too; Append copied p
				mu.Lock()
				if _, dup := got[lsn]; dup {
					t.Errorf("LSN %d returned twice", lsn)
				}
				got[lsn] = p
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	const n = goroutines * perG
	if j.LastLSN() != n {
		t.Fatalf("LastLSN = %d, want %d", j.LastLSN(), n)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j = openT(t, journal.Config{Dir: dir, NoSync: true})
	if j.LastLSN() != n {
		t.Fatalf("after reopen LastLSN = %d, want %d", j.LastLSN(), n)
	}
	recs := replayAll(t, j, 0)
	if len(recs) != n {
		t.Fatalf("Replay returned %d records, want %d", len(recs), n)
	}
	for k, r := range recs {
		want := got[uint64(k+1)]
		if r.LSN != uint64(k+1) || !bytes.Equal(append(r.Payload, byte(r.Type)), want) {
			t.Fatalf("record %d: LSN %d type %d payload %q, want %q", k, r.LSN, r.Type, r.Payload, want)
		}
	}
	lsn, err := j.Append(context.Background(), journal.TypeEvent, time.Time{}, []byte(`{}`))
	if err != nil || lsn != n+1 {
		t.Fatalf("Append after reopen = %d, %v; want %d", lsn, err, n+1)
	}
	if recs := replayAll(t, j, n+1); len(recs) != 1 || time.Since(recs[0].Time) > time.Hour {
		t.Fatalf("Replay(%d) = %+v, want one record stamped now", n+1, recs)
	}
}

func TestTornTail(t *testing.T) {
	src := t.TempDir()
	j := openT(t, journal.Config{Dir: src, NoSync: true})
	const n = 12
	appendN(t, j, 1, n)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segments(t, src)
	if len(segs) != 1 {
		t.Fatalf("want one segment, got %v", segs)
	}
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	// ends[i] is the file offset just past frame i+1 (LSN i+1).
	var ends []int
	off := journal.SegmentHeaderSize
	for i := 1; i <= n; i++ {
		off += journal.FrameHeaderSize + len(payloadFor(i))
		ends = append(ends, off)
	}
	if ends[n-1] != len(data) {
		t.Fatalf("format drift: computed size %d, file %d", ends[n-1], len(data))
	}
	whole := func(size int) int { // frames wholly inside size bytes
		k := 0
		for k < n && ends[k] <= size {
			k++
		}
		return k
	}
	name := filepath.Base(segs[0])

	reopen := func(t *testing.T, seg []byte, wantKept int) {
		t.Helper()
		dir := t.TempDir()
		copyFile(t, filepath.Join(dir, name), seg)
		j := openT(t, journal.Config{Dir: dir, NoSync: true})
		if got := j.LastLSN(); got != uint64(wantKept) {
			t.Fatalf("LastLSN = %d, want %d", got, wantKept)
		}
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		wantSize := journal.SegmentHeaderSize
		if wantKept > 0 {
			wantSize = ends[wantKept-1]
		}
		if fi.Size() != int64(wantSize) {
			t.Fatalf("segment cut to %d bytes, want %d", fi.Size(), wantSize)
		}
		appendN(t, j, wantKept+1, 2) // LSNs continue
		checkSeq(t, replayAll(t, j, 0), 1)
	}

	t.Run("truncate", func(t *testing.T) {
		// Every cut from inside frame n-2 to one byte short of the end.
		for size := ends[n-4] + 1; size < len(data); size++ {
			t.Run(fmt.Sprint(size), func(t *testing.T) {
				reopen(t, data[:size], whole(size))
			})
		}
	})
	t.Run("flip", func(t *testing.T) {
		// Any single flipped byte in the last frame loses that frame only.
		for pos := ends[n-2]; pos < len(data); pos++ {
			t.Run(fmt.Sprint(pos), func(t *testing.T) {
				bad := bytes.Clone(data)
				bad[pos] ^= 0x40
				reopen(t, bad, n-1)
			})
		}
	})
	t.Run("zero-tail", func(t *testing.T) {
		// A crash can leave a zero-filled extension past the last frame.
		reopen(t, append(bytes.Clone(data), make([]byte, 4096)...), n)
	})
	t.Run("garbage-length", func(t *testing.T) {
		// A huge length after the last frame must not allocate it.
		tail := []byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4}
		reopen(t, append(bytes.Clone(data), tail...), n)
	})
}

func TestCorruptNonLastSegmentIsError(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, journal.Config{Dir: dir, NoSync: true, SegmentBytes: 512})
	appendN(t, j, 1, 60)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segments(t, dir)
	if len(segs) < 3 {
		t.Fatalf("want >= 3 segments, got %d", len(segs))
	}
	data, err := os.ReadFile(segs[1])
	if err != nil {
		t.Fatal(err)
	}
	before := bytes.Clone(data)
	data[journal.SegmentHeaderSize+journal.FrameHeaderSize+2] ^= 1 // first frame's payload
	if err := os.WriteFile(segs[1], data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = journal.Open(journal.Config{Dir: dir, NoSync: true})
	if !errors.Is(err, journal.ErrCorrupt) {
		t.Fatalf("Open = %v, want ErrCorrupt", err)
	}
	if want := filepath.Base(segs[1]) + " at offset 24"; !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Errorf("error %q does not name %q", err, want)
	}
	after, _ := os.ReadFile(segs[1])
	if len(after) != len(before) {
		t.Errorf("Open modified a corrupt non-last segment")
	}
	r, err := journal.NewReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = r.Next()
	}
	r.Close()
	if !errors.Is(err, journal.ErrCorrupt) {
		t.Errorf("Reader over a corrupt non-last segment ended with %v, want ErrCorrupt", err)
	}

	// A missing middle segment is a gap.
	if err := os.WriteFile(segs[1], before, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(segs[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := journal.Open(journal.Config{Dir: dir, NoSync: true}); !errors.Is(err, journal.ErrCorrupt) {
		t.Fatalf("Open with a gap = %v, want ErrCorrupt", err)
	}
}

func TestSegmentRollAndSeek(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, journal.Config{Dir: dir, NoSync: true, SegmentBytes: 1000})
	const n = 500
	appendN(t, j, 1, n)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segments(t, dir)
	if len(segs) < 20 {
		t.Fatalf("only %d segments for %d records", len(segs), n)
	}
	if base := filepath.Base(segs[0]); base != "00000000000000000001.seg" {
		t.Errorf("first segment %q", base)
	}
	j = openT(t, journal.Config{Dir: dir, NoSync: true, SegmentBytes: 1000})
	if j.LastLSN() != n {
		t.Fatalf("LastLSN = %d", j.LastLSN())
	}
	checkSeq(t, replayAll(t, j, 0), 1)
	checkSeq(t, replayAll(t, j, 321), 321)
	appendN(t, j, n+1, 50)

	r, err := journal.NewReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs := readAll(t, r)
	if len(recs) != n+50 {
		t.Fatalf("Reader read %d records", len(recs))
	}
	checkSeq(t, recs, 1)
	for _, lsn := range []uint64{1, 2, 77, 250, 499, 500, 501, 550} {
		if err := r.Seek(lsn); err != nil {
			t.Fatalf("Seek(%d): %v", lsn, err)
		}
		recs := readAll(t, r)
		if len(recs) != n+50-int(lsn)+1 {
			t.Fatalf("after Seek(%d) read %d records", lsn, len(recs))
		}
		checkSeq(t, recs, int(lsn))
	}
	// Seek past the end: io.EOF until written, then exactly that record.
	if err := r.Seek(552); err != nil {
		t.Fatal(err)
	}
	if recs := readAll(t, r); len(recs) != 0 {
		t.Fatalf("read %d records past the end", len(recs))
	}
	appendN(t, j, 551, 3)
	recs = readAll(t, r)
	if len(recs) != 2 {
		t.Fatalf("after Seek(552) and 3 appends read %d records", len(recs))
	}
	checkSeq(t, recs, 552)
}

func TestSubscriberOrderExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	var seen []uint64 // written by the commit goroutine only
	var maxSeen atomic.Uint64
	j := openT(t, journal.Config{Dir: dir, NoSync: true, MaxBatch: 7, SegmentBytes: 4096},
		journal.SubscriberFunc[journal.NoLive](func(recs []journal.Record, _ []*journal.NoLive) error {
			for _, r := range recs {
				seen = append(seen, r.LSN)
				if want := fmt.Sprint(r.LSN % 1000); r.Type != journal.TypeOutcome || len(r.Payload) == 0 {
					return fmt.Errorf("bad record %d %s", r.LSN, want)
				}
			}
			maxSeen.Store(recs[len(recs)-1].LSN)
			return errors.New("logged, not returned")
		}))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				lsn, err := j.Append(context.Background(), journal.TypeOutcome, time.Now(), []byte(`{"x":1}`))
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				if m := maxSeen.Load(); m < lsn {
					t.Errorf("Append returned %d before the subscriber saw it (max %d)", lsn, m)
				}
			}
		})
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1600 {
		t.Fatalf("the subscriber saw %d records, want 1600", len(seen))
	}
	for i, lsn := range seen {
		if lsn != uint64(i+1) {
			t.Fatalf("subscriber record %d has LSN %d", i, lsn)
		}
	}
}

// TestSubscribersInOrderWithLive: two subscribers see every batch, the
// first before the second, each record with the live value its appender
// passed (nil for a plain Append), and an Append returns only after both.
func TestSubscribersInOrderWithLive(t *testing.T) {
	type live struct{ i int }
	var (
		mu    sync.Mutex
		trace []string // "a:<lsn>" / "b:<lsn>", in call order
		bad   []string
	)
	sub := func(name string) journal.Subscriber[live] {
		return journal.SubscriberFunc[live](func(recs []journal.Record, lv []*live) error {
			mu.Lock()
			defer mu.Unlock()
			if len(lv) != len(recs) {
				bad = append(bad, fmt.Sprintf("%s: %d live values for %d records", name, len(lv), len(recs)))
				return nil
			}
			for k, r := range recs {
				trace = append(trace, fmt.Sprintf("%s:%d", name, r.LSN))
				var want string
				if lv[k] != nil {
					want = fmt.Sprintf(`{"i":%d}`, lv[k].i)
				} else {
					want = `{"plain":1}`
				}
				if string(r.Payload) != want {
					bad = append(bad, fmt.Sprintf("%s: record %d payload %s with live value %v", name, r.LSN, r.Payload, lv[k]))
				}
			}
			return nil
		})
	}
	j, err := journal.OpenWith(journal.Config{Dir: t.TempDir(), NoSync: true, MaxBatch: 5}, sub("a"), sub("b"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				n := g*1000 + i
				var err error
				var lsn uint64
				if i%5 == 0 {
					lsn, err = j.Append(context.Background(), journal.TypeEvent, time.Now(), []byte(`{"plain":1}`))
				} else {
					lsn, err = j.AppendLive(context.Background(), journal.TypeEvent, time.Now(), fmt.Appendf(nil, `{"i":%d}`, n), &live{n})
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen := slices.Contains(trace, fmt.Sprintf("b:%d", lsn))
				mu.Unlock()
				if !seen {
					t.Errorf("Append of %d returned before the second subscriber saw it", lsn)
				}
			}
		})
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Error(b)
	}
	// per batch: a's records, then b's; over all: LSNs 1..200 each once per subscriber
	next := map[string]uint64{"a": 1, "b": 1}
	for k, e := range trace {
		name, lsnText, _ := strings.Cut(e, ":")
		var lsn uint64
		fmt.Sscan(lsnText, &lsn)
		if lsn != next[name] {
			t.Fatalf("trace[%d] = %s, want %s:%d", k, e, name, next[name])
		}
		next[name]++
		if name == "b" && next["a"] <= lsn {
			t.Fatalf("trace[%d] = %s before a saw it", k, e)
		}
	}
	if next["a"] != 201 || next["b"] != 201 {
		t.Fatalf("subscribers saw up to %v, want 200 each", next)
	}
}

func TestReaderWhileAppending(t *testing.T) {
	dir := t.TempDir()
	commits := make(chan struct{}, 1)
	j := openT(t, journal.Config{Dir: dir, NoSync: true, SegmentBytes: 2048, MaxBatch: 5},
		journal.SubscriberFunc[journal.NoLive](func([]journal.Record, []*journal.NoLive) error {
			select {
			case commits <- struct{}{}:
			default:
			}
			return nil
		}))
	const n = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		appendN(t, j, 1, n)
	}()
	r, err := journal.NewReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []journal.Record
	eofs, finished := 0, false
	for len(got) < n {
		recs := readAll(t, r) // stops at io.EOF: a clean stop, never an error
		got = append(got, recs...)
		eofs++
		if len(got) >= n {
			break
		}
		if finished {
			t.Fatalf("writer done but Reader stopped at %d of %d", len(got), n)
		}
		select {
		case <-commits:
		case <-done:
			finished = true
		}
	}
	checkSeq(t, got, 1)
	<-done
	if recs := readAll(t, r); len(recs) != 0 {
		t.Fatalf("read %d extra records", len(recs))
	}
	t.Logf("%d io.EOFs while tailing", eofs)
}

func TestReaderTornTailReadOnly(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, journal.Config{Dir: dir, NoSync: true})
	appendN(t, j, 1, 10)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	seg := segments(t, dir)[0]
	data, _ := os.ReadFile(seg)
	torn := data[:len(data)-5]
	if err := os.WriteFile(seg, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := journal.NewReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs := readAll(t, r)
	checkSeq(t, recs, 1)
	if len(recs) != 9 {
		t.Fatalf("read %d records, want 9", len(recs))
	}
	after, _ := os.ReadFile(seg)
	if !bytes.Equal(after, torn) {
		t.Fatal("Reader modified the segment")
	}
	// Open cuts the tail and says what it cut.
	var logs bytes.Buffer
	j = openT(t, journal.Config{Dir: dir, NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if j.LastLSN() != 9 {
		t.Fatalf("LastLSN %d", j.LastLSN())
	}
	cut := journal.FrameHeaderSize + len(payloadFor(10)) - 5
	for _, want := range []string{"cut torn tail", fmt.Sprintf("bytes_cut=%d", cut), "first_lsn_kept=1", "last_lsn_kept=9"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %q lacks %q", logs.String(), want)
		}
	}
}

func TestCloseAndErrors(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, journal.Config{Dir: dir, NoSync: true})
	ctx := context.Background()
	if _, err := j.Append(ctx, 0, time.Now(), nil); !errors.Is(err, journal.ErrBadType) {
		t.Errorf("type 0: %v", err)
	}
	if _, err := j.Append(ctx, journal.TypeEvent, time.Now(), make([]byte, journal.MaxPayload+1)); !errors.Is(err, journal.ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	if _, err := j.Append(ctx, journal.TypeEvent, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), nil); !errors.Is(err, journal.ErrBadTime) {
		t.Errorf("year 3000: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if lsn, err := j.Append(cctx, journal.TypeEvent, time.Now(), nil); !errors.Is(err, context.Canceled) || lsn != 0 {
		t.Errorf("cancelled ctx: %d, %v", lsn, err)
	}
	if _, err := journal.Open(journal.Config{Dir: dir}); !errors.Is(err, journal.ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
	if _, err := journal.Open(journal.Config{}); !errors.Is(err, journal.ErrBadConfig) {
		t.Errorf("no Dir: %v", err)
	}
	lsn, err := j.Append(ctx, journal.TypeEvent, time.Now(), nil) // empty payload is fine
	if err != nil || lsn != 1 {
		t.Fatalf("Append = %d, %v", lsn, err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); !errors.Is(err, journal.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if _, err := j.Append(ctx, journal.TypeEvent, time.Now(), nil); !errors.Is(err, journal.ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	// Replay still works on a closed journal: it reads files.
	if recs := replayAll(t, j, 0); len(recs) != 1 {
		t.Errorf("Replay after Close: %d records", len(recs))
	}
}

// TestCloseFlushesPending: every Append racing with Close either commits
// (and is on disk after reopen) or returns ErrClosed.
func TestCloseFlushesPending(t *testing.T) {
	dir := t.TempDir()
	reached := make(chan struct{})
	var once sync.Once
	j, err := journal.OpenWith(journal.Config{Dir: dir, NoSync: true, MaxBatch: 3},
		journal.SubscriberFunc[journal.NoLive](func(recs []journal.Record, _ []*journal.NoLive) error {
			if recs[len(recs)-1].LSN >= 100 {
				once.Do(func() { close(reached) })
			}
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var acked atomic.Int64
	var maxLSN atomic.Uint64
	start := make(chan struct{})
	for range 32 {
		wg.Go(func() {
			<-start
			for {
				lsn, err := j.Append(context.Background(), journal.TypeEvent, time.Now(), []byte("{}"))
				if errors.Is(err, journal.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				acked.Add(1)
				for m := maxLSN.Load(); lsn > m && !maxLSN.CompareAndSwap(m, lsn); m = maxLSN.Load() {
				}
			}
		})
	}
	close(start)
	<-reached
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	j = openT(t, journal.Config{Dir: dir, NoSync: true})
	if j.LastLSN() != uint64(acked.Load()) || j.LastLSN() != maxLSN.Load() {
		t.Fatalf("reopened LastLSN %d, acked %d, max acked LSN %d", j.LastLSN(), acked.Load(), maxLSN.Load())
	}
}

func TestCodecRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	d := journal.Decision{DecisionID: "d-1", CustomerID: "c-1", Channel: "web", Time: ts,
		Context: map[string]any{"page": "cart"}, Policy: "linucb@v3", FeatureSpec: "abc",
		Eligible: []string{"a", "b"}, Actions: []journal.LoggedAction{{ActionID: "a", Score: 0.5, Estimate: 0.1, Propensity: 0.9}}}
	act := journal.Activation{ActivationID: "a-1", DecisionID: "d-1", CustomerID: "c-1", Slots: []int{0, 2}, Time: ts.Add(time.Second), DecisionTime: ts}
	for _, v := range []any{d, &journal.Outcome{DecisionID: "d-1", ActionID: "a", Reward: 1, Time: ts}, journal.Event{CustomerID: "c-1", Type: "purchase", Time: ts}, act} {
		typ, p, err := journal.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := journal.Decode(journal.Record{LSN: 1, Type: typ, Payload: p})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(p, []byte(`"v":1`)) {
			t.Errorf("%s payload lacks schema version: %s", typ, p)
		}
		var gotType journal.Type
		switch got.(type) {
		case *journal.Decision:
			gotType = journal.TypeDecision
		case *journal.Outcome:
			gotType = journal.TypeOutcome
		case *journal.Event:
			gotType = journal.TypeEvent
		case *journal.Activation:
			gotType = journal.TypeActivation
			a := *got.(*journal.Activation)
			a.V = 0
			if !reflect.DeepEqual(a, act) {
				t.Errorf("activation decoded as %+v, want %+v", a, act)
			}
		}
		if gotType != typ || !journal.Appendable(typ) {
			t.Errorf("decoded %T from %T (type %s)", got, v, typ)
		}
	}
	if d.V != 0 {
		t.Error("Encode modified its argument")
	}
	if _, _, err := journal.Encode(42); !errors.Is(err, journal.ErrBadPayload) {
		t.Errorf("Encode(42): %v", err)
	}
	if _, err := journal.Decode(journal.Record{Type: journal.TypeEvent, Payload: []byte("{")}); !errors.Is(err, journal.ErrBadPayload) {
		t.Errorf("Decode garbage: %v", err)
	}
}

func TestCtxDoneAfterEnqueue(t *testing.T) {
	dir := t.TempDir()
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	j := openT(t, journal.Config{Dir: dir, NoSync: true},
		journal.SubscriberFunc[journal.NoLive](func([]journal.Record, []*journal.NoLive) error {
			once.Do(func() { close(entered); <-release }) // hold the committer in batch 1
			return nil
		}))
	first := make(chan error)
	go func() {
		_, err := j.Append(context.Background(), journal.TypeEvent, time.Now(), []byte("{}"))
		first <- err
	}()
	<-entered
	ctx := journal.DoneOnAsk(context.Background())
	lsn, err := j.Append(ctx, journal.TypeEvent, time.Now(), []byte(`{"second":1}`))
	if lsn != 2 || !errors.Is(err, journal.ErrPending) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Append = %d, %v; want 2, ErrPending+Canceled", lsn, err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil { // flushes the enqueued record
		t.Fatal(err)
	}
	j = openT(t, journal.Config{Dir: dir, NoSync: true})
	if recs := replayAll(t, j, 2); len(recs) != 1 || string(recs[0].Payload) != `{"second":1}` {
		t.Fatalf("record 2 after reopen: %+v", recs)
	}
}

// TestAppendAllocs pins the allocations of an uncontended Append: the
// batch and its done channel (under load they are shared by the whole
// batch, and BenchmarkAppend shows 0 allocs/op).
func TestAppendAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage changes allocations")
	}
	j := openT(t, journal.Config{Dir: t.TempDir(), NoSync: true})
	p := []byte(`{"v":1,"customer_id":"c-1","type":"page_view"}`)
	ts := time.Now()
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := j.Append(ctx, journal.TypeEvent, ts, p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("Append allocates %.1f times, want <= 2", allocs)
	}
}
