// Package rstore is the cluster path's derived state on Redis: a kv.KV
// that several instances share (through rueidis), holding the same keys
// and values as the embedded Pebble store, written by the state applier
// under its lease and read by every instance's handlers.
//
// Choices:
//   - rueidis rather than go-redis: its client-side caching with RESP3
//     server-assisted invalidation (CLIENT TRACKING) is what keeps a
//     cached profile read fresh within a bound without a round trip per
//     read, and it pipelines concurrent commands on one connection
//     automatically.
//   - One Redis primary (not Redis Cluster): an applier batch is one Lua
//     script, atomic across the keys it writes, and the contact script
//     reads a customer's profile and reservations together.
//   - Expect and the batch's writes run in that one script, so a fenced
//     commit is atomic: an applier that lost its lease cannot apply a
//     record twice.
//   - Scan is served from a sorted-set index per indexed prefix (Config
//     Indexed), kept by the same script: Redis has no ordered key scan.
//   - Keys under the retention prefixes get a time to live instead of the
//     embedded store's sweep.
package rstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"nextbest/kv"
)

// Config configures a Store.
type Config struct {
	// Addr is the Redis address, host:port. Required.
	Addr string
	// Username and Password authenticate (ACL or requirepass); TLS, if
	// set, encrypts the connection.
	Username, Password string
	TLS                *tls.Config
	// DB selects the Redis database.
	DB int
	// Indexed are the key prefixes Scan serves; every key under one is
	// also kept in that prefix's sorted-set index.
	Indexed []string
	// TTL gives a written key its time to live (0: none). Nil: none.
	TTL func(key string) time.Duration
	// CacheTTL bounds how long a cached read (Cached) may be served
	// without the server's invalidation; default 1 s. Invalidation makes
	// it fresh much sooner (see docs/cluster.md).
	CacheTTL time.Duration
	// Timeout bounds each command (default 2 s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Store is a kv.KV on Redis. Get reads the server; Cached returns a view
// whose Get is served from the client-side cache, invalidated by the
// server when another client writes the key.
type Store struct {
	c   rueidis.Client
	cfg Config
	log *slog.Logger
	// down is why the last ping failed (nil: Redis answered); while it is
	// set, every command fails at once instead of waiting out its timeout
	down atomic.Pointer[error]
}

// ErrUnavailable wraps the errors of a Redis that cannot be reached.
var ErrUnavailable = errors.New("redis unavailable")

// Open connects to cfg.Addr.
func Open(cfg Config) (*Store, error) {
	if cfg.Addr == "" {
		return nil, errors.New("rstore: Config.Addr is required")
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{cfg.Addr},
		Username:          cfg.Username,
		Password:          cfg.Password,
		TLSConfig:         cfg.TLS,
		SelectDB:          cfg.DB,
		ConnWriteTimeout:  cfg.Timeout,
		ForceSingleClient: true,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: cannot connect to redis at %s: %w", ErrUnavailable, cfg.Addr, err)
	}
	return &Store{c: c, cfg: cfg, log: cfg.Logger}, nil
}

// Client returns the rueidis client (for the contact script and the
// lease, which share the connection).
func (s *Store) Client() rueidis.Client { return s.c }

// Close closes the client.
func (s *Store) Close() { s.c.Close() }

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.cfg.Timeout)
}

// unavailable wraps a failure to reach Redis (not a nil reply).
func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Ping checks that Redis answers, and records the answer for Down.
func (s *Store) Ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), min(s.cfg.Timeout, time.Second))
	defer cancel()
	err := unavailable(s.c.Do(ctx, s.c.B().Ping().Build()).Error())
	if err != nil {
		s.down.Store(&err)
	} else {
		s.down.Store(nil)
	}
	return err
}

// Watch pings Redis every interval until ctx ends, so that Down follows
// Redis's health.
func (s *Store) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.Ping()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Down returns why Redis did not answer the last ping (Ping, Watch), nil
// while it answers. While it is set, the Store's commands fail at once
// with it.
func (s *Store) Down() error {
	if p := s.down.Load(); p != nil {
		return *p
	}
	return nil
}

