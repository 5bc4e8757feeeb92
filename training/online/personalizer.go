package online

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"nextbest/journal"
	"nextbest/models"
	"nextbest/personalizer"
	"nextbest/state"
)

// PersonalizerConfig configures a Personalizer learner.
type PersonalizerConfig struct {
	// Bits is the hashing dimension's log2 (personalizer.DefaultBits if
	// 0), within [personalizer.MinBits, personalizer.MaxBits].
	Bits int
	// Lambda is the ridge prior precision (default 1).
	Lambda float64
	// Model, if set, is the model to go on from (LoadPersonalizerSnapshot's:
	// its dimension must be 2^Bits), and From the LSN it reflects.
	Model *models.Ridge
	From  uint64
	// ModelUpdate, if set, returns how often the model that ranks takes
	// in what was learned (the live service configuration's
	// modelExportFrequency); 0 or nil: as soon as a batch is learned.
	ModelUpdate func() time.Duration
	// SnapshotPath, if set, is the file Snapshot writes; Run writes it
	// too every SnapshotEvery (0: only when Snapshot is called).
	SnapshotPath  string
	SnapshotEvery time.Duration
	// QueueLen is how many batches Learn queues before it blocks
	// (default 1024).
	QueueLen int
	// Skips, if set, is told of the items the model refuses.
	Skips state.Skips
	// OnUpdate, if set, is called from Run's goroutine with the number of
	// model updates each batch made.
	OnUpdate func(n int)
	Logger   *slog.Logger
}

// Personalizer is the learner of the Personalizer-compatible namespace:
// a ridge regression (models.Ridge, one shared posterior) over the hashed
// rows of package personalizer, updated from the state applier's
// LearnPersonalizerShown and LearnPersonalizerReward items in LSN order
// on Run's goroutine. As the online Learner does with decisions, it adds
// an active slot's row with the reward the applier says (A += xxᵀ,
// b += r·x) and each later change of that reward to b alone, so its
// statistics equal a fit on the final rewards. Rows are rebuilt from the
// journaled rank call (personalizer.EventRow), exactly as the call built
// them, so a rebuild from the journal learns what the live service did.
//
// The model that ranks (Model) is published at most every ModelUpdate,
// as Personalizer's model export frequency says; the watermark
// (Published, WaitFor) advances when it holds a batch's work.
type Personalizer struct {
	cfg   PersonalizerConfig
	bits  int
	model *models.Ridge // Run's
	log   *slog.Logger
	ch    chan learnBatch

	row  personalizer.Row
	scr  personalizer.Scratch
	xbuf []float64

	// processed is the last LSN taken into the model, published or not;
	// touched, whether the model is more than the prior (Run's, and
	// Snapshot's after Run returned)
	processed   uint64
	touched     bool
	snapshotted atomic.Uint64
	published   *watermark
}

// NewPersonalizer validates cfg and returns a learner whose watermark is
// cfg.From. Its errors wrap ErrBadConfig.
func NewPersonalizer(cfg PersonalizerConfig) (*Personalizer, error) {
	if cfg.Bits == 0 {
		cfg.Bits = personalizer.DefaultBits
	}
	switch {
	case cfg.Bits < personalizer.MinBits || cfg.Bits > personalizer.MaxBits:
		return nil, fmt.Errorf("%w: Bits %d not in [%d, %d]", ErrBadConfig, cfg.Bits, personalizer.MinBits, personalizer.MaxBits)
	case cfg.Model != nil && cfg.Model.Dim() != 1<<cfg.Bits:
		return nil, fmt.Errorf("%w: the model's dimension %d is not 2^%d", ErrBadConfig, cfg.Model.Dim(), cfg.Bits)
	case cfg.SnapshotEvery < 0 || cfg.QueueLen < 0:
		return nil, fmt.Errorf("%w: SnapshotEvery and QueueLen must not be negative", ErrBadConfig)
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := cfg.Model
	if m == nil {
		var err error
		if m, err = NewPersonalizerModel(cfg.Bits, cfg.Lambda); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
		}
		cfg.From = 0
	}
	p := &Personalizer{cfg: cfg, bits: cfg.Bits, model: m, log: cfg.Logger,
		ch: make(chan learnBatch, cfg.QueueLen), xbuf: make([]float64, 1<<cfg.Bits),
		processed: cfg.From, published: newWatermark(cfg.From), touched: m.Observations(0) > 0}
	p.snapshotted.Store(cfg.From)
	return p, nil
}

// NewPersonalizerModel returns a new Personalizer model of 2^bits
// dimensions and prior precision lambda (default 1).
func NewPersonalizerModel(bits int, lambda float64) (*models.Ridge, error) {
	return models.NewRidge(models.RidgeConfig{Dim: 1 << bits, Lambda: lambda, Name: fmt.Sprintf("personalizer-ridge(bits=%d)", bits)})
}

// Model returns the model that ranks: it is safe to read (MeanSparse,
// Predict) from any goroutine, and sees what was learned as of the last
// publish.
func (p *Personalizer) Model() *models.Ridge { return p.model }

