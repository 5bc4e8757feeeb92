package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"nextbest/erasure"
	"nextbest/journal"
)

// ErrNotApplier is Redact's error on an instance that does not hold the
// applier lease: the holder purges erasures, one instance at a time.
var ErrNotApplier = errors.New("cluster: this instance does not hold the applier lease")

// Redact takes the records of set's pending erasures out of the stream
// (package erasure has the rules): it reads the stream up to the last
// erasure, publishes each erasure anew in its redacted form (naming the
// original, journal.Erasure.Replaces, so the audit trail keeps one entry),
// and then deletes every record of the erased customers and the original
// erasure records with JetStream's secure erase. It returns how many
// messages it erased. Only the applier lease's holder redacts.
func (n *Node) Redact(ctx context.Context, set *erasure.Set) (int, error) {
	if !n.lease.Held() {
		return 0, ErrNotApplier
	}
	var (
		seqs     []uint64
		redacted []journal.Record
	)
	err := n.stream.ReadUpTo(ctx, set.MaxLSN(), func(rec journal.Record) error {
		if _, ok := set.Erases(&rec); ok {
			seqs = append(seqs, rec.LSN)
			return nil
		}
		if b, ok := set.Redacted(&rec); ok {
			var e journal.Erasure
			if err := json.Unmarshal(b, &e); err != nil {
				return err
			}
			e.Replaces = rec.LSN
			p, err := json.Marshal(e)
			if err != nil {
				return err
			}
			seqs = append(seqs, rec.LSN)
			redacted = append(redacted, journal.Record{LSN: rec.LSN, Type: journal.TypeErasure, Time: rec.Time, Payload: p})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cannot read the stream: %w", err)
	}
	for _, r := range redacted {
		// the id makes a retry after a failure below the same record
		if _, _, err := n.stream.Publish(ctx, fmt.Sprintf("erasure/%d", r.LSN), r.Type, r.Time, r.Payload); err != nil {
			return 0, fmt.Errorf("cannot publish the redacted erasure %d: %w", r.LSN, err)
		}
	}
	if err := n.stream.SecureDelete(ctx, seqs); err != nil {
		return 0, err
	}
	return len(seqs), nil
}
