package state

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// The decision index (d/), the outcome de-duplication keys (o/), the
// experiment decisions' records (x/), the deferred decisions' activations
// (s/) and the request-id index (r/) are
// needed only while outcomes can still arrive for a decision. Decision ids begin with their time in milliseconds (48
// bits, hex: serve's newDecisionID), so everything older than the
// retention is one key range per prefix. The journal keeps every record;
// only these lookups go.

// retainedByTime are the prefixes of the keys kept only for the
// retention, swept by decision time; the request-id keys (prefixRequest)
// go with them.
var retainedByTime = []string{prefixDecision, prefixOutcome, prefixExpDecision, prefixActivation}

// The Personalizer namespace's events (z/) go with the same retention, by
// the time of their rank call: their ids are the caller's, so a time
// index (z/t/) finds them.

// TTL is the time to live of a key in a shared engine (OpenKV), where keys
// expire instead of being swept: retention for the keys Sweep deletes,
// none for the others. Zero retention: none.
func TTL(retention time.Duration) func(key string) time.Duration {
	return func(key string) time.Duration {
		if retention <= 0 {
			return 0
		}
		if strings.HasPrefix(key, prefixRequest) || strings.HasPrefix(key, prefixPZ) {
			return retention
		}
		for _, p := range retainedByTime {
			if strings.HasPrefix(key, p) {
				return retention
			}
		}
		return 0
	}
}

// Sweep deletes the index entries of decisions made before now minus
// retention: their d/, o/, x/ and s/ keys, and the r/ keys that name them;
// and the Personalizer events ranked before then (z/).
// Lookups then answer ErrNotFound for them. It is safe to run while the
// Applier applies. On a Store opened with OpenKV it does nothing: the
// cluster engine gives these keys a time to live instead.
func (s *Store) Sweep(now time.Time, retention time.Duration) error {
	if s.db == nil {
		return nil // a shared engine's keys expire by themselves (OpenKV)
	}
	cutoff := now.Add(-retention)
	if cutoff.UnixMilli() <= 0 {
		return nil
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(cutoff.UnixMilli())<<16)
	bound := hex.EncodeToString(b[:6]) // the time part of an id
	for _, prefix := range retainedByTime {
		if err := s.db.DeleteRange([]byte(prefix), []byte(prefix+bound), pebble.NoSync); err != nil {
			return err
		}
	}
	if err := s.sweepRequests(bound); err != nil {
		return err
	}
	return s.sweepPersonalizer(cutoff)
}

// sweepPersonalizer deletes the keys of Personalizer events ranked
// before cutoff (z/e/, z/s/ and their z/t/ entry).
func (s *Store) sweepPersonalizer(cutoff time.Time) error {
	upper := fmt.Sprintf("%s%016x", prefixPZTime, uint64(cutoff.UnixNano()))
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixPZTime), UpperBound: []byte(upper)})
	if err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	for it.First(); it.Valid(); it.Next() {
		k := string(it.Key())
		id := k[len(prefixPZTime)+17:] // past the time and its slash; escaped already
		for _, key := range []string{k, prefixPZEvent + id, prefixPZState + id} {
			if err := b.Delete([]byte(key), nil); err != nil {
				it.Close()
				return err
			}
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	return b.Commit(pebble.NoSync)
}

// sweepRequests deletes the request-id keys (r/<customer>/<request id> →
// decision id) of decisions older than bound. They are keyed by customer,
// not time, so this scans them; only requests that sent a request_id have
// one.
func (s *Store) sweepRequests(bound string) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixRequest), UpperBound: []byte("r0")})
	if err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	for it.First(); it.Valid(); it.Next() {
		if v := it.Value(); len(v) >= len(bound) && string(v[:len(bound)]) < bound {
			if err := b.Delete(it.Key(), nil); err != nil {
				it.Close()
				return err
			}
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	return b.Commit(pebble.NoSync)
}
