package training_test

import (
	"math/rand/v2"
	"testing"

	"nextbest/models"
)

// TestLinUCBRegret runs LinUCB (a disjoint models.Ridge, mean + 1·std) on a
// simulated linear bandit: 5 actions, 6 features, reward θₐᵀx + N(0, 0.1²).
// Regret must grow sub-linearly (the second half of the run adds less than
// a third of the first half's) and end below a tenth of uniform random's;
// with seed 1 the measured ratios are far inside both bounds.
func TestLinUCBRegret(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	const k, d, rounds = 5, 6, 4000
	theta := make([][]float64, k)
	for a := range theta {
		theta[a] = make([]float64, d)
		for j := range theta[a] {
			theta[a][j] = r.NormFloat64()
		}
	}
	m, err := models.NewRidge(models.RidgeConfig{Dim: d, Actions: k, Name: "linucb"})
	if err != nil {
		t.Fatal(err)
	}
	xs := make([]float64, k*d)
	acts := []int{0, 1, 2, 3, 4}
	mean, std := make([]float64, k), make([]float64, k)
	var regret, randomRegret, firstHalf float64
	for t0 := 0; t0 < rounds; t0++ {
		x := xs[:d]
		for j := range x {
			x[j] = r.NormFloat64()
		}
		for a := 1; a < k; a++ {
			copy(xs[a*d:(a+1)*d], x)
		}
		m.Predict(mean, std, acts, xs)
		best, pick := 0.0, 0
		exp := make([]float64, k)
		for a := 0; a < k; a++ {
			for j := range x {
				exp[a] += theta[a][j] * x[j]
			}
			if a == 0 || exp[a] > best {
				best = exp[a]
			}
			if mean[a]+std[a] > mean[pick]+std[pick] {
				pick = a
			}
		}
		regret += best - exp[pick]
		avg := 0.0
		for _, e := range exp {
			avg += e / k
		}
		randomRegret += best - avg
		if err := m.Update(pick, x, exp[pick]+0.1*r.NormFloat64()); err != nil {
			t.Fatal(err)
		}
		m.Publish()
		if t0 == rounds/2-1 {
			firstHalf = regret
		}
	}
	second := regret - firstHalf
	t.Logf("regret: first half %.1f, second half %.1f, total %.1f; uniform random %.1f", firstHalf, second, regret, randomRegret)
	if second > firstHalf/3 || regret > randomRegret/10 {
		t.Errorf("regret first %.1f second %.1f total %.1f random %.1f", firstHalf, second, regret, randomRegret)
	}
}
