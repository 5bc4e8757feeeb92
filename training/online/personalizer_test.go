package online_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"nextbest/journal"
	"nextbest/models"
	"nextbest/personalizer"
	"nextbest/state"
	"nextbest/training/online"
)

// pzEvent is a rank call over three actions whose features differ, the
// chosen one choice.
func pzEvent(id, tier, choice string) *journal.PersonalizerRank {
	return &journal.PersonalizerRank{EventID: id, RewardActionID: choice,
		ContextFeatures: []map[string]any{{"user": map[string]any{"tier": tier, "visits": 3.0}}},
		Actions: []journal.PersonalizerAction{
			{ID: "a", Features: []map[string]any{{"type": "news"}}},
			{ID: "b", Features: []map[string]any{{"type": "sports", "price": 2.0}}},
			{ID: "c"},
		}}
}

func startPZ(t testing.TB, cfg online.PersonalizerConfig) (*online.Personalizer, func()) {
	t.Helper()
	p, err := online.NewPersonalizer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	return p, func() { cancel(); <-done }
}

// TestPersonalizerStatsByHand: the learner's statistics are a ridge fit
// by hand on the rows of the chosen actions (rebuilt from the rank calls
// by personalizer.EventRow) with each slot's final reward: the shown
// reward plus the deltas.
func TestPersonalizerStatsByHand(t *testing.T) {
	const bits = 6
	p, stop := startPZ(t, online.PersonalizerConfig{Bits: bits})
	events := []*journal.PersonalizerRank{pzEvent("e1", "gold", "a"), pzEvent("e2", "silver", "b"), pzEvent("e3", "gold", "c")}
	p.Learn([]state.LearnItem{
		{LSN: 1, Kind: state.LearnPersonalizerShown, Rank: events[0], Reward: 0},
		{LSN: 2, Kind: state.LearnPersonalizerShown, Rank: events[1], Reward: 0.5},
	}, 2)
	p.Learn(nil, 3) // a batch without Personalizer work
	p.Learn([]state.LearnItem{
		{LSN: 4, Kind: state.LearnPersonalizerReward, Rank: events[0], Delta: 1},
		{LSN: 5, Kind: state.LearnPersonalizerShown, Rank: events[2], Reward: -0.25},
		{LSN: 5, Kind: state.LearnPersonalizerReward, Rank: events[1], Delta: -0.5},
	}, 5)
	if err := p.WaitFor(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	stop()
	hand := newHandFit(1<<bits, 1)
	var row personalizer.Row
	var scr personalizer.Scratch
	x := make([]float64, 1<<bits)
	for i, final := range []float64{1, 0, -0.25} {
		if !personalizer.EventRow(&row, &scr, bits, events[i], 0) {
			t.Fatal("no row")
		}
		row.Dense(x)
		hand.add(0, x, final)
	}
	got := p.Model().Stats()
	if got[0].N != 3 {
		t.Errorf("N = %d, want 3", got[0].N)
	}
	for i := range got[0].XtX {
		if math.Abs(got[0].XtX[i]-hand.stats[0].XtX[i]) > 1e-9 {
			t.Fatalf("XtX[%d] = %v, want %v", i, got[0].XtX[i], hand.stats[0].XtX[i])
		}
	}
	for i := range got[0].Xty {
		if math.Abs(got[0].Xty[i]-hand.stats[0].Xty[i]) > 1e-9 {
			t.Fatalf("Xty[%d] = %v, want %v", i, got[0].Xty[i], hand.stats[0].Xty[i])
		}
	}
	// the published model scores the rows with the hand fit's mean
	fit, err := models.NewRidgeFromStats(models.RidgeConfig{Dim: 1 << bits}, hand.stats)
	if err != nil {
		t.Fatal(err)
	}
	personalizer.EventRow(&row, &scr, bits, events[1], 0)
	row.Dense(x)
	mean, std := []float64{0}, []float64{0}
	fit.Predict(mean, std, nil, x)
	if got := p.Model().MeanSparse(0, row.Index, row.Value); math.Abs(got-mean[0]) > 1e-9 {
		t.Errorf("MeanSparse %v, the hand fit's mean %v", got, mean[0])
	}
}

// TestPersonalizerModelUpdate: with a model update frequency, what is
// learned reaches the model that ranks only when the frequency says; a
// batch without work advances the watermark at once.
func TestPersonalizerModelUpdate(t *testing.T) {
	every := time.Hour
	p, stop := startPZ(t, online.PersonalizerConfig{Bits: 6, ModelUpdate: func() time.Duration { return every }})
	defer stop()
	p.Learn(nil, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.WaitFor(ctx, 1); err != nil {
		t.Fatalf("a batch without work: %v", err)
	}
	p.Learn([]state.LearnItem{{LSN: 2, Kind: state.LearnPersonalizerShown, Rank: pzEvent("e", "gold", "a"), Reward: 1}}, 2)
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if err := p.WaitFor(short, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("published before the model update frequency: %v", err)
	}
	var row personalizer.Row
	var scr personalizer.Scratch
	personalizer.EventRow(&row, &scr, 6, pzEvent("e", "gold", "a"), 0)
	if m := p.Model().MeanSparse(0, row.Index, row.Value); m != 0 {
		t.Errorf("the model that ranks moved before it was published: %v", m)
	}
}

// TestPersonalizerSnapshot: a snapshot reads back as the model and its
// LSN; another dimension is refused.
func TestPersonalizerSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "personalizer.state")
	if _, _, err := online.LoadPersonalizerSnapshot(path, 6); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("no snapshot: %v", err)
	}
	p, stop := startPZ(t, online.PersonalizerConfig{Bits: 6, SnapshotPath: path})
	p.Learn([]state.LearnItem{{LSN: 7, Kind: state.LearnPersonalizerShown, Rank: pzEvent("e", "gold", "b"), Reward: 1}}, 9)
	if err := p.WaitFor(context.Background(), 9); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := p.Snapshot(); err != nil {
		t.Fatal(err)
	}
	m, lsn, err := online.LoadPersonalizerSnapshot(path, 6)
	if err != nil || lsn != 9 || m.Stats()[0].N != 1 {
		t.Fatalf("read back: lsn %d, %v", lsn, err)
	}
	if _, _, err := online.LoadPersonalizerSnapshot(path, 7); !errors.Is(err, online.ErrSnapshotFeaturization) {
		t.Errorf("another dimension: %v", err)
	}
	// a learner from the snapshot skips what it holds
	q, stop := startPZ(t, online.PersonalizerConfig{Bits: 6, Model: m, From: lsn})
	q.Learn([]state.LearnItem{{LSN: 7, Kind: state.LearnPersonalizerShown, Rank: pzEvent("e", "gold", "b"), Reward: 1}}, 9)
	q.WaitFor(context.Background(), 9)
	stop()
	if n := q.Model().Stats()[0].N; n != 1 {
		t.Errorf("N = %d after a replay of what the snapshot holds, want 1", n)
	}
	if _, err := online.NewPersonalizer(online.PersonalizerConfig{Bits: 7, Model: m}); !errors.Is(err, online.ErrBadConfig) {
		t.Errorf("a model of another dimension: %v", err)
	}
}

