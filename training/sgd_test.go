package training_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"nextbest/training"
)

// TestSGDRecoversLinearCost simulates costs from a known model of the
// learner's own shape (bias, 4 shared, 3 action features, their 12
// crosses), logged by a uniform policy over 5 actions, and checks that the
// learned weights are the true ones. Noise sd 0.1 over 200k examples: the
// weights' sampling error is ~1e-3; the tolerance 0.03 leaves room for
// the late AdaGrad steps (the observed max error is 0.005).
func TestSGDRecoversLinearCost(t *testing.T) {
	const S, A, K, n = 4, 3, 5, 200000
	r := rand.New(rand.NewPCG(1, 1))
	m, err := training.NewSGD(training.SGDConfig{SharedDim: S, ActionDim: A, Interactions: []string{"sa"}})
	if err != nil {
		t.Fatal(err)
	}
	truth := make([]float64, m.Dim())
	for i := range truth {
		truth[i] = math.Round(r.NormFloat64()*50) / 100
	}
	ex := &training.SlotExample{Shared: make([]training.SlotFeature, S), Actions: make([][]training.SlotFeature, K)}
	for a := range ex.Actions {
		ex.Actions[a] = make([]training.SlotFeature, A)
	}
	var costs []float64
	for i := 0; i < n; i++ {
		for j := range ex.Shared {
			ex.Shared[j] = training.SlotFeature{Slot: int32(j), NS: 's', Value: r.NormFloat64()}
		}
		for a := range ex.Actions {
			for j := range ex.Actions[a] {
				ex.Actions[a][j] = training.SlotFeature{Slot: int32(j), NS: 'a', Value: r.NormFloat64()}
			}
		}
		ex.Chosen, ex.Prob = r.IntN(K), 1.0/K
		ex.Cost = dot(truth, ex.Shared, ex.Actions[ex.Chosen], S, A) + 0.1*r.NormFloat64()
		costs = m.Predict(costs, ex)
		if got, want := costs[ex.Chosen], dot(m.Weights(), ex.Shared, ex.Actions[ex.Chosen], S, A); i%1000 == 0 && math.Abs(got-want) > 1e-9 {
			t.Fatalf("Predict %v, direct dot %v", got, want)
		}
		m.Learn(ex)
	}
	w := m.Weights()
	worst := 0.0
	for i := range w {
		worst = max(worst, math.Abs(w[i]-truth[i]))
	}
	if worst > 0.03 {
		t.Errorf("max weight error %.4f > 0.03\n got %.3f\nwant %.3f", worst, w, truth)
	}
	t.Logf("max weight error %.4f over %d weights", worst, len(w))
}

// dot is the model's score of (shared, action) under weights w, written
// out from the layout.
func dot(w []float64, sh, act []training.SlotFeature, S, A int) float64 {
	s := w[0]
	for _, f := range sh {
		s += w[1+int(f.Slot)] * f.Value
	}
	for _, g := range act {
		s += w[1+S+int(g.Slot)] * g.Value
		for _, f := range sh {
			s += w[1+S+A+int(f.Slot)*A+int(g.Slot)] * f.Value * g.Value
		}
	}
	return s
}

// clickLog writes a cb_adf log like internal/gencb's, smaller: k actions
// with da fixed features each, ds shared features, a click (cost −1) with
// probability σ(−1.5 + xₛᵀWxₐ/2), logged uniformly (p = 1/k).
func clickLog(n, k, ds, da int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0xcb))
	W := make([]float64, ds*da)
	for i := range W {
		W[i] = r.NormFloat64() / math.Sqrt(float64(da))
	}
	act := make([][]float64, k)
	for a := range act {
		act[a] = make([]float64, da)
		for j := range act[a] {
			act[a][j] = math.Round(r.NormFloat64()*1000) / 1000
		}
	}
	var b bytes.Buffer
	xs := make([]float64, ds)
	for i := 0; i < n; i++ {
		b.WriteString("shared |s")
		for j := range xs {
			xs[j] = math.Round(r.NormFloat64()*1000) / 1000
			fmt.Fprintf(&b, " s%d:%g", j, xs[j])
		}
		b.WriteByte('\n')
		c := r.IntN(k)
		z := -1.5
		for s := range xs {
			for j := range act[c] {
				z += xs[s] * W[s*da+j] * act[c][j] / 2
			}
		}
		cost := 0
		if r.Float64() < 1/(1+math.Exp(-z)) {
			cost = -1
		}
		for a := 0; a < k; a++ {
			if a == c {
				fmt.Fprintf(&b, "0:%d:%g ", cost, 1/float64(k))
			}
			b.WriteString("|a")
			for j, v := range act[a] {
				fmt.Fprintf(&b, " a%d:%g", j, v)
			}
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestProgressiveSGDBeatsBaselines: on 30k examples of a log whose click
// probability is a shared×action interaction, the progressive loss with
// -q sa beats uniform random and the model without interactions. Each
// example's IPS loss is 0 or −10 (p = 0.1), sd ≈ 2.5, so the standard
// error of a 30k mean is ≈ 0.015; the margins below are ≥ 7 of them.
func TestProgressiveSGDBeatsBaselines(t *testing.T) {
	data := clickLog(30000, 10, 16, 4, 1)
	cfg := training.SGDConfig{SharedDim: 16, ActionDim: 4, Interactions: []string{"sa"}}
	q, m1, err := training.ProgressiveSGD(bytes.NewReader(data), cfg)
	if err != nil {
		t.Fatal(err)
	}
	lin, _, err := training.ProgressiveSGD(bytes.NewReader(data), training.SGDConfig{SharedDim: 16, ActionDim: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("progressive loss: -q sa %.4f, linear %.4f, random %.4f", q.Loss, lin.Loss, q.Random)
	if q.Examples != 30000 || !(q.Loss < q.Random-0.15) || !(q.Loss < lin.Loss-0.1) {
		t.Errorf("-q sa loss %.4f, linear %.4f, random %.4f over %d examples", q.Loss, lin.Loss, q.Random, q.Examples)
	}
	// same input ⇒ identical result and weights
	again, m2, err := training.ProgressiveSGD(bytes.NewReader(data), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again.Loss != q.Loss || again.Random != q.Random || again.Examples != q.Examples {
		t.Errorf("second run %+v, first %+v", again, q)
	}
	w1, w2 := m1.Weights(), m2.Weights()
	for i := range w1 {
		if math.Float64bits(w1[i]) != math.Float64bits(w2[i]) {
			t.Fatalf("weight %d differs between runs: %v vs %v", i, w1[i], w2[i])
		}
	}
}

func TestNewSGDBadConfig(t *testing.T) {
	for name, cfg := range map[string]training.SGDConfig{
		"interaction": {Interactions: []string{"s"}},
		"rate":        {LearningRate: -1},
		"dims":        {SharedDim: -1},
	} {
		if _, err := training.NewSGD(cfg); err == nil {
			t.Errorf("%s: accepted %+v", name, cfg)
		}
	}
}
