package clv_test

import (
	"fmt"

	"nextbest/clv"
)

// Value one customer with the CDNOW fit: 3 repeat purchases, the last
// 30 weeks after the first, 38 weeks of age, 30 a purchase on average;
// one year ahead in monthly steps, discounted at 10% a year.
func ExamplePredict() {
	m := clv.Model{
		BGNBD: clv.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426},
		Spend: clv.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44},
	}
	p, err := clv.Predict(m, clv.History{X: 3, TX: 30, T: 38, MeanSpend: 30}, clv.AnnualHorizon(52, 0, 0.10))
	if err != nil {
		panic(err)
	}
	fmt.Printf("P(alive) %.3f, purchases %.2f, spend %.2f, CLV %.2f\n", p.PAlive, p.ExpectedPurchases, p.ExpectedSpend, p.CLV)
	// Output: P(alive) 0.739, purchases 2.28, spend 30.67, CLV 66.81
}
