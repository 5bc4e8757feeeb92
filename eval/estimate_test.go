package eval_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"nextbest/eval"
)

// tiny is three rounds over two actions whose estimates are computed by
// hand below.
//
//	round  logged  p     r  target     qhat        w = π(a)/p   q̂(π)               w(r − q̂(a))
//	1      0       0.5   1  [0.8 0.2]  [0.6 0.2]   1.6          .48+.04 = .52       1.6·0.4 = 0.64
//	2      1       0.25  0  [0.5 0.5]  [0.5 0.4]   2            .25+.20 = .45       2·(−0.4) = −0.8
//	3      0       0.8   0  [0.4 0.6]  [0.3 0.1]   0.5          .12+.06 = .18       0.5·(−0.3) = −0.15
//
//	IPS   = (1.6 + 0 + 0)/3                      = 0.533333…
//	SNIPS = 1.6 / (1.6 + 2 + 0.5) = 1.6/4.1      = 0.390243902…
//	DM    = (0.52 + 0.45 + 0.18)/3 = 1.15/3      = 0.383333…
//	DR    = (1.15 − 0.31)/3 = 0.84/3             = 0.28
//	SNDR  = 1.15/3 − 0.31/4.1                    = 0.307723577…
//	Switch-DR, τ = 1.8 (round 2 switched off):
//	        (1.15 + 0.64 − 0.15)/3 = 1.64/3      = 0.546666…
//	ESS   = 4.1² / (1.6² + 2² + 0.5²) = 16.81/6.81 = 2.468428781…
//	IPS SE: terms [1.6 0 0], mean 0.5333, sample variance
//	        (1.0667² + 2·0.5333²)/2 = 0.853333, SE = √(0.853333/3) = 0.533333;
//	        t(2) 0.975 quantile = 4.302652729911275 (tables: 4.303).
func tiny() []eval.Round {
	return []eval.Round{
		{Logged: 0, Propensity: 0.5, Reward: 1, Target: []float64{0.8, 0.2}, Qhat: []float64{0.6, 0.2}},
		{Logged: 1, Propensity: 0.25, Reward: 0, Target: []float64{0.5, 0.5}, Qhat: []float64{0.5, 0.4}},
		{Logged: 0, Propensity: 0.8, Reward: 0, Target: []float64{0.4, 0.6}, Qhat: []float64{0.3, 0.1}},
	}
}

func TestTinyByHand(t *testing.T) {
	const tol = 1e-12 // a handful of float64 operations on exact inputs
	for _, tc := range []struct {
		e    eval.Estimator
		want float64
	}{
		{eval.IPS, 1.6 / 3},
		{eval.SNIPS, 1.6 / 4.1},
		{eval.DM, 1.15 / 3},
		{eval.DR, 0.28},
		{eval.SNDR, 1.15/3 - 0.31/4.1},
		{eval.SwitchDR, 1.64 / 3},
	} {
		t.Run(tc.e.String(), func(t *testing.T) {
			got, err := eval.Evaluate(tiny(), tc.e, eval.Options{Tau: 1.8})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got.Value-tc.want) > tol {
				t.Errorf("value %.15g, want %.15g", got.Value, tc.want)
			}
			if tc.e != eval.DM && math.Abs(got.ESS-16.81/6.81) > tol {
				t.Errorf("ESS %.15g, want %.15g", got.ESS, 16.81/6.81)
			}
			if !(got.Lo < got.Value && got.Value < got.Hi) {
				t.Errorf("interval [%g, %g] does not contain %g", got.Lo, got.Hi, got.Value)
			}
		})
	}
	ips, _ := eval.Evaluate(tiny(), eval.IPS, eval.Options{})
	if math.Abs(ips.SE-0.533333333333333) > 1e-12 {
		t.Errorf("IPS SE %.15g, want 0.5333…", ips.SE)
	}
	const q = 4.302652729911275 // t(2) 0.975 quantile; gonum's inverse agrees to ~1e-9
	if math.Abs(ips.Lo-(1.6/3-q*ips.SE)) > 1e-8 || math.Abs(ips.Hi-(1.6/3+q*ips.SE)) > 1e-8 {
		t.Errorf("IPS interval [%.12g, %.12g], want 0.5333 ∓ %g·SE", ips.Lo, ips.Hi, q)
	}
	sw, _ := eval.Evaluate(tiny(), eval.SwitchDR, eval.Options{Tau: 1.8})
	if sw.Tau != 1.8 || math.Abs(sw.Switched-1.0/3) > tol {
		t.Errorf("switch tau %g switched %g, want 1.8 and 1/3", sw.Tau, sw.Switched)
	}
	// τ at or above the largest weight is DR.
	sw, _ = eval.Evaluate(tiny(), eval.SwitchDR, eval.Options{Tau: math.Inf(1)})
	if math.Abs(sw.Value-0.28) > tol || sw.Tau != 2 {
		t.Errorf("switch τ=∞: %g (tau %g), want DR 0.28 (tau 2)", sw.Value, sw.Tau)
	}
}

