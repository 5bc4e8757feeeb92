package online

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/journal"
	"nextbest/logs"
	"nextbest/models"
	"nextbest/state"
)

// Decisions reads back the decision an outcome names (embedded:
// state.Store).
type Decisions interface {
	// Decision returns decision id. Its errors: one wrapping
	// state.ErrNotFound when the index does not hold it, state.ErrCorrupt
	// for an entry that does not decode; any other means the index cannot
	// answer now. Learner does not modify the decision returned.
	Decision(id string) (*journal.Decision, error)
}

// Config configures a Learner. Model, Spec, Catalog and
// Decisions are required; the other fields take the documented defaults.
type Config struct {
	// Model is the online model: Learner is its one writer while Run runs,
	// and publishes it for decisions to read (models.Ridge.Predict). Its
	// Dim must be Spec.Dim(), and a per-action model must hold one
	// posterior per catalog action.
	Model *models.Ridge
	// Spec and Catalog rebuild the rows of logged decisions
	// (logs.RowBuilder); Catalog must have been parsed with Spec.
	Spec    *features.Spec
	Catalog *decide.Catalog
	// Decisions reads back the decision of each reward.
	Decisions Decisions
	// DefaultReward is r₀, the reward each impression is learned with
	// until an outcome corrects it.
	DefaultReward float64
	// From is the LSN Model already reflects (LoadSnapshot's): items at or
	// below it are skipped, and the watermark starts there.
	From uint64
	// PublishEvery bounds how often Run publishes the model (default
	// 10ms): publishing copies every changed posterior, so it is batched.
	PublishEvery time.Duration
	// SnapshotPath, if set, is the file Snapshot writes; Run writes it too
	// every SnapshotEvery (0: only when Snapshot is called).
	SnapshotPath  string
	SnapshotEvery time.Duration
	// QueueLen is how many batches Learn queues before it blocks (default
	// 1024).
	QueueLen int
	// Skips, if set, is told of the items the model refuses and of the
	// rewards whose decision cannot be read; they are logged at ERROR
	// otherwise. It must be safe for concurrent use.
	Skips state.Skips
	// Positions, if set, is the position model of multi-slot decisions
	// (logs.PositionModel): the row of an action shown in slot k is
	// learned scaled by its examination factor θₖ, at its impression and
	// at its rewards, as batch training's rows are (RowBuilder.ShownRows),
	// so the model learns the actions' relevance rather than their
	// positions. Slot 0's rows are unchanged.
	Positions *logs.PositionModel
	// OnUpdate, if set, is called from Run's goroutine with the number of
	// model updates (impressions and rewards) each batch made.
	OnUpdate func(n int)
	Logger   *slog.Logger
}

// Learner is the online learner: it updates the online ridge model from
// the journal, in LSN order, on Run's goroutine. It is the state
// applier's Learner (state.Learner), handed the learning work of each
// applied batch.
//
// The model keeps sufficient statistics, which makes delayed rewards
// exact: when a decision's actions are shown (state.LearnImpression: when
// it is made, or for one made with defer_activation, the slots of each
// activation),
// each is added as an observation with the default reward (A += xxᵀ,
// b += r₀x); when an outcome changes an action's learning reward by Δr
// (state.LearnReward), only b changes (b += Δr·x). The applier works Δr
// out with the declared reward rule of package logs, and applies the
// attribution window; Learner rebuilds the rows with logs.RowBuilder, as
// batch training does, so the two learn the same statistics.
//
// What Learner leaves out, as logs.Join does: decisions logged under
// another feature spec, actions no longer in the catalog, and outcomes
// for an action the decision did not return. What it refuses (a
// non-finite row, statistics that would overflow, a reward whose decision
// cannot be read) is reported to Skips and skipped; the model is never
// changed by it and the learner goes on.
type Learner struct {
	cfg   Config
	model *models.Ridge
	log   *slog.Logger
	rb    *logs.RowBuilder
	xbuf  []float64

	ch chan learnBatch

	// processed is the last LSN Run has taken into the model, published
	// or not: Run's, or whoever calls Snapshot after Run returned.
	processed uint64
	// snapshotted is the LSN of the last snapshot written (cfg.From, the
	// one the learner started from, before any)
	snapshotted atomic.Uint64

	published *watermark // the last LSN published
}

// learnBatch is the learning work of one applied journal batch; upTo is
// the batch's last LSN, so the watermark advances even when a batch holds
// nothing to learn (only events, say).
type learnBatch struct {
	items []state.LearnItem
	upTo  uint64
}

