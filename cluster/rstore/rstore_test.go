package rstore_test

import (
	"testing"
	"time"

	"nextbest/cluster/rstore"
	"nextbest/internal/engines"
	"nextbest/kv"
	"nextbest/kv/kvtest"
)

func open(t *testing.T, addr string) *rstore.Store {
	t.Helper()
	s, err := rstore.Open(rstore.Config{Addr: addr, Indexed: []string{"e/", "v/"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	srv := engines.Redis(t)
	db := 0
	kvtest.Run(t, func(t *testing.T) kv.KV {
		// each subtest gets its own database of the one server
		db++
		s, err := rstore.Open(rstore.Config{Addr: srv.Addr, DB: db, Indexed: []string{"e/", "v/"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	})
}

// TestCachedInvalidated: a value read through the cached view is
// replaced once another client writes the key.
func TestCachedInvalidated(t *testing.T) {
	t.Parallel()
	srv := engines.Redis(t)
	w, r := open(t, srv.Addr), open(t, srv.Addr)
	c := r.Cached()
	set := func(v string) {
		b := w.NewBatch()
		b.Set("p/x", []byte(v))
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	set("1")
	if v, _ := c.Get("p/x"); string(v) != "1" {
		t.Fatalf("got %q", v)
	}
	set("2")
	// the invalidation is pushed asynchronously; the cache's own bound
	// (CacheTTL, 1 s by default) is the latest it may arrive
	deadline := time.Now().Add(900 * time.Millisecond)
	for {
		v, err := c.Get("p/x")
		if err != nil {
			t.Fatal(err)
		}
		if string(v) == "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cached read did not see the write within 900 ms: no invalidation arrived")
		}
		time.Sleep(time.Millisecond)
	}
}
