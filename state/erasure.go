package state

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"nextbest/erasure"
	"nextbest/journal"
	"nextbest/kv"
)

// applyErasure applies an erasure record (package erasure has the whole
// story): the customer's profile goes in this batch (and leaves the
// cache when it commits), their experiment units go, and a pending mark
// (y/<customer>) hides their decisions (Decision) until the eraser has
// redacted the journal and dropped the decisions' index entries
// (FinishErasure). Every erasure record, redacted or not, is the audit
// trail's entry; a redacted one republished on the cluster path
// (Replaces) takes its original's place.
func (a *Applier) applyErasure(b kv.Batch, r *journal.Record) error {
	var e journal.Erasure
	if err := json.Unmarshal(r.Payload, &e); err != nil {
		return &ApplyError{KindDecode, fmt.Errorf("%w: erasure: %w", journal.ErrBadPayload, err)}
	}
	at := r.LSN
	if e.Replaces != 0 {
		at = e.Replaces
	}
	audit, err := json.Marshal(erasure.AuditEntry(e))
	if err != nil {
		return &ApplyError{KindDecode, err}
	}
	b.Set(fmt.Sprintf("%s%016x", prefixAudit, at), audit)
	c := e.CustomerID
	if c == "" {
		return nil // redacted: the records it erased are tombstones
	}
	if p, ok := a.changed[c]; ok {
		delete(a.changed, c)
		for i, q := range a.order {
			if q == p {
				a.order = append(a.order[:i], a.order[i+1:]...)
				break
			}
		}
	}
	if !a.erasedNow[c] {
		a.erasedNow[c] = true
		a.erased = append(a.erased, c)
	}
	exps, err := a.experimentNames()
	if err != nil {
		return &ApplyError{KindState, err}
	}
	for _, exp := range exps {
		a.agg.forgetUnit(b, exp, c)
	}
	// the cluster's set of their contact reservations (the reservations
	// themselves expire within a group commit)
	b.Delete(ReservationSet(c))
	mark, err := json.Marshal(erasure.Pending{Customer: c, LSN: r.LSN, ID: e.ID, Time: e.Time})
	if err != nil {
		return &ApplyError{KindDecode, err}
	}
	a.set(b, prefixPending+c, mark)
	return nil
}

// experimentNames returns the (escaped) names of the experiments the
// store holds sums of.
func (a *Applier) experimentNames() ([]string, error) {
	var names []string
	seen := map[string]bool{}
	for r := range a.agg.sums { // sums of this batch, not yet stored
		if n := esc(r.exp); !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	err := a.st.kv.Scan(prefixExperiment, func(k, _ []byte) error {
		rest := string(k[len(prefixExperiment):])
		if i := strings.IndexByte(rest, '/'); i > 0 && !seen[rest[:i]] {
			seen[rest[:i]] = true
			names = append(names, rest[:i])
		}
		return nil
	})
	return names, err
}

// forgetUnit deletes customer's unit of experiment exp (escaped) in b,
// and makes the rest of the batch start it anew.
func (g *aggregates) forgetUnit(b kv.Batch, exp, customer string) {
	key := prefixUnit + exp + "/" + esc(customer)
	delete(g.dirty, key)
	g.units[key] = nil // unit() starts it anew; stage skips it
	b.Delete(key)
}

// PendingErasures returns the erasures applied whose journal records are
// not yet redacted (their y/ marks), for the eraser.
func (s *Store) PendingErasures() ([]erasure.Pending, error) {
	var ps []erasure.Pending
	err := s.kv.Scan(prefixPending, func(_, v []byte) error {
		var p erasure.Pending
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("%w: pending erasure: %w", ErrCorrupt, err)
		}
		ps = append(ps, p)
		return nil
	})
	return ps, err
}

// erasedBefore reports whether customer has a pending erasure at or
// after t: their records up to it are hidden.
func (s *Store) erasedBefore(customer string, t time.Time) (bool, error) {
	v, err := s.kv.Get(prefixPending + customer)
	if err != nil || v == nil {
		return false, err
	}
	var p erasure.Pending
	if err := json.Unmarshal(v, &p); err != nil {
		return false, fmt.Errorf("%w: pending erasure of %q: %w", ErrCorrupt, customer, err)
	}
	return !t.After(p.Time), nil
}

