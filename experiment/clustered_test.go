package experiment_test

import (
	"math"
	"testing"

	"nextbest/experiment"
)

// TestProportionInterval: with one trial per customer the clustered
// variance is p(1−p)/(K−1), so the interval is Wilson's on K − 1 trials;
// when each customer's trials all go the same way, twelve trials are
// worth far fewer (worked below).
func TestProportionInterval(t *testing.T) {
	add := func(n int64, y float64, s *experiment.Sums) {
		c := experiment.CustomerSums(n, &experiment.Values{y})
		s.Add(&c)
	}
	var one experiment.Sums
	for k := range 10 {
		add(1, float64(k%5/4), &one) // 2 of 10 convert
	}
	got, want := one.ProportionInterval(0, 0.95), experiment.WilsonInterval(0.2*9, 9, 0.95)
	if math.Abs(got.Lo-want.Lo) > 1e-12 || math.Abs(got.Hi-want.Hi) > 1e-12 || got.Estimate != 0.2 {
		t.Errorf("one trial each: %+v, want Wilson on 9 trials %+v", got, want)
	}
	// 3 customers × 4 trials: (4, 4), (4, 0), (4, 0): p = 1/3; Σ(Yc − p·Nc)² =
	// (8/3)² + (4/3)² + (4/3)² = 96/9; N̄ = 4; Var = (96/9)/(3·2·16) = 1/9;
	// n_eff = (2/9)/(1/9) = 2: the interval of 2/3 of a conversion in 2 trials
	var all experiment.Sums
	add(4, 4, &all)
	add(4, 0, &all)
	add(4, 0, &all)
	if s := all.Summary(0); math.Abs(s.SE-1.0/3) > 1e-12 || s.N != 3 {
		t.Errorf("summary %+v, want SE 1/3 over 3 customers", s)
	}
	got, want = all.ProportionInterval(0, 0.95), experiment.WilsonInterval(2.0/3, 2, 0.95)
	if math.Abs(got.Lo-want.Lo) > 1e-12 || math.Abs(got.Hi-want.Hi) > 1e-12 {
		t.Errorf("clustered: %+v, want Wilson on 2/3 of 2 %+v", got, want)
	}
}
