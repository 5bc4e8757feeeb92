package features

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/dgraph-io/ristretto/v2"

	"nextbest/kv"
)

// StoreConfig configures a Store.
type StoreConfig struct {
	// KV is the store the profiles live in (kv.Pebble embedded,
	// cluster/rstore in cluster mode); the Store does not close it.
	// Required.
	KV kv.KV
	// Prefix is prepended to the customer id to make the key.
	// Default "p/".
	Prefix string
	// CacheMaxCost bounds the cache, in approximate bytes of encoded
	// profiles. Default 64 MiB.
	CacheMaxCost int64
	// NoCache turns the Store's own cache off: for a KV that other
	// processes write (the cluster path), whose engine keeps reads fresh
	// itself.
	NoCache bool
	// Logger receives warnings. Default: discard.
	Logger *slog.Logger
}

// stripes is the number of write-generation stripes (a power of two).
const stripes = 256

type stripe struct {
	mu   sync.Mutex
	gen  uint64 // bumped when a write to a key of this stripe completes
	busy int    // writes of this stripe in progress
	_    [40]byte
}

// Store keeps profiles in Pebble with a ristretto cache in front.
//
// Consistency. Writes go through Commit from one writer at a time (Commit
// serialises callers). Once Commit returns, every Get returns the committed
// profile or a newer one, and Gets are monotonic: a Get never returns a
// profile older than one an earlier Get returned. Ristretto applies inserts
// asynchronously, so a reader that missed the cache could otherwise insert a
// value it read from Pebble just before a commit, after the commit; the
// Store prevents that with per-stripe write generations: a reader inserts
// what it read only if no write to that stripe started or finished since
// before its Pebble read (checked under the stripe lock), and Commit, before
// it commits, deletes the keys from the cache and waits (Cache.Wait) until
// every insert queued earlier has been applied and removed. A profile
// ristretto declines to admit is simply read from Pebble next time.
//
// Profiles returned by Get are shared with the cache: treat them as
// immutable and Clone before changing one.
type Store struct {
	db      kv.KV
	prefix  string
	cache   *ristretto.Cache[string, *Profile]
	log     *slog.Logger
	seed    maphash.Seed
	stripes [stripes]stripe
	writeMu sync.Mutex
	bufs    sync.Pool
	hits    atomic.Uint64
	misses  atomic.Uint64
}

// NewStore returns a Store over cfg.KV.
func NewStore(cfg StoreConfig) (*Store, error) {
	if cfg.KV == nil {
		return nil, errors.New("features: StoreConfig.KV is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "p/"
	}
	if cfg.CacheMaxCost == 0 {
		cfg.CacheMaxCost = 64 << 20
	}
	if cfg.CacheMaxCost < 0 {
		return nil, errors.New("features: StoreConfig.CacheMaxCost must be >= 0")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// About one counter per 100 bytes of profile, ten per expected item.
	// (A nil cache is a valid ristretto cache that holds nothing.)
	var cache *ristretto.Cache[string, *Profile]
	if !cfg.NoCache {
		var err error
		cache, err = ristretto.NewCache(&ristretto.Config[string, *Profile]{
			NumCounters: max(cfg.CacheMaxCost/100, 1000),
			MaxCost:     cfg.CacheMaxCost,
			BufferItems: 64,
		})
		if err != nil {
			return nil, fmt.Errorf("cannot create profile cache: %w", err)
		}
	}
	return &Store{
		db:     cfg.KV,
		prefix: cfg.Prefix,
		cache:  cache,
		log:    cfg.Logger,
		seed:   maphash.MakeSeed(),
		bufs:   sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }},
	}, nil
}

func (s *Store) stripe(id string) *stripe {
	return &s.stripes[maphash.String(s.seed, id)&(stripes-1)]
}

// cost approximates the memory a profile holds, for the cache budget.
func cost(p *Profile) int64 {
	n := 200 + len(p.CustomerID) + len(p.Stage) + len(p.LastChannel)
	n += 48 * len(p.Attributes)
	n += 56 * len(p.Counters)
	n += 48 * len(p.LastEvent)
	n += 24 * len(p.Consents)
	for _, c := range p.Contacts {
		n += 96
		if c != nil {
			n += 24 * len(c.Impressions)
		}
	}
	return int64(n)
}

// Get returns the profile of customer id, or nil, nil when there is none.
func (s *Store) Get(id string) (*Profile, error) {
	if p, ok := s.cache.Get(id); ok {
		s.hits.Add(1)
		return p, nil
	}
	s.misses.Add(1)
	st := s.stripe(id)
	st.mu.Lock()
	gen, busy := st.gen, st.busy
	st.mu.Unlock()

	v, err := s.db.Get(s.prefix + id)
	if v == nil && err == nil {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read profile %q: %w", id, err)
	}
	p, err := decodeProfile(v)
	if err != nil {
		return nil, fmt.Errorf("cannot decode profile %q: %w", id, err)
	}
	if busy == 0 {
		st.mu.Lock()
		if st.gen == gen && st.busy == 0 {
			s.cache.Set(id, p, cost(p))
		}
		st.mu.Unlock()
	}
	return p, nil
}

