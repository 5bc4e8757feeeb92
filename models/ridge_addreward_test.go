package models_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"nextbest/models"
)

// TestAddRewardEqualsFinalReward checks that recording observations with a
// default reward and correcting some of them later with AddReward gives
// the same posterior as recording the final rewards directly.
func TestAddRewardEqualsFinalReward(t *testing.T) {
	for _, actions := range []int{0, 3} {
		const d = 8
		direct, _ := models.NewRidge(models.RidgeConfig{Dim: d, Actions: actions})
		delayed, _ := models.NewRidge(models.RidgeConfig{Dim: d, Actions: actions})
		r := rand.New(rand.NewPCG(3, 4))
		type obs struct {
			a int
			x []float64
			r float64
		}
		var all []obs
		for range 300 {
			o := obs{a: r.IntN(3), x: make([]float64, d)}
			for i := range o.x {
				o.x[i] = r.NormFloat64()
			}
			if r.IntN(4) == 0 {
				o.r = 1 + r.Float64()
			}
			all = append(all, o)
			if err := direct.Update(o.a, o.x, o.r); err != nil {
				t.Fatal(err)
			}
			if err := delayed.Update(o.a, o.x, 0); err != nil { // default reward 0
				t.Fatal(err)
			}
		}
		for _, o := range all {
			if o.r != 0 {
				if err := delayed.AddReward(o.a, o.x, o.r); err != nil {
					t.Fatal(err)
				}
			}
		}
		direct.Publish()
		delayed.Publish()
		xs := make([]float64, 3*d)
		for i := range xs {
			xs[i] = r.NormFloat64()
		}
		m1, s1, m2, s2 := make([]float64, 3), make([]float64, 3), make([]float64, 3), make([]float64, 3)
		acts := []int{0, 1, 2}
		direct.Predict(m1, s1, acts, xs)
		delayed.Predict(m2, s2, acts, xs)
		for i := range m1 {
			// sums in another order: agreement to rounding (1e-12 relative)
			if math.Abs(m1[i]-m2[i]) > 1e-12*(1+math.Abs(m1[i])) || s1[i] != s2[i] {
				t.Errorf("actions=%d candidate %d: direct (%v, %v), delayed (%v, %v)", actions, i, m1[i], s1[i], m2[i], s2[i])
			}
		}
		if err := delayed.AddReward(0, xs[:d], math.NaN()); err == nil {
			t.Error("NaN delta accepted")
		}
	}
}