func TestSNIPSDeltaSE(t *testing.T) {
	// SNIPS influence terms wᵢ(rᵢ − V)/w̄ with V = 1.6/4.1, w̄ = 4.1/3:
	// ψ = [1.6·(1−V), 2·(−V), 0.5·(−V)]/w̄. Computed by hand:
	// ψ₁ = 0.975609756·0.731707317 = 0.713860797 (1.6·0.609756/1.366667),
	// ψ₂ = −0.571088638, ψ₃ = −0.142772160; mean 0, sample variance
	// (0.509597 + 0.326142 + 0.020384)/2 = 0.428062, SE = √(0.428062/3).
	v := 1.6 / 4.1
	wbar := 4.1 / 3
	psi := []float64{1.6 * (1 - v) / wbar, 2 * -v / wbar, 0.5 * -v / wbar}
	var ss float64
	for _, p := range psi {
		ss += p * p // the ψ sum to 0 exactly (Σw(r−V) = 0)
	}
	want := math.Sqrt(ss / 2 / 3)
	got, err := eval.Evaluate(tiny(), eval.SNIPS, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.SE-want) > 1e-12 || math.Abs(want-0.377739) > 1e-5 {
		t.Errorf("SNIPS SE %.12g, want %.12g (≈0.377739)", got.SE, want)
	}
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(r *eval.Round)
		field string
	}{
		{"logged out of range", func(r *eval.Round) { r.Logged = 2 }, "logged"},
		{"zero propensity", func(r *eval.Round) { r.Propensity = 0 }, "propensity"},
		{"propensity above 1", func(r *eval.Round) { r.Propensity = 1.5 }, "propensity"},
		{"NaN reward", func(r *eval.Round) { r.Reward = math.NaN() }, "reward"},
		{"target not a distribution", func(r *eval.Round) { r.Target = []float64{0.5, 0.6} }, "target"},
		{"negative target", func(r *eval.Round) { r.Target = []float64{1.5, -0.5} }, "target"},
		{"empty target", func(r *eval.Round) { r.Target = nil }, "target"},
		{"qhat length", func(r *eval.Round) { r.Qhat = []float64{1} }, "qhat"},
		{"logging length", func(r *eval.Round) { r.Logging = []float64{1} }, "logging"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := tiny()
			tc.edit(&rs[1])
			_, err := eval.Evaluate(rs, eval.IPS, eval.Options{})
			var re *eval.RoundError
			if !errors.Is(err, eval.ErrInvalidRound) || !errors.As(err, &re) || re.Index != 1 || re.Field != tc.field {
				t.Fatalf("err = %v, want a RoundError for round 1 field %q", err, tc.field)
			}
		})
	}
	if _, err := eval.Evaluate(tiny()[:1], eval.IPS, eval.Options{}); !errors.Is(err, eval.ErrTooFewRounds) {
		t.Errorf("one round: %v, want ErrTooFewRounds", err)
	}
	rs := tiny()
	rs[2].Qhat = nil
	if _, err := eval.Evaluate(rs, eval.DR, eval.Options{}); !errors.Is(err, eval.ErrNoRewardModel) {
		t.Errorf("no model: %v, want ErrNoRewardModel", err)
	}
	all, err := eval.EvaluateAll(rs, eval.Options{})
	var names []string
	for _, e := range all {
		names = append(names, e.Estimator)
	}
	if err != nil || !slices.Equal(names, []string{"IPS", "SNIPS", "Clipped-IPS"}) {
		t.Errorf("EvaluateAll without a full model: %q, %v; want the estimators without a model, IPS, SNIPS and Clipped-IPS", names, err)
	}
	zero := tiny()
	for i := range zero {
		zero[i].Target = []float64{0, 0}
		zero[i].Target[1-zero[i].Logged] = 1
	}
	if _, err := eval.Evaluate(zero, eval.SNIPS, eval.Options{}); !errors.Is(err, eval.ErrNoOverlap) {
		t.Errorf("no overlap: %v, want ErrNoOverlap", err)
	}
	for _, o := range []eval.Options{{Level: 1}, {Bootstrap: -1}, {Bootstrap: 10}, {Tau: -1}} {
		if _, err := eval.Evaluate(tiny(), eval.IPS, o); !errors.Is(err, eval.ErrInvalidOptions) {
			t.Errorf("options %+v: %v, want ErrInvalidOptions", o, err)
		}
	}
}

