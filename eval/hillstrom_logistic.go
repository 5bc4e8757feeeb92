package eval

import (
	"fmt"

	"nextbest/models"
)

// LogisticArmPolicy picks, per customer, the arm with the highest expected
// outcome under per-arm logistic response models trained with the
// project's own trainer (models.TrainLogistic, IRLS with L2): for visit
// and conversion the predicted probability; for spend a hurdle model,
// P(conversion | customer, arm) × the arm's mean spend among its
// converters (spend is zero without a conversion).
type LogisticArmPolicy struct {
	Outcome Outcome
	model   *models.Logistic
	// spendGivenConv is each arm's mean spend among converters (spend only).
	spendGivenConv [NumArms]float64
}

// FitLogisticArmPolicy trains the policy on the customers at idx.
func FitLogisticArmPolicy(cs []Customer, idx []int, o Outcome, l2 float64) (*LogisticArmPolicy, error) {
	d := len(HillstromFeatures(&Customer{}, nil))
	xs := make([]float64, 0, len(idx)*d)
	acts := make([]int, 0, len(idx))
	ys := make([]float64, 0, len(idx))
	var sum [NumArms]float64
	var n [NumArms]int
	var x []float64
	for _, i := range idx {
		c := &cs[i]
		x = HillstromFeatures(c, x) // it overwrites its dst
		xs = append(xs, x...)
		acts = append(acts, int(c.Arm))
		y := 0.0
		switch o {
		case Visit:
			if c.Visit {
				y = 1
			}
		default: // conversion, and the hurdle of spend
			if c.Conversion {
				y = 1
				sum[c.Arm] += c.Spend
				n[c.Arm]++
			}
		}
		ys = append(ys, y)
	}
	m, err := models.TrainLogistic(models.LogisticConfig{Dim: d, Actions: int(NumArms), L2: l2, Name: "hillstrom-logistic"}, xs, acts, ys)
	if err != nil {
		return nil, fmt.Errorf("hillstrom logistic: %w", err)
	}
	p := &LogisticArmPolicy{Outcome: o, model: m}
	for a := range p.spendGivenConv {
		if n[a] > 0 {
			p.spendGivenConv[a] = sum[a] / float64(n[a])
		}
	}
	return p, nil
}

// Predict returns the expected outcome of each arm for c.
func (p *LogisticArmPolicy) Predict(c *Customer) [NumArms]float64 {
	x := HillstromFeatures(c, nil)
	xs := make([]float64, 0, int(NumArms)*len(x))
	acts := make([]int, NumArms)
	for a := range acts {
		xs = append(xs, x...)
		acts[a] = a
	}
	var mean, std [NumArms]float64
	p.model.Predict(mean[:], std[:], acts, xs)
	if p.Outcome == Spend {
		for a := range mean {
			mean[a] *= p.spendGivenConv[a]
		}
	}
	return mean
}

// Arm implements Policy: the arm with the highest expected outcome.
func (p *LogisticArmPolicy) Arm(c *Customer) Arm { return bestArm(p.Predict(c)) }
