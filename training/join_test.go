package training_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"nextbest/features"
	"nextbest/journal"
	"nextbest/training"
)

func TestJoin(t *testing.T) {
	h := "spec-hash"
	day := 24 * time.Hour
	dir := writeJournal(t,
		decision("d1", t0, h, "free-shipping", "welcome-15"),
		decision("d2", t0.Add(time.Minute), h, "new-arrivals"),
		decision("d3", t0.Add(2*time.Minute), h, "style-guide"),
		journal.Event{CustomerID: "c-1", Type: "page_view", Time: t0},
		outcome("d1", "free-shipping", "click", 1, t0.Add(time.Hour)),
		outcome("d1", "free-shipping", "click", 1, t0.Add(2*time.Hour)),      // duplicate type
		outcome("d1", "free-shipping", "conversion", 5, t0.Add(3*time.Hour)), // distinct type adds
		outcome("d1", "new-arrivals", "click", 1, t0.Add(time.Hour)),         // not shown
		outcome("d2", "new-arrivals", "click", 1, t0.Add(8*day)),             // late
		outcome("d9", "style-guide", "click", 1, t0.Add(time.Hour)),          // unknown decision
		outcome("d3", "style-guide", "click", 2, t0.Add(7*day)),              // exactly at the window: counts
		journal.Event{CustomerID: "c-1", Type: "page_view", Time: t0.Add(30 * day)},
	)
	tests := []struct {
		name    string
		cfg     training.JoinConfig
		rewards map[string][]float64
		stats   training.JoinStats
	}{
		{
			name:    "defaults",
			cfg:     training.JoinConfig{},
			rewards: map[string][]float64{"d1": {6, 0}, "d2": {0}, "d3": {2}},
			stats: training.JoinStats{Records: 12, Decisions: 3, Events: 2, Outcomes: 7, Joined: 3, Late: 1,
				Duplicate: 1, NotShown: 1, Unknown: 1, Rewarded: 2, Shown: 4},
		},
		{
			name:    "default reward and a 9-day window",
			cfg:     training.JoinConfig{Window: 9 * day, DefaultReward: -0.5},
			rewards: map[string][]float64{"d1": {6, -0.5}, "d2": {1}, "d3": {2}},
			stats: training.JoinStats{Records: 12, Decisions: 3, Events: 2, Outcomes: 7, Joined: 4,
				Duplicate: 1, NotShown: 1, Unknown: 1, Rewarded: 3, Shown: 4},
		},
		{
			name:    "time filter",
			cfg:     training.JoinConfig{From: t0.Add(time.Minute), To: t0.Add(2 * time.Minute)},
			rewards: map[string][]float64{"d2": {0}},
			stats: training.JoinStats{Records: 12, Decisions: 1, Filtered: 2, Events: 2, Outcomes: 7, Joined: 3, Late: 1,
				Duplicate: 1, NotShown: 1, Unknown: 1, Shown: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, st, err := training.Join(context.Background(), dir, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if st != tc.stats {
				t.Errorf("stats\n got %+v\nwant %+v", st, tc.stats)
			}
			if len(got) != len(tc.rewards) {
				t.Fatalf("%d decisions, want %d", len(got), len(tc.rewards))
			}
			for _, j := range got {
				if want := tc.rewards[j.Decision.DecisionID]; !slices.Equal(j.Rewards, want) {
					t.Errorf("%s: rewards %v, want %v", j.Decision.DecisionID, j.Rewards, want)
				}
			}
		})
	}
}

// TestJoinTypeRewards checks the per-type rewards the experiment analysis
// reads: the first outcome of each type counts, duplicates, late and
// unshown outcomes do not, and each action's Rewards equal the sum of its
// TypeRewards once an outcome joined.
func TestJoinTypeRewards(t *testing.T) {
	dir := writeJournal(t,
		decision("d1", t0, "h", "free-shipping", "welcome-15"),
		decision("d2", t0.Add(time.Minute), "h", "new-arrivals"),
		outcome("d1", "free-shipping", "click", 1, t0.Add(time.Hour)),
		outcome("d1", "free-shipping", "click", 3, t0.Add(2*time.Hour)),      // duplicate type: ignored
		outcome("d1", "free-shipping", "conversion", 1, t0.Add(3*time.Hour)), // distinct type adds
		outcome("d1", "free-shipping", "revenue", 42.5, t0.Add(3*time.Hour)), // distinct type adds
		outcome("d1", "welcome-15", "purchase", 1, t0.Add(time.Hour)),        // second action
		outcome("d2", "new-arrivals", "revenue", 10, t0.Add(8*24*time.Hour)), // late: ignored
		outcome("d2", "style-guide", "conversion", 1, t0.Add(time.Hour)),     // not shown: ignored
	)
	got, _, err := training.Join(context.Background(), dir, training.JoinConfig{DefaultReward: -1})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]map[string]float64{
		"d1": {{"click": 1, "conversion": 1, "revenue": 42.5}, {"purchase": 1}},
		"d2": {nil},
	}
	if len(got) != len(want) {
		t.Fatalf("%d decisions, want %d", len(got), len(want))
	}
	for _, j := range got {
		w := want[j.Decision.DecisionID]
		if len(j.TypeRewards) != len(w) {
			t.Fatalf("%s: %d type-reward maps, want %d", j.Decision.DecisionID, len(j.TypeRewards), len(w))
		}
		for i := range w {
			if (w[i] == nil) != (j.TypeRewards[i] == nil) || !maps.Equal(j.TypeRewards[i], w[i]) {
				t.Errorf("%s action %d: type rewards %v, want %v", j.Decision.DecisionID, i, j.TypeRewards[i], w[i])
			}
			if j.Outcomes[i] != len(w[i]) {
				t.Errorf("%s action %d: %d outcomes, want %d", j.Decision.DecisionID, i, j.Outcomes[i], len(w[i]))
			}
			if j.Outcomes[i] == 0 {
				if j.Rewards[i] != -1 {
					t.Errorf("%s action %d: reward %v, want the default -1", j.Decision.DecisionID, i, j.Rewards[i])
				}
				continue
			}
			var sum float64
			for _, r := range j.TypeRewards[i] {
				sum += r
			}
			if j.Rewards[i] != sum {
				t.Errorf("%s action %d: reward %v, want the sum of its types %v", j.Decision.DecisionID, i, j.Rewards[i], sum)
			}
		}
	}
}

