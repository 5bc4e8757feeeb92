package eval_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"nextbest/eval"
)

// TestShrinkageByHand checks DRos and Clipped-IPS on tiny() (see
// estimate_test.go) at fixed λ, worked out by hand:
//
//	w = [1.6 2 0.5], r − q̂(a) = [0.4 −0.4 −0.3], Σ q̂(π) = 1.15
//	DRos λ = 4: ŵ = 4w/(w² + 4) = [6.4/6.56, 8/8, 2/4.25]
//	          = [0.975609756 1 0.470588235]
//	          Σ ŵ(r − q̂) = 0.390243902 − 0.4 − 0.141176471 = −0.150932568
//	          DRos = (1.15 − 0.150932568)/3 = 0.333022477
//	Clipped-IPS λ = 1.2: min(w, 1.2)·r = [1.2 0 0], value 0.4; two of the
//	          three weights are clipped
//	λ = +Inf gives DR (0.28) and IPS (0.5333…).
func TestShrinkageByHand(t *testing.T) {
	const tol = 1e-9 // the hand values are rounded to 9 digits
	for _, tc := range []struct {
		e        eval.Estimator
		o        eval.Options
		want     float64
		lam      float64
		switched float64
	}{
		{eval.DRos, eval.Options{Lambda: 4}, 0.333022477, 4, 0},
		{eval.DRos, eval.Options{Lambda: math.Inf(1)}, 0.28, 0, 0},
		{eval.ClippedIPS, eval.Options{Clip: 1.2}, 0.4, 1.2, 2.0 / 3},
		{eval.ClippedIPS, eval.Options{Clip: math.Inf(1)}, 1.6 / 3, 2, 0},
	} {
		got, err := eval.Evaluate(tiny(), tc.e, tc.o)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got.Value-tc.want) > tol || got.Lambda != tc.lam || math.Abs(got.Switched-tc.switched) > 1e-12 {
			t.Errorf("%s %+v: value %.9f λ %g switched %g, want %.9f λ %g switched %g", tc.e, tc.o, got.Value, got.Lambda, got.Switched, tc.want, tc.lam, tc.switched)
		}
		if !strings.HasSuffix(got.Interval, "given lambda") {
			t.Errorf("%s: interval %q", tc.e, got.Interval)
		}
	}
	for _, name := range []string{"DRos", "dros", "Clipped-IPS", "clip"} {
		if _, err := eval.ParseEstimator(name); err != nil {
			t.Errorf("ParseEstimator(%q): %v", name, err)
		}
	}
	for _, o := range []eval.Options{{Lambda: -1}, {Clip: math.NaN()}, {Folds: 1}, {Refits: 50}} {
		if _, err := eval.Evaluate(tiny(), eval.IPS, o); !errors.Is(err, eval.ErrInvalidOptions) {
			t.Errorf("options %+v: %v, want ErrInvalidOptions", o, err)
		}
	}
}

