package stream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"nextbest/cluster/stream"
	"nextbest/internal/engines"
	"nextbest/journal"
)

// testTimeout bounds each test's waits: well above what a loaded CI
// machine needs, well below go test's own timeout.
const testTimeout = 20 * time.Second

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = tWriter{}

// open opens a Stream on srv, closed by t.Cleanup.
func open(t testing.TB, srv *engines.Server, edit func(*stream.Config)) *stream.Stream {
	t.Helper()
	cfg := stream.Config{URL: srv.URL, Name: t.Name(), Logger: testLogger(t)}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	s, err := stream.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rec is what the tests publish: a decision whose payload names its id.
type rec struct {
	id      string
	typ     journal.Type
	ts      time.Time
	payload []byte
}

func makeRec(t testing.TB, i int) rec {
	t.Helper()
	ts := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Millisecond + time.Duration(i%1000))
	id := fmt.Sprintf("d-%06d", i)
	var v any
	switch i % 3 {
	case 0:
		v = journal.Decision{DecisionID: id, CustomerID: "c1", Channel: "web", Time: ts, Policy: "linucb@v1", Eligible: []string{"a", "b"},
			Actions: []journal.LoggedAction{{ActionID: "a", Propensity: 0.5}}}
	case 1:
		v = journal.Outcome{DecisionID: id, ActionID: "a", CustomerID: "c1", Type: "click", Reward: 1, Time: ts, DecisionTime: ts, OutcomeID: id}
	default:
		v = journal.Event{CustomerID: "c1", Type: "visit:" + id, Time: ts}
	}
	typ, payload, err := journal.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return rec{id: id, typ: typ, ts: ts, payload: payload}
}

func publish(t testing.TB, s *stream.Stream, r rec) (uint64, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	seq, dup, err := s.Publish(ctx, r.id, r.typ, r.ts, r.payload)
	if err != nil {
		t.Fatalf("Publish(%s): %v", r.id, err)
	}
	return seq, dup
}

var errEnough = errors.New("enough")

