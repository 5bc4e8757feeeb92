package clv

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Base is what a model says of a whole customer base at one moment: the
// value of every customer with a purchase, summed and spread out, and
// how many are likely still active. It is what the service's dashboard
// shows on its CLV page, from the purchase histories its profiles keep;
// Report is the batch counterpart, with a fit and a holdout check.
type Base struct {
	// HorizonWeeks and AnnualDiscount are the horizon the values are
	// over and the discount rate a year (BaseOptions).
	HorizonWeeks   float64 `json:"horizon_weeks"`
	AnnualDiscount float64 `json:"annual_discount"`
	// Customers counts the customers valued (each with a purchase);
	// RepeatBuyers those of them with a repeat purchase (x > 0).
	Customers    int `json:"customers"`
	RepeatBuyers int `json:"repeat_buyers"`
	// TotalCLV sums the customers' CLV; MeanCLV is its mean.
	TotalCLV float64 `json:"total_clv"`
	MeanCLV  float64 `json:"mean_clv"`
	// ExpectedPurchases sums the customers' expected purchases over the
	// horizon.
	ExpectedPurchases float64 `json:"expected_purchases"`
	// MeanPAlive is the mean probability alive; LikelyAlive counts the
	// customers with P(alive) ≥ 0.5, LikelyAliveRepeat those of them who
	// bought again.
	MeanPAlive        float64 `json:"mean_p_alive"`
	LikelyAlive       int     `json:"likely_alive"`
	LikelyAliveRepeat int     `json:"likely_alive_repeat_buyers"`
	// TopDecileShare is the share of TotalCLV that the most valuable
	// tenth of the customers (at least one) hold.
	TopDecileShare float64 `json:"top_decile_share"`
	// CLV and PAlive are the distributions of the customers' CLV and
	// P(alive).
	CLV    Distribution `json:"clv_distribution"`
	PAlive Distribution `json:"p_alive_distribution"`
	// Top are the most valuable customers, highest CLV first (ties by
	// id).
	Top []BaseCustomer `json:"top"`
}

// BaseCustomer is one customer of Base.Top.
type BaseCustomer struct {
	ID string `json:"customer_id"`
	// X is the customer's repeat purchases so far.
	X int `json:"x"`
	Prediction
}

// Distribution describes how a figure spreads over the customers: its
// quartiles, 10th and 90th percentiles (linear interpolation between the
// sorted values, R's type 7), its maximum, and a histogram.
type Distribution struct {
	P10    float64 `json:"p10"`
	Q1     float64 `json:"q1"`
	Median float64 `json:"median"`
	Q3     float64 `json:"q3"`
	P90    float64 `json:"p90"`
	Max    float64 `json:"max"`
	Bins   []Bin   `json:"bins"`
}

// Bin is one bar of a histogram: the customers whose figure is in
// [Lo, Hi) (the last bin includes Hi), and the sum of their CLV.
type Bin struct {
	Lo        float64 `json:"lo"`
	Hi        float64 `json:"hi"`
	Customers int     `json:"customers"`
	CLV       float64 `json:"clv"`
}

// BaseOptions configure a BaseBuilder.
type BaseOptions struct {
	// HorizonWeeks and AnnualDiscount say what the predictions added are
	// over, for the headline (they do not change a figure).
	HorizonWeeks, AnnualDiscount float64
	// Top is how many customers Base.Top lists; 0 is 10, negative none
	// (a service showing the base to readers of aggregates only).
	Top int
}

// BaseBuilder gathers a Base one customer at a time. The zero value is
// not usable: call NewBaseBuilder.
type BaseBuilder struct {
	b      Base
	top    int
	clv    []float64
	palive []float64
	sumP   float64
}

// NewBaseBuilder returns a builder for a base valued with o's horizon.
func NewBaseBuilder(o BaseOptions) *BaseBuilder {
	return &BaseBuilder{b: Base{HorizonWeeks: o.HorizonWeeks, AnnualDiscount: o.AnnualDiscount}, top: cmp.Or(o.Top, 10)}
}

// Add adds a customer: their id, history and what a model predicts of
// them (Predict).
func (bb *BaseBuilder) Add(id string, h History, p Prediction) {
	b := &bb.b
	b.Customers++
	b.TotalCLV += p.CLV
	b.ExpectedPurchases += p.ExpectedPurchases
	bb.sumP += p.PAlive
	if h.X > 0 {
		b.RepeatBuyers++
	}
	if p.PAlive >= 0.5 {
		b.LikelyAlive++
		if h.X > 0 {
			b.LikelyAliveRepeat++
		}
	}
	bb.clv = append(bb.clv, p.CLV)
	bb.palive = append(bb.palive, p.PAlive)
	if bb.top <= 0 {
		return
	}
	// the top list stays sorted; a customer enters when it is not full or
	// when they beat its last
	c := BaseCustomer{ID: id, X: h.X, Prediction: p}
	less := func(a, b BaseCustomer) int {
		if c := cmp.Compare(b.CLV, a.CLV); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	}
	if len(b.Top) == bb.top && less(c, b.Top[len(b.Top)-1]) >= 0 {
		return
	}
	i, _ := slices.BinarySearchFunc(b.Top, c, less)
	b.Top = slices.Insert(b.Top, i, c)
	if len(b.Top) > bb.top {
		b.Top = b.Top[:bb.top]
	}
}

