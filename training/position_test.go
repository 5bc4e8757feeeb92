package training_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/stat"

	"nextbest/decide"
	"nextbest/eval/sim"
	"nextbest/features"
	"nextbest/internal/journaltest"
	"nextbest/journal"
	"nextbest/logs"
	"nextbest/models"
	"nextbest/training"
)

// positionWorld is a sim.SlateWorld laid onto the retail sample: its
// contexts are the seven pages of the feature spec, its candidates six
// catalog actions, so that logged rankings become journal decisions whose
// rows logs.RowBuilder rebuilds.
type positionWorld struct {
	*sim.SlateWorld
	spec  *features.Spec
	cat   *decide.Catalog
	ids   []string
	pages []string
}

var examination = []float64{1, 0.4, 0.15}

func newPositionWorld(t testing.TB, seed uint64) *positionWorld {
	spec, cat := journaltest.Retail(t)
	pages := []string{"home", "product", "category", "cart", "checkout", "account", "support"}
	ids := []string{"free-shipping", "cart-reminder-10", "new-arrivals", "style-guide", "matching-accessories", "loyalty-join"}
	return &positionWorld{SlateWorld: sim.NewSlateWorld(seed, len(pages), len(ids), examination),
		spec: spec, cat: cat, ids: ids, pages: pages}
}

// misleadingLogger ranks by a fixed popularity order, the same on every
// page (scores 2·(M − a), Plackett–Luce, temperature 1, 40% uniform
// exploration): the first actions are mostly shown on top, the last
// mostly low or not at all, whatever the page makes them worth. That is
// what fools a learner that ignores position: it learns relevance ×
// the examination of the slots an action was logged in.
func (w *positionWorld) misleadingLogger() *sim.PL {
	p := &sim.PL{Temp: 1, Eps: 0.4, Score: make([][]float64, len(w.Rel))}
	for x, rel := range w.Rel {
		p.Score[x] = make([]float64, len(rel))
		for a := range rel {
			p.Score[x][a] = 2 * float64(len(rel)-a)
		}
	}
	return p
}

// decision is the journal record of one logged ranking.
func (w *positionWorld) decision(i int, l sim.LoggedSlate) logs.Joined {
	d := journaltest.Decision(fmt.Sprintf("d%d", i), journaltest.T0, w.spec.Hash(), w.ids...)
	d.Context = map[string]any{"page": w.pages[l.X]}
	d.Actions = d.Actions[:0]
	for k, a := range l.Slate {
		d.Actions = append(d.Actions, journal.LoggedAction{ActionID: w.ids[a], Slot: k, Propensity: l.Props[k]})
	}
	return logs.Joined{Decision: d, Rewards: slices.Clone(l.Clicks)}
}

func (w *positionWorld) log(seed uint64, n int, pol *sim.PL) []logs.Joined {
	rng := rand.New(rand.NewPCG(seed, 0xd0c))
	out := make([]logs.Joined, n)
	for i := range out {
		out[i] = w.decision(i, w.Log(rng, pol))
	}
	return out
}

// shareOfOracle is the expected reward of ranking each page's actions by
// the model's mean, as a share of the oracle's.
func (w *positionWorld) shareOfOracle(t testing.TB, m *models.Ridge) float64 {
	rb, err := logs.NewRowBuilder(w.spec, w.cat)
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	n := len(w.ids)
	for x := range w.pages {
		d := w.decision(0, sim.LoggedSlate{X: x}).Decision
		xs, acts, err := rb.Rows(nil, &d, w.ids)
		if err != nil {
			t.Fatal(err)
		}
		mean, std := make([]float64, n), make([]float64, n)
		m.Predict(mean, std, acts, xs)
		rank := make([]int, n)
		for a := range rank {
			rank[a] = a
		}
		slices.SortStableFunc(rank, func(a, b int) int {
			switch {
			case mean[a] > mean[b]:
				return -1
			case mean[a] < mean[b]:
				return 1
			}
			return 0
		})
		v += w.PX[x] * w.RankingValue(x, rank[:w.Slots()])
	}
	return v / w.OracleValue()
}

