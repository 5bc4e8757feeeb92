package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/cluster"
	"nextbest/erasure"
	"nextbest/journal"
	"nextbest/state"
)

// DefaultErasureDelay is Config.ErasureDelay's default.
const DefaultErasureDelay = 10 * time.Minute

// handleErase answers DELETE /v1/customers/{id} (scope privacy): the
// customer's erasure (package erasure tells the whole of it). The erasure
// record is journaled and applied before the answer, so from the answer
// on their profile is 404, their decisions are not returned or joined to
// outcomes, and exports and training skip them; within Config.ErasureDelay
// their records are redacted from the journal and the engines' files.
// An unknown customer (no profile) is 404.
func (s *Service) handleErase(ctx *fasthttp.RequestCtx, raw string) {
	id, _, ok := s.pathProfile(ctx, raw)
	if !ok {
		return
	}
	now := s.cfg.Now().UTC()
	e := journal.Erasure{V: journal.SchemaVersion, ID: newErasureID(now), CustomerID: id, Time: now, By: caller(ctx)}
	_, payload, err := journal.Encode(e)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	lsn, err := s.journal.AppendLive(context.Background(), journal.TypeErasure, now, payload, nil)
	if err != nil {
		s.journalError(ctx, err)
		return
	}
	select {
	case s.eraseKick <- struct{}{}:
	default:
	}
	writeJSON(ctx, 202, map[string]any{
		"status": "erased", "erasure_id": e.ID, "customer_id": id, "lsn": lsn,
		// by when the journal and the engines' files no longer hold them
		"purged_by": now.Add(s.cfg.ErasureDelay),
	})
}

// newErasureID is a new erasure's id: its time and 8 random bytes.
func newErasureID(at time.Time) string {
	var b [8]byte
	rand.Read(b[:])
	return fmt.Sprintf("er-%s-%s", at.Format("20060102T150405Z"), hex.EncodeToString(b[:]))
}

// Redactor takes the records of pending erasures out of the journal's
// storage: embedded, journal.Journal.Redact (tombstones in place); on the
// cluster path, the stream's secure deletion.
type Redactor interface {
	Redact(ctx context.Context, set *erasure.Set) (records int, err error)
}

// embeddedRedactor is the embedded journal's Redactor.
type embeddedRedactor struct{ j *journal.Journal[state.Live] }

func (r embeddedRedactor) Redact(_ context.Context, set *erasure.Set) (int, error) {
	res, err := r.j.Redact(set.MaxLSN(), set.Redact)
	return res.Records, err
}

// PurgeErasures runs the eraser now: the pending erasures' records are
// redacted from the journal (Redactor), then their decisions' index
// entries and pending marks leave the state, whose engine compacts its
// files. It returns how many erasures it finished. On the cluster path
// only the instance that applies the stream (the lease holder) purges.
func (s *Service) PurgeErasures() (int, error) {
	s.purgeMu.Lock()
	defer s.purgeMu.Unlock()
	if s.redactor == nil || s.node != nil && !s.node.Lease().Held() {
		return 0, nil // on the cluster path the applier lease's holder purges
	}
	pending, err := s.state.PendingErasures()
	if err != nil || len(pending) == 0 {
		return 0, err
	}
	set := erasure.NewSet(pending)
	// the erasures' effect on the state durable first: once the journal
	// no longer names the customers, a replay after a crash could not
	// redo it
	if err := s.state.Sync(); err != nil {
		return 0, fmt.Errorf("cannot make the erasures durable in the state: %w", err)
	}
	n, err := s.redactor.Redact(s.background, set)
	if errors.Is(err, cluster.ErrNotApplier) {
		return 0, nil // the applier lease's holder purges
	}
	if err != nil {
		return 0, fmt.Errorf("cannot redact the journal: %w", err)
	}
	if err := s.state.FinishErasure(set); err != nil {
		return 0, fmt.Errorf("cannot finish the erasures in the state: %w", err)
	}
	s.log.Info("erasures purged", "erasures", set.Len(), "records", n)
	return set.Len(), nil
}

// eraser purges the pending erasures once the oldest is half the delay
// old, looking every quarter of the delay (and after each erasure): so
// erasures arriving together are purged together, and each within three
// quarters of the delay plus the purge's own time. Ages are measured on
// the wall clock from when this instance first saw the erasure pending
// (after a restart, from the restart).
func (s *Service) eraser() {
	d := s.cfg.ErasureDelay
	t := time.NewTicker(max(d/4, time.Millisecond))
	defer t.Stop()
	seen := map[string]time.Time{} // erasure id → first seen pending
	for {
		select {
		case <-s.background.Done():
			return
		case <-t.C:
		case <-s.eraseKick:
		}
		pending, err := s.state.PendingErasures()
		if err != nil {
			s.log.Error("cannot read the pending erasures", "err", err)
			continue
		}
		now, due := time.Now(), false
		ids := map[string]bool{}
		for _, p := range pending {
			ids[p.ID] = true
			first, ok := seen[p.ID]
			if !ok {
				first, seen[p.ID] = now, now
			}
			due = due || now.Sub(first) >= d/2
		}
		for id := range seen {
			if !ids[id] {
				delete(seen, id)
			}
		}
		if !due {
			continue // the ticker looks again
		}
		if _, err := s.PurgeErasures(); err != nil {
			s.log.Error("cannot purge erasures", "err", err)
		}
	}
}
