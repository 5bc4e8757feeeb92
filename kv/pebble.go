package kv

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// Pebble is a KV on a Pebble database, written without sync (the journal
// is the durable copy of everything the state holds).
type Pebble struct {
	DB *pebble.DB
	// commitMu makes an Expect and its batch's commit one step.
	commitMu sync.Mutex
}

// NewPebble returns the KV of db.
func NewPebble(db *pebble.DB) *Pebble { return &Pebble{DB: db} }

// Get implements KV.
func (p *Pebble) Get(key string) ([]byte, error) {
	v, closer, err := p.DB.Get([]byte(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v = bytes.Clone(v)
	closer.Close()
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// Scan implements KV.
func (p *Pebble) Scan(prefix string, fn func(key, value []byte) error) error {
	it, err := p.DB.NewIter(&pebble.IterOptions{LowerBound: []byte(prefix), UpperBound: PrefixEnd(prefix)})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	return errors.Join(it.Error(), it.Close())
}

// NewBatch implements KV.
func (p *Pebble) NewBatch() Batch { return &pebbleBatch{kv: p, b: p.DB.NewBatch()} }

// PrefixEnd returns the smallest key greater than every key beginning
// with prefix (nil: none, for a prefix of 0xff bytes).
func PrefixEnd(prefix string) []byte {
	end := []byte(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

type pebbleBatch struct {
	kv     *Pebble
	b      *pebble.Batch
	expect []expectation
}

type expectation struct {
	key   string
	value []byte
}

func (b *pebbleBatch) Set(key string, value []byte) { b.b.Set([]byte(key), value, nil) }
func (b *pebbleBatch) Delete(key string)            { b.b.Delete([]byte(key), nil) }
func (b *pebbleBatch) Close()                       { b.b.Close() }

func (b *pebbleBatch) Expect(key string, value []byte) {
	b.expect = append(b.expect, expectation{key, bytes.Clone(value)})
}

func (b *pebbleBatch) Commit() error {
	if len(b.expect) == 0 {
		return b.b.Commit(pebble.NoSync)
	}
	b.kv.commitMu.Lock()
	defer b.kv.commitMu.Unlock()
	for _, e := range b.expect {
		v, err := b.kv.Get(e.key)
		if err != nil {
			return err
		}
		if (v == nil) != (e.value == nil) || !bytes.Equal(v, e.value) {
			return fmt.Errorf("%w: %s", ErrConflict, e.key)
		}
	}
	return b.b.Commit(pebble.NoSync)
}