// Base returns the base of the customers added so far. The builder may
// take more customers after.
func (bb *BaseBuilder) Base() *Base {
	b := bb.b
	b.Top = slices.Clone(b.Top)
	if b.Top == nil {
		b.Top = []BaseCustomer{}
	}
	if b.Customers > 0 {
		b.MeanCLV = b.TotalCLV / float64(b.Customers)
		b.MeanPAlive = bb.sumP / float64(b.Customers)
	}
	clvs := slices.Clone(bb.clv)
	slices.Sort(clvs)
	if b.TotalCLV > 0 {
		k := max(1, len(clvs)/10)
		var top float64
		for _, v := range clvs[len(clvs)-k:] {
			top += v
		}
		b.TopDecileShare = top / b.TotalCLV
	}
	b.CLV = distribution(clvs, bb.clv, bb.clv, niceStep(clvs), 0)
	pa := slices.Clone(bb.palive)
	slices.Sort(pa)
	b.PAlive = distribution(pa, bb.palive, bb.clv, 0.1, 1)
	return &b
}

// niceStep is the width of a histogram of about ten bins from 0 to the
// largest of sorted: 1, 2, 2.5 or 5 times a power of ten.
func niceStep(sorted []float64) float64 {
	if len(sorted) == 0 || !(sorted[len(sorted)-1] > 0) {
		return 1
	}
	raw := sorted[len(sorted)-1] / 10
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// distribution describes sorted (the values, ascending); values are the
// same in the order the customers came, and clvs their CLVs, for the
// bins' sums. The bins are [k·step, (k+1)·step) from 0 to the maximum or
// hi, whichever is larger (the last one closed).
func distribution(sorted, values, clvs []float64, step, hi float64) Distribution {
	d := Distribution{Bins: []Bin{}}
	if len(sorted) == 0 {
		return d
	}
	d.P10, d.Q1, d.Median = quantile(sorted, 0.1), quantile(sorted, 0.25), quantile(sorted, 0.5)
	d.Q3, d.P90, d.Max = quantile(sorted, 0.75), quantile(sorted, 0.9), sorted[len(sorted)-1]
	// a value a rounding below a bin's edge (0.3/0.1 = 2.9999999999999996)
	// belongs to the bin from that edge on
	const eps = 1e-9
	n := max(1, int(math.Ceil(max(d.Max, hi)/step-eps)))
	for k := range n {
		d.Bins = append(d.Bins, Bin{Lo: float64(k) * step, Hi: float64(k+1) * step})
	}
	for i, v := range values {
		k := min(n-1, max(0, int(math.Floor(v/step+eps))))
		d.Bins[k].Customers++
		d.Bins[k].CLV += clvs[i]
	}
	return d
}

// quantile is the q quantile of sorted by linear interpolation between
// order statistics (R's type 7, numpy's default).
func quantile(sorted []float64, q float64) float64 {
	h := q * float64(len(sorted)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// Headline returns the base's opening lines in plain words: its value,
// how many are likely still active, and how concentrated the value is.
// They name no customer.
func (b *Base) Headline() []string {
	n := b.Customers
	if n == 0 {
		return []string{"No customer has a purchase yet: there is no lifetime value to show."}
	}
	lines := []string{
		fmt.Sprintf("Expected value of the customer base: %s over the next %s weeks (%s customers with a purchase, %s each on average; discounted at %g%% a year).",
			money(b.TotalCLV), num(b.HorizonWeeks), count(n), money(b.MeanCLV), 100*b.AnnualDiscount),
		fmt.Sprintf("Likely still active: %s of %s customers (%s) have P(alive) ≥ 0.5; among the %s who bought again, %s (%s). One-time buyers always count as active in this model (it lets customers drop out only after a repeat purchase).",
			count(b.LikelyAlive), count(n), pct(float64(b.LikelyAlive)/float64(n)), count(b.RepeatBuyers), count(b.LikelyAliveRepeat),
			pct(float64(b.LikelyAliveRepeat)/float64(max(1, b.RepeatBuyers)))),
	}
	return append(lines, fmt.Sprintf("Where the value is: the most valuable tenth of the customers hold %s of it; half the customers are worth less than %s, the most valuable %s.",
		pct(b.TopDecileShare), money(b.CLV.Median), money(b.CLV.Max)))
}
