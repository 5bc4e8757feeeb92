package eval_test

import (
	"fmt"

	"nextbest/eval"
)

// Two actions; the logger chose uniformly, the target policy always
// prefers action 1. IPS reweights the rounds where the logger happened to
// agree with the target.
func ExampleEvaluate() {
	rounds := []eval.Round{
		{Logged: 0, Propensity: 0.5, Reward: 0, Target: []float64{0.1, 0.9}},
		{Logged: 1, Propensity: 0.5, Reward: 1, Target: []float64{0.1, 0.9}},
		{Logged: 1, Propensity: 0.5, Reward: 0, Target: []float64{0.1, 0.9}},
		{Logged: 0, Propensity: 0.5, Reward: 1, Target: []float64{0.1, 0.9}},
	}
	for _, e := range []eval.Estimator{eval.IPS, eval.SNIPS} {
		est, err := eval.Evaluate(rounds, e, eval.Options{})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s %.3f ESS %.2f (%s)\n", est.Estimator, est.Value, est.ESS, est.Interval)
	}
	// Output:
	// IPS 0.500 ESS 2.44 (CLT, t(n-1))
	// SNIPS 0.500 ESS 2.44 (delta method, t(n-1))
}