// Stage encodes p into b under its customer id, for a later Commit of b.
// It copies what it needs: p may change after Stage returns (but see
// Commit).
func (s *Store) Stage(b kv.Batch, p *Profile) error {
	if p.CustomerID == "" {
		return fieldErr("customer_id", "required")
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	enc, err := appendProfile((*bp)[:0], p)
	*bp = enc[:0]
	if err != nil {
		return fmt.Errorf("cannot encode profile %q: %w", p.CustomerID, err)
	}
	b.Set(s.prefix+p.CustomerID, enc)
	return nil
}

// Commit commits b with pebble.NoSync (the journal is what makes writes
// durable: it is replayed on restart) and then caches the changed
// profiles, which must be exactly those staged in b. The cache keeps the
// pointers: the caller must not change those profiles afterwards. Commit
// serialises concurrent callers; see Store for the guarantee it gives.
func (s *Store) Commit(b kv.Batch, changed []*Profile) error {
	return s.CommitDeleting(b, changed, nil)
}

// CommitDeleting is Commit that also deletes the profiles of customers
// deleted (an erasure): their keys are deleted in b and they leave the
// cache, so that no read after it returns sees them.
func (s *Store) CommitDeleting(b kv.Batch, changed []*Profile, deleted []string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	begin := func(id string) {
		st := s.stripe(id)
		st.mu.Lock()
		st.busy++
		st.mu.Unlock()
		s.cache.Del(id)
	}
	for _, p := range changed {
		begin(p.CustomerID)
	}
	for _, id := range deleted {
		begin(id)
		b.Delete(s.prefix + id)
	}
	// Apply (and so remove) every insert queued before the writes began.
	s.cache.Wait()
	err := b.Commit()
	end := func(id string, p *Profile) {
		st := s.stripe(id)
		st.mu.Lock()
		st.busy--
		st.gen++
		if err == nil && p != nil {
			s.cache.Set(id, p, cost(p))
		}
		st.mu.Unlock()
	}
	for _, p := range changed {
		end(p.CustomerID, p)
	}
	for _, id := range deleted {
		end(id, nil)
	}
	if err != nil {
		return fmt.Errorf("cannot commit profiles: %w", err)
	}
	return nil
}

// Load bulk-loads profiles from JSON lines (one Profile object a line, as
// in a CRM export), in batches, and returns how many it stored. Blank lines
// are skipped. A bad line stops the load with an error naming the line;
// batches before it stay committed.
func (s *Store) Load(ctx context.Context, r io.Reader) (n int, err error) {
	const batchSize = 1000
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var (
		batch   = s.db.NewBatch()
		changed []*Profile
		line    int
	)
	defer func() { batch.Close() }()
	flush := func() error {
		if len(changed) == 0 {
			return nil
		}
		if err := s.Commit(batch, changed); err != nil {
			return err
		}
		n += len(changed)
		batch.Close()
		batch = s.db.NewBatch()
		changed = changed[:0:0]
		return ctx.Err()
	}
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		p := &Profile{}
		if err := json.Unmarshal(b, p); err != nil {
			return n, fmt.Errorf("cannot load profiles: line %d: %w", line, err)
		}
		if p.CustomerID == "" {
			return n, fmt.Errorf("cannot load profiles: line %d: %w", line, fieldErr("customer_id", "required"))
		}
		p.Cold = false
		for k, v := range p.Attributes {
			switch v.(type) {
			case string, float64, bool:
			default:
				return n, fmt.Errorf("cannot load profiles: line %d: %w", line,
					fieldErr("attributes."+k, "must be a string, number or bool"))
			}
		}
		if err := s.Stage(batch, p); err != nil {
			return n, fmt.Errorf("cannot load profiles: line %d: %w", line, err)
		}
		changed = append(changed, p)
		if len(changed) == batchSize {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("cannot load profiles: line %d: %w", line+1, err)
	}
	if err := flush(); err != nil {
		return n, err
	}
	s.log.Info("profiles loaded", "count", n)
	return n, nil
}

// Stats returns the cache hits and misses of Get since NewStore.
func (s *Store) Stats() (hits, misses uint64) { return s.hits.Load(), s.misses.Load() }

// Wait blocks until the cache has applied every insert queued so far
// (for tests and benchmarks).
func (s *Store) Wait() { s.cache.Wait() }

// Close closes the cache; the Pebble DB stays open (it belongs to the
// caller).
func (s *Store) Close() { s.cache.Close() }

// NewPebbleLogger adapts l to pebble.Logger, so that Pebble's chatter
// ("Found 0 WALs") goes to slog at debug level instead of stdout: set
// pebble.Options.Logger to it. Errorf logs at error level; Fatalf logs and
// panics (Pebble expects it not to return).
func NewPebbleLogger(l *slog.Logger) pebble.Logger { return pebbleLogger{l} }

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	if p.l.Enabled(context.Background(), slog.LevelDebug) {
		p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble")
	panic("pebble: " + msg)
}

// Purge empties the cache: for a KV that another process may have
// written while this Store was not its writer (the cluster path's applier
// on taking over the lease).
func (s *Store) Purge() {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.cache.Clear()
}
