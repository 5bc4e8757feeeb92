package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"nextbest/cluster/rstore"
	"nextbest/cluster/stream"
	"nextbest/journal"
	"nextbest/kv"
	"nextbest/state"
)

// Config configures a Node.
type Config struct {
	Redis rstore.Config
	NATS  stream.Config
	// Instance names this instance, uniquely in the cluster. Required.
	Instance string
	// LeaseTTL is the applier lease's time to live (default 2 s): how long
	// the cluster goes without an applier when its holder dies.
	LeaseTTL time.Duration
	// ApplyWait bounds how long a write waits for the applier (default
	// 2 × LeaseTTL + 1 s: through a lease handover).
	ApplyWait time.Duration
	Logger    *slog.Logger
}

// Node is one instance's part of the cluster: its connections to Redis
// and JetStream, the shared state store, and, once Start runs, the loop
// that consumes the stream.
type Node struct {
	cfg    Config
	log    *slog.Logger
	redis  *rstore.Store
	stream *stream.Stream
	state  *state.Store
	lease  *Lease
	// applied is the highest applied LSN this node knows of (Redis's
	// m/applied, as the holder announces it)
	applied appliedLSN
	lastSeq atomic.Uint64
	sub     *nats.Subscription

	applier *state.Applier
	// current: the applier's caches reflect Redis, as this node has been
	// the only writer since it last reloaded them (consumer goroutine only)
	current bool
	cancel  context.CancelFunc
	done    chan struct{}
	closing atomic.Bool
}

// appliedSubject is where the applier announces the LSN it applied.
const appliedSubject = "nextbest.applied"

// Open connects to Redis and JetStream and returns the node; Start
// begins consuming.
func Open(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.Instance == "" {
		return nil, errors.New("cluster: Config.Instance is required")
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 2 * time.Second
	}
	if cfg.ApplyWait == 0 {
		cfg.ApplyWait = 2*cfg.LeaseTTL + time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, log: cfg.Logger}
	n.applied.init()
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	cfg.Redis.Logger = cfg.Logger
	if n.redis, err = rstore.Open(cfg.Redis); err != nil {
		return nil, err
	}
	if err := n.redis.Ping(); err != nil {
		return nil, fmt.Errorf("redis at %s: %w", cfg.Redis.Addr, err)
	}
	if n.state, err = state.OpenKV(n.redis, cfg.Logger); err != nil {
		return nil, err
	}
	if cfg.NATS.Name == "" {
		cfg.NATS.Name = "nextbest-" + cfg.Instance
	}
	cfg.NATS.Logger = cfg.Logger
	if n.stream, err = stream.Open(ctx, cfg.NATS); err != nil {
		return nil, err
	}
	n.lease = NewLease(n.redis, "applier", cfg.Instance, cfg.LeaseTTL)
	if n.sub, err = n.stream.Conn().Subscribe(appliedSubject, func(m *nats.Msg) {
		if v, err := strconv.ParseUint(string(m.Data), 10, 64); err == nil {
			n.applied.advance(v)
		}
	}); err != nil {
		return nil, fmt.Errorf("cannot subscribe to %s: %w", appliedSubject, err)
	}
	if err := n.pollApplied(); err != nil {
		return nil, err
	}
	last, err := n.stream.LastSeq(ctx)
	if err != nil {
		return nil, err
	}
	n.lastSeq.Store(last)
	return n, nil
}

// State returns the shared state store (on Redis).
func (n *Node) State() *state.Store { return n.state }

// Redis returns the Redis store (the contact guard and leases use it).
func (n *Node) Redis() *rstore.Store { return n.redis }

// Stream returns the JetStream journal.
func (n *Node) Stream() *stream.Stream { return n.stream }

// Lease returns the applier lease.
func (n *Node) Lease() *Lease { return n.lease }

// pollApplied reads Redis's applied LSN.
func (n *Node) pollApplied() error {
	v, err := n.redis.Get(state.KeyApplied)
	if err != nil {
		return err
	}
	if len(v) == 8 {
		n.applied.advance(binary.BigEndian.Uint64(v))
	}
	return nil
}

