package stream_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"nextbest/cluster/stream"
	"nextbest/internal/engines"
	"nextbest/journal"
)

// waitFor polls cond every 10 ms until it holds, or fails the test after
// testTimeout. (Health changes on connection events nats.go delivers on
// its own goroutines; there is nothing to wait on but the state itself.)
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(testTimeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestKillRestart kills the server (SIGKILL: acknowledged records must be
// on disk, sync_interval always) while a publisher and a reader run, and
// starts it again. While it is down, Publish fails with ErrUnavailable
// and Health says so; the publisher re-sends each record with its id
// until it is acknowledged, as a client re-sends after a 503. After the
// restart, publishing resumes, Health recovers, and the reader, which
// never restarted, has every acknowledged sequence exactly once, in
// order, and each record id once (the re-sends de-duplicated).
func TestKillRestart(t *testing.T) {
	srv := engines.NATS(t)
	s := open(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()

	// The reader: every record handed over, in order.
	var (
		mu   sync.Mutex
		read []journal.Record
	)
	readDone := make(chan error, 1)
	go func() {
		readDone <- s.Records(ctx, 1, func(recs []journal.Record) error {
			mu.Lock()
			read = append(read, recs...)
			mu.Unlock()
			return nil
		})
	}()

	// The publisher: records 0..n-1, each re-sent with its id until
	// acknowledged. phase tells it when to stop after the restart.
	const before, after = 200, 200
	var (
		acked     = make(map[uint64]string) // seq → id
		unavail   int                       // errors wrapping ErrUnavailable
		other     []error
		pubMu     sync.Mutex
		published = make(chan int, before+after) // index of each acknowledged record
	)
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for i := range before + after {
			r := makeRec(t, i)
			for {
				pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
				seq, _, err := s.Publish(pctx, r.id, r.typ, r.ts, r.payload)
				pcancel()
				pubMu.Lock()
				switch {
				case err == nil:
					if id, ok := acked[seq]; ok && id != r.id {
						other = append(other, errors.New("seq acknowledged for two ids: "+id+", "+r.id))
					}
					acked[seq] = r.id
				case errors.Is(err, stream.ErrUnavailable):
					unavail++
				default:
					other = append(other, err)
				}
				pubMu.Unlock()
				if err == nil {
					published <- i
					break
				}
				if ctx.Err() != nil {
					return
				}
				time.Sleep(20 * time.Millisecond) // a client's retry pause
			}
		}
	}()

	// Let some records through, then kill the server mid-stream.
	for range before / 2 {
		<-published
	}
	srv.Kill()
	waitFor(t, "Health to report the outage", func() bool { return s.Health() != nil })
	if err := s.Health(); !errors.Is(err, stream.ErrUnavailable) {
		t.Fatalf("Health while down = %v, want ErrUnavailable", err)
	}
	// A publish while down fails fast, not at its deadline.
	pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
	start := time.Now()
	_, _, err := s.Publish(pctx, "while-down", journal.TypeEvent, time.Now(), []byte("{}"))
	pcancel()
	if !errors.Is(err, stream.ErrUnavailable) {
		t.Fatalf("Publish while down = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Publish while down took %v, want a fast failure", d)
	}
	if _, err := s.LastSeq(ctx); !errors.Is(err, stream.ErrUnavailable) {
		t.Fatalf("LastSeq while down = %v, want ErrUnavailable", err)
	}
	waitFor(t, "the publisher to see the outage", func() bool {
		pubMu.Lock()
		defer pubMu.Unlock()
		return unavail > 0
	})

	srv.Start()
	waitFor(t, "Health to recover", func() bool { return s.Health() == nil })
	select {
	case <-pubDone:
	case <-ctx.Done():
		t.Fatal("publisher did not finish after the restart")
	}
	pubMu.Lock()
	defer pubMu.Unlock()
	if len(other) > 0 {
		t.Fatalf("publish errors other than ErrUnavailable: %v", other)
	}
	t.Logf("%d acknowledged, %d ErrUnavailable answers", len(acked), unavail)

	last, err := s.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reader to catch up", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return uint64(len(read)) >= last
	})
	mu.Lock()
	got := append([]journal.Record(nil), read...)
	mu.Unlock()
	cancel()
	if err := <-readDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("Records = %v, want context.Canceled", err)
	}

	// Exactly the stored sequences, once each, in order.
	if uint64(len(got)) != last {
		t.Fatalf("reader has %d records, stream's last sequence is %d", len(got), last)
	}
	ids := make(map[string]uint64)
	for i, r := range got {
		if r.LSN != uint64(i+1) {
			t.Fatalf("record %d has LSN %d, want %d", i, r.LSN, i+1)
		}
		id := string(r.Payload) // each payload is unique to its id
		if prev, ok := ids[id]; ok {
			t.Fatalf("records %d and %d hold the same record: a re-send stored twice", prev, r.LSN)
		}
		ids[id] = r.LSN
	}
	for seq := range acked {
		if seq > last {
			t.Fatalf("acknowledged seq %d beyond the stream's last %d", seq, last)
		}
	}
	if len(acked) != before+after || int(last) != before+after {
		t.Fatalf("%d records acknowledged, %d stored, want %d", len(acked), last, before+after)
	}

	// The duplicate window survives the restart: a re-send of a record
	// acknowledged before the kill is still recognised.
	first := makeRec(t, 0)
	seq, dup := publish(t, s, first)
	if !dup || acked[seq] != first.id {
		t.Fatalf("re-send of %s after restart: seq %d duplicate %v", first.id, seq, dup)
	}
}

// TestRecordsStartsWhileDown starts Records while the server is down: it
// waits for the server rather than fail, and reads once it is back.
func TestRecordsStartsWhileDown(t *testing.T) {
	srv := engines.NATS(t)
	s := open(t, srv, nil)
	r := makeRec(t, 0)
	publish(t, s, r)
	srv.Stop()
	waitFor(t, "the disconnect", func() bool { return s.Health() != nil })

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	got := make(chan journal.Record, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.Records(ctx, 1, func(recs []journal.Record) error {
			got <- recs[0]
			return errEnough
		})
	}()
	srv.Start()
	select {
	case rec := <-got:
		if rec.LSN != 1 || string(rec.Payload) != string(r.payload) {
			t.Fatalf("record %+v", rec)
		}
	case err := <-done:
		t.Fatalf("Records returned %v before reading", err)
	case <-ctx.Done():
		t.Fatal("Records did not read after the server came back")
	}
	if err := <-done; !errors.Is(err, errEnough) {
		t.Fatalf("Records = %v", err)
	}
}