func TestWarnings(t *testing.T) {
	has := func(ws []string, sub string) bool {
		for _, w := range ws {
			if strings.Contains(w, sub) {
				return true
			}
		}
		return false
	}
	// Action 2 is never logged but the target gives it 0.3.
	var rs []eval.Round
	for i := range 100 {
		rs = append(rs, eval.Round{Logged: i % 2, Propensity: 0.5, Reward: float64(i % 3 / 2), Target: []float64{0.4, 0.3, 0.3}})
	}
	e, err := eval.Evaluate(rs, eval.IPS, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !has(e.Warnings, "never logged") || !has(e.Warnings, "30%") {
		t.Errorf("warnings %q: want missing support of 30%%", e.Warnings)
	}
	// The same, known from the logging distribution.
	for i := range rs {
		rs[i].Logging = []float64{0.5, 0.5, 0}
	}
	e, _ = eval.Evaluate(rs, eval.IPS, eval.Options{})
	if !has(e.Warnings, "cannot take") {
		t.Errorf("warnings %q: want support missing in the logging policy", e.Warnings)
	}
	// One huge weight among many small ones.
	rs = rs[:0]
	for i := range 1000 {
		p := 0.5
		if i == 0 {
			p = 0.001
		}
		rs = append(rs, eval.Round{Logged: 0, Propensity: p, Reward: 1, Target: []float64{1, 0}})
	}
	e, _ = eval.Evaluate(rs, eval.IPS, eval.Options{})
	if !has(e.Warnings, "extreme weights") || !has(e.Warnings, "effective sample size") {
		t.Errorf("warnings %q: want extreme weight and small ESS", e.Warnings)
	}
	// Propensities logged as 0.25 where the logger took each of two
	// actions with 0.5: weights are 4 or 0, mean 2 with SE 2/√1000.
	rs = rs[:0]
	for i := range 1000 {
		rs = append(rs, eval.Round{Logged: i % 2, Propensity: 0.25, Reward: 1, Target: []float64{1, 0}})
	}
	e, _ = eval.Evaluate(rs, eval.IPS, eval.Options{})
	if !has(e.Warnings, "mean importance weight 2.0000") {
		t.Errorf("warnings %q: want the mean weight far from 1", e.Warnings)
	}
	// Clean data raise nothing.
	e, _ = eval.Evaluate(tiny(), eval.DR, eval.Options{})
	if len(e.Warnings) != 0 {
		t.Errorf("tiny: unexpected warnings %q", e.Warnings)
	}
}
