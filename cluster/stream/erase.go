package stream

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"nextbest/journal"
)

// errRead ends a bounded read of the stream (ReadUpTo).
var errRead = errors.New("stream: read up to the bound")

// ReadUpTo hands fn every record of the stream from sequence 1 to upTo,
// in order (with Records' guarantees), then returns. fn must not retain
// rec past the call.
func (s *Stream) ReadUpTo(ctx context.Context, upTo uint64, fn func(rec journal.Record) error) error {
	last, err := s.LastSeq(ctx)
	if err != nil {
		return err
	}
	if upTo > last {
		return fmt.Errorf("stream: read up to sequence %d: the stream ends at %d", upTo, last)
	}
	err = s.Records(ctx, 1, func(recs []journal.Record) error {
		for _, r := range recs {
			if r.LSN > upTo {
				return errRead
			}
			if err := fn(r); err != nil {
				return err
			}
			if r.LSN == upTo {
				return errRead
			}
		}
		return nil
	})
	if errors.Is(err, errRead) {
		return nil
	}
	return err
}

// SecureDelete deletes the messages with sequences seqs from the stream
// with JetStream's secure erase: the server overwrites each message's
// bytes in its file store before it forgets it, so that the files no
// longer hold them. A sequence already gone is not an error.
func (s *Stream) SecureDelete(ctx context.Context, seqs []uint64) error {
	for _, seq := range seqs {
		if err := s.stream.SecureDeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return s.apiErr(fmt.Sprintf("cannot erase message %d of stream %s", seq, s.cfg.Stream), err)
		}
	}
	return nil
}