// New validates cfg and returns a learner whose watermark is
// cfg.From. Its errors wrap ErrBadConfig.
func New(cfg Config) (*Learner, error) {
	switch {
	case cfg.Model == nil || cfg.Spec == nil || cfg.Catalog == nil || cfg.Decisions == nil:
		return nil, fmt.Errorf("%w: Config.Model, Spec, Catalog and Decisions are required", ErrBadConfig)
	case cfg.Model.Dim() != cfg.Spec.Dim():
		return nil, fmt.Errorf("%w: the model's dimension %d is not the feature spec's %d", ErrBadConfig, cfg.Model.Dim(), cfg.Spec.Dim())
	case cfg.Model.Actions() != 0 && cfg.Model.Actions() != len(cfg.Catalog.Actions):
		return nil, fmt.Errorf("%w: the model has %d per-action posteriors, the catalog %d actions", ErrBadConfig, cfg.Model.Actions(), len(cfg.Catalog.Actions))
	case cfg.PublishEvery < 0 || cfg.SnapshotEvery < 0 || cfg.QueueLen < 0:
		return nil, fmt.Errorf("%w: PublishEvery, SnapshotEvery and QueueLen must not be negative", ErrBadConfig)
	}
	if cfg.PublishEvery == 0 {
		cfg.PublishEvery = 10 * time.Millisecond
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rb, err := logs.NewRowBuilder(cfg.Spec, cfg.Catalog)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	l := &Learner{cfg: cfg, model: cfg.Model, log: cfg.Logger, rb: rb,
		ch: make(chan learnBatch, cfg.QueueLen), processed: cfg.From, published: newWatermark(cfg.From)}
	l.snapshotted.Store(cfg.From)
	return l, nil
}

// SnapshotLSN is the LSN of the newest model snapshot on disk (the one
// the learner started from, before it wrote any): a restart replays the
// journal from after it, so the journal must keep every later record.
func (l *Learner) SnapshotLSN() uint64 { return l.snapshotted.Load() }

// Learn queues items (the slice is copied; what the items point to
// becomes the learner's) and upTo, the LSN they reach, for Run, in order.
// It blocks while QueueLen batches are queued. The state applier calls it
// after each batch it applies.
func (l *Learner) Learn(items []state.LearnItem, upTo uint64) {
	l.ch <- learnBatch{items: slices.Clone(items), upTo: upTo}
}

var _ state.Learner = (*Learner)(nil)

// Run learns the queued batches until ctx is cancelled, then drains the
// queue, publishes and returns. It publishes the model at most every
// PublishEvery under a steady stream, and PublishEvery after the last
// change when the stream pauses; the watermark (Published, WaitFor)
// advances only when the model is published, so a waiter sees what it
// waited for in Predict. It snapshots the model every SnapshotEvery.
// Run it once.
func (l *Learner) Run(ctx context.Context) {
	lastPub, lastSnap := time.Now(), time.Now()
	dirty := false
	publish := func() {
		l.model.Publish()
		lastPub = time.Now()
		dirty = false
		l.published.set(l.processed)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case b := <-l.ch:
			l.process(b)
			dirty = true
		case <-timer.C:
		case <-ctx.Done():
			for {
				select {
				case b := <-l.ch:
					l.process(b)
				default:
					publish()
					return
				}
			}
		}
		if dirty {
			if wait := l.cfg.PublishEvery - time.Since(lastPub); wait <= 0 {
				publish()
			} else if len(l.ch) == 0 {
				timer.Reset(wait) // nothing more queued: publish when the interval ends
			}
		}
		if l.cfg.SnapshotEvery > 0 && time.Since(lastSnap) >= l.cfg.SnapshotEvery {
			if err := l.Snapshot(); err != nil {
				l.log.Error("cannot snapshot the online model", "err", err)
			}
			lastSnap = time.Now()
		}
	}
}

// Published returns the watermark: the last LSN whose learning work the
// published model holds.
func (l *Learner) Published() uint64 { return l.published.get() }

// WaitFor blocks until the published model holds the learning work of
// every record up to lsn, or ctx ends (its error).
func (l *Learner) WaitFor(ctx context.Context, lsn uint64) error {
	return l.published.wait(ctx, lsn)
}

func (l *Learner) process(b learnBatch) {
	n := 0
	for i := range b.items {
		it := &b.items[i]
		if it.LSN <= l.cfg.From {
			continue
		}
		switch it.Kind {
		case state.LearnImpression:
			n += l.impression(it)
		case state.LearnReward:
			ok, err := l.reward(it)
			if err != nil {
				l.skip(it.LSN, journal.TypeOutcome, err)
			}
			if ok {
				n++
			}
		}
	}
	l.processed = max(l.processed, b.upTo)
	if n > 0 && l.cfg.OnUpdate != nil {
		l.cfg.OnUpdate(n)
	}
}

func (l *Learner) skip(lsn uint64, typ journal.Type, err error) {
	if l.cfg.Skips != nil {
		l.cfg.Skips.Skip(lsn, typ, err)
		return
	}
	l.log.Error("the online model skipped a journal record", "kind", state.KindOf(err), "lsn", lsn, "type", typ.String(), "err", err)
}

