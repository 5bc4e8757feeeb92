package models_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"nextbest/models"
)

// state returns the model's predictions at a few points and its
// serialised form: enough to tell whether a refused update changed it.
func state(t *testing.T, m *models.Ridge) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestRidgeRefusesPoison feeds the model what a poisoned outcome or
// profile would: a reward of 1e308 (the reproduction), non-finite
// values, features whose square overflows, and a sequence of finite
// corrections that would add up past the limit. Each is refused with an
// error, leaves the model byte-for-byte unchanged, and the model keeps
// predicting finite values.
func TestRidgeRefusesPoison(t *testing.T) {
	const d = 4
	for _, actions := range []int{0, 2} {
		m, err := models.NewRidge(models.RidgeConfig{Dim: d, Actions: actions})
		if err != nil {
			t.Fatal(err)
		}
		x := []float64{1, 0.5, -1, 2}
		for range 10 {
			if err := m.Update(1, x, 1); err != nil {
				t.Fatal(err)
			}
		}
		before := state(t, m)
		huge := []float64{1e200, 0, 0, 0}
		tests := []struct {
			name string
			do   func() error
			want error
		}{
			{"reward 1e308", func() error { return m.Update(1, x, 1e308) }, models.ErrOverflow},
			{"reward +Inf", func() error { return m.Update(1, x, math.Inf(1)) }, models.ErrInvalidInput},
			{"reward NaN", func() error { return m.Update(1, x, math.NaN()) }, models.ErrInvalidInput},
			{"x NaN", func() error { return m.Update(1, []float64{1, math.NaN(), 0, 0}, 1) }, models.ErrInvalidInput},
			{"x -Inf", func() error { return m.Update(1, []float64{1, 0, math.Inf(-1), 0}, 1) }, models.ErrInvalidInput},
			{"x squared overflows", func() error { return m.Update(1, huge, 0) }, models.ErrOverflow},
			{"delta 1e308", func() error { return m.AddReward(1, x, 1e308) }, models.ErrOverflow},
			{"delta -1e308", func() error { return m.AddReward(1, x, -1e308) }, models.ErrOverflow},
			{"delta Inf", func() error { return m.AddReward(1, x, math.Inf(1)) }, models.ErrInvalidInput},
			{"delta with x NaN", func() error { return m.AddReward(1, []float64{math.NaN(), 0, 0, 0}, 1) }, models.ErrInvalidInput},
		}
		for _, tt := range tests {
			if err := tt.do(); !errors.Is(err, tt.want) {
				t.Errorf("actions=%d %s: err %v, want %v", actions, tt.name, err, tt.want)
			}
			if state(t, m) != before {
				t.Fatalf("actions=%d %s: the refused update changed the model", actions, tt.name)
			}
		}
		// finite corrections, each allowed alone, refused once their sum
		// would pass the limit: b stays within it
		n := 0
		for ; n < 1000; n++ {
			if err := m.AddReward(1, x, 1e99); err != nil {
				if !errors.Is(err, models.ErrOverflow) {
					t.Fatalf("err %v, want ErrOverflow", err)
				}
				break
			}
		}
		if n == 0 || n == 1000 {
			t.Fatalf("actions=%d: %d corrections of 1e99 accepted, want some, then a refusal", actions, n)
		}
		if err := m.CheckStats(); err != nil {
			t.Errorf("actions=%d: %v", actions, err)
		}
		m.Publish()
		mean, std := make([]float64, 1), make([]float64, 1)
		m.Predict(mean, std, []int{1}, x)
		if math.IsNaN(mean[0]) || math.IsInf(mean[0], 0) || math.IsNaN(std[0]) || math.IsInf(std[0], 0) {
			t.Errorf("actions=%d: prediction (%v, %v) after refused updates", actions, mean[0], std[0])
		}
	}
}

// TestRidgeCheckStats: statistics up to the limit pass, and the guards
// keep them there. (A model past the limit can only come from a file
// written before the guards.)
func TestRidgeCheckStats(t *testing.T) {
	m, _ := models.NewRidge(models.RidgeConfig{Dim: 2})
	if err := m.CheckStats(); err != nil {
		t.Fatalf("fresh model: %v", err)
	}
	if err := m.AddReward(0, []float64{1, 0}, models.MaxRidgeStat); err != nil {
		t.Fatalf("a correction to the limit: %v", err)
	}
	if err := m.CheckStats(); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	if err := m.AddReward(0, []float64{1, 0}, models.MaxRidgeStat); !errors.Is(err, models.ErrOverflow) {
		t.Errorf("past the limit: %v", err)
	}
}