func TestJoinOpenWindow(t *testing.T) {
	dir := writeJournal(t,
		decision("d1", t0, "h", "free-shipping"),
		decision("d2", t0.Add(6*24*time.Hour), "h", "free-shipping"),
		journal.Event{CustomerID: "c", Type: "page_view", Time: t0.Add(8 * 24 * time.Hour)},
	)
	got, st, err := training.Join(context.Background(), dir, training.JoinConfig{DropOpen: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Decision.DecisionID != "d1" || st.Open != 1 || st.Filtered != 1 {
		t.Fatalf("got %d decisions, stats %+v", len(got), st)
	}
}

func TestJoinBadConfig(t *testing.T) {
	_, _, err := training.Join(context.Background(), t.TempDir(), training.JoinConfig{Window: -time.Second})
	if !errors.Is(err, training.ErrBadConfig) {
		t.Fatalf("err %v, want ErrBadConfig", err)
	}
}

// TestJoinTornTail appends garbage to the last segment, as a crash in the
// middle of a write leaves it: the join reads every whole record before it
// and stops there without error.
func TestJoinTornTail(t *testing.T) {
	dir := writeJournal(t,
		decision("d1", t0, "h", "free-shipping"),
		outcome("d1", "free-shipping", "click", 1, t0.Add(time.Hour)),
	)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	f, err := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// a frame header announcing 100 bytes, then only 10 of them
	f.Write([]byte{100, 0, 0, 0, 1, 2, 3, 4, 1, 1, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '{', '"', 'v', '"'})
	f.Close()
	got, st, err := training.Join(context.Background(), dir, training.JoinConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Rewards[0] != 1 || st.Records != 2 {
		t.Fatalf("got %+v stats %+v", got, st)
	}
}

// TestBuildDatasetExact checks that the rebuilt rows equal the vectors the
// live path assembles (features.Spec.Inputs from the profile, then
// Assemble), bit for bit, after the JSON round trip through the journal.
func TestBuildDatasetExact(t *testing.T) {
	spec, cat := retailSample(t)
	p := &features.Profile{CustomerID: "c-1", Stage: "cart", FirstSeen: t0.Add(-40 * 24 * time.Hour),
		Attributes: map[string]any{"tier": "gold", "age": 33.0, "email_opt_in": true},
		LastEvent:  map[string]time.Time{"purchase": t0.Add(-72 * time.Hour)}}
	ctx := map[string]any{"page": "cart", "cart_value": 120.5, "device": "mobile"}
	var in features.Inputs
	spec.Inputs(&in, p, "web", ctx, t0)
	ids := []string{"free-shipping", "cart-reminder-10", "new-arrivals"}
	var feats []*features.ActionFeatures
	for _, id := range ids {
		a, _ := cat.Lookup(id)
		feats = append(feats, a.Compiled().(*features.ActionFeatures))
	}
	live := make([]float64, len(ids)*spec.Dim())
	spec.Assemble(live, &in, feats)

	d := decision("d1", t0, spec.Hash(), ids...)
	d.Profile, d.Context = in.ProfileMap(), ctx
	other := decision("d2", t0, "another-spec", "free-shipping")
	gone := decision("d3", t0, spec.Hash(), "no-longer-in-catalog", "new-arrivals")
	dir := writeJournal(t, d, other, gone, outcome("d1", "cart-reminder-10", "conversion", 1, t0.Add(time.Hour)))

	joined, _, err := training.Join(context.Background(), dir, training.JoinConfig{})
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
