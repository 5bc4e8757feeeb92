package features_test

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"nextbest/features"
	"nextbest/kv"
)

// openPebble opens a Pebble DB in dir with Pebble's logging sent to a
// discarding slog logger (it prints "Found 0 WALs" to stdout otherwise).
func openPebble(t testing.TB, dir string) *pebble.DB {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: features.NewPebbleLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newStore(t testing.TB, db *pebble.DB) *features.Store {
	t.Helper()
	st, err := features.NewStore(features.StoreConfig{KV: kv.NewPebble(db)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func put(t testing.TB, db *pebble.DB, st *features.Store, ps ...*features.Profile) {
	t.Helper()
	b := kv.NewPebble(db).NewBatch()
	defer b.Close()
	for _, p := range ps {
		if err := st.Stage(b, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Commit(b, ps); err != nil {
		t.Fatal(err)
	}
}

func fullProfile(t testing.TB) *features.Profile {
	s := mustSpec(t, retailPath)
	p := s.NewProfile("c-1", t0)
	for i, e := range []string{"page_view", "add_to_cart", "purchase", "profile_update"} {
		err := s.ApplyEvent(p, features.Event{Type: e, Channel: "web", Time: t0.Add(time.Duration(i) * time.Hour),
			Properties: map[string]any{"amount": 42.5, "tier": "gold", "age": 33.0, "email_opt_in": true}})
		if err != nil {
			t.Fatal(err)
		}
	}
	features.RecordImpression(p, "offer-a", t0)
	features.RecordImpression(p, "offer-a", t0.Add(time.Minute))
	features.RecordOutcome(p, "offer-b", true, t0.Add(time.Hour))
	p.LSN = 17
	return p
}

func TestStoreRoundTripAndReopen(t *testing.T) {
	dir := t.TempDir()
	db := openPebble(t, dir)
	st := newStore(t, db)
	want := fullProfile(t)
	put(t, db, st, want)
	st.Wait()

	got, err := st.Get("c-1")
	if err != nil || got != want {
		t.Fatalf("Get after Commit = %p, %v; want the committed pointer", got, err)
	}
	if p, err := st.Get("nobody"); p != nil || err != nil {
		t.Fatalf("Get(absent) = %v, %v; want nil, nil", p, err)
	}
	st.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openPebble(t, dir)
	defer db.Close()
	st = newStore(t, db)
	got, err = st.Get("c-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after reopen:\n got %+v\nwant %+v", got, want)
	}
}

func TestStoreCacheStats(t *testing.T) {
	db := openPebble(t, t.TempDir())
	defer db.Close()
	writer := newStore(t, db)
	put(t, db, writer, fullProfile(t))

	st := newStore(t, db) // cold cache over the same data
	tests := []struct {
		id           string
		hits, misses uint64
	}{
		{"c-1", 0, 1},    // from Pebble, then cached
		{"c-1", 1, 1},    // cached
		{"absent", 1, 2}, // miss, not cached
		{"absent", 1, 3},
	}
	for i, tc := range tests {
		if _, err := st.Get(tc.id); err != nil {
			t.Fatal(err)
		}
		st.Wait()
		if h, m := st.Stats(); h != tc.hits || m != tc.misses {
			t.Errorf("step %d Get(%s): hits %d misses %d, want %d %d", i, tc.id, h, m, tc.hits, tc.misses)
		}
	}
}

func TestStoreLoad(t *testing.T) {
	db := openPebble(t, t.TempDir())
	defer db.Close()
	st := newStore(t, db)
	in := `{"customer_id":"a","stage":"cart","attributes":{"tier":"gold","age":30,"email_opt_in":true}}

{"customer_id":"b","stage":"awareness","counters":{"visits_7d":{"value":2,"at":"2026-11-20T10:00:00Z"}}}
`
	n, err := st.Load(context.Background(), strings.NewReader(in))
	if err != nil || n != 2 {
		t.Fatalf("Load = %d, %v; want 2, nil", n, err)
	}
	b, err := st.Get("b")
	if err != nil || b == nil || b.Counters["visits_7d"].Value != 2 {
		t.Fatalf("Get(b) = %+v, %v", b, err)
	}
	_, err = st.Load(context.Background(), strings.NewReader(`{"customer_id":"c"}`+"\n"+`{"stage":"x"}`))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("Load of a line without customer_id = %v, want an error naming line 2", err)
	}
	_, err = st.Load(context.Background(), strings.NewReader(`{"customer_id":"d","attributes":{"x":[1]}}`))
	if err == nil || !strings.Contains(err.Error(), "attributes.x") {
		t.Errorf("Load of a list attribute = %v", err)
	}
}

// TestStoreMonotonicReads runs one writer committing ever newer versions
// (LSN) of a few profiles against readers that check each Get never goes
// back to an older LSN than one they saw before, and that the committed
// version is visible once Commit returns.
func TestStoreMonotonicReads(t *testing.T) {
	db := openPebble(t, t.TempDir())
	defer db.Close()
	st, err := features.NewStore(features.StoreConfig{KV: kv.NewPebble(db), CacheMaxCost: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const ids, versions, readers = 4, 300, 4
	var committed [ids]uint64
	var mu sync.Mutex
	done := make(chan struct{})
	errs := make(chan error, readers)
	var wg sync.WaitGroup
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var seen [ids]uint64
			for i := 0; ; i++ {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				k := (i + r) % ids
				mu.Lock()
				floor := committed[k]
				mu.Unlock()
				p, err := st.Get(fmt.Sprint("c", k))
				if err != nil {
					errs <- err
					return
				}
				var lsn uint64
				if p != nil {
					lsn = p.LSN
				}
				if lsn < seen[k] || lsn < floor {
					errs <- fmt.Errorf("id %d: read LSN %d after seeing %d (committed %d)", k, lsn, seen[k], floor)
					return
				}
				seen[k] = lsn
			}
		}()
	}
	for v := uint64(1); v <= versions; v++ {
		k := int(v) % ids
		p := &features.Profile{CustomerID: fmt.Sprint("c", k), LSN: v, Stage: "cart"}
		put(t, db, st, p)
		mu.Lock()
		committed[k] = v
		mu.Unlock()
	}
	close(done)
	wg.Wait()
	for range readers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkStoreGet(b *testing.B) {
	db := openPebble(b, b.TempDir())
	defer db.Close()
	st := newStore(b, db)
	put(b, db, st, fullProfile(b))
	st.Wait()
	b.ReportAllocs()
	for b.Loop() {
		if p, _ := st.Get("c-1"); p == nil {
			b.Fatal("not found")
		}
	}
	if h, _ := st.Stats(); h == 0 {
		b.Fatal("no cache hits")
	}
}