// readN reads records from seq from until it has n of them (or fails the
// test after testTimeout), checking that batches are in order and within
// MaxBatch.
func readN(t testing.TB, s *stream.Stream, from uint64, n int) []journal.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var got []journal.Record
	err := s.Records(ctx, from, func(recs []journal.Record) error {
		if len(recs) == 0 || len(recs) > stream.MaxBatch {
			return fmt.Errorf("batch of %d records", len(recs))
		}
		got = append(got, recs...) // payloads may be kept; the slice may not
		if len(got) >= n {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatalf("Records: %v after %d of %d records", err, len(got), n)
	}
	return got
}

func TestPublishRecordsRoundTrip(t *testing.T) {
	srv := engines.NATS(t)
	s := open(t, srv, nil)
	const n = 1500 // several batches
	var want []rec
	for i := range n {
		r := makeRec(t, i)
		seq, dup := publish(t, s, r)
		if dup || seq != uint64(i+1) {
			t.Fatalf("record %d: seq %d duplicate %v, want %d false", i, seq, dup, i+1)
		}
		want = append(want, r)
	}
	if last, err := s.LastSeq(context.Background()); err != nil || last != n {
		t.Fatalf("LastSeq = %d, %v; want %d", last, err, n)
	}
	check := func(t *testing.T, from uint64) {
		got := readN(t, s, from, n-int(from)+1)
		for i, g := range got {
			w := want[int(from)-1+i]
			if g.LSN != from+uint64(i) || g.Type != w.typ || !g.Time.Equal(w.ts) || g.Time.Location() != time.UTC || !bytes.Equal(g.Payload, w.payload) {
				t.Fatalf("record %d = {%d %v %v %q}, want {%d %v %v %q}", i, g.LSN, g.Type, g.Time, g.Payload, from+uint64(i), w.typ, w.ts, w.payload)
			}
		}
	}
	t.Run("from_0", func(t *testing.T) { check(t, 1) })
	t.Run("from_1000", func(t *testing.T) { check(t, 1000) })

	// The headers on the wire are the documented ones.
	raw, err := s.JetStream().Stream(context.Background(), stream.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := raw.GetMsg(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != stream.DefaultSubject || m.Header.Get("Nb-Type") != "2" ||
		m.Header.Get("Nb-Time") != want[1].ts.Format(time.RFC3339Nano) || m.Header.Get("Nats-Msg-Id") != want[1].id {
		t.Fatalf("message 2: subject %q headers %v", m.Subject, m.Header)
	}
	info := raw.CachedInfo().Config
	if info.Storage != jetstream.FileStorage || info.Retention != jetstream.LimitsPolicy || info.Discard != jetstream.DiscardOld ||
		info.Duplicates != stream.DefaultDuplicateWindow || len(info.Subjects) != 1 || info.Subjects[0] != stream.DefaultSubject {
		t.Fatalf("stream config %+v", info)
	}
}

// TestRecordsLive checks that Records hands over records published after
// it started, without waiting to fill a batch.
func TestRecordsLive(t *testing.T) {
	srv := engines.NATS(t)
	s := open(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	batches := make(chan []journal.Record)
	done := make(chan error, 1)
	go func() {
		done <- s.Records(ctx, 0, func(recs []journal.Record) error {
			select {
			case batches <- append([]journal.Record(nil), recs...):
			case <-ctx.Done():
			}
			return nil
		})
	}()
	for i := range 3 {
		r := makeRec(t, i)
		seq, _ := publish(t, s, r)
		select {
		case b := <-batches:
			if len(b) != 1 || b[0].LSN != seq || !bytes.Equal(b[0].Payload, r.payload) {
				t.Fatalf("batch %d: %+v, want the one record %d", i, b, seq)
			}
		case <-ctx.Done():
			t.Fatalf("record %d not handed over", seq)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Records after cancel = %v", err)
	}
}

func TestDuplicate(t *testing.T) {
	srv := engines.NATS(t)
	s := open(t, srv, nil)
	a, b := makeRec(t, 0), makeRec(t, 1)
	seqA, dup := publish(t, s, a)
	if dup {
		t.Fatal("first publish reported duplicate")
	}
	seqB, _ := publish(t, s, b)
	// Same id, even with another body: JetStream keeps the first.
	again := a
	again.payload = []byte(`{"other":true}`)
	seq, dup := publish(t, s, again)
	if !dup || seq != seqA {
		t.Fatalf("re-send: seq %d duplicate %v, want %d true", seq, dup, seqA)
	}
	if last, err := s.LastSeq(context.Background()); err != nil || last != seqB {
		t.Fatalf("LastSeq = %d, %v; want %d (stored once)", last, err, seqB)
	}
	got := readN(t, s, 1, 2)
	if !bytes.Equal(got[0].Payload, a.payload) || got[1].LSN != seqB {
		t.Fatalf("records %+v", got)
	}
	// No id: no de-duplication.
	n1, _, err := s.Publish(context.Background(), "", a.typ, a.ts, a.payload)
	if err != nil {
		t.Fatal(err)
	}
	n2, dup, err := s.Publish(context.Background(), "", a.typ, a.ts, a.payload)
	if err != nil || dup || n2 != n1+1 {
		t.Fatalf("second publish without id: %d %v %v, want %d false nil", n2, dup, err, n1+1)
	}
}

// TestMaxPending publishes from 2000 goroutines at once with a small
// MaxPending and checks that nats.go never holds more publishes awaiting
// their ack, and that every one is stored once.
func TestMaxPending(t *testing.T) {
	srv := engines.NATS(t)
	const maxPending, n = 16, 2000
	s := open(t, srv, func(c *stream.Config) { c.MaxPending = maxPending })

	stop := make(chan struct{})
	var peak atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if p := int64(s.JetStream().PublishAsyncPending()); p > peak.Load() {
				peak.Store(p)
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	seqs := make([]uint64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := makeRec(t, i)
			<-start
			seqs[i], _, errs[i] = s.Publish(ctx, r.id, r.typ, r.ts, r.payload)
		}()
	}
	close(start)
	wg.Wait()
	close(stop)
	<-sampled
	seen := make(map[uint64]bool, n)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if seen[seqs[i]] || seqs[i] < 1 || seqs[i] > n {
			t.Fatalf("publish %d: seq %d repeated or out of 1..%d", i, seqs[i], n)
		}
		seen[seqs[i]] = true
	}
	if p := peak.Load(); p > maxPending {
		t.Fatalf("peak pending publishes %d > MaxPending %d", p, maxPending)
	} else {
		t.Logf("peak pending publishes: %d (MaxPending %d)", p, maxPending)
	}
	if last, err := s.LastSeq(ctx); err != nil || last != n {
		t.Fatalf("LastSeq = %d, %v; want %d", last, err, n)
	}
}

func TestPublishBadInput(t *testing.T) {
	srv := engines.NATS(t)
	s := open(t, srv, nil)
	ctx := context.Background()
	ts := time.Now()
	tests := []struct {
		name    string
		id      string // prefix of the name
		typ     journal.Type
		ts      time.Time
		payload []byte
		want    error
	}{
		{"id_newline", "a\n", journal.TypeEvent, ts, []byte("{}"), stream.ErrBadID},
		{"id_too_long", strings.Repeat("i", stream.MaxIDLength), journal.TypeEvent, ts, []byte("{}"), stream.ErrBadID},
		{"type_zero", "x-", 0, ts, []byte("{}"), journal.ErrBadType},
		{"type_lost", "x-", journal.TypeLost, ts, []byte("{}"), journal.ErrBadType},
		{"time_year_3000", "x-", journal.TypeEvent, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), []byte("{}"), journal.ErrBadTime},
		{"over_journal_limit", "x-", journal.TypeEvent, ts, make([]byte, journal.MaxPayload+1), journal.ErrTooLarge},
		{"over_server_max_payload", "x-", journal.TypeEvent, ts, make([]byte, int(s.Conn().MaxPayload())+1), journal.ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.Publish(ctx, tc.id+tc.name, tc.typ, tc.ts, tc.payload)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if errors.Is(err, stream.ErrUnavailable) {
				t.Fatalf("bad input reported as unavailable: %v", err)
			}
		})
	}
	if err := s.Health(); err != nil {
		t.Fatalf("Health after bad input = %v, want nil", err)
	}
	// A zero time is now.
	before := time.Now()
	seq, _, err := s.Publish(ctx, "zero-time", journal.TypeEvent, time.Time{}, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	got := readN(t, s, seq, 1)
	if got[0].Time.Before(before) || got[0].Time.After(time.Now()) {
		t.Fatalf("zero time became %v", got[0].Time)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	t.Run("bad_config", func(t *testing.T) {
		for _, cfg := range []stream.Config{
			{},
			{URL: "nats://127.0.0.1:1", Stream: "a.b"},
			{URL: "nats://127.0.0.1:1", Subject: "a.*"},
			{URL: "nats://127.0.0.1:1", Subject: "a..b"},
			{URL: "nats://127.0.0.1:1", Replicas: 7},
			{URL: "nats://127.0.0.1:1", MaxPending: -1},
			{URL: "nats://127.0.0.1:1", TLSCert: "c.pem"},
			{URL: "nats://127.0.0.1:1", ModelBucket: "a.b"},
		} {
			if _, err := stream.Open(ctx, cfg); !errors.Is(err, stream.ErrBadConfig) {
				t.Errorf("Open(%+v) = %v, want ErrBadConfig", cfg, err)
			}
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		srv := engines.NATS(t)
		srv.Stop()
		url := "nats://alice:s3cret@" + srv.Addr
		_, err := stream.Open(ctx, stream.Config{URL: url})
		if !errors.Is(err, stream.ErrUnavailable) || !strings.Contains(err.Error(), srv.Addr) || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("Open of a stopped server = %v, want ErrUnavailable naming %s without the password", err, srv.Addr)
		}
	})
	t.Run("memory_stream", func(t *testing.T) {
		srv := engines.NATS(t)
		nc, err := nats.Connect(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "MEM", Subjects: []string{"mem.journal"}, Storage: jetstream.MemoryStorage}); err != nil {
			t.Fatal(err)
		}
		_, err = stream.Open(ctx, stream.Config{URL: srv.URL, Stream: "MEM", Subject: "mem.journal"})
		if !errors.Is(err, stream.ErrBadConfig) || !strings.Contains(err.Error(), "file storage") {
			t.Fatalf("Open of a memory stream = %v, want ErrBadConfig", err)
		}
	})
	t.Run("update_keeps_limits", func(t *testing.T) {
		srv := engines.NATS(t)
		s := open(t, srv, nil)
		raw, err := s.JetStream().Stream(ctx, stream.DefaultStream)
		if err != nil {
			t.Fatal(err)
		}
		cfg := raw.CachedInfo().Config
		cfg.MaxAge = time.Hour // an operator's limit
		if _, err := s.JetStream().UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		s2 := open(t, srv, func(c *stream.Config) { c.DuplicateWindow = time.Minute })
		info, err := s2.JetStream().Stream(ctx, stream.DefaultStream)
		if err != nil {
			t.Fatal(err)
		}
		if c := info.CachedInfo().Config; c.MaxAge != time.Hour || c.Duplicates != time.Minute {
			t.Fatalf("after a second Open: MaxAge %v Duplicates %v, want 1h 1m", c.MaxAge, c.Duplicates)
		}
	})
}

func TestRecordsFnErrorAndClose(t *testing.T) {
	srv := engines.NATS(t)
	s := open(t, srv, nil)
	publish(t, s, makeRec(t, 0))
	boom := errors.New("boom")
	err := s.Records(context.Background(), 1, func([]journal.Record) error { return boom })
	if err != boom {
		t.Fatalf("Records = %v, want fn's error", err)
	}
	done := make(chan error, 1)
	go func() {
		done <- s.Records(context.Background(), 2, func([]journal.Record) error { return nil })
	}()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, stream.ErrClosed) {
			t.Fatalf("Records after Close = %v, want ErrClosed", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Records did not return after Close")
	}
	if _, _, err := s.Publish(context.Background(), "x", journal.TypeEvent, time.Now(), nil); !errors.Is(err, stream.ErrClosed) {
		t.Fatalf("Publish after Close = %v", err)
	}
	if err := s.Health(); !errors.Is(err, stream.ErrClosed) {
		t.Fatalf("Health after Close = %v", err)
	}
	if err := s.Close(); !errors.Is(err, stream.ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
}

// TestFirstSeq: the first sequence the stream holds, past what its
// limits (here a purge) removed; the last plus one when it holds none.
func TestFirstSeq(t *testing.T) {
	srv := engines.NATS(t)
	s := open(t, srv, nil)
	ctx := context.Background()
	if first, err := s.FirstSeq(ctx); err != nil || first != 1 {
		t.Fatalf("an empty stream: FirstSeq = %d, %v; want 1", first, err)
	}
	for i := range 10 {
		publish(t, s, makeRec(t, i))
	}
	if first, err := s.FirstSeq(ctx); err != nil || first != 1 {
		t.Fatalf("FirstSeq = %d, %v; want 1", first, err)
	}
	js, err := s.JetStream().Stream(ctx, stream.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.Purge(ctx, jetstream.WithPurgeSequence(7)); err != nil {
		t.Fatal(err)
	}
	if first, err := s.FirstSeq(ctx); err != nil || first != 7 {
		t.Fatalf("purged below 7: FirstSeq = %d, %v; want 7", first, err)
	}
	if err := js.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if first, err := s.FirstSeq(ctx); err != nil || first != 11 {
		t.Fatalf("purged whole: FirstSeq = %d, %v; want 11", first, err)
	}
}
