// Package kv is the key-value engine under the derived state: the
// profiles, the decision index and the aggregates that the state applier
// writes and the handlers read. The embedded path runs it on Pebble
// (Pebble, here); the cluster path on Redis (cluster/rstore). Both hold
// the same keys with the same values, written by the same applier, so one
// set of rules derives state from the journal whatever the engine.
package kv

import "errors"

// KV is a key-value store. Its methods are safe for concurrent use.
type KV interface {
	// Get returns a copy of the value of key, or nil, nil when there is
	// none.
	Get(key string) ([]byte, error)
	// Scan calls fn for every key beginning with prefix, in key order,
	// until fn returns an error (Scan returns it). fn must not retain key
	// or value. An engine may support Scan only for the prefixes it was
	// configured to index (cluster/rstore); others are an error.
	Scan(prefix string, fn func(key, value []byte) error) error
	// NewBatch starts an atomic batch of writes.
	NewBatch() Batch
}

// Batch is a set of writes that Commit applies atomically: all or none.
// A Batch is used by one goroutine.
type Batch interface {
	// Set sets key to value (copied).
	Set(key string, value []byte)
	// Delete deletes key.
	Delete(key string)
	// Expect makes Commit conditional: it applies nothing and returns an
	// error wrapping ErrConflict unless key holds value (nil: key absent)
	// at the moment it commits. The state applier fences its commits with
	// it, so that two appliers never both advance the applied LSN.
	Expect(key string, value []byte)
	// Commit applies the writes. The batch cannot be reused after it.
	Commit() error
	// Close releases the batch, committed or not.
	Close()
}

// ErrConflict is Commit's error when an Expect does not hold.
var ErrConflict = errors.New("kv: conflicting write: an expected value changed")
