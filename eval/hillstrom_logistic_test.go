package eval_test

import (
	"math/rand/v2"
	"testing"

	"nextbest/eval"
)

// TestLogisticArmPolicyLearnsHeterogeneity: in a synthetic trial where a
// men's e-mail makes men's buyers visit (40% against 10%) and a women's
// e-mail women's buyers, the logistic per-arm policy sends each customer
// the matching e-mail.
func TestLogisticArmPolicyLearnsHeterogeneity(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	cs := make([]eval.Customer, 30000)
	idx := make([]int, len(cs))
	for i := range cs {
		mens := r.IntN(2) == 0
		c := eval.Customer{Recency: 1 + r.IntN(12), HistorySegment: 1 + r.IntN(7), History: 50 + 500*r.Float64(),
			Mens: mens, Womens: !mens, ZipCode: "Urban", Channel: "Web", Arm: eval.Arm(r.IntN(3))}
		p := 0.1
		if (mens && c.Arm == eval.MensEmail) || (!mens && c.Arm == eval.WomensEmail) {
			p = 0.4
		}
		c.Visit = r.Float64() < p
		cs[i], idx[i] = c, i
	}
	pol, err := eval.FitLogisticArmPolicy(cs, idx, eval.Visit, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, mens := range []bool{true, false} {
		c := &eval.Customer{Recency: 6, HistorySegment: 3, History: 200, Mens: mens, Womens: !mens, ZipCode: "Urban", Channel: "Web"}
		want := eval.WomensEmail
		if mens {
			want = eval.MensEmail
		}
		if got := pol.Arm(c); got != want {
			t.Errorf("mens=%v: policy sends %v, want %v (predictions %v)", mens, got, want, pol.Predict(c))
		}
	}
}