// Bits returns the hashing dimension's log2.
func (p *Personalizer) Bits() int { return p.bits }

// SnapshotLSN is the LSN of the newest snapshot on disk (From before
// any): the journal must keep every later record.
func (p *Personalizer) SnapshotLSN() uint64 { return p.snapshotted.Load() }

// Learn queues items (copied) and upTo, the LSN they reach, for Run. It
// blocks while QueueLen batches are queued. The state applier calls it
// after each batch.
func (p *Personalizer) Learn(items []state.LearnItem, upTo uint64) {
	p.ch <- learnBatch{items: slices.Clone(items), upTo: upTo}
}

var _ state.Learner = (*Personalizer)(nil)

// Published returns the watermark: the last LSN whose learning work the
// model that ranks holds.
func (p *Personalizer) Published() uint64 { return p.published.get() }

// WaitFor blocks until the model that ranks holds the learning work of
// every record up to lsn, or ctx ends.
func (p *Personalizer) WaitFor(ctx context.Context, lsn uint64) error {
	return p.published.wait(ctx, lsn)
}

func (p *Personalizer) modelUpdate() time.Duration {
	if p.cfg.ModelUpdate == nil {
		return 0
	}
	return max(0, p.cfg.ModelUpdate())
}

// Run learns the queued batches until ctx is cancelled, then drains the
// queue, publishes and returns. A batch that changes nothing advances
// the watermark at once; one that changes the model is published when
// ModelUpdate has passed since the last publish. Run it once.
func (p *Personalizer) Run(ctx context.Context) {
	lastPub, lastSnap := time.Now(), time.Now()
	dirty := false
	publish := func() {
		p.model.PublishMean()
		lastPub, dirty = time.Now(), false
		p.published.set(p.processed)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case b := <-p.ch:
			if p.process(b) > 0 {
				dirty = true
			} else if !dirty {
				p.published.set(p.processed)
			}
		case <-timer.C:
		case <-ctx.Done():
			for {
				select {
				case b := <-p.ch:
					p.process(b)
				default:
					publish()
					return
				}
			}
		}
		if dirty {
			if wait := p.modelUpdate() - time.Since(lastPub); wait <= 0 {
				publish()
			} else if len(p.ch) == 0 {
				timer.Reset(wait)
			}
		}
		if p.cfg.SnapshotEvery > 0 && time.Since(lastSnap) >= p.cfg.SnapshotEvery && p.processed != p.snapshotted.Load() {
			if err := p.Snapshot(); err != nil {
				p.log.Error("cannot snapshot the personalizer model", "err", err)
			}
			lastSnap = time.Now()
		}
	}
}

// process learns a batch and returns the number of model updates.
func (p *Personalizer) process(b learnBatch) int {
	n := 0
	for i := range b.items {
		it := &b.items[i]
		if it.LSN <= p.cfg.From {
			continue
		}
		var err error
		switch it.Kind {
		case state.LearnPersonalizerShown:
			err = p.learn(it, func(x []float64) error { return p.model.Update(0, x, it.Reward) })
		case state.LearnPersonalizerReward:
			err = p.learn(it, func(x []float64) error { return p.model.AddReward(0, x, it.Delta) })
		default:
			continue
		}
		if err != nil {
			p.skip(it.LSN, err)
			continue
		}
		n++
	}
	p.processed = max(p.processed, b.upTo)
	p.touched = p.touched || n > 0
	if n > 0 && p.cfg.OnUpdate != nil {
		p.cfg.OnUpdate(n)
	}
	return n
}

// learn rebuilds the row of an item's slot and hands it to update.
func (p *Personalizer) learn(it *state.LearnItem, update func(x []float64) error) error {
	if it.Rank == nil {
		return &state.ApplyError{Kind: state.KindModel, Err: errors.New("personalizer item without its rank call")}
	}
	if !personalizer.EventRow(&p.row, &p.scr, p.bits, it.Rank, it.Slot) {
		return &state.ApplyError{Kind: state.KindModel, Err: fmt.Errorf("personalizer event %q: slot %d has no chosen action among its actions", it.Rank.EventID, it.Slot)}
	}
	if !p.row.Finite() {
		return &state.ApplyError{Kind: state.KindModel, Err: fmt.Errorf("personalizer event %q: a feature product is not finite", it.Rank.EventID)}
	}
	p.row.Dense(p.xbuf)
	if err := update(p.xbuf); err != nil {
		return &state.ApplyError{Kind: state.KindModel, Err: fmt.Errorf("personalizer event %q: %w", it.Rank.EventID, err)}
	}
	return nil
}

func (p *Personalizer) skip(lsn uint64, err error) {
	if p.cfg.Skips != nil {
		p.cfg.Skips.Skip(lsn, journal.TypePersonalizerRank, err)
		return
	}
	p.log.Error("the personalizer model skipped a journal record", "lsn", lsn, "err", err)
}
