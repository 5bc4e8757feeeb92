package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"nextbest/internal/logthrottle"
	"nextbest/journal"
)

// MaxBatch is the most records Records hands to fn at once.
const MaxBatch = 512

// Pauses between attempts of Records to recreate its consumer.
const (
	minRetryWait = 100 * time.Millisecond
	maxRetryWait = 2 * time.Second
)

// Records reads the stream in order from sequence from (inclusive; 0
// reads from the start) and hands the records to fn in batches: what has
// arrived, up to MaxBatch records, without waiting to fill a batch. It
// returns when ctx ends (ctx.Err()), when fn returns an error (that
// error), on a record it cannot decode (ErrBadRecord, after handing fn
// the records before it) or after Close (ErrClosed).
//
// Record.LSN is the stream sequence, Type and Time come from the Nb-Type
// and Nb-Time headers, Payload is the message body. LSNs increase; they
// are consecutive unless the stream's limits removed messages. fn must
// not retain recs past the call; each Payload is its own allocation,
// which fn may keep.
//
// Records rides out a server restart by itself: its ordered consumer is
// recreated on the new connection, and resumes after the last record
// handed to fn, so no record is skipped or handed twice.
func (s *Stream) Records(ctx context.Context, from uint64, fn func([]journal.Record) error) error {
	next := max(from, 1)
	wait := minRetryWait
	throttle := logthrottle.New(time.Minute)
	for {
		if s.isClosed() {
			return ErrClosed
		}
		before := next
		err := s.consume(ctx, &next, fn)
		var r retryable
		if !errors.As(err, &r) {
			return err
		}
		if next != before {
			wait = minRetryWait
		}
		if ok, held := throttle.Allow("consume"); ok {
			s.log.Warn("stream: reading the journal failed; retrying", "stream", s.cfg.Stream,
				"next_seq", next, "err", r.err, "retry_in", wait, "held_back", held)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-s.done:
			t.Stop()
			return ErrClosed
		case <-t.C:
		}
		wait = min(2*wait, maxRetryWait)
	}
}

// retryable marks an error of consume after which Records recreates its
// consumer.
type retryable struct{ err error }

func (r retryable) Error() string { return r.err.Error() }
func (r retryable) Unwrap() error { return r.err }

type item struct {
	msg jetstream.Msg
	err error
}

// consume runs one ordered consumer from *next, handing batches to fn and
// advancing *next past each batch fn accepted.
func (s *Stream) consume(ctx context.Context, next *uint64, fn func([]journal.Record) error) error {
	cons, err := s.js.OrderedConsumer(ctx, s.cfg.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{s.cfg.Subject},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    *next,
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return retryable{s.apiErr(fmt.Sprintf("cannot create a consumer of stream %s from sequence %d", s.cfg.Stream, *next), err)}
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * MaxBatch))
	if err != nil {
		return retryable{s.apiErr(fmt.Sprintf("cannot consume stream %s", s.cfg.Stream), err)}
	}

	// The pump moves messages from the iterator into items, so that a
	// batch can take what has arrived without waiting for more.
	items := make(chan item, MaxBatch)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m, err := it.Next()
			select {
			case items <- item{m, err}:
			case <-quit:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		close(quit)
		it.Stop()
		wg.Wait()
	}()

	recs := make([]journal.Record, 0, MaxBatch)
	for {
		var first item
		select {
		case first = <-items:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return ErrClosed
		}
		recs = recs[:0]
		want := *next
		var stop error // ends this consume once the batch is handed over
		take := func(x item) {
			if x.err != nil {
				if s.isClosed() {
					stop = ErrClosed
				} else {
					stop = retryable{s.apiErr(fmt.Sprintf("consumer of stream %s failed", s.cfg.Stream), x.err)}
				}
				return
			}
			rec, err := decodeMsg(x.msg)
			if err != nil {
				stop = err
				return
			}
			if rec.LSN < want { // a redelivery after a consumer reset
				return
			}
			recs = append(recs, rec)
			want = rec.LSN + 1
		}
		take(first)
	drain:
		for stop == nil && len(recs) < MaxBatch {
			select {
			case x := <-items:
				take(x)
			default:
				break drain
			}
		}
		if len(recs) > 0 {
			if err := fn(recs); err != nil {
				return err
			}
			*next = want
		}
		if stop != nil {
			return stop
		}
	}
}

// decodeMsg turns a stream message into a record. Errors wrap
// ErrBadRecord and name the sequence.
func decodeMsg(m jetstream.Msg) (journal.Record, error) {
	meta, err := m.Metadata()
	if err != nil {
		return journal.Record{}, fmt.Errorf("%w: no JetStream metadata: %w", ErrBadRecord, err)
	}
	seq := meta.Sequence.Stream
	typ, ts, err := parseHeaders(m.Headers())
	if err != nil {
		return journal.Record{}, fmt.Errorf("stream sequence %d: %w", seq, err)
	}
	return journal.Record{LSN: seq, Type: typ, Time: ts, Payload: m.Data()}, nil
}
