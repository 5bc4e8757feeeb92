package models_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"nextbest/models"
)

// TestRidgeStatsRoundTrip checks that Stats returns what NewRidgeFromStats
// takes: a model rebuilt from a model's statistics has the same
// statistics, and they are the sums of the observations (computed here
// directly, so equality holds up to the rounding of two summation orders).
func TestRidgeStatsRoundTrip(t *testing.T) {
	const d = 5
	cfg := models.RidgeConfig{Dim: d, Actions: 2, Lambda: 2}
	m, err := models.NewRidge(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	want := make([]models.RidgeStats, 2)
	for k := range want {
		want[k] = models.RidgeStats{XtX: make([]float64, d*d), Xty: make([]float64, d)}
	}
	for range 200 {
		a := r.IntN(2)
		x := make([]float64, d)
		for i := range x {
			x[i] = r.NormFloat64()
		}
		y := r.Float64()
		if err := m.Update(a, x, y); err != nil {
			t.Fatal(err)
		}
		w := &want[a]
		for i := range d {
			for j := i; j < d; j++ {
				w.XtX[i*d+j] += x[i] * x[j]
			}
			w.Xty[i] += y * x[i]
		}
		w.N++
	}
	got := m.Stats()
	again, err := models.NewRidgeFromStats(m.Config(), got)
	if err != nil {
		t.Fatal(err)
	}
	for k, s := range [][]models.RidgeStats{got, again.Stats()} {
		for a := range want {
			if s[a].N != want[a].N {
				t.Errorf("%d: posterior %d: N %d, want %d", k, a, s[a].N, want[a].N)
			}
			for i, v := range want[a].XtX {
				if math.Abs(s[a].XtX[i]-v) > 1e-9*(1+math.Abs(v)) {
					t.Errorf("%d: posterior %d: XtX[%d] = %v, want %v", k, a, i, s[a].XtX[i], v)
				}
			}
			for i, v := range want[a].Xty {
				if math.Abs(s[a].Xty[i]-v) > 1e-9*(1+math.Abs(v)) {
					t.Errorf("%d: posterior %d: Xty[%d] = %v, want %v", k, a, i, s[a].Xty[i], v)
				}
			}
		}
	}
}
