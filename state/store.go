package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"nextbest/features"
	"nextbest/journal"
	"nextbest/kv"
)

// The keyspace: every key of the store starts with one of these (see
// doc.go for who writes and who reads each).
const (
	prefixProfile  = "p/" // p/<customer_id> → profile (features.Store)
	prefixDecision = "d/" // d/<decision_id> → the decision's journal payload
	prefixOutcome  = "o/" // o/<decision_id>/… → outcome de-duplication and aggregates (outcomeKeys)
	prefixRequest  = "r/" // r/<customer_id>/<request_id> → decision_id
	// s/<decision_id> → a deferred decision's activation (activation.go)
	prefixActivation = "s/"
	prefixReserved   = "k/"          // k/<customer_id>/<decision_id> → a cluster contact reservation (ReservationKey)
	keyApplied       = "m/applied"   // LSN of the last journal record applied, 8 bytes big-endian
	keySeeded        = "m/seeded"    // present once the seed profiles were loaded
	keyCompacted     = "m/compacted" // written by Compact to make Pebble rotate its manifest
	// the aggregates (aggregates.go)
	prefixExperiment  = "e/" // e/<experiment>/<arm>/… → an experiment's sums (experiment.Sums) and span
	prefixUnit        = "u/" // u/<experiment>/<customer> → the customer's experiment.Unit
	prefixExpDecision = "x/" // x/<decision_id> → an experiment decision's record (expDecision)
	prefixVolume      = "v/" // v/<counter>/… → a volume counter (Volume)
	prefixAudit       = "a/" // a/<LSN, 16 hex digits> → an audit record's journal payload (Audit)
	prefixPending     = "y/" // y/<customer_id> → a pending erasure (erasure.Pending)
)

// ScannedPrefixes are the key prefixes the state reads by Scan (the
// experiments' sums, the volume counters, the audit trail): an engine
// without an ordered key scan indexes them (cluster/rstore).
var ScannedPrefixes = []string{prefixExperiment, prefixVolume, prefixAudit, prefixPending}

// KeyApplied is the key of the applied LSN (8 bytes, big-endian): what a
// process sharing the store (the cluster path) reads to know how far the
// Applier has come.
const KeyApplied = keyApplied

// ReservationKey is the key of the contact reservation of decision id
// for customer in a shared store (the cluster path: a Redis script adds it
// before the decision is journaled; the Applier deletes it in the batch
// that records the decision's impressions, ApplierConfig.ReservationKeys).
func ReservationKey(customer, id string) string { return prefixReserved + customer + "/" + id }

// ReservationSet is the key of the set naming customer's reservation
// keys.
func ReservationSet(customer string) string { return "ks/" + customer }

// Config configures a Store.
type Config struct {
	// Dir is the Pebble directory; Open creates it if needed. Required.
	Dir string
	// CacheMaxCost is the profile cache budget in bytes (default 64 MiB;
	// see features.StoreConfig).
	CacheMaxCost int64
	// Logger receives Pebble's and the store's logs. Nil discards them.
	Logger *slog.Logger
}

// Store is the embedded state of one instance: a Pebble database, locked
// to this process, that holds the customer profiles (behind a
// features.Store and its cache), the decision index, the request-id
// index, the outcome de-duplication keys and the applied LSN. Everything
// in it is derived from the journal by the Applier, its only writer
// besides Sweep and the profile seed; Pebble runs without its own WAL.
//
// Its lookups are safe for concurrent use with each other and with the
// Applier.
type Store struct {
	kv       kv.KV
	db       *pebble.DB   // the embedded engine; nil on another KV (OpenKV)
	lock     *pebble.Lock // held until after db closes
	profiles *features.Store
	log      *slog.Logger
	dir      string // the embedded engine's directory
	closed   bool
}

// Open opens (or creates) the store in cfg.Dir. Another process or Store
// holding the directory is a *LockedError.
func Open(cfg Config) (_ *Store, err error) {
	if cfg.Dir == "" {
		return nil, errors.New("state: Config.Dir is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("state dir %s: %w", cfg.Dir, err)
	}
	s := &Store{log: log, dir: cfg.Dir}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	// the lock, taken apart from pebble.Open to say what a second
	// instance on the same directory runs into
	if s.lock, err = pebble.LockDirectory(cfg.Dir, vfs.Default); err != nil {
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			return nil, fmt.Errorf("cannot lock the state store: %w", err)
		}
		return nil, &LockedError{Path: filepath.Join(cfg.Dir, "LOCK"), Err: err}
	}
	opts := pebbleOptions(log)
	opts.Lock = s.lock
	if s.db, err = pebble.Open(cfg.Dir, opts); err != nil {
		return nil, fmt.Errorf("cannot open state store %s: %w", cfg.Dir, err)
	}
	s.kv = kv.NewPebble(s.db)
	if s.profiles, err = features.NewStore(features.StoreConfig{KV: s.kv, Prefix: prefixProfile, CacheMaxCost: cfg.CacheMaxCost, Logger: log}); err != nil {
		return nil, err
	}
	return s, nil
}

// OpenKV returns a Store over a KV that other processes share (the
// cluster path's Redis, cluster/rstore): the same keyspace, written by the
// same Applier. Its profile store keeps no cache of its own (the engine
// keeps reads fresh). Flush and MarkSeeded's flush do nothing on it, and
// Sweep is the engine's (keys expire).
func OpenKV(store kv.KV, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{kv: store, log: log}
	var err error
	if s.profiles, err = features.NewStore(features.StoreConfig{KV: store, Prefix: prefixProfile, NoCache: true, Logger: log}); err != nil {
		return nil, err
	}
	return s, nil
}