// FinishErasure is the state's last step of the erasures of set, once
// the journal no longer holds their records: it deletes their decisions'
// index entries (d/, x/, s/, the request ids that still name them, the
// outcome keys) and the pending marks, each only if it is unchanged (an
// erasure of the same customer applied meanwhile stays pending). Then it
// compacts the store (Compact).
func (s *Store) FinishErasure(set *erasure.Set) error {
	b := s.kv.NewBatch()
	defer b.Close()
	for _, d := range set.Decisions() {
		b.Delete(prefixDecision + d.ID)
		b.Delete(prefixExpDecision + d.ID)
		b.Delete(prefixActivation + d.ID)
		if d.RequestID != "" {
			key := prefixRequest + d.Customer + "/" + d.RequestID
			v, err := s.kv.Get(key)
			if err != nil {
				return err
			}
			if string(v) == d.ID {
				b.Delete(key)
			}
		}
	}
	for _, o := range set.Outcomes() {
		k := keysOf(o.DecisionID, o.ActionID, o.Type, o.OutcomeID)
		b.Delete(k.action)
		b.Delete(k.typ)
		if k.id != "" {
			b.Delete(k.id)
		}
	}
	for _, p := range set.Pending() {
		v, err := s.kv.Get(prefixPending + p.Customer)
		if err != nil {
			return err
		}
		var cur erasure.Pending
		if v != nil && json.Unmarshal(v, &cur) == nil && cur.LSN == p.LSN {
			b.Expect(prefixPending+p.Customer, v)
			b.Delete(prefixPending + p.Customer)
		}
	}
	if err := b.Commit(); err != nil {
		if errors.Is(err, kv.ErrConflict) {
			return fmt.Errorf("an erasure was applied meanwhile; it stays pending: %w", err)
		}
		return err
	}
	return s.Compact()
}

// Syncer is a KV engine whose writes can be made durable on demand
// (cluster/rstore: Redis persists what is in memory).
type Syncer interface {
	Sync() error
}

// Sync makes what the store holds durable now: Pebble flushes its
// memtable (the store runs without a write-ahead log); another engine
// syncs itself if it can (Syncer). The eraser calls it before it redacts
// the journal: an erasure's effect on the state (the profile gone, the
// pending mark) must survive a crash once the journal no longer names the
// customer, since a replay of the redacted journal could not redo it.
func (s *Store) Sync() error {
	if s.db == nil {
		if y, ok := s.kv.(Syncer); ok {
			return y.Sync()
		}
		return nil
	}
	return s.db.Flush()
}

// Compactor is a KV engine that can rewrite its files so that deleted
// values leave them (cluster/rstore: Redis rewrites its append-only
// file).
type Compactor interface {
	Compact() error
}

// Compact makes the store's files forget what was deleted: Pebble flushes
// its memtable and compacts its whole key range (the deleted values and
// their tombstones leave every table, and the obsolete tables are
// deleted); another engine compacts itself if it can (Compactor).
func (s *Store) Compact() error {
	if s.db == nil {
		if c, ok := s.kv.(Compactor); ok {
			return c.Compact()
		}
		return nil
	}
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("cannot flush the state store: %w", err)
	}
	if err := s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		return fmt.Errorf("cannot compact the state store: %w", err)
	}
	// The manifests written before the compaction name the tables it
	// replaced, by their first and last keys, and the first one written
	// after it starts from the version before its own edit: flush (a
	// version edit each) until Pebble has rotated past both twice and
	// deleted them.
	old, err := s.manifests()
	if err != nil {
		return err
	}
	rotations := 0
	for i := 0; i < 256; i++ {
		cur, err := s.manifests()
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(cur, func(m string) bool { return slices.Contains(old, m) }) {
			if rotations++; rotations == 2 {
				return s.db.Delete([]byte(keyCompacted), pebble.NoSync)
			}
			old = cur
		}
		if err := s.db.Set([]byte(keyCompacted), binary.BigEndian.AppendUint64(nil, uint64(i)), pebble.NoSync); err != nil {
			return err
		}
		if err := s.db.Flush(); err != nil {
			return fmt.Errorf("cannot flush the state store: %w", err)
		}
	}
	return fmt.Errorf("the state store kept manifests %v after 256 flushes", old)
}

// manifests lists the store's manifest files.
func (s *Store) manifests() ([]string, error) {
	m, err := filepath.Glob(filepath.Join(s.dir, "MANIFEST-*"))
	if err != nil {
		return nil, err
	}
	return m, nil
}
