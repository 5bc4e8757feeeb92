package online_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/internal/journaltest"
	"nextbest/journal"
	"nextbest/logs"
	"nextbest/models"
	"nextbest/state"
	"nextbest/training/online"
)

// index is an in-memory decision index: the decisions by id, and ids
// whose entry "does not decode".
type index struct {
	decisions map[string]*journal.Decision
	corrupt   map[string]bool
}

func (ix *index) Decision(id string) (*journal.Decision, error) {
	if ix.corrupt[id] {
		return nil, fmt.Errorf("decision %s: %w", id, state.ErrCorrupt)
	}
	if d, ok := ix.decisions[id]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("decision %s: %w", id, state.ErrNotFound)
}

func (ix *index) add(ds ...journal.Decision) {
	if ix.decisions == nil {
		ix.decisions = map[string]*journal.Decision{}
	}
	for i := range ds {
		ix.decisions[ds[i].DecisionID] = &ds[i]
	}
}

// skips records what a learner skipped, by LSN, as the kind of its error.
type skips struct {
	mu    sync.Mutex
	kinds map[uint64]string
}

func (s *skips) Skip(lsn uint64, _ journal.Type, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kinds == nil {
		s.kinds = map[uint64]string{}
	}
	s.kinds[lsn] = state.KindOf(err)
}

func (s *skips) get() map[uint64]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.kinds)
}

// onlineEnv is a learner's fixed inputs: the retail sample, a fresh
// per-action model and a decision index.
type onlineEnv struct {
	spec *features.Spec
	cat  *decide.Catalog
	rb   *logs.RowBuilder
	ix   *index
}

func newOnlineEnv(t testing.TB) *onlineEnv {
	t.Helper()
	spec, cat := journaltest.Retail(t)
	rb, err := logs.NewRowBuilder(spec, cat)
	if err != nil {
		t.Fatal(err)
	}
	return &onlineEnv{spec: spec, cat: cat, rb: rb, ix: &index{}}
}

func (e *onlineEnv) ridgeConfig() models.RidgeConfig {
	return models.RidgeConfig{Dim: e.spec.Dim(), Actions: len(e.cat.Actions), Name: "linucb"}
}

// config returns a valid configuration over a fresh model; tests change
// what they test.
func (e *onlineEnv) config(t testing.TB) online.Config {
	t.Helper()
	m, err := models.NewRidge(e.ridgeConfig())
	if err != nil {
		t.Fatal(err)
	}
	return online.Config{Model: m, Spec: e.spec, Catalog: e.cat, Decisions: e.ix, PublishEvery: time.Millisecond}
}

// start returns a learner of cfg running until stop, which cancels Run
// and waits for it to return.
func start(t testing.TB, cfg online.Config) (l *online.Learner, stop func()) {
	t.Helper()
	l, err := online.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return l, stop
}

// rows rebuilds the rows of d's returned actions with logs.RowBuilder, the
// rows the learner must learn, with their catalog indices.
func (e *onlineEnv) rows(t testing.TB, d *journal.Decision) ([]float64, []int) {
	t.Helper()
	ids := make([]string, len(d.Actions))
	for i, a := range d.Actions {
		ids[i] = a.ActionID
	}
	x, acts, err := e.rb.Rows(nil, d, ids)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Clone(x), slices.Clone(acts)
}

func impression(lsn uint64, d *journal.Decision) state.LearnItem {
	return state.LearnItem{LSN: lsn, Kind: state.LearnImpression, Decision: d}
}

func reward(lsn uint64, d *journal.Decision, action string, delta float64) state.LearnItem {
	o := journaltest.Outcome(d.DecisionID, action, "conversion", 1, d.Time.Add(time.Minute))
	return state.LearnItem{LSN: lsn, Kind: state.LearnReward, Outcome: &o, Delta: delta}
}

// handFit accumulates ridge statistics the plain way: XtX = Σ xxᵀ (upper
// triangle), Xty = Σ r·x with r each row's final reward, N the rows.
type handFit struct {
	dim   int
	stats []models.RidgeStats
}

