package logs_test

import (
	"errors"
	"math"
	"testing"

	"nextbest/journal"
	"nextbest/logs"
)

// TestEstimatePositionsByHand: two decisions over two eligible actions,
// both logged with propensities 0.5 then 1, rewards (1, 1) and (1, 0).
// The uniform ranking's cumulative weights are W₀ = (1/2)/0.5 = 1 and
// W₁ = 1·(1/1)/1 = 1, so slot 0's mean is 1, slot 1's 0.5 and θ̂₁ = 0.5.
// The influence per decision is (r₁ − 0.5) − 0.5·(r₀ − 1) = ±0.5, whose
// sample sd is √0.5, so SE = √0.5/√2 = 0.5.
func TestEstimatePositionsByHand(t *testing.T) {
	dec := func(r0, r1 float64) logs.Joined {
		return logs.Joined{Decision: journal.Decision{Eligible: []string{"a", "b"}, Actions: []journal.LoggedAction{
			{ActionID: "a", Slot: 0, Propensity: 0.5}, {ActionID: "b", Slot: 1, Propensity: 1}}}, Rewards: []float64{r0, r1}}
	}
	pm, err := logs.EstimatePositions([]logs.Joined{dec(1, 1), dec(1, 0)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(pm.Exam) != 2 || pm.Exam[0] != 1 || math.Abs(pm.Exam[1]-0.5) > 1e-12 || math.Abs(pm.SE[1]-0.5) > 1e-12 {
		t.Errorf("model %+v, want exam [1 0.5], se [0 0.5]", pm)
	}
	if pm.Factor(0) != 1 || pm.Factor(5) != pm.Exam[1] || (*logs.PositionModel)(nil).Factor(3) != 1 {
		t.Errorf("Factor: %v %v", pm.Factor(0), pm.Factor(5))
	}
	single := dec(1, 0)
	single.Decision.Actions = single.Decision.Actions[:1]
	for name, js := range map[string][]logs.Joined{
		"no slot 1":        {single, single},
		"no slot-0 reward": {dec(0, 1), dec(0, 0)},
	} {
		if _, err := logs.EstimatePositions(js, 2); !errors.Is(err, logs.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}
