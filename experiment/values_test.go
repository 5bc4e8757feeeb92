package experiment_test

import (
	"testing"

	"nextbest/experiment"
	"nextbest/journal"
	"nextbest/logs"
)

// TestJoinedValues checks the metric definitions on one joined decision.
func TestJoinedValues(t *testing.T) {
	j := logs.Joined{
		Decision:    journal.Decision{Actions: []journal.LoggedAction{{ActionID: "x"}, {ActionID: "y"}, {ActionID: "z"}}},
		Rewards:     []float64{1.5, 30, -1},
		Outcomes:    []int{2, 1, 0},
		TypeRewards: []map[string]float64{{"click": 0.5, "purchase": 1}, {"revenue": 30}, nil},
		Converted:   []bool{true, false, false}, // the join's reading of the declarations
	}
	y, out := experiment.JoinedValues(&j)
	if y != (experiment.Values{1, 30, 31.5}) || !out {
		t.Errorf("values %v %v, want [1 30 31.5] true (the default reward -1 is not joined)", y, out)
	}
}

// TestOutcomeChange: the same decision's outcomes, one at a time, add up
// to what JoinedValues reads from their folded aggregates.
func TestOutcomeChange(t *testing.T) {
	types, err := logs.NewOutcomes(append(logs.DefaultOutcomeTypes(), logs.OutcomeType{Name: "basket", Aggregate: logs.AggMax}))
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(name string) *logs.OutcomeType {
		tp, ok := types.Lookup(name)
		if !ok {
			t.Fatalf("no type %s", name)
		}
		return tp
	}
	posted := []struct {
		typ string
		v   float64
	}{{"click", 1}, {"conversion", 0}, {"revenue", 40}, {"basket", 3}, {"basket", 2}, {"basket", 7}, {"purchase", 1}, {"conversion", 1}}
	var y experiment.Values
	converted := false
	aggs := map[string]logs.Aggregate{}
	for _, p := range posted {
		tp := lookup(p.typ)
		next, delta, counted := tp.Fold(aggs[p.typ], tp.Reward.Apply(p.v))
		if !counted {
			continue // a repeat of a first type: a duplicate
		}
		aggs[p.typ] = next
		var dy experiment.Values
		dy, converted = experiment.OutcomeChange(tp, p.v, delta, converted)
		for m := range y {
			y[m] += dy[m]
		}
	}
	// click 1, conversion 0 (first; the second is a duplicate), revenue
	// 40, basket max 7, purchase 1 (converts)
	if want := (experiment.Values{1, 40, 49}); y != want || !converted {
		t.Errorf("values %v (converted %v), want %v", y, converted, want)
	}
}