func newHandFit(dim, actions int) *handFit {
	h := &handFit{dim: dim, stats: make([]models.RidgeStats, actions)}
	for a := range h.stats {
		h.stats[a] = models.RidgeStats{XtX: make([]float64, dim*dim), Xty: make([]float64, dim)}
	}
	return h
}

func (h *handFit) add(a int, x []float64, r float64) {
	s := &h.stats[a]
	for i := range h.dim {
		for j := i; j < h.dim; j++ {
			s.XtX[i*h.dim+j] += x[i] * x[j]
		}
		s.Xty[i] += r * x[i]
	}
	s.N++
}

// checkStats fails t unless got holds want's statistics, to 1e-12 of
// their scale: the learner adds r₀·x and then each Δr·x where the hand
// fit adds (r₀ + ΣΔr)·x, and A − λI is rounded where XtX is not.
func checkStats(t testing.TB, cat *decide.Catalog, got, want []models.RidgeStats) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d posteriors, want %d", len(got), len(want))
	}
	for a := range got {
		if got[a].N != want[a].N {
			t.Errorf("action %s: N = %d, want %d", cat.Actions[a].ID, got[a].N, want[a].N)
		}
		if d, scale := journaltest.MaxDiff(got[a].XtX, want[a].XtX); d > 1e-12*scale {
			t.Errorf("action %s: XtX differs by %g (scale %g)", cat.Actions[a].ID, d, scale)
		}
		if d, scale := journaltest.MaxDiff(got[a].Xty, want[a].Xty); d > 1e-12*scale {
			t.Errorf("action %s: Xty differs by %g (scale %g)\ngot  %v\nwant %v", cat.Actions[a].ID, d, scale, got[a].Xty, want[a].Xty)
		}
	}
}

// TestOnlineStatsByHand feeds impressions (with the handler's rows, and
// without: rebuilt from the decision) and reward deltas, and requires the
// model's sufficient statistics to be those of a ridge fit by hand on the
// same rows with each action's final reward r₀ + ΣΔr; the published model
// predicts what NewRidgeFromStats of the hand fit predicts.
func TestOnlineStatsByHand(t *testing.T) {
	e := newOnlineEnv(t)
	h := e.spec.Hash()
	d1 := journaltest.Decision("d-1", journaltest.T0, h, "free-shipping", "welcome-15")
	d2 := journaltest.Decision("d-2", journaltest.T0.Add(time.Minute), h, "new-arrivals")
	d3 := journaltest.Decision("d-3", journaltest.T0.Add(2*time.Minute), h, "free-shipping", "retired-offer") // one action left the catalog
	d3.Context["cart_value"] = 12.0
	e.ix.add(d1, d2, d3)
	const r0 = -0.25
	cfg := e.config(t)
	cfg.DefaultReward = r0
	var updates int
	cfg.OnUpdate = func(n int) { updates += n }
	var sk skips
	cfg.Skips = &sk
	l, stop := start(t, cfg)

	x1, a1 := e.rows(t, &d1)
	it1 := impression(1, nil)
	it1.X, it1.Acts = x1, a1 // as the decide handler hands them
	l.Learn([]state.LearnItem{it1, impression(2, &d2)}, 3)
	l.Learn([]state.LearnItem{
		reward(4, &d1, "free-shipping", 1.25),
		reward(5, &d1, "welcome-15", -0.5),
		reward(6, &d2, "new-arrivals", 3),
		reward(7, &d2, "new-arrivals", 0.5),
		impression(8, &d3),
		reward(9, &d3, "free-shipping", 2),
		reward(10, &d3, "retired-offer", 1), // not in the catalog: nothing to learn
		reward(11, &d1, "free-shipping", 0), // no change
	}, 12)
	if err := l.WaitFor(context.Background(), 12); err != nil {
		t.Fatal(err)
	}
	stop()

	// the hand fit: each shown catalog action once, with its final reward
	dim := e.spec.Dim()
	fit := newHandFit(dim, len(e.cat.Actions))
	final := map[string]float64{
		"d-1/free-shipping": r0 + 1.25, "d-1/welcome-15": r0 - 0.5,
		"d-2/new-arrivals":  r0 + 3 + 0.5,
		"d-3/free-shipping": r0 + 2,
	}
	for _, d := range []*journal.Decision{&d1, &d2, &d3} {
		x, acts := e.rows(t, d)
		for i, a := range acts {
			if a < 0 {
				continue
			}
			fit.add(a, x[i*dim:(i+1)*dim], final[d.DecisionID+"/"+d.Actions[i].ActionID])
		}
	}
	checkStats(t, e.cat, cfg.Model.Stats(), fit.stats)
	if want := 4 + 5; updates != want { // 4 impressions of catalog actions, 5 rewards that changed the model
		t.Errorf("OnUpdate counted %d updates, want %d", updates, want)
	}
	if got := sk.get(); len(got) != 0 {
		t.Errorf("skipped %v, want nothing", got)
	}

	// the published model predicts what the hand fit does
	byHand, err := models.NewRidgeFromStats(e.ridgeConfig(), fit.stats)
	if err != nil {
		t.Fatal(err)
	}
	x, acts := e.rows(t, &d3)
	x, acts = x[:dim], acts[:1]
	for a := range e.cat.Actions {
		acts[0] = a
		var m1, s1, m2, s2 [1]float64
		cfg.Model.Predict(m1[:], s1[:], acts, x)
		byHand.Predict(m2[:], s2[:], acts, x)
		if math.Abs(m1[0]-m2[0]) > 1e-9 || math.Abs(s1[0]-s2[0]) > 1e-9 {
			t.Errorf("action %s: online predicts %g ± %g, the hand fit %g ± %g", e.cat.Actions[a].ID, m1[0], s1[0], m2[0], s2[0])
		}
	}
}