// Get implements kv.KV, reading the server.
func (s *Store) Get(key string) ([]byte, error) {
	if err := s.Down(); err != nil {
		return nil, err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	return value(s.c.Do(ctx, s.c.B().Get().Key(key).Build()))
}

func value(r rueidis.RedisResult) ([]byte, error) {
	v, err := r.AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// Cached returns a view of s whose Get is served from the client-side
// cache (server-assisted invalidation, bounded by Config.CacheTTL); its
// other methods are s's.
func (s *Store) Cached() kv.KV { return cached{s} }

type cached struct{ *Store }

func (c cached) Get(key string) ([]byte, error) {
	if err := c.Down(); err != nil {
		return nil, err
	}
	ctx, cancel := c.ctx()
	defer cancel()
	return value(c.c.DoCache(ctx, c.c.B().Get().Key(key).Cache(), c.cfg.CacheTTL))
}

// index returns the sorted-set index key of key, "" if its prefix is not
// indexed.
func (s *Store) index(key string) string {
	for _, p := range s.cfg.Indexed {
		if strings.HasPrefix(key, p) {
			return "idx:" + p
		}
	}
	return ""
}

// Scan implements kv.KV for keys under an indexed prefix.
func (s *Store) Scan(prefix string, fn func(key, value []byte) error) error {
	idx := s.index(prefix) // a prefix under an indexed one: its keys are too
	if idx == "" {
		return fmt.Errorf("rstore: prefix %q is not indexed (indexed: %v)", prefix, s.cfg.Indexed)
	}
	if err := s.Down(); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	max := "+"
	if end := kv.PrefixEnd(prefix); end != nil {
		max = "(" + string(end)
	}
	keys, err := s.c.Do(ctx, s.c.B().Zrangebylex().Key(idx).Min("["+prefix).Max(max).Build()).AsStrSlice()
	if err != nil {
		return unavailable(err)
	}
	const chunk = 256
	for len(keys) > 0 {
		n := min(chunk, len(keys))
		vals, err := s.c.Do(ctx, s.c.B().Mget().Key(keys[:n]...).Build()).ToArray()
		if err != nil {
			return unavailable(err)
		}
		for i, v := range vals {
			b, err := v.AsBytes()
			if rueidis.IsRedisNil(err) {
				continue // expired or deleted since the index was read
			}
			if err != nil {
				return unavailable(err)
			}
			if err := fn([]byte(keys[i]), b); err != nil {
				return err
			}
		}
		keys = keys[n:]
	}
	return nil
}

// NewBatch implements kv.KV.
func (s *Store) NewBatch() kv.Batch { return &batch{s: s} }

type op struct {
	key    string
	del    bool
	value  []byte
	ttl    time.Duration
	index  string
	expect bool // an expectation, not a write
	absent bool // expect: key absent
}

type batch struct {
	s      *Store
	expect []op
	writes []op
}

func (b *batch) Set(key string, value []byte) {
	var ttl time.Duration
	if b.s.cfg.TTL != nil {
		ttl = b.s.cfg.TTL(key)
	}
	b.writes = append(b.writes, op{key: key, value: slices.Clone(value), ttl: ttl, index: b.s.index(key)})
}

func (b *batch) Delete(key string) {
	b.writes = append(b.writes, op{key: key, del: true, index: b.s.index(key)})
}

func (b *batch) Expect(key string, value []byte) {
	b.expect = append(b.expect, op{key: key, value: slices.Clone(value), absent: value == nil, expect: true})
}

func (b *batch) Close() { b.expect, b.writes = nil, nil }

// commitScript checks the expectations and applies the writes, all in one
// atomic step. KEYS: the expected keys, then the written keys. ARGV: the
// number of expectations; per expectation its absent flag and value; per
// write its op (S or D), value, time to live in ms, index key ("" none).
var commitScript = rueidis.NewLuaScript(`
local ne = tonumber(ARGV[1])
local a = 2
for i = 1, ne do
  local cur = redis.call('GET', KEYS[i])
  if ARGV[a] == '1' then
    if cur then return redis.error_reply('CONFLICT ' .. KEYS[i]) end
  elseif cur ~= ARGV[a+1] then
    return redis.error_reply('CONFLICT ' .. KEYS[i])
  end
  a = a + 2
end
for i = ne + 1, #KEYS do
  local k, v, ttl, idx = KEYS[i], ARGV[a+1], tonumber(ARGV[a+2]), ARGV[a+3]
  if ARGV[a] == 'S' then
    if ttl > 0 then redis.call('SET', k, v, 'PX', ttl) else redis.call('SET', k, v) end
    if idx ~= '' then redis.call('ZADD', idx, 0, k) end
  else
    redis.call('DEL', k)
    if idx ~= '' then redis.call('ZREM', idx, k) end
  end
  a = a + 4
end
return 'OK'
`)

func (b *batch) Commit() error {
	if len(b.writes) == 0 && len(b.expect) == 0 {
		return nil
	}
	if err := b.s.Down(); err != nil {
		return err
	}
	keys := make([]string, 0, len(b.expect)+len(b.writes))
	args := make([]string, 0, 1+2*len(b.expect)+4*len(b.writes))
	args = append(args, strconv.Itoa(len(b.expect)))
	for _, e := range b.expect {
		keys = append(keys, e.key)
		flag := "0"
		if e.absent {
			flag = "1"
		}
		args = append(args, flag, string(e.value))
	}
	for _, w := range b.writes {
		keys = append(keys, w.key)
		o := "S"
		if w.del {
			o = "D"
		}
		args = append(args, o, string(w.value), strconv.FormatInt(w.ttl.Milliseconds(), 10), w.index)
	}
	ctx, cancel := b.s.ctx()
	defer cancel()
	err := commitScript.Exec(ctx, b.s.c, keys, args).Error()
	if err != nil {
		if re, ok := rueidis.IsRedisErr(err); ok && strings.HasPrefix(re.Error(), "CONFLICT") {
			return fmt.Errorf("%w: %s", kv.ErrConflict, strings.TrimPrefix(re.Error(), "CONFLICT "))
		}
		return unavailable(err)
	}
	return nil
}

var _ kv.KV = (*Store)(nil)
