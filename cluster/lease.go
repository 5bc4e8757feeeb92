package cluster

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"nextbest/cluster/rstore"
)

// Lease is a named lease in Redis that one instance holds at a time: work
// that must run once in the cluster (the applier, the retention of what
// does not expire by itself, the retraining loop) runs where it is held.
// The holder renews it every TTL/4; when the holder dies, it expires after
// TTL and another instance takes it.
type Lease struct {
	c      rueidis.Client
	key    string
	holder string
	ttl    time.Duration
	held   atomic.Bool
}

// NewLease returns the lease name for holder (an instance's unique name).
func NewLease(s *rstore.Store, name, holder string, ttl time.Duration) *Lease {
	return &Lease{c: s.Client(), key: "m/lease/" + name, holder: holder, ttl: ttl}
}

// leaseScript takes or renews the lease: KEYS: the lease; ARGV: the
// holder, the TTL in ms. It answers 1 when the holder holds it.
var leaseScript = rueidis.NewLuaScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`)

var releaseScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Held reports whether this instance held the lease at its last renewal
// (and the renewal is younger than the TTL).
func (l *Lease) Held() bool { return l.held.Load() }

// Try takes or renews the lease and reports whether it is held. An error
// (Redis unreachable) counts as not held: the lease may expire meanwhile.
func (l *Lease) Try(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, l.ttl/2)
	defer cancel()
	n, err := leaseScript.Exec(ctx, l.c, []string{l.key}, []string{l.holder, itoa(l.ttl.Milliseconds())}).AsInt64()
	ok := err == nil && n == 1
	l.held.Store(ok)
	return ok, err
}

// Release gives the lease up, if held, so another instance need not wait
// for it to expire.
func (l *Lease) Release() {
	l.held.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	releaseScript.Exec(ctx, l.c, []string{l.key}, []string{l.holder})
}

// Holder returns the instance holding the lease, "" if none.
func (l *Lease) Holder(ctx context.Context) (string, error) {
	v, err := l.c.Do(ctx, l.c.B().Get().Key(l.key).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return "", nil
	}
	return v, err
}
