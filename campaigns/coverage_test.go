package campaigns_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"nextbest/campaigns"
	"nextbest/experiment"
	"nextbest/journal"
	"nextbest/logs"
)

// TestIntervalCoverage: the conversion-rate intervals of the report
// cover the true rate in 95% of simulated samples, counted over 1,000
// samples per case (seed fixed). The standard error of a coverage of
// 0.95 over 1,000 samples is √(0.95·0.05/1000) = 0.0069; the test asks
// for 0.95 ± 0.021, three of them.
//
//   - independent: every impression a customer of its own, Bernoulli(p);
//   - clustered: 150 customers with 4 impressions each, each customer's
//     own rate drawn from Beta(1, 9) (mean 0.1, intra-customer
//     correlation 1/11, design effect 1 + 3/11 = 1.27). A Wilson
//     interval that takes the 600 impressions as independent covers
//     about P(|Z| < 1.96/√1.27) = 0.92 of the time; the report's
//     interval, on the customer-clustered effective count, keeps 0.95.
func TestIntervalCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 simulated reports per case")
	}
	const sims = 1000
	r := rand.New(rand.NewPCG(14, 1))
	cases := []struct {
		name      string
		customers int
		per       int
		p         float64
		rate      func() float64 // a customer's own rate
	}{
		{"independent p=0.05 n=400", 400, 1, 0.05, nil},
		{"independent p=0.3 n=100", 100, 1, 0.3, nil},
		{"clustered Beta(1,9) 150x4", 150, 4, 0.1, func() float64 { return distuv.Beta{Alpha: 1, Beta: 9, Src: r}.Rand() }},
	}
	se := math.Sqrt(0.95 * 0.05 / sims)
	for _, c := range cases {
		covered, naive := 0, 0
		for range sims {
			joined := make([]logs.Joined, 0, c.customers*c.per)
			conv := 0
			for k := range c.customers {
				p := c.p
				if c.rate != nil {
					p = c.rate()
				}
				for i := range c.per {
					y := r.Float64() < p
					if y {
						conv++
					}
					joined = append(joined, logs.Joined{
						Decision: journal.Decision{DecisionID: fmt.Sprint(k, "-", i), CustomerID: fmt.Sprint("c", k), Channel: "web", Time: g0,
							Actions: []journal.LoggedAction{{ActionID: "a"}}},
						Rewards: []float64{0}, Outcomes: []int{0}, TypeRewards: []map[string]float64{nil}, Converted: []bool{y}})
				}
			}
			rep, err := campaigns.Analyze(joined, nil, campaigns.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if iv := rep.Total.ConversionRate; iv.Lo <= c.p && c.p <= iv.Hi {
				covered++
			}
			n := float64(c.customers * c.per)
			if iv := experiment.WilsonInterval(float64(conv), n, 0.95); iv.Lo <= c.p && c.p <= iv.Hi {
				naive++
			}
		}
		cov, naiveCov := float64(covered)/sims, float64(naive)/sims
		t.Logf("%s: coverage %.3f (Wilson on every impression as independent: %.3f)", c.name, cov, naiveCov)
		if math.Abs(cov-0.95) > 3*se {
			t.Errorf("%s: coverage %.3f, want 0.95 ± %.3f", c.name, cov, 3*se)
		}
		if c.rate != nil && naiveCov >= cov {
			t.Errorf("%s: the clustered interval (%.3f) covers no better than the naive one (%.3f)", c.name, cov, naiveCov)
		}
	}
}
