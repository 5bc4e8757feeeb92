package state

import (
	"slices"
	"testing"
	"time"

	"nextbest/logs"
)

// TestApplyMaxAfterLate: after a late outcome of a max type, the first
// attributed one (reward 0, no change to the type's reward beyond
// replacing the default) is the type's first, and the next ones fold onto
// it. The declared rule gives max(0, −1, 2) = 2; the deltas handed to the
// learner must add up to it from r₀, batch by batch or in one batch.
func TestApplyMaxAfterLate(t *testing.T) {
	e := newEnv(t)
	var err error
	if e.outcomes, err = logs.NewOutcomes([]logs.OutcomeType{{Name: "basket", Aggregate: logs.AggMax}}); err != nil {
		t.Fatal(err)
	}
	const window = 2 * time.Hour
	const r0 = -0.25
	d := decision(decisionID(t0, 1), "c-1", "", t0, "free-shipping")
	r := &records{t: t}
	r.add(d)                                                                           // 1
	r.add(outcome(d, "free-shipping", "basket", "", 3, t0.Add(window+time.Hour)))      // 2: late
	r.add(outcome(d, "free-shipping", "basket", "", 0, t0.Add(time.Hour)))             // 3: the first attributed
	r.add(outcome(d, "free-shipping", "basket", "", -1, t0.Add(time.Hour)))            // 4: below the max
	r.add(outcome(d, "free-shipping", "basket", "", 2, t0.Add(time.Hour+time.Minute))) // 5: a new max
	want := []string{"3:free-shipping:0.25", "5:free-shipping:2"}

	for name, batch := range map[string]int{"one batch": len(r.recs), "one record a batch": 1} {
		t.Run(name, func(t *testing.T) {
			var lr learned
			a := e.applierOf(t, openStore(t, t.TempDir()), ApplierConfig{Learner: &lr, Window: window, DefaultReward: r0})
			for recs := range slices.Chunk(r.recs, batch) {
				if err := a.Apply(recs, nil); err != nil {
					t.Fatal(err)
				}
			}
			if got := lr.rewards(); !slices.Equal(got, want) {
				t.Errorf("rewards %v, want %v", got, want)
			}
			sum := r0
			for _, it := range lr.items {
				sum += it.Delta
			}
			if sum != 2 {
				t.Errorf("r₀ plus the deltas = %g, want max(0, -1, 2) = 2", sum)
			}
		})
	}
}
