package clv_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"nextbest/clv"
)

// TestBase: four customers whose figures are given, every number of the
// base worked by hand.
//
//	id  x  P(alive)  expected purchases  CLV
//	a   0  1.0       0.5                  10
//	b   2  0.8       2                    50
//	c   1  0.3       0.4                   5
//	d   3  0.9       3                   100
//
// Total 165, mean 41.25, expected purchases 5.9, mean P(alive) 0.75;
// P(alive) ≥ 0.5: a, b, d (3), of whom b, d bought again (2 of the 3
// repeat buyers b, c, d). The top tenth is one customer, d: 100/165.
// CLV sorted 5, 10, 50, 100; type-7 quantiles at h = q·3: p10 h = 0.3,
// 5 + 0.3·5 = 6.5; q1 h = 0.75, 8.75; median h = 1.5, 30; q3 h = 2.25,
// 50 + 0.25·50 = 62.5; p90 h = 2.7, 85. Bins of 10 (the largest is 100,
// a tenth of it 10): [0,10) c, [10,20) a, [50,60) b, and 100 in the last,
// [90,100]. P(alive) bins of 0.1 up to 1: 0.3 in [0.3,0.4) (0.3/0.1 is
// 2.9999999999999996 in floating point), 0.8, 0.9 and 1.0 in the last.
func TestBase(t *testing.T) {
	bb := clv.NewBaseBuilder(clv.BaseOptions{HorizonWeeks: 52, AnnualDiscount: 0.1, Top: 3})
	for _, c := range []struct {
		id      string
		x       int
		p, e, v float64
	}{{"a", 0, 1, 0.5, 10}, {"b", 2, 0.8, 2, 50}, {"c", 1, 0.3, 0.4, 5}, {"d", 3, 0.9, 3, 100}} {
		bb.Add(c.id, clv.History{X: c.x}, clv.Prediction{PAlive: c.p, ExpectedPurchases: c.e, CLV: c.v})
	}
	b := bb.Base()
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if b.Customers != 4 || b.RepeatBuyers != 3 || b.LikelyAlive != 3 || b.LikelyAliveRepeat != 2 {
		t.Errorf("counts: %+v", b)
	}
	near("total", b.TotalCLV, 165)
	near("mean", b.MeanCLV, 41.25)
	near("expected purchases", b.ExpectedPurchases, 5.9)
	near("mean P(alive)", b.MeanPAlive, 0.75)
	near("top decile share", b.TopDecileShare, 100.0/165)
	d := b.CLV
	for _, q := range []struct {
		name      string
		got, want float64
	}{{"p10", d.P10, 6.5}, {"q1", d.Q1, 8.75}, {"median", d.Median, 30}, {"q3", d.Q3, 62.5}, {"p90", d.P90, 85}, {"max", d.Max, 100}} {
		near(q.name, q.got, q.want)
	}
	counts := func(bins []clv.Bin) []int {
		var out []int
		for _, b := range bins {
			out = append(out, b.Customers)
		}
		return out
	}
	if got := counts(d.Bins); !slices.Equal(got, []int{1, 1, 0, 0, 0, 1, 0, 0, 0, 1}) || d.Bins[9].Hi != 100 {
		t.Errorf("CLV bins %v", d.Bins)
	}
	near("CLV in [50,60)", d.Bins[5].CLV, 50)
	if got := counts(b.PAlive.Bins); !slices.Equal(got, []int{0, 0, 0, 1, 0, 0, 0, 0, 1, 2}) {
		t.Errorf("P(alive) bins %v", got)
	}
	near("CLV of P(alive) in [0.9,1]", b.PAlive.Bins[9].CLV, 110)
	var top []string
	for _, c := range b.Top {
		top = append(top, c.ID)
	}
	if !slices.Equal(top, []string{"d", "b", "a"}) || b.Top[0].X != 3 {
		t.Errorf("top %v", b.Top)
	}
	h := b.Headline()
	for i, want := range []string{
		"Expected value of the customer base: 165 over the next 52 weeks (4 customers with a purchase, 41.25 each on average; discounted at 10% a year).",
		"Likely still active: 3 of 4 customers (75.0%) have P(alive) ≥ 0.5; among the 3 who bought again, 2 (66.7%).",
		"Where the value is: the most valuable tenth of the customers hold 60.6% of it; half the customers are worth less than 30.00, the most valuable 100.",
	} {
		if i >= len(h) || !strings.HasPrefix(h[i], want) {
			t.Errorf("headline %d: %q, want %q…", i, h, want)
		}
	}
}

// TestBaseEmptyAndTies: no customer gives empty distributions and a
// headline that says so; equal values keep the first ids in the top; a
// negative Top lists none.
func TestBaseEmptyAndTies(t *testing.T) {
	b := clv.NewBaseBuilder(clv.BaseOptions{}).Base()
	if b.Customers != 0 || len(b.CLV.Bins) != 0 || len(b.Top) != 0 || b.Top == nil || len(b.Headline()) != 1 {
		t.Errorf("empty base: %+v %q", b, b.Headline())
	}
	bb := clv.NewBaseBuilder(clv.BaseOptions{Top: 2})
	for _, id := range []string{"z", "y", "x"} {
		bb.Add(id, clv.History{}, clv.Prediction{PAlive: 1})
	}
	b = bb.Base()
	none := clv.NewBaseBuilder(clv.BaseOptions{Top: -1})
	none.Add("a", clv.History{}, clv.Prediction{CLV: 1})
	if nb := none.Base(); len(nb.Top) != 0 || nb.Customers != 1 {
		t.Errorf("Top -1: %+v", nb)
	}
	if len(b.Top) != 2 || b.Top[0].ID != "x" || b.Top[1].ID != "y" || len(b.CLV.Bins) != 1 || b.CLV.Bins[0].Customers != 3 {
		t.Errorf("ties: %+v", b)
	}
}