// TestPersonalizerEmptySnapshot: a learner that learned nothing (records
// passed, none of the namespace's) snapshots the header alone, read back
// as no model at its LSN; once it learns, the snapshot holds the model.
func TestPersonalizerEmptySnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "personalizer.state")
	p, stop := startPZ(t, online.PersonalizerConfig{Bits: 9, SnapshotPath: path})
	p.Learn(nil, 40)
	if err := p.WaitFor(context.Background(), 40); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := p.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() > 64 {
		t.Fatalf("the snapshot of an untouched model: %v, %v", st, err)
	}
	m, lsn, err := online.LoadPersonalizerSnapshot(path, 9)
	if err != nil || m != nil || lsn != 40 {
		t.Fatalf("read back: %v at %d, %v", m, lsn, err)
	}
	if _, _, err := online.LoadPersonalizerSnapshot(path, 8); !errors.Is(err, online.ErrSnapshotFeaturization) {
		t.Errorf("another dimension: %v", err)
	}
	q, stop := startPZ(t, online.PersonalizerConfig{Bits: 9, SnapshotPath: path, From: 40})
	q.Learn([]state.LearnItem{{LSN: 41, Kind: state.LearnPersonalizerShown, Rank: pzEvent("e", "gold", "b"), Reward: 1}}, 41)
	q.WaitFor(context.Background(), 41)
	stop()
	if err := q.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if m, lsn, err := online.LoadPersonalizerSnapshot(path, 9); err != nil || m == nil || lsn != 41 || m.Stats()[0].N != 1 {
		t.Fatalf("after learning: %v at %d, %v", m, lsn, err)
	}
}