// TestShrinkageRuleKeepsUnbiased: with the correct model and weights of
// at most 10, the rule (SE² + bias bound²) stays within a tenth of an SE
// of DR and IPS: shrinking harder would buy little variance, and the bias
// bound charges for the noise of the part shrunk away (as for Switch-DR's
// τ). Measured: DRos keeps λ = 10·max w² (0.00026 from DR, SE 0.019),
// Clipped-IPS clips nothing.
func TestShrinkageRuleKeepsUnbiased(t *testing.T) {
	b := newSimBandit()
	rs := b.rounds(rand.New(rand.NewPCG(3, 1)), 2000, b.good)
	dros, err := eval.Evaluate(rs, eval.DRos, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dr, _ := eval.Evaluate(rs, eval.DR, eval.Options{})
	clip, _ := eval.Evaluate(rs, eval.ClippedIPS, eval.Options{})
	ips, _ := eval.Evaluate(rs, eval.IPS, eval.Options{})
	t.Logf("DRos λ %g: %.5f (DR %.5f); Clipped-IPS λ %g: %.5f (IPS %.5f)", dros.Lambda, dros.Value, dr.Value, clip.Lambda, clip.Value, ips.Value)
	if math.Abs(dros.Value-dr.Value) > 0.1*dr.SE || math.Abs(clip.Value-ips.Value) > 0.1*ips.SE {
		t.Errorf("the rule shrank visibly: DRos %.5f vs DR %.5f, Clipped-IPS %.5f vs IPS %.5f", dros.Value, dr.Value, clip.Value, ips.Value)
	}
}

// TestCellModelByHand fits the cell model on three rounds of one cell and
// one of another, by hand: cell 0 has rewards 1, 0, 1 (mean 2/3), cell 1
// reward 0; one group, mean 2/4 = 0.5. With M = 2: cell 0 (2 + 2·0.5)/(3
// + 2) = 0.6, cell 1 (0 + 1)/(1 + 2) = 1/3, an empty cell 0.5. A
// weight of 0 leaves a round out, a weight of 2 counts it twice.
func TestCellModelByHand(t *testing.T) {
	m := &eval.CellModel{Cells: 3, M: 2, Cell: func(r *eval.Round, a int) int { return a }}
	rs := []eval.Round{
		{Logged: 0, Propensity: 0.5, Reward: 1, Target: []float64{1, 0, 0}},
		{Logged: 0, Propensity: 0.5, Reward: 0, Target: []float64{1, 0, 0}},
		{Logged: 0, Propensity: 0.5, Reward: 1, Target: []float64{1, 0, 0}},
		{Logged: 1, Propensity: 0.5, Reward: 0, Target: []float64{1, 0, 0}},
	}
	check := func(name string, w []float64, want []float64) {
		t.Helper()
		p, err := m.Fit(rs, w)
		if err != nil {
			t.Fatal(err)
		}
		q := make([]float64, 3)
		p.Predict(q, &rs[0])
		for a := range q {
			if math.Abs(q[a]-want[a]) > 1e-12 {
				t.Errorf("%s: q̂ = %v, want %v", name, q, want)
				break
			}
		}
	}
	check("all", []float64{1, 1, 1, 1}, []float64{0.6, 1.0 / 3, 0.5})
	// round 1 left out: cell 0 = 1, 1 (mean 1), group 2/3; (2 + 4/3)/4
	check("left out", []float64{1, 0, 1, 1}, []float64{(2 + 2*2.0/3) / 4, (0 + 2*2.0/3) / 3, 2.0 / 3})
	// round 1 counted twice: cell 0 = 1, 0, 0, 1; group 2/5
	check("twice", []float64{1, 2, 1, 1}, []float64{(2 + 2*0.4) / 6, (0 + 2*0.4) / 3, 0.4})
}

// TestLogisticModelRecoversRates: with one-hot features and a negligible
// penalty, the logistic regression's predictions are the groups'
// observed rates (the maximum-likelihood fit of a saturated model);
// the tolerance is the penalty's pull, about L2/(n·p(1−p)) ≈ 1e-8.
func TestLogisticModelRecoversRates(t *testing.T) {
	m := &eval.LogisticModel{Dim: 2, L2: 1e-6, Features: func(idx []int, val []float64, r *eval.Round, a int) ([]int, []float64) {
		return append(idx, a), append(val, 1)
	}}
	var rs []eval.Round
	for i := range 1000 {
		a := i % 2
		r := 0.0
		// action 0: 200 of 500 succeed (0.4); action 1: 100 of 500 (0.2)
		if (a == 0 && i%5 < 2) || (a == 1 && i%10 == 1) {
			r = 1
		}
		rs = append(rs, eval.Round{Logged: a, Propensity: 0.5, Reward: r, Target: []float64{0.5, 0.5}})
	}
	w := make([]float64, len(rs))
	for i := range w {
		w[i] = 1
	}
	p, err := m.Fit(rs, w)
	if err != nil {
		t.Fatal(err)
	}
	q := make([]float64, 2)
	p.Predict(q, &rs[0])
	if math.Abs(q[0]-0.4) > 1e-6 || math.Abs(q[1]-0.2) > 1e-6 {
		t.Errorf("q̂ = %v, want [0.4 0.2]", q)
	}
	rs[0].Reward = 2
	if _, err := m.Fit(rs, w); !errors.Is(err, eval.ErrInvalidRound) {
		t.Errorf("reward 2: %v, want ErrInvalidRound", err)
	}
}

// TestCrossFitNoLeak: a round's cross-fitted Qhat comes from the model
// fitted on the other folds, so changing the round's own reward leaves
// it unchanged (and changes other folds' predictions).
func TestCrossFitNoLeak(t *testing.T) {
	b := newSimBandit()
	rs := b.modelRounds(rand.New(rand.NewPCG(5, 5)), 400, b.contexts())
	m := b.tabular(0)
	a, err := eval.CrossFit(rs, m, 2, 9)
	if err != nil {
		t.Fatal(err)
	}
	rs[0].Reward = 1 - rs[0].Reward
	c, err := eval.CrossFit(rs, m, 2, 9)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for i := range a {
		for k := range a[i].Qhat {
			if a[i].Qhat[k] != c[i].Qhat[k] {
				changed++
				if i == 0 {
					t.Fatalf("round 0's Qhat moved with its own reward: %v → %v", a[0].Qhat, c[0].Qhat)
				}
			}
		}
	}
	if changed == 0 {
		t.Error("no prediction of the other fold changed")
	}
	// Evaluate with Options.Model equals EvaluateAll on CrossFit's rounds
	// for the point estimates (same folds from the same seed).
	rs[0].Reward = 1 - rs[0].Reward
	viaModel, err := eval.Evaluate(rs, eval.DR, eval.Options{Model: m, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	viaQhat, _ := eval.Evaluate(a, eval.DR, eval.Options{})
	if math.Abs(viaModel.Value-viaQhat.Value) > 1e-12 || math.Abs(viaModel.SE-viaQhat.SE) > 1e-12 {
		t.Errorf("DR with Options.Model %.6f ± %.6f, on CrossFit's rounds %.6f ± %.6f", viaModel.Value, viaModel.SE, viaQhat.Value, viaQhat.SE)
	}
}

// TestCompareByHand: on tiny(), IPS's paired terms are wᵢrᵢ − rᵢ =
// [0.6 0 0]: difference 0.5333 − 0.3333 = 0.2, SE = sd([0.6 0 0])/√3 =
// 0.34641/1.73205 = 0.2.
func TestCompareByHand(t *testing.T) {
	c, err := eval.Compare(tiny(), eval.IPS, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.Serving.Value-1.0/3) > 1e-12 || math.Abs(c.Candidate.Value-1.6/3) > 1e-12 ||
		math.Abs(c.Difference.Value-0.2) > 1e-12 || math.Abs(c.Difference.SE-0.2) > 1e-12 {
		t.Errorf("serving %v candidate %v difference %v SE %v; want 1/3, 0.5333, 0.2, 0.2", c.Serving.Value, c.Candidate.Value, c.Difference.Value, c.Difference.SE)
	}
	if !strings.HasPrefix(c.Difference.Interval, "paired") {
		t.Errorf("interval %q", c.Difference.Interval)
	}
}

// TestCompareNarrowerWhenClose: a candidate close to the serving policy
// (90% the logger, 10% the sharp target) is compared on the same 2,000
// rounds. The separate intervals' combined SE √(SE_c² + SE_s²) counts the
// shared noise twice; the paired one cancels it: here it is about a fifth.
func TestCompareNarrowerWhenClose(t *testing.T) {
	b := newSimBandit()
	rs := b.rounds(rand.New(rand.NewPCG(11, 1)), 2000, b.good)
	for i := range rs {
		x := slicesIndex(b.logging, rs[i].Logging)
		mix := make([]float64, len(rs[i].Target))
		for a := range mix {
			mix[a] = 0.9*b.logging[x][a] + 0.1*b.target[x][a]
		}
		rs[i].Target = mix
	}
	for _, e := range []eval.Estimator{eval.IPS, eval.DR} {
		c, err := eval.Compare(rs, e, eval.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sep := math.Hypot(c.Candidate.SE, c.Serving.SE)
		t.Logf("%s: difference %.5f ± %.5f (paired) vs ± %.5f (separate)", e, c.Difference.Value, c.Difference.SE, sep)
		if !(c.Difference.SE < 0.35*sep) {
			t.Errorf("%s: paired SE %.5f is not much below the separate %.5f", e, c.Difference.SE, sep)
		}
	}
}

func slicesIndex(rows [][]float64, row []float64) int {
	for i, r := range rows {
		if &r[0] == &row[0] {
			return i
		}
	}
	panic("row not found")
}

// TestSelectAvoidsBiasedDM: with the context-blind model DM is off by
// 0.23, many SEs of every unbiased estimator, so SLOPE stops before it;
// the reason names the estimate it stopped at.
func TestSelectAvoidsBiasedDM(t *testing.T) {
	b := newSimBandit()
	rs := b.rounds(rand.New(rand.NewPCG(2, 1)), 2000, b.bad)
	sel, err := eval.Select(rs, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("chose %s: %s", sel.Chosen.Estimator, sel.Reason)
	if sel.Chosen.Estimator == "DM" || !strings.Contains(sel.Reason, "DM") || len(sel.Candidates) != 8 {
		t.Errorf("chose %s of %d: %s", sel.Chosen.Estimator, len(sel.Candidates), sel.Reason)
	}
	for i := 1; i < len(sel.Width); i++ {
		if sel.Width[i] > sel.Width[i-1] {
			t.Errorf("widths not in decreasing order: %v", sel.Width)
		}
	}
}
