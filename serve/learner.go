package serve

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/journal"
	"nextbest/logs"
	"nextbest/models"
	"nextbest/state"
)

// learner updates the online model from the journal, in LSN order, on its
// own goroutine: it is the state applier's Learner (state.Learner), fed
// the work of each applied batch. The model is ridge regression on sufficient statistics,
// which makes delayed rewards exact: when a decision's actions are shown,
// each is added as an observation with the default reward (A += xxᵀ,
// b += r₀x); when an outcome within the attribution window changes an
// action's learning reward by Δr, only b changes (b += Δr·x). The applier
// works Δr out with the declared reward rule (package logs): an action's
// learning reward is r₀ without outcomes, else the sum over its outcome
// types of each type's aggregate (first, sum or max of the mapped
// rewards). Updates the model refuses (a non-finite row, statistics that
// would overflow) are counted and skipped; the model is never changed by
// them. A reward's decision is read back from the decision index.
type learner struct {
	model         *models.Ridge
	spec          *features.Spec
	cat           *decide.Catalog
	decisions     DecisionIndex
	log           *slog.Logger
	defaultReward float64
	window        time.Duration
	path          string // snapshot file
	publishEvery  time.Duration
	snapshotEvery time.Duration
	onUpdate      func(n int)
	errs          state.Skips

	ch chan learnBatch

	mu   sync.Mutex
	cond *sync.Cond
	done uint64 // last LSN fully processed
	// from is the LSN the loaded model state reflects: records at or below
	// it are already in the model. Set before the learner starts.
	from uint64

	rb   *logs.RowBuilder // made on first use
	xbuf []float64
}

// learnBatch is the learning work of one applied journal batch; upTo is
// the batch's last LSN, so the learner's watermark advances even when a
// batch holds nothing to learn (only events, say).
type learnBatch struct {
	items []state.LearnItem
	upTo  uint64
}

// snapshotMagic starts an online-model snapshot file.
var snapshotMagic = [4]byte{'N', 'B', 'O', 'L'}

func (l *learner) init() {
	l.ch = make(chan learnBatch, 1024)
	l.cond = sync.NewCond(&l.mu)
}

// Learn hands items (copied) and the LSN they reach to the learner
// goroutine, in order: the state applier calls it after each batch.
func (l *learner) Learn(items []state.LearnItem, upTo uint64) {
	l.ch <- learnBatch{items: append([]state.LearnItem(nil), items...), upTo: upTo}
}

// run processes items until ctx is cancelled, then drains the queue. It
// publishes the model at most every publishEvery (and publishEvery after
// the last change when the stream pauses), and snapshots it every
// snapshotEvery. The watermark (waitFor)
// advances only when the model is published, so a waiter sees what it
// waited for in Predict.
func (l *learner) run(ctx context.Context) {
	lastPub, lastSnap := time.Now(), time.Now()
	var pending uint64
	dirty := false
	publish := func() {
		l.model.Publish()
		lastPub = time.Now()
		dirty = false
		l.setDone(pending)
	}
	// Publishing copies every changed posterior: at most once per
	// publishEvery under a steady stream, and when the stream pauses.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case b := <-l.ch:
			l.process(b)
			pending = max(pending, b.upTo)
			dirty = true
		case <-timer.C:
		case <-ctx.Done():
			for {
				select {
				case b := <-l.ch:
					l.process(b)
					pending = max(pending, b.upTo)
				default:
					publish()
					return
				}
			}
		}
		if dirty {
			if wait := l.publishEvery - time.Since(lastPub); wait <= 0 {
				publish()
			} else if len(l.ch) == 0 {
				timer.Reset(wait) // nothing more queued: publish when the interval ends
			}
		}
		if l.snapshotEvery > 0 && time.Since(lastSnap) >= l.snapshotEvery {
			if err := l.saveSnapshot(pending); err != nil {
				l.log.Error("cannot snapshot the online model", "err", err)
			}
			lastSnap = time.Now()
		}
	}
}

