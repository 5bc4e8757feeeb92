package models_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"nextbest/models"
)

// logisticData draws n rows of d features (bias first, then N(0,1)) and
// labels y ~ Bernoulli(σ(wᵀx)).
func logisticData(r *rand.Rand, n int, w []float64) (xs, ys []float64) {
	d := len(w)
	xs, ys = make([]float64, n*d), make([]float64, n)
	for i := 0; i < n; i++ {
		x := xs[i*d : (i+1)*d]
		x[0] = 1
		z := w[0]
		for j := 1; j < d; j++ {
			x[j] = r.NormFloat64()
			z += w[j] * x[j]
		}
		if r.Float64() < 1/(1+math.Exp(-z)) {
			ys[i] = 1
		}
	}
	return xs, ys
}

// TestLogisticRecoversWeights fits 40,000 draws from a known model. The
// MLE's standard error per weight is about 1/√(n·E[p(1−p)]) ≈ 0.012 here
// (E[p(1−p)] ≈ 0.17), so a tolerance of 0.06 is about 5 standard errors;
// the L2 penalty of 1 shrinks weights by a relative ~1/(n·0.17) ≈ 1.5e-4.
func TestLogisticRecoversWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	want := []float64{-0.5, 1.0, -2.0, 0.5, 0, 1.5}
	xs, ys := logisticData(r, 40000, want)
	m, err := models.TrainLogistic(models.LogisticConfig{Dim: len(want)}, xs, nil, ys)
	if err != nil {
		t.Fatal(err)
	}
	got := m.Weights(0)
	maxErr := 0.0
	for i := range want {
		maxErr = max(maxErr, math.Abs(got[i]-want[i]))
	}
	t.Logf("weights %.4f, max abs error %.4f after %d Newton steps", got, maxErr, m.Iterations())
	if maxErr > 0.06 {
		t.Errorf("max abs weight error %.4f > 0.06", maxErr)
	}
	// Predict: mean is σ(wᵀx), std the delta-method Laplace std (> 0).
	mean, std := make([]float64, 1), make([]float64, 1)
	m.Predict(mean, std, nil, xs[:len(want)])
	z := 0.0
	for i, w := range got {
		z += w * xs[i]
	}
	if math.Abs(mean[0]-1/(1+math.Exp(-z))) > 1e-12 || !(std[0] > 0 && std[0] < 0.05) {
		t.Errorf("predict mean %v std %v", mean[0], std[0])
	}
}

func TestLogisticPerActionAndRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	w0, w1 := []float64{1, -1, 0.5}, []float64{-1, 2, 0}
	x0, y0 := logisticData(r, 5000, w0)
	x1, y1 := logisticData(r, 5000, w1)
	xs := append(x0, x1...)
	ys := append(y0, y1...)
	acts := make([]int, 10000)
	for i := 5000; i < 10000; i++ {
		acts[i] = 1
	}
	m, err := models.TrainLogistic(models.LogisticConfig{Dim: 3, Actions: 2}, xs, acts, ys)
	if err != nil {
		t.Fatal(err)
	}
	// 5,000 draws: standard errors ≈ 0.04; 0.2 is 5 of them.
	for a, want := range [][]float64{w0, w1} {
		for i, w := range m.Weights(a) {
			if math.Abs(w-want[i]) > 0.2 {
				t.Errorf("action %d weight %d = %.3f, want %.3f", a, i, w, want[i])
			}
		}
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	c, err := models.ReadLogistic(&buf)
	if err != nil {
		t.Fatal(err)
	}
	m1, s1 := make([]float64, 4), make([]float64, 4)
	m2, s2 := make([]float64, 4), make([]float64, 4)
	pa := []int{0, 1, 1, 0}
	m.Predict(m1, s1, pa, xs[:12])
	c.Predict(m2, s2, pa, xs[:12])
	for i := range m1 {
		if m1[i] != m2[i] || s1[i] != s2[i] {
			t.Errorf("round trip changed prediction %d: %v/%v vs %v/%v", i, m1[i], s1[i], m2[i], s2[i])
		}
	}
}

func TestTrainLogisticRefuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  models.LogisticConfig
		xs   []float64
		ys   []float64
	}{
		{"no dim", models.LogisticConfig{}, nil, nil},
		{"label out of range", models.LogisticConfig{Dim: 1}, []float64{1}, []float64{2}},
		{"short rows", models.LogisticConfig{Dim: 2}, []float64{1}, []float64{1}},
		{"nan feature", models.LogisticConfig{Dim: 1}, []float64{math.NaN()}, []float64{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := models.TrainLogistic(tc.cfg, tc.xs, nil, tc.ys); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