// Start consumes the stream with a, until Close, from the record after
// the older of from (the LSN the online model's snapshot reflects) and
// the LSN Redis has applied: applying it to Redis while this node holds
// the lease, handing the learning work past from to a's learner in every
// case (a's ApplierConfig.LearnFrom is from). a must be an Applier of
// State() with ApplierConfig.ReservationKeys set.
func (n *Node) Start(a *state.Applier, from uint64) {
	n.applier = a
	from = min(from, n.applied.get())
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan struct{})
	go n.keepLease(ctx)
	go n.redis.Watch(ctx, 250*time.Millisecond)
	go func() {
		defer close(n.done)
		for ctx.Err() == nil {
			err := n.stream.Records(ctx, from+1, func(recs []journal.Record) error {
				if err := n.apply(ctx, recs); err != nil {
					return err
				}
				from = recs[len(recs)-1].LSN
				return nil
			})
			if ctx.Err() == nil {
				n.log.Warn("stream consumer stopped; restarting", "err", err)
				sleep(ctx, 500*time.Millisecond)
			}
		}
	}()
}

// redisDown returns why Redis is down, nil while it answers (pinged
// every 250 ms).
func (n *Node) redisDown() error { return n.redis.Down() }

// keepLease takes or renews the applier lease every TTL/4.
func (n *Node) keepLease(ctx context.Context) {
	t := time.NewTicker(n.cfg.LeaseTTL / 4)
	defer t.Stop()
	for {
		n.lease.Try(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// apply handles one batch of the stream: applies it as holder, or waits
// until the holder did and learns from it. It returns only when the
// batch is handled or ctx ends.
func (n *Node) apply(ctx context.Context, recs []journal.Record) error {
	last := recs[len(recs)-1].LSN
	for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if n.lease.Held() {
			if !n.current {
				// another holder may have written since this node last did
				if err := n.applier.Reload(); err != nil {
					n.log.Warn("cannot reload the applied state", "err", err)
					sleep(ctx, backoff)
					continue
				}
				n.current = true
			}
			err := n.applier.Apply(recs, nil)
			switch {
			case err == nil:
				applied := n.applier.Applied()
				n.applied.advance(applied)
				n.stream.Conn().Publish(appliedSubject, strconv.AppendUint(nil, applied, 10))
				return nil
			case errors.Is(err, kv.ErrConflict):
				n.current = false // someone else applied: reload and retry
				continue
			default:
				n.log.Warn("cannot apply to redis; retrying", "err", err, "lsn", last)
				n.current = false
				sleep(ctx, backoff)
				continue
			}
		}
		n.current = false
		if n.applied.get() >= last {
			// the holder applied the batch: reload (the applied LSN) and
			// learn; nothing is written
			if err := n.applier.Reload(); err == nil && n.applier.Applied() >= last {
				if err := n.applier.Apply(recs, nil); err == nil {
					return nil
				}
			}
		}
		n.applied.wait(ctx, last, 100*time.Millisecond)
		if n.applied.get() < last {
			n.pollApplied()
		}
	}
}

// AppendLive implements serve.Journal: it publishes the record to the
// stream and returns its LSN (the stream sequence) once JetStream
// acknowledged it and the applier applied it. A record JetStream already
// holds under the same id (a retry) returns its LSN with an error
// wrapping journal.ErrDuplicate.
//
// While Redis is down nothing can be applied. An outcome or an event is
// then refused before it is published (an error wrapping
// rstore.ErrUnavailable: the client retries). A fallback decision (the
// handler decided it on a cold-start profile, Redis being down) is
// published and returned once durable, without waiting to be applied: it
// is in the stream, and the applier applies it when Redis is back (an
// outcome for it meanwhile is answered 503: see CaughtUp). Any other
// record waits to be applied, for at most ApplyWait, and fails (wrapping
// rstore.ErrUnavailable) if Redis goes down meanwhile: it is durable, and
// will be applied, but is not acknowledged.
func (n *Node) AppendLive(ctx context.Context, typ journal.Type, ts time.Time, payload []byte, live *state.Live) (uint64, error) {
	if n.closing.Load() {
		return 0, journal.ErrClosed
	}
	down := n.redisDown()
	if down != nil && typ != journal.TypeDecision {
		return 0, fmt.Errorf("%w: cannot apply the record: %w", rstore.ErrUnavailable, down)
	}
	seq, dup, err := n.stream.Publish(ctx, recordID(live), typ, ts, payload)
	if err != nil {
		return 0, err
	}
	for {
		if v := n.lastSeq.Load(); seq <= v || n.lastSeq.CompareAndSwap(v, seq) {
			break
		}
	}
	// the holder announces what it applied; a missed announcement is
	// made up by reading Redis
	fallback := typ == journal.TypeDecision && live != nil && live.Decision != nil && live.Decision.Fallback
	deadline := time.Now().Add(n.cfg.ApplyWait)
	for n.applied.get() < seq {
		if err := n.redisDown(); err != nil {
			if fallback {
				break // durable; applied when Redis is back
			}
			return 0, fmt.Errorf("%w: record %d is durable but cannot be applied now: %w", rstore.ErrUnavailable, seq, err)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%w: record %d is durable but not applied within %v", rstore.ErrUnavailable, seq, n.cfg.ApplyWait)
		}
		if err := n.applied.wait(ctx, seq, 50*time.Millisecond); err != nil {
			return 0, fmt.Errorf("record %d is durable but not yet applied: %w", seq, err)
		}
		if n.applied.get() < seq {
			n.pollApplied()
		}
	}
	if dup {
		return seq, fmt.Errorf("%w: record %d", journal.ErrDuplicate, seq)
	}
	return seq, nil
}

// CaughtUp reports whether Redis has applied everything the stream
// holds: when it has not, a lookup that finds nothing (an outcome's
// decision) may find it once the applier catches up.
func (n *Node) CaughtUp(ctx context.Context) (bool, error) {
	last, err := n.stream.LastSeq(ctx)
	if err != nil {
		return false, err
	}
	if n.applied.get() >= last {
		return true, nil
	}
	if err := n.pollApplied(); err != nil {
		return false, err
	}
	return n.applied.get() >= last, nil
}

// WaitApplied waits until Redis has applied the stream up to lsn (by
// whichever instance holds the lease), or ctx ends.
func (n *Node) WaitApplied(ctx context.Context, lsn uint64) error {
	for n.applied.get() < lsn {
		if err := n.applied.wait(ctx, lsn, 100*time.Millisecond); err != nil {
			return err
		}
		n.pollApplied()
	}
	return nil
}

// recordID is a record's Nats-Msg-Id: what makes a retried publish of
// the same record a duplicate (state.Live.RecordID), or a unique id.
func recordID(l *state.Live) string {
	if l != nil {
		if id := l.RecordID(); id != "" {
			return id
		}
	}
	return nuid.Next()
}

// Health implements serve.Journal: nil while JetStream and Redis answer.
func (n *Node) Health() error {
	if n.closing.Load() {
		return journal.ErrClosed
	}
	if err := n.stream.Health(); err != nil {
		return err
	}
	return n.redisDown()
}

// LastLSN implements serve.Journal: the last sequence this node
// published or saw applied.
func (n *Node) LastLSN() uint64 { return max(n.lastSeq.Load(), n.applied.get()) }

// Close stops the consumer, gives the lease up and closes the
// connections.
func (n *Node) Close() error {
	n.closing.Store(true)
	if n.cancel != nil {
		n.cancel()
		<-n.done
	}
	if n.lease != nil {
		n.lease.Release()
	}
	if n.sub != nil {
		n.sub.Unsubscribe()
	}
	var errs []error
	if n.stream != nil {
		errs = append(errs, n.stream.Close())
	}
	if n.redis != nil {
		n.redis.Close()
	}
	return errors.Join(errs...)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// appliedLSN is an LSN that only grows, with waiters.
type appliedLSN struct {
	mu sync.Mutex
	v  uint64
	ch chan struct{} // closed when v grows
}

func (a *appliedLSN) init() { a.ch = make(chan struct{}) }

func (a *appliedLSN) get() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.v
}

func (a *appliedLSN) advance(v uint64) {
	a.mu.Lock()
	if v > a.v {
		a.v = v
		close(a.ch)
		a.ch = make(chan struct{})
	}
	a.mu.Unlock()
}

// wait waits until the LSN reaches v or ctx ends (its error), or, with
// limit > 0, for at most limit.
func (a *appliedLSN) wait(ctx context.Context, v uint64, limit time.Duration) error {
	var timeout <-chan time.Time
	if limit > 0 {
		t := time.NewTimer(limit)
		defer t.Stop()
		timeout = t.C
	}
	for {
		a.mu.Lock()
		cur, ch := a.v, a.ch
		a.mu.Unlock()
		if cur >= v {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout:
			return nil
		}
	}
}