func (l *learner) setDone(lsn uint64) {
	l.mu.Lock()
	if lsn > l.done {
		l.done = lsn
	}
	l.cond.Broadcast()
	l.mu.Unlock()
}

func (l *learner) process(b learnBatch) {
	n := 0
	items := b.items
	for i := range items {
		it := &items[i]
		if it.LSN <= l.from {
			continue
		}
		var err error
		switch it.Kind {
		case state.LearnImpression:
			n += l.impression(it)
		case state.LearnReward:
			var ok bool
			ok, err = l.reward(it)
			if ok {
				n++
			}
		}
		if err != nil {
			l.errs.Skip(it.LSN, journal.TypeOutcome, err)
		}
	}
	if n > 0 && l.onUpdate != nil {
		l.onUpdate(n)
	}
}

func (l *learner) doneLSN() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done
}

// waitFor blocks until the learner has processed lsn (or ctx ends).
func (l *learner) waitFor(ctx context.Context, lsn uint64) error {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.done < lsn {
		if err := ctx.Err(); err != nil {
			return err
		}
		l.cond.Wait()
	}
	return nil
}

// rows returns the feature rows of actions ids of decision d, rebuilt from
// the logged inputs exactly as they were assembled live (logs.RowBuilder,
// as batch training rebuilds them), and their catalog indices. Actions no
// longer in the catalog are left out.
func (l *learner) rows(d *journal.Decision, ids []string) ([]float64, []int, error) {
	if l.rb == nil {
		rb, err := logs.NewRowBuilder(l.spec, l.cat)
		if err != nil {
			return nil, nil, err
		}
		l.rb = rb
	}
	x, acts, err := l.rb.Rows(l.xbuf, d, ids)
	l.xbuf = x
	if err != nil {
		return nil, nil, err
	}
	dim := l.spec.Dim()
	k := 0
	for i, a := range acts {
		if a < 0 {
			continue
		}
		if k != i {
			copy(x[k*dim:(k+1)*dim], x[i*dim:(i+1)*dim])
			acts[k] = a
		}
		k++
	}
	return x[:k*dim], acts[:k], nil
}

func (l *learner) impression(it *state.LearnItem) int {
	x, acts := it.X, it.Acts
	if x == nil {
		ids := make([]string, len(it.Decision.Actions))
		for i, a := range it.Decision.Actions {
			ids[i] = a.ActionID
		}
		var err error
		if x, acts, err = l.rows(it.Decision, ids); err != nil {
			// a decision under another feature spec: expected after a spec
			// change, not an error
			l.log.Warn("online model skipped a decision", "lsn", it.LSN, "err", err)
			return 0
		}
	}
	dim := l.spec.Dim()
	n := 0
	for i, a := range acts {
		if err := l.model.Update(a, x[i*dim:(i+1)*dim], l.defaultReward); err != nil {
			l.errs.Skip(it.LSN, journal.TypeDecision, &state.ApplyError{Kind: state.KindModel, Err: fmt.Errorf("impression of action index %d: %w", a, err)})
			continue
		}
		n++
	}
	return n
}

func (l *learner) reward(it *state.LearnItem) (bool, error) {
	o := it.Outcome
	if it.Delta == 0 {
		return false, nil
	}
	d, err := l.decisions.Decision(o.DecisionID)
	if errors.Is(err, state.ErrCorrupt) {
		return false, &state.ApplyError{Kind: state.KindDecode, Err: err}
	}
	if err != nil {
		return false, &state.ApplyError{Kind: state.KindState, Err: fmt.Errorf("decision %s of outcome: %w", o.DecisionID, err)}
	}
	x, acts, err := l.rows(d, []string{o.ActionID})
	if err != nil {
		// a decision under another feature spec, as for impressions
		l.log.Warn("online model skipped an outcome", "lsn", it.LSN, "err", err)
		return false, nil
	}
	if len(acts) == 0 {
		return false, nil // the action left the catalog
	}
	if err := l.model.AddReward(acts[0], x, it.Delta); err != nil {
		return false, &state.ApplyError{Kind: state.KindModel, Err: fmt.Errorf("reward of %s for decision %s: %w", o.ActionID, o.DecisionID, err)}
	}
	return true, nil
}

