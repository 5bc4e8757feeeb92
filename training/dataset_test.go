package training_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"nextbest/internal/journaltest"
	"nextbest/logs"
	"nextbest/training"
)

// TestBuildDatasetExact checks that the rebuilt rows equal the vectors the
// live path assembles (features.Spec.Inputs from the profile, then
// Assemble), bit for bit, after the JSON round trip through the journal.
func TestBuildDatasetExact(t *testing.T) {
	spec, cat := journaltest.Retail(t)
	ids := []string{"free-shipping", "cart-reminder-10", "new-arrivals"}
	d, live := journaltest.Live(spec, cat, "d1", ids...)
	other := journaltest.Decision("d2", journaltest.T0, "another-spec", "free-shipping")
	gone := journaltest.Decision("d3", journaltest.T0, spec.Hash(), "no-longer-in-catalog", "new-arrivals")
	dir := journaltest.Write(t, d, other, gone, journaltest.Outcome("d1", "cart-reminder-10", "conversion", 1, journaltest.T0.Add(time.Hour)))

	joined, _, err := logs.Join(context.Background(), dir, logs.JoinConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ds, st, err := training.BuildDataset(joined, spec, cat)
	if err != nil {
		t.Fatal(err)
	}
	want := training.BuildStats{Decisions: 2, Rows: 4, SpecMismatch: 1, UnknownAction: 1}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if ds.Len() != 4 || ds.Dim != spec.Dim() {
		t.Fatalf("%d rows of dim %d", ds.Len(), ds.Dim)
	}
	for i := range ids {
		if !slices.Equal(ds.Row(i), live[i*spec.Dim():(i+1)*spec.Dim()]) {
			t.Errorf("row %d differs from the live vector", i)
		}
		a, _ := cat.Lookup(ids[i])
		if ds.Action[i] != a.Index() || ds.ActionIDs[ds.Action[i]] != ids[i] {
			t.Errorf("row %d action %d", i, ds.Action[i])
		}
	}
	if !slices.Equal(ds.Reward[:3], []float64{0, 1, 0}) || ds.Propensity[1] != 0.25 {
		t.Errorf("rewards %v propensities %v", ds.Reward, ds.Propensity)
	}
	if ds.Group[3] != 1 {
		t.Errorf("groups %v", ds.Group)
	}
}