// rows returns the feature rows of actions ids of decision d, rebuilt from
// the logged inputs exactly as they were assembled live (id i as slot
// slots[i] scored it: a declared slot's context counts), and their
// catalog indices. Actions no longer in the catalog are left out.
//
// When the position model is set, each row is also scaled by its slot's
// factor.
func (l *Learner) rows(d *journal.Decision, ids []string, slots []int) ([]float64, []int, error) {
	x, acts, err := l.rb.SlotRows(l.xbuf, d, ids, slots)
	l.xbuf = x
	if err != nil {
		return nil, nil, err
	}
	dim := l.cfg.Spec.Dim()
	k := 0
	for i, a := range acts {
		if a < 0 {
			continue
		}
		if k != i {
			copy(x[k*dim:(k+1)*dim], x[i*dim:(i+1)*dim])
			acts[k] = a
		}
		if l.cfg.Positions != nil && slots != nil {
			scaleRow(x[k*dim:(k+1)*dim], l.cfg.Positions.Factor(slots[i]))
		}
		k++
	}
	return x[:k*dim], acts[:k], nil
}

// scaleRow multiplies row by f (the position model's factor of its slot).
func scaleRow(row []float64, f float64) {
	if f == 1 {
		return
	}
	for j := range row {
		row[j] *= f
	}
}

func (l *Learner) impression(it *state.LearnItem) int {
	x, acts := it.X, it.Acts
	if x == nil {
		if it.Decision == nil {
			l.skip(it.LSN, journal.TypeDecision, &state.ApplyError{Kind: state.KindModel, Err: errors.New("impression without a decision or rows")})
			return 0
		}
		ids := make([]string, 0, len(it.Decision.Actions))
		slots := make([]int, 0, len(it.Decision.Actions))
		if it.Slots == nil {
			for _, a := range it.Decision.Actions {
				ids, slots = append(ids, a.ActionID), append(slots, a.Slot)
			}
		}
		for _, s := range it.Slots {
			// an activation's slots: only they were shown
			if s < 0 || s >= len(it.Decision.Actions) {
				l.skip(it.LSN, journal.TypeActivation, &state.ApplyError{Kind: state.KindModel, Err: fmt.Errorf("impression of slot %d of a decision of %d actions", s, len(it.Decision.Actions))})
				return 0
			}
			ids, slots = append(ids, it.Decision.Actions[s].ActionID), append(slots, it.Decision.Actions[s].Slot)
		}
		var err error
		if x, acts, err = l.rows(it.Decision, ids, slots); err != nil {
			// a decision under another feature spec: expected after a spec
			// change, not an error
			l.log.Warn("online model skipped a decision", "lsn", it.LSN, "err", err)
			return 0
		}
	}
	dim := l.cfg.Spec.Dim()
	if len(x) != len(acts)*dim {
		l.skip(it.LSN, journal.TypeDecision, &state.ApplyError{Kind: state.KindModel, Err: fmt.Errorf("impression of %d actions with %d values, want %d per action", len(acts), len(x), dim)})
		return 0
	}
	if it.X != nil && l.cfg.Positions != nil {
		// the handler's rows: the returned actions in slot order, the
		// learner's copy (state.Applier clones them)
		for i := range acts {
			scaleRow(x[i*dim:(i+1)*dim], l.cfg.Positions.Factor(i))
		}
	}
	n := 0
	for i, a := range acts {
		if err := l.model.Update(a, x[i*dim:(i+1)*dim], l.cfg.DefaultReward); err != nil {
			l.skip(it.LSN, journal.TypeDecision, &state.ApplyError{Kind: state.KindModel, Err: fmt.Errorf("impression of action index %d: %w", a, err)})
			continue
		}
		n++
	}
	return n
}

// reward applies a reward item: it reports whether the model changed, and
// why the item was refused.
func (l *Learner) reward(it *state.LearnItem) (bool, error) {
	o := it.Outcome
	if o == nil {
		return false, &state.ApplyError{Kind: state.KindModel, Err: errors.New("reward without an outcome")}
	}
	if it.Delta == 0 {
		return false, nil
	}
	d, err := l.cfg.Decisions.Decision(o.DecisionID)
	if errors.Is(err, state.ErrCorrupt) {
		return false, &state.ApplyError{Kind: state.KindDecode, Err: err}
	}
	if err != nil {
		return false, &state.ApplyError{Kind: state.KindState, Err: fmt.Errorf("decision %s of outcome: %w", o.DecisionID, err)}
	}
	if !slices.ContainsFunc(d.Actions, func(a journal.LoggedAction) bool { return a.ActionID == o.ActionID }) {
		// an outcome for an action the decision did not return: it was
		// never shown, so it teaches nothing (logs.Join ignores it too:
		// JoinStats.NotShown)
		return false, nil
	}
	slot := 0
	for _, a := range d.Actions {
		if a.ActionID == o.ActionID {
			slot = a.Slot
			break
		}
	}
	x, acts, err := l.rows(d, []string{o.ActionID}, []int{slot})
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
