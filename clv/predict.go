package clv

import (
	"fmt"
	"math"
	"slices"
)

// Model is the pair of fitted models a prediction needs: BG/NBD for how
// often a customer buys and for how long, Gamma-Gamma for how much.
type Model struct {
	BGNBD BGNBD      `json:"bgnbd"`
	Spend GammaGamma `json:"gamma_gamma"`
}

// Validate returns an error wrapping ErrInvalidModel if either model's
// parameters are outside its domain.
func (m Model) Validate() error {
	if err := m.BGNBD.Validate(); err != nil {
		return err
	}
	return m.Spend.Validate()
}

// Horizon says how far ahead customer value is counted and how it is
// discounted: Length time units (weeks for Summarize's default), cut into
// steps of Step units (the last one shorter if Step does not divide
// Length), the purchases of step k (1-based) discounted by (1+Discount)^k.
type Horizon struct {
	Length   float64 `json:"length"`
	Step     float64 `json:"step"`
	Discount float64 `json:"discount_per_step"`
}

// AnnualHorizon returns the Horizon of weeks weeks in steps of stepWeeks,
// discounted at annualRate a year (0.1 for 10%), compounded per step:
// Discount = (1+annualRate)^(stepWeeks/52) − 1. A stepWeeks of 0 means
// monthly steps (52/12 weeks).
func AnnualHorizon(weeks, stepWeeks, annualRate float64) Horizon {
	if stepWeeks == 0 {
		stepWeeks = 52.0 / 12
	}
	return Horizon{Length: weeks, Step: stepWeeks, Discount: math.Pow(1+annualRate, stepWeeks/52) - 1}
}

// Validate returns an error wrapping ErrInvalidOptions unless Length and
// Step are positive and finite, there are at most 100,000 steps, and
// Discount is finite and above −1.
func (h Horizon) Validate() error {
	switch {
	case !(h.Length > 0) || math.IsInf(h.Length, 0):
		return fmt.Errorf("%w: horizon length %v: want > 0", ErrInvalidOptions, h.Length)
	case !(h.Step > 0) || math.IsInf(h.Step, 0):
		return fmt.Errorf("%w: horizon step %v: want > 0", ErrInvalidOptions, h.Step)
	case h.Length/h.Step > 1e5:
		return fmt.Errorf("%w: horizon of %v in steps of %v: more than 100,000 steps", ErrInvalidOptions, h.Length, h.Step)
	case !(h.Discount > -1) || math.IsInf(h.Discount, 0):
		return fmt.Errorf("%w: discount rate %v: want > −1", ErrInvalidOptions, h.Discount)
	}
	return nil
}

// Prediction is what the models expect of one customer.
type Prediction struct {
	// PAlive is the probability that the customer is still active now.
	PAlive float64 `json:"p_alive"`
	// ExpectedPurchases is the expected number of purchases over the
	// horizon (undiscounted).
	ExpectedPurchases float64 `json:"expected_purchases"`
	// ExpectedSpend is the expected amount per purchase.
	ExpectedSpend float64 `json:"expected_spend"`
	// CLV is the discounted expected revenue over the horizon (see Predict).
	CLV float64 `json:"clv"`
}

// Predict returns what model m expects of a customer with history h over
// horizon hz. It is a pure function of its arguments, safe to call
// concurrently, and allocates nothing.
//
// With E[Y(t)] = m.BGNBD.ConditionalExpectedPurchases(t, h), steps
// t_k = min(k·Step, Length), k = 1 … K = ⌈Length/Step⌉, and the
// Gamma-Gamma expected spend E[Z] = m.Spend.ConditionalMeanSpend(h):
//
//	CLV = Σ_k (E[Y(t_k)] − E[Y(t_{k−1})]) · E[Z] / (1+Discount)^k
//
// the expected purchases of each step times the expected spend,
// discounted to now (the "simple" approach of lifetimes' customer
// lifetime value, not the closed-form DERT of FHL 2005, which needs a
// continuous discount rate and an infinite horizon). It is revenue: apply
// a margin outside. The spend model assumes spend independent of purchase
// frequency.
func Predict(m Model, h History, hz Horizon) (Prediction, error) {
	if err := m.Validate(); err != nil {
		return Prediction{}, err
	}
	if err := hz.Validate(); err != nil {
		return Prediction{}, err
	}
	p := Prediction{PAlive: m.BGNBD.PAlive(h), ExpectedSpend: m.Spend.ConditionalMeanSpend(h)}
	k := int(math.Ceil(hz.Length/hz.Step - 1e-9))
	prev, df := 0.0, 1.0
	for i := 1; i <= k; i++ {
		t := min(float64(i)*hz.Step, hz.Length)
		cur := m.BGNBD.ConditionalExpectedPurchases(t, h)
		df /= 1 + hz.Discount
		p.CLV += (cur - prev) * df
		prev = cur
	}
	p.ExpectedPurchases = prev
	p.CLV *= p.ExpectedSpend
	return p, nil
}

// ExpectedRepeats returns the cohort's expected cumulative repeat
// purchases at the end of each period 1 … periods of s (the "expected"
// series of FHL 2005's tracking plot): Σ over customers of
// E[X(t − age at first purchase)], where t is the end of the period and
// the customer's clock starts at the first purchase day. A period ends on
// its last day, the way T is measured to the calibration's last day.
func ExpectedRepeats(m BGNBD, s *Summary, periods int) []float64 {
	// customers by first day: a cohort of CDNOW's size has ~90 distinct days
	type cohort struct {
		first Date
		n     int
	}
	var cohorts []cohort
	firsts := make([]Date, len(s.Customers))
	for i, c := range s.Customers {
		firsts[i] = c.First
	}
	slices.Sort(firsts)
	for _, d := range firsts {
		if len(cohorts) > 0 && cohorts[len(cohorts)-1].first == d {
			cohorts[len(cohorts)-1].n++
		} else {
			cohorts = append(cohorts, cohort{d, 1})
		}
	}
	out := make([]float64, periods)
	for w := range periods {
		lastDay := s.Start + Date(math.Ceil(float64(w+1)*s.UnitDays)) - 1
		for _, c := range cohorts {
			if c.first < lastDay {
				out[w] += float64(c.n) * m.ExpectedPurchases(s.Age(c.first, lastDay))
			}
		}
	}
	return out
}
