package kv_test

import (
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"nextbest/kv"
	"nextbest/kv/kvtest"
)

func TestPebble(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.KV {
		db, err := pebble.Open(t.TempDir(), &pebble.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return kv.NewPebble(db)
	})
}