// TestOnlinePublish pins the watermark: it advances only when the model
// is published, a waiter sees in Predict what it waited for, a batch with
// nothing to learn still advances it, and PublishEvery batches publishing.
func TestOnlinePublish(t *testing.T) {
	e := newOnlineEnv(t)
	d := journaltest.Decision("d-1", journaltest.T0, e.spec.Hash(), "free-shipping")
	e.ix.add(d)
	x, acts := e.rows(t, &d)
	predict := func(m *models.Ridge) float64 {
		var mean, std [1]float64
		m.Predict(mean[:], std[:], acts, x)
		return mean[0]
	}

	t.Run("a waiter sees what it waited for", func(t *testing.T) {
		cfg := e.config(t)
		cfg.DefaultReward = 1
		l, _ := start(t, cfg)
		if got := l.Published(); got != 0 {
			t.Fatalf("Published = %d before any work, want 0", got)
		}
		l.Learn([]state.LearnItem{impression(3, &d)}, 3)
		if err := l.WaitFor(context.Background(), 3); err != nil {
			t.Fatal(err)
		}
		if got := predict(cfg.Model); !(got > 0) {
			t.Errorf("after WaitFor(3) the published model predicts %g, want the impression's reward 1 learned (> 0)", got)
		}
		// a batch with nothing to learn (events only) advances it too
		l.Learn(nil, 9)
		if err := l.WaitFor(context.Background(), 9); err != nil {
			t.Fatal(err)
		}
		if got := l.Published(); got != 9 {
			t.Errorf("Published = %d, want 9", got)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := l.WaitFor(ctx, 10); !errors.Is(err, context.Canceled) {
			t.Errorf("WaitFor(10) with a cancelled context = %v, want context.Canceled", err)
		}
	})

	t.Run("at most every PublishEvery", func(t *testing.T) {
		cfg := e.config(t)
		cfg.DefaultReward = 1
		cfg.PublishEvery = time.Hour
		processed := make(chan int, 2)
		cfg.OnUpdate = func(n int) { processed <- n }
		l, stop := start(t, cfg)
		l.Learn([]state.LearnItem{impression(1, &d)}, 1)
		l.Learn([]state.LearnItem{impression(2, &d)}, 2)
		<-processed
		<-processed // Run has decided, after batch 1, not to publish yet
		if got := l.Published(); got != 0 {
			t.Errorf("Published = %d within PublishEvery, want 0", got)
		}
		if got := predict(cfg.Model); got != 0 {
			t.Errorf("the model predicts %g before it is published, want the prior 0", got)
		}
		stop() // Run drains and publishes when it stops
		if got := l.Published(); got != 2 {
			t.Errorf("Published = %d after Run returned, want 2", got)
		}
		if got := predict(cfg.Model); !(got > 0) {
			t.Errorf("after Run returned the model predicts %g, want > 0", got)
		}
		if st := cfg.Model.Stats(); st[acts[0]].N != 2 {
			t.Errorf("N = %d, want 2", st[acts[0]].N)
		}
	})

	t.Run("From", func(t *testing.T) {
		cfg := e.config(t)
		cfg.From = 5
		l, stop := start(t, cfg)
		if err := l.WaitFor(context.Background(), 5); err != nil { // at once
			t.Fatal(err)
		}
		l.Learn([]state.LearnItem{impression(4, &d), impression(5, &d), impression(6, &d)}, 6)
		if err := l.WaitFor(context.Background(), 6); err != nil {
			t.Fatal(err)
		}
		stop()
		if st := cfg.Model.Stats(); st[acts[0]].N != 1 {
			t.Errorf("N = %d, want 1: records at or below From are in the model already", st[acts[0]].N)
		}
	})
}

// TestOnlineRefuses feeds items the model must refuse among good ones:
// each refused item is counted with its kind, changes nothing, and the
// learner goes on to learn the rest.
func TestOnlineRefuses(t *testing.T) {
	e := newOnlineEnv(t)
	h := e.spec.Hash()
	d := journaltest.Decision("d-1", journaltest.T0, h, "free-shipping")
	e.ix.add(d)
	e.ix.corrupt = map[string]bool{"d-bad": true}
	bad := journaltest.Decision("d-bad", journaltest.T0, h, "free-shipping")
	ghost := journaltest.Decision("d-ghost", journaltest.T0, h, "free-shipping")
	x, acts := e.rows(t, &d)

	cfg := e.config(t)
	var sk skips
	cfg.Skips = &sk
	l, stop := start(t, cfg)

	nan := impression(2, nil)
	nan.X, nan.Acts = slices.Clone(x), slices.Clone(acts)
	nan.X[0] = math.NaN()
	short := impression(3, nil)
	short.X, short.Acts = x[:1], acts
	l.Learn([]state.LearnItem{
		impression(1, &d),
		nan,                                   // a non-finite row
		short,                                 // rows that do not fit
		reward(4, &d, "free-shipping", 1e200), // would overflow b
		reward(5, &bad, "free-shipping", 1),   // its decision does not decode
		reward(6, &ghost, "free-shipping", 1), // its decision is not in the index
		{LSN: 7, Kind: state.LearnReward, Delta: 1}, // no outcome
		reward(8, &d, "free-shipping", 2),
	}, 8)
	l.Learn([]state.LearnItem{impression(9, &d)}, 9)
	if err := l.WaitFor(context.Background(), 9); err != nil {
		t.Fatal(err)
	}
	stop()

	want := map[uint64]string{2: state.KindModel, 3: state.KindModel, 4: state.KindModel,
		5: state.KindDecode, 6: state.KindState, 7: state.KindModel}
	if got := sk.get(); !maps.Equal(got, want) {
		t.Errorf("skipped %v, want %v", got, want)
	}
	dim := e.spec.Dim()
	fit := newHandFit(dim, len(e.cat.Actions))
	fit.add(acts[0], x, 0+2) // impression 1, then reward 8
	fit.add(acts[0], x, 0)   // impression 9
	checkStats(t, e.cat, cfg.Model.Stats(), fit.stats)
}

// TestOnlineIgnoresActionNotShown: an outcome for a catalog action its
// decision did not return teaches nothing (logs.Join leaves it out too,
// JoinStats.NotShown), and is not an error.
func TestOnlineIgnoresActionNotShown(t *testing.T) {
	e := newOnlineEnv(t)
	d := journaltest.Decision("d-1", journaltest.T0, e.spec.Hash(), "free-shipping")
	e.ix.add(d)
	cfg := e.config(t)
	var sk skips
	cfg.Skips = &sk
	var updates int
	cfg.OnUpdate = func(n int) { updates += n }
	l, stop := start(t, cfg)
	l.Learn([]state.LearnItem{impression(1, &d), reward(2, &d, "welcome-15", 5)}, 2)
	if err := l.WaitFor(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	stop()
	x, acts := e.rows(t, &d)
	fit := newHandFit(e.spec.Dim(), len(e.cat.Actions))
	fit.add(acts[0], x, 0)
	checkStats(t, e.cat, cfg.Model.Stats(), fit.stats)
	if updates != 1 {
		t.Errorf("OnUpdate counted %d updates, want 1 (the impression)", updates)
	}
	if got := sk.get(); len(got) != 0 {
		t.Errorf("skipped %v, want nothing", got)
	}
}

// TestOnlineActivatedSlots: an activation's impression (LearnItem.Slots)
// teaches the rows of the slots it names and no other; a reward for an
// activated slot adds to its row; a slot out of range is refused whole.
func TestOnlineActivatedSlots(t *testing.T) {
	e := newOnlineEnv(t)
	d := journaltest.Decision("d-1", journaltest.T0, e.spec.Hash(), "free-shipping", "welcome-15", "new-arrivals")
	d.DeferActivation = true
	e.ix.add(d)
	cfg := e.config(t)
	var sk skips
	cfg.Skips = &sk
	l, stop := start(t, cfg)
	shown := state.LearnItem{LSN: 2, Kind: state.LearnImpression, Decision: &d, Slots: []int{0, 2}}
	bad := state.LearnItem{LSN: 3, Kind: state.LearnImpression, Decision: &d, Slots: []int{1, 3}}
	l.Learn([]state.LearnItem{shown, reward(2, &d, "new-arrivals", 1.5), bad}, 3)
	if err := l.WaitFor(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	stop()
	x, acts := e.rows(t, &d)
	dim := e.spec.Dim()
	fit := newHandFit(dim, len(e.cat.Actions))
	fit.add(acts[0], x[:dim], 0)
	fit.add(acts[2], x[2*dim:], 1.5)
	checkStats(t, e.cat, cfg.Model.Stats(), fit.stats)
	if got := sk.get(); !maps.Equal(got, map[uint64]string{3: state.KindModel}) {
		t.Errorf("skipped %v, want LSN 3 (a slot out of range)", got)
	}
}

// TestOnlinePositions: with a position model, each shown action's row is
// learned scaled by its slot's factor, at its impression (from the
// handler's rows, from the journal, and from an activation's slots) and
// at its reward, as batch training's ShownRows scales them.
func TestOnlinePositions(t *testing.T) {
	e := newOnlineEnv(t)
	pm, err := logs.NewPositionModel([]float64{1, 0.5, 0.25})
	if err != nil {
		t.Fatal(err)
	}
	d := journaltest.Decision("d-1", journaltest.T0, e.spec.Hash(), "free-shipping", "welcome-15", "new-arrivals")
	d2 := journaltest.Decision("d-2", journaltest.T0, e.spec.Hash(), "style-guide", "new-arrivals", "welcome-15")
	d3 := journaltest.Decision("d-3", journaltest.T0, e.spec.Hash(), "welcome-15", "style-guide", "free-shipping")
	d3.DeferActivation = true
	for _, x := range []journal.Decision{d, d2, d3} {
		e.ix.add(x)
	}
	x2, acts2 := e.rows(t, &d2)
	cfg := e.config(t)
	cfg.Positions = pm
	l, stop := start(t, cfg)
	live := state.LearnItem{LSN: 2, Kind: state.LearnImpression, X: slices.Clone(x2), Acts: slices.Clone(acts2)}
	l.Learn([]state.LearnItem{impression(1, &d), live, reward(3, &d, "new-arrivals", 1.5),
		{LSN: 4, Kind: state.LearnImpression, Decision: &d3, Slots: []int{2}}, reward(5, &d3, "free-shipping", 2)}, 5)
	if err := l.WaitFor(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	stop()
	dim := e.spec.Dim()
	fit := newHandFit(dim, len(e.cat.Actions))
	scaled := func(x []float64, f float64) []float64 {
		y := slices.Clone(x)
		for i := range y {
			y[i] *= f
		}
		return y
	}
	x, acts := e.rows(t, &d)
	fit.add(acts[0], x[:dim], 0)
	fit.add(acts[1], scaled(x[dim:2*dim], 0.5), 0)
	fit.add(acts[2], scaled(x[2*dim:], 0.25), 1.5)
	for k := range acts2 {
		fit.add(acts2[k], scaled(x2[k*dim:(k+1)*dim], pm.Factor(k)), 0)
	}
	x3, acts3 := e.rows(t, &d3)
	fit.add(acts3[2], scaled(x3[2*dim:], 0.25), 2)
	checkStats(t, e.cat, cfg.Model.Stats(), fit.stats)
}

// TestOnlineSnapshot: a snapshot reads back as the same model (bit for
// bit) with the LSN the learner reached; the file's header is the
// documented version-2 layout; a snapshot of another catalog, one out of
// range and one that does not decode are refused with their errors.
func TestOnlineSnapshot(t *testing.T) {
	e := newOnlineEnv(t)
	d := journaltest.Decision("d-1", journaltest.T0, e.spec.Hash(), "free-shipping", "welcome-15")
	e.ix.add(d)
	path := filepath.Join(t.TempDir(), "online.state")
	cfg := e.config(t)
	cfg.SnapshotPath = path
	cfg.DefaultReward = 0.5
	l, stop := start(t, cfg)
	l.Learn([]state.LearnItem{impression(1, &d), reward(2, &d, "welcome-15", 1)}, 7)
	if err := l.WaitFor(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := l.Snapshot(); err != nil {
		t.Fatal(err)
	}

	m, from, err := online.LoadSnapshot(path, e.cat)
	if err != nil {
		t.Fatal(err)
	}
	if from != 7 {
		t.Errorf("the snapshot reflects LSN %d, want 7", from)
	}
	var a, b bytes.Buffer
	if _, err := cfg.Model.WriteTo(&a); err != nil {
		t.Fatal(err)
	}
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the model read back differs from the one snapshotted")
	}

	// the layout: "NBOL", version 2, LSN, SHA-256 of the action ids each
	// followed by NUL, CRC-32C of the 48 bytes before it; then the model
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hash := sha256.New()
	for _, a := range e.cat.Actions {
		hash.Write(append([]byte(a.ID), 0))
	}
	var hdr []byte
	hdr = append(hdr, "NBOL"...)
	hdr = binary.LittleEndian.AppendUint32(hdr, 2)
	hdr = binary.LittleEndian.AppendUint64(hdr, 7)
	hdr = hash.Sum(hdr)
	hdr = binary.LittleEndian.AppendUint32(hdr, crc32.Checksum(hdr, crc32.MakeTable(crc32.Castagnoli)))
	if !bytes.HasPrefix(raw, hdr) || !bytes.Equal(raw[len(hdr):], a.Bytes()) {
		t.Errorf("the snapshot is not header + model:\n got %x\nwant %x", raw[:min(len(raw), 52)], hdr)
	}

	// a learner that goes on from the snapshot skips what it holds
	cfg2 := e.config(t)
	cfg2.Model, cfg2.From = m, from
	l2, stop2 := start(t, cfg2)
	l2.Learn([]state.LearnItem{impression(1, &d), impression(8, &d)}, 8)
	if err := l2.WaitFor(context.Background(), 8); err != nil {
		t.Fatal(err)
	}
	stop2()
	if st := m.Stats(); st[e.cat.Actions[0].Index()].N != 2 {
		t.Errorf("N = %d after the snapshot and LSN 8, want 2", st[e.cat.Actions[0].Index()].N)
	}

	t.Run("refused", func(t *testing.T) {
		if _, _, err := online.LoadSnapshot(filepath.Join(t.TempDir(), "none"), e.cat); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a missing snapshot: %v, want os.ErrNotExist", err)
		}
		other := &decide.Catalog{Actions: slices.Clone(e.cat.Actions)}
		slices.Reverse(other.Actions)
		if m, _, err := online.LoadSnapshot(path, other); !errors.Is(err, online.ErrSnapshotCatalog) || m == nil {
			t.Errorf("another catalog: %v, want ErrSnapshotCatalog with the model", err)
		}
		for _, off := range []int{0, 5, 9, 20, 50, len(raw) - 1} {
			bad := bytes.Clone(raw)
			bad[off] ^= 0xff
			p := filepath.Join(t.TempDir(), "bad.state")
			if err := os.WriteFile(p, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, _, err := online.LoadSnapshot(p, e.cat); !errors.Is(err, online.ErrBadSnapshot) {
				t.Errorf("byte %d flipped: %v, want ErrBadSnapshot", off, err)
			}
		}
		p := filepath.Join(t.TempDir(), "short.state")
		if err := os.WriteFile(p, raw[:30], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := online.LoadSnapshot(p, e.cat); !errors.Is(err, online.ErrBadSnapshot) {
			t.Errorf("a truncated header: %v, want ErrBadSnapshot", err)
		}

		// statistics past models.MaxRidgeStat (a snapshot from before
		// the model guarded against them)
		stats := make([]models.RidgeStats, len(e.cat.Actions))
		dim := e.spec.Dim()
		for a := range stats {
			stats[a] = models.RidgeStats{XtX: make([]float64, dim*dim), Xty: make([]float64, dim)}
		}
		stats[0].Xty[0] = 10 * models.MaxRidgeStat
		huge, err := models.NewRidgeFromStats(e.ridgeConfig(), stats)
		if err != nil {
			t.Fatal(err)
		}
		cfg := e.config(t)
		cfg.Model, cfg.SnapshotPath = huge, filepath.Join(t.TempDir(), "huge.state")
		l, err := online.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Snapshot(); err != nil {
			t.Fatal(err)
		}
		if m, _, err := online.LoadSnapshot(cfg.SnapshotPath, e.cat); !errors.Is(err, online.ErrSnapshotOverflow) || m == nil {
			t.Errorf("statistics out of range: %v, want ErrSnapshotOverflow with the model", err)
		}
	})
}

// TestNewRefuses: a configuration that cannot work is refused with
// ErrBadConfig.
func TestNewRefuses(t *testing.T) {
	e := newOnlineEnv(t)
	small, err := models.NewRidge(models.RidgeConfig{Dim: 3})
	if err != nil {
		t.Fatal(err)
	}
	few, err := models.NewRidge(models.RidgeConfig{Dim: e.spec.Dim(), Actions: 2})
	if err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*online.Config){
		"no model":             func(c *online.Config) { c.Model = nil },
		"no spec":              func(c *online.Config) { c.Spec = nil },
		"no catalog":           func(c *online.Config) { c.Catalog = nil },
		"no decisions":         func(c *online.Config) { c.Decisions = nil },
		"model of another dim": func(c *online.Config) { c.Model = small },
		"too few posteriors":   func(c *online.Config) { c.Model = few },
		"negative interval":    func(c *online.Config) { c.PublishEvery = -time.Second },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := e.config(t)
			change(&cfg)
			if _, err := online.New(cfg); !errors.Is(err, online.ErrBadConfig) {
				t.Errorf("New = %v, want ErrBadConfig", err)
			}
		})
	}
	shared, err := models.NewRidge(models.RidgeConfig{Dim: e.spec.Dim()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.config(t)
	cfg.Model = shared
	if _, err := online.New(cfg); err != nil {
		t.Errorf("a shared model: %v", err)
	}
}