// KV returns the store's engine.
func (s *Store) KV() kv.KV { return s.kv }

// pebbleOptions configures the store. Pebble's own write-ahead log is
// off: every write to this store is derived from the journal, which is
// the durable copy. After a crash Pebble comes back as of its last flushed
// memtable — a consistent prefix, since a flush is atomic — and recovery
// (Applier.CatchUp) replays the journal from the applied LSN that prefix
// holds.
//
// The manifest rotates whenever Pebble's own rule allows (the smallest
// size limit), and one previous manifest is kept: the manifests name
// the first and last key of every table, so an erased customer's key
// can be in one; Compact rotates past them.
func pebbleOptions(log *slog.Logger) *pebble.Options {
	return &pebble.Options{
		Logger:              features.NewPebbleLogger(log),
		DisableWAL:          true,
		MemTableSize:        64 << 20,
		MaxManifestFileSize: 1,
		NumPrevManifest:     1,
	}
}

// Profiles returns the profile store (keys p/…). Only the Applier and the
// seed write to it.
func (s *Store) Profiles() *features.Store { return s.profiles }

// EachProfile calls fn with every stored profile, in customer id order
// (nextbest profiles export). fn's error stops the scan and is returned.
func (s *Store) EachProfile(fn func(*features.Profile) error) error {
	return s.kv.Scan(prefixProfile, func(key, value []byte) error {
		p, err := features.DecodeProfile(value)
		if err != nil {
			return fmt.Errorf("profile %q: %w", key[len(prefixProfile):], err)
		}
		return fn(p)
	})
}

// Flush writes the memtable to disk: what a restart then finds needs no
// replay. Without a WAL it is also what makes writes outside the journal
// (the seed) durable.
func (s *Store) Flush() error {
	if s.db == nil {
		return nil
	}
	return s.db.Flush()
}

// Close closes the profile cache, the database and the lock; it does not
// flush (see Flush). It is safe on a partly opened Store, and a second
// Close does nothing. After it only Profiles().Stats may be called.
func (s *Store) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.profiles != nil {
		s.profiles.Close()
	}
	var errs []error
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
	}
	return errors.Join(errs...)
}

// get returns a copy of the value of key; nil if there is none.
func (s *Store) get(key string) ([]byte, error) { return s.kv.Get(key) }

// Decision returns the indexed decision id: its journal record, decoded.
// It is ErrNotFound for a decision the index does not hold (unknown, or
// swept), ErrCorrupt for an entry that does not decode, ErrUnavailable
// when the store cannot be read.
func (s *Store) Decision(id string) (*journal.Decision, error) {
	v, err := s.kv.Get(prefixDecision + id)
	if err != nil {
		return nil, fmt.Errorf("%w: decision %q: %w", ErrUnavailable, id, err)
	}
	if v == nil {
		return nil, fmt.Errorf("%w: decision %q", ErrNotFound, id)
	}
	d := new(journal.Decision)
	if err := journal.DecodeDecision(v, d); err != nil {
		return nil, fmt.Errorf("%w: decision %q: %w", ErrCorrupt, id, err)
	}
	// a decision of a customer erased since is not there any more
	if gone, err := s.erasedBefore(d.CustomerID, d.Time); err != nil {
		return nil, fmt.Errorf("%w: decision %q: %w", ErrUnavailable, id, err)
	} else if gone {
		return nil, fmt.Errorf("%w: decision %q", ErrNotFound, id)
	}
	return d, nil
}

// DecisionForRequest returns the decision made for customer's request
// requestID (the request-id index, r/…), with Decision's errors.
func (s *Store) DecisionForRequest(customer, requestID string) (*journal.Decision, error) {
	v, err := s.kv.Get(prefixRequest + customer + "/" + requestID)
	if err != nil {
		return nil, fmt.Errorf("%w: request %q of customer %q: %w", ErrUnavailable, requestID, customer, err)
	}
	if v == nil {
		return nil, fmt.Errorf("%w: request %q of customer %q", ErrNotFound, requestID, customer)
	}
	return s.Decision(string(v))
}

// OutcomeFirstLSN returns the LSN of the first outcome recorded under a
// de-duplication key (DedupeKeys), 0 if there is none: an outcome whose
// key has an LSN is a duplicate of that one.
func (s *Store) OutcomeFirstLSN(key string) (uint64, error) {
	v, err := s.kv.Get(key)
	if err != nil {
		return 0, fmt.Errorf("%w: outcome key %q: %w", ErrUnavailable, key, err)
	}
	if v == nil {
		return 0, nil
	}
	return firstLSNOf(v), nil
}

// Seeded reports whether the seed profiles were loaded into this store
// (MarkSeeded).
func (s *Store) Seeded() (bool, error) {
	v, err := s.kv.Get(keySeeded)
	return v != nil, err
}

// MarkSeeded records that the seed profiles were loaded, durably (it
// flushes: the profiles and the marker are not in the journal), so that a
// restart does not load them over what the journal has applied since.
func (s *Store) MarkSeeded() error {
	b := s.kv.NewBatch()
	defer b.Close()
	b.Set(keySeeded, []byte("1"))
	if err := b.Commit(); err != nil {
		return err
	}
	return s.Flush() // without a WAL, a flush is what makes the import durable
}

// Audit returns the audit trail's records, oldest first, at most limit
// (0: all) of the latest.
func (s *Store) Audit(limit int) ([]journal.Audit, error) {
	var out []journal.Audit
	err := s.kv.Scan(prefixAudit, func(_, v []byte) error {
		var a journal.Audit
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("bad audit record: %w", err)
		}
		out = append(out, a)
		return nil
	})
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, err
}