// TestEstimatePositionsRecovers checks logs.EstimatePositions against the
// known examination factors [1, 0.4, 0.15] of sim.SlateWorld (seed 3, 7
// contexts, 6 candidates, 3 slots), from rankings logged by the
// misleading Plackett–Luce logger with their conditional propensities:
// R = 60 logs of n = 4,000 decisions. Every estimate is within 4 of its
// own SEs of the truth; over the 60, the mean z-score of each slot is
// within 4/√60 of 0 (4 SE of a mean of unit-variance z's), and the 95%
// intervals cover in at least 50 of 60 (the binomial 0.95 ± 3 SE is
// 0.95 ± 0.084, so 0.866·60 = 52; we allow 50 for the delta method's
// small-sample skew). With 20% exploration instead of 40% the slot-2
// weights grow heavy-tailed and the SEs too small (sd of z 1.8, 50/60
// covered): heed the ESS of the cumulative weights.
func TestEstimatePositionsRecovers(t *testing.T) {
	w := newPositionWorld(t, 3)
	pol := w.misleadingLogger()
	const R, n = 60, 4000
	z := make([][]float64, len(examination))
	cover := make([]int, len(examination))
	for r := range R {
		pm, err := logs.EstimatePositions(w.log(uint64(r), n, pol), 3)
		if err != nil {
			t.Fatal(err)
		}
		if pm.Exam[0] != 1 || len(pm.Exam) != 3 || pm.Decisions[2] != n {
			t.Fatalf("model %+v", pm)
		}
		for k := 1; k < 3; k++ {
			zk := (pm.Exam[k] - examination[k]) / pm.SE[k]
			z[k] = append(z[k], zk)
			if math.Abs(zk) > 4 {
				t.Errorf("log %d: slot %d: θ̂ %.4f ± %.4f, truth %.2f (%.1f SE)", r, k, pm.Exam[k], pm.SE[k], examination[k], zk)
			}
			if math.Abs(zk) < 1.96 {
				cover[k]++
			}
		}
		if r == 0 {
			t.Logf("log 0: θ̂ = %.4f ± %.4f, %.4f ± %.4f (truth %g, %g)", pm.Exam[1], pm.SE[1], pm.Exam[2], pm.SE[2], examination[1], examination[2])
		}
	}
	for k := 1; k < 3; k++ {
		m, sd := stat.MeanStdDev(z[k], nil)
		t.Logf("slot %d: mean z %+.3f, sd of z %.3f, 95%% coverage %d/%d", k, m, sd, cover[k], R)
		if math.Abs(m) > 4/math.Sqrt(R) || cover[k] < 50 {
			t.Errorf("slot %d: mean z %+.3f, coverage %d/%d", k, m, cover[k], R)
		}
	}
}

// TestPositionModelLearnsBetter: per-action ridge models trained on the
// same log of the misleading logger (n = 6,000 decisions of 3 slots), one
// with the position model estimated from that log (rows of slot k scaled
// by θ̂ₖ, logs.RowBuilder.SetPositions), one without. Ranked greedily by
// their means, the first reaches at least 97% of the oracle's expected
// reward and beats the second by more than 4 points for each of 5 seeds,
// and by more than 5 on average: the naive learner reads "shown low" as
// "bad" (its means are relevance × the average examination of the slots
// the action was logged in).
func TestPositionModelLearnsBetter(t *testing.T) {
	w := newPositionWorld(t, 3)
	pol := w.misleadingLogger()
	cfg := models.RidgeConfig{Dim: w.spec.Dim(), Actions: len(w.cat.Actions)}
	var gain float64
	for seed := range uint64(5) {
		joined := w.log(100+seed, 6000, pol)
		pm, err := logs.EstimatePositions(joined, 3)
		if err != nil {
			t.Fatal(err)
		}
		var share [2]float64
		for i, p := range []*logs.PositionModel{nil, pm} {
			ds, _, err := training.BuildDatasetPositions(joined, w.spec, w.cat, p)
			if err != nil {
				t.Fatal(err)
			}
			m, err := training.TrainRidge(ds, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			share[i] = w.shareOfOracle(t, m)
		}
		t.Logf("seed %d: θ̂ = %.3f, %.3f; share of oracle: without the position model %.4f, with %.4f", seed, pm.Exam[1], pm.Exam[2], share[0], share[1])
		if share[1] < 0.97 || share[1]-share[0] < 0.04 {
			t.Errorf("seed %d: share of oracle %.4f with the position model, %.4f without", seed, share[1], share[0])
		}
		gain += (share[1] - share[0]) / 5
	}
	t.Logf("mean gain: %.4f of the oracle's reward", gain)
	if gain < 0.05 {
		t.Errorf("mean gain %.4f", gain)
	}
}

// TestShownRowsScale: ShownRows is Rows of the returned actions with the
// row of slot k multiplied by θₖ; slot 0 and a builder without a model
// are unchanged.
func TestShownRowsScale(t *testing.T) {
	spec, cat := journaltest.Retail(t)
	ids := []string{"free-shipping", "cart-reminder-10", "new-arrivals"}
	d := journaltest.Decision("d1", journaltest.T0, spec.Hash(), ids...)
	rb, err := logs.NewRowBuilder(spec, cat)
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := rb.Rows(nil, &d, ids)
	if err != nil {
		t.Fatal(err)
	}
	plain = slices.Clone(plain)
	same, _, err := rb.ShownRows(nil, &d)
	if err != nil || !slices.Equal(same, plain) {
		t.Fatalf("ShownRows without a model differs from Rows: %v", err)
	}
	pm, err := logs.NewPositionModel([]float64{1, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	rb.SetPositions(pm)
	got, _, err := rb.ShownRows(nil, &d)
	if err != nil {
		t.Fatal(err)
	}
	dim := spec.Dim()
	for i := range got {
		want := plain[i] * pm.Factor(i/dim) // slot 2 takes the last factor, 0.5
		if got[i] != want {
			t.Fatalf("value %d (slot %d): %v, want %v", i, i/dim, got[i], want)
		}
	}
	if _, err := logs.NewPositionModel([]float64{0.9, 0.5}); err == nil {
		t.Error("a model whose slot 0 is not 1 was accepted")
	}
}