// saveSnapshot writes the model state with lsn, the last LSN it reflects
// (processed, published or not), to path, atomically (temp file, fsync,
// rename, fsync dir). Called from the learner goroutine, or after it
// stopped. The header also holds a hash of the catalog's action ids, so a
// per-action model is never read back against a reordered catalog.
func (l *learner) saveSnapshot(lsn uint64) error {
	if l.path == "" {
		return nil
	}
	tmp := l.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	hdr := snapshotHeader(lsn, catalogHash(l.cat))
	if _, err = f.Write(hdr[:]); err == nil {
		_, err = l.model.WriteTo(f)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cannot write model snapshot: %w", err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(l.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

const snapshotHeaderSize = 4 + 4 + 8 + 32 + 4

// snapshotHeader is magic "NBOL", version 2, the LSN, the catalog hash and
// a CRC-32C of the bytes before it, little-endian.
func snapshotHeader(lsn uint64, cat [32]byte) [snapshotHeaderSize]byte {
	var h [snapshotHeaderSize]byte
	copy(h[:4], snapshotMagic[:])
	binary.LittleEndian.PutUint32(h[4:], 2)
	binary.LittleEndian.PutUint64(h[8:], lsn)
	copy(h[16:48], cat[:])
	binary.LittleEndian.PutUint32(h[48:], crc32.Checksum(h[:48], crc32.MakeTable(crc32.Castagnoli)))
	return h
}

// catalogHash is the SHA-256 of the catalog's action ids in order.
func catalogHash(c *decide.Catalog) [32]byte {
	h := sha256.New()
	for _, a := range c.Actions {
		h.Write([]byte(a.ID))
		h.Write([]byte{0})
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// errSnapshotCatalog says a snapshot was taken under another catalog.
var errSnapshotCatalog = errors.New("model snapshot was taken with another action catalog")

// errSnapshotOverflow says a snapshot holds statistics past
// models.MaxRidgeStat: written before the model guarded against them (a
// poisoned outcome), it cannot serve, and is rebuilt from the journal.
var errSnapshotOverflow = errors.New("model snapshot holds statistics out of range")

// loadSnapshot reads a snapshot written by saveSnapshot. It returns
// os.ErrNotExist when there is none, errSnapshotCatalog (with the model)
// when the catalog's actions changed since, and errSnapshotOverflow when
// its statistics are out of range.
func loadSnapshot(path string, cat *decide.Catalog) (*models.Ridge, uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var hdr [snapshotHeaderSize]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return nil, 0, fmt.Errorf("model snapshot %q: %w", path, err)
	}
	if [4]byte(hdr[:4]) != snapshotMagic || binary.LittleEndian.Uint32(hdr[4:]) != 2 ||
		binary.LittleEndian.Uint32(hdr[48:]) != crc32.Checksum(hdr[:48], crc32.MakeTable(crc32.Castagnoli)) {
		return nil, 0, fmt.Errorf("model snapshot %q: bad header", path)
	}
	m, err := models.ReadRidge(f)
	if err != nil {
		return nil, 0, fmt.Errorf("model snapshot %q: %w", path, err)
	}
	if [32]byte(hdr[16:48]) != catalogHash(cat) {
		return m, 0, errSnapshotCatalog
	}
	if err := m.CheckStats(); err != nil {
		return m, 0, fmt.Errorf("%w: %w", errSnapshotOverflow, err)
	}
	return m, binary.LittleEndian.Uint64(hdr[8:]), nil
}
