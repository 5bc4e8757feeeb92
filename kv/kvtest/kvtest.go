// Package kvtest is the conformance test of a kv.KV: every engine the
// state runs on (kv.Pebble, cluster/rstore) passes the same checks.
package kvtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"nextbest/kv"
)

// Run checks the KV that open returns (a fresh, empty one per call).
// Scan is checked under prefix "e/", which every engine must index.
func Run(t *testing.T, open func(t *testing.T) kv.KV) {
	t.Run("GetSetDelete", func(t *testing.T) {
		s := open(t)
		mustNil(t, s, "e/a")
		commit(t, s, func(b kv.Batch) { b.Set("e/a", []byte("1")); b.Set("e/empty", nil) })
		mustEq(t, s, "e/a", "1")
		if v, err := s.Get("e/empty"); err != nil || v == nil || len(v) != 0 {
			t.Fatalf("an empty value reads as %q, %v; want present and empty", v, err)
		}
		commit(t, s, func(b kv.Batch) { b.Delete("e/a") })
		mustNil(t, s, "e/a")
	})
	t.Run("Scan", func(t *testing.T) {
		s := open(t)
		commit(t, s, func(b kv.Batch) {
			for _, k := range []string{"e/x/2", "e/x/1", "e/y", "e/x/10", "p/other"} {
				b.Set(k, []byte("v"+k))
			}
		})
		commit(t, s, func(b kv.Batch) { b.Delete("e/x/10") })
		var got []string
		err := s.Scan("e/x/", func(k, v []byte) error {
			if string(v) != "v"+string(k) {
				t.Errorf("%s = %q", k, v)
			}
			got = append(got, string(k))
			return nil
		})
		if err != nil || !slices.Equal(got, []string{"e/x/1", "e/x/2"}) {
			t.Fatalf("Scan(e/x/) = %v, %v", got, err)
		}
		stop := errors.New("stop")
		n := 0
		if err := s.Scan("e/", func(k, v []byte) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Fatalf("Scan stops at fn's error: %v after %d keys", err, n)
		}
	})
	t.Run("Expect", func(t *testing.T) {
		s := open(t)
		b := s.NewBatch()
		b.Expect("m/applied", nil)
		b.Set("m/applied", []byte{1})
		b.Set("e/a", []byte("first"))
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
		b.Close()
		// a stale expectation applies nothing
		b = s.NewBatch()
		b.Expect("m/applied", nil)
		b.Set("m/applied", []byte{2})
		b.Set("e/a", []byte("second"))
		if err := b.Commit(); !errors.Is(err, kv.ErrConflict) {
			t.Fatalf("stale Expect: %v, want ErrConflict", err)
		}
		b.Close()
		mustEq(t, s, "e/a", "first")
		mustEq(t, s, "m/applied", "\x01")
	})
	t.Run("FencedWriters", func(t *testing.T) {
		// writers race to advance a counter under Expect: every success
		// advances it by one, so successes == final value
		s := open(t)
		commit(t, s, func(b kv.Batch) { b.Set("m/n", []byte("0")) })
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					v, err := s.Get("m/n")
					if err != nil {
						t.Error(err)
						return
					}
					var n int
					fmt.Sscan(string(v), &n)
					b := s.NewBatch()
					b.Expect("m/n", v)
					b.Set("m/n", []byte(fmt.Sprint(n+1)))
					err = b.Commit()
					b.Close()
					if err == nil {
						mu.Lock()
						wins++
						mu.Unlock()
					} else if !errors.Is(err, kv.ErrConflict) {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		mustEq(t, s, "m/n", fmt.Sprint(wins))
	})
}

func commit(t *testing.T, s kv.KV, fill func(kv.Batch)) {
	t.Helper()
	b := s.NewBatch()
	defer b.Close()
	fill(b)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
}

func mustEq(t *testing.T, s kv.KV, k, want string) {
	t.Helper()
	v, err := s.Get(k)
	if err != nil || string(v) != want {
		t.Fatalf("Get(%s) = %q, %v; want %q", k, v, err, want)
	}
}

func mustNil(t *testing.T, s kv.KV, k string) {
	t.Helper()
	if v, err := s.Get(k); err != nil || v != nil {
		t.Fatalf("Get(%s) = %q, %v; want absent", k, v, err)
	}
}
