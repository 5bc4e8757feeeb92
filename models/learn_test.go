package models_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"nextbest/models"
)

// simulate runs a linear contextual bandit: 10 actions, 16 context
// features x ~ N(0, I/16) per round, true θ*_a ~ N(0, I), reward
// θ*_a·x + N(0, 0.5²). choose picks an action from the disjoint model's
// posterior mean and std. It returns the cumulative expected regret over
// the first and the second half of the rounds.
func simulate(t *testing.T, rounds int, choose func(r *rand.Rand, mean, std []float64) int) (first, second float64) {
	t.Helper()
	const k, d, noise = 10, 16, 0.5
	r := rand.New(rand.NewPCG(1, 1))
	theta := make([][]float64, k)
	for a := range theta {
		theta[a] = randX(r, d)
	}
	m, err := models.NewRidge(models.RidgeConfig{Dim: d, Actions: k, Name: "sim"})
	if err != nil {
		t.Fatal(err)
	}
	acts := make([]int, k)
	for a := range acts {
		acts[a] = a
	}
	xs, mean, std, exp := make([]float64, k*d), make([]float64, k), make([]float64, k), make([]float64, k)
	pr := rand.New(rand.NewPCG(2, 2)) // the policy's own randomness
	for round := range rounds {
		x := randX(r, d)
		for i := range x {
			x[i] /= 4
		}
		best := math.Inf(-1)
		for a := range k {
			copy(xs[a*d:], x)
			exp[a] = 0
			for i := range x {
				exp[a] += theta[a][i] * x[i]
			}
			best = max(best, exp[a])
		}
		m.Predict(mean, std, acts, xs)
		a := choose(pr, mean, std)
		if round < rounds/2 {
			first += best - exp[a]
		} else {
			second += best - exp[a]
		}
		if err := m.Update(a, x, exp[a]+noise*r.NormFloat64()); err != nil {
			t.Fatal(err)
		}
		m.Publish()
	}
	return first, second
}

func argmaxOf(v []float64) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

func TestLinearBanditLearns(t *testing.T) {
	const rounds = 6000
	score := make([]float64, 10)
	policies := []struct {
		name   string
		choose func(r *rand.Rand, mean, std []float64) int
	}{
		{"uniform", func(r *rand.Rand, mean, std []float64) int { return r.IntN(len(mean)) }},
		{"linucb α=0.5", func(r *rand.Rand, mean, std []float64) int {
			for i := range mean {
				score[i] = mean[i] + 0.5*std[i]
			}
			return argmaxOf(score)
		}},
		{"thompson v=0.5", func(r *rand.Rand, mean, std []float64) int {
			for i := range mean {
				score[i] = mean[i] + 0.5*std[i]*r.NormFloat64()
			}
			return argmaxOf(score)
		}},
	}
	var uniform float64
	for _, p := range policies {
		first, second := simulate(t, rounds, p.choose)
		total := first + second
		t.Logf("%-15s cumulative regret %8.1f (first half %7.1f, second half %6.1f)", p.name, total, first, second)
		if p.name == "uniform" {
			uniform = total
			continue
		}
		// Thresholds: a learning policy's regret grows like √T·d·log T;
		// uniform's linearly. The observed ratios (logged) are far inside.
		if total > 0.1*uniform {
			t.Errorf("%s: regret %.1f not below 10%% of uniform's %.1f", p.name, total, uniform)
		}
		if second > 0.25*first {
			t.Errorf("%s: second-half regret %.1f not below a quarter of the first half's %.1f", p.name, second, first)
		}
	}
}
