package logs_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"nextbest/journal"
	"nextbest/logs"
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
		cfg     logs.JoinConfig
		rewards map[string][]float64
		stats   logs.JoinStats
	}{
		{
			name:    "defaults",
			cfg:     logs.JoinConfig{},
			rewards: map[string][]float64{"d1": {6, 0}, "d2": {0}, "d3": {2}},
			stats: logs.JoinStats{Records: 12, Decisions: 3, Events: 2, Outcomes: 7, Joined: 3, Late: 1,
				Duplicate: 1, NotShown: 1, Unknown: 1, Rewarded: 2, Shown: 4},
		},
		{
			name:    "default reward and a 9-day window",
			cfg:     logs.JoinConfig{Window: 9 * day, DefaultReward: -0.5},
			rewards: map[string][]float64{"d1": {6, -0.5}, "d2": {1}, "d3": {2}},
			stats: logs.JoinStats{Records: 12, Decisions: 3, Events: 2, Outcomes: 7, Joined: 4,
				Duplicate: 1, NotShown: 1, Unknown: 1, Rewarded: 3, Shown: 4},
		},
		{
			name:    "time filter",
			cfg:     logs.JoinConfig{From: t0.Add(time.Minute), To: t0.Add(2 * time.Minute)},
			rewards: map[string][]float64{"d2": {0}},
			stats: logs.JoinStats{Records: 12, Decisions: 1, Filtered: 2, Events: 2, Outcomes: 7, Joined: 3, Late: 1,
				Duplicate: 1, NotShown: 1, Unknown: 1, Shown: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, st, err := logs.Join(context.Background(), dir, tc.cfg)
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
	got, _, err := logs.Join(context.Background(), dir, logs.JoinConfig{DefaultReward: -1})
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
	got, st, err := logs.Join(context.Background(), dir, logs.JoinConfig{DropOpen: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Decision.DecisionID != "d1" || st.Open != 1 || st.Filtered != 1 {
		t.Fatalf("got %d decisions, stats %+v", len(got), st)
	}
}

func TestJoinBadConfig(t *testing.T) {
	_, _, err := logs.Join(context.Background(), t.TempDir(), logs.JoinConfig{Window: -time.Second})
	if !errors.Is(err, logs.ErrInvalidConfig) {
		t.Fatalf("err %v, want ErrInvalidConfig", err)
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
	got, st, err := logs.Join(context.Background(), dir, logs.JoinConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Rewards[0] != 1 || st.Records != 2 {
		t.Fatalf("got %+v stats %+v", got, st)
	}
}

// TestJoinDeclaredTypes checks that Join folds outcomes by their declared
// types, as the online learner does: a sum type adds every outcome, a max
// type keeps the largest, a weight replaces the posted value, an
// outcome_id seen before is a duplicate whatever its type, a first type's
// first outcome takes the type even when it is late (a later, attributed
// repeat is a duplicate), undeclared types and unusable rewards are
// counted and skipped, and conversions follow the declaration.
func TestJoinDeclaredTypes(t *testing.T) {
	w := 2.0
	outs, err := logs.NewOutcomes([]logs.OutcomeType{
		{Name: "order", Conversion: true, Aggregate: logs.AggSum},
		{Name: "basket", Aggregate: logs.AggMax},
		{Name: "signup", Conversion: true, Reward: logs.RewardRule{Weight: &w}},
		{Name: "view"},
	})
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	withID := func(o journal.Outcome, id string) journal.Outcome { o.OutcomeID = id; return o }
	dir := writeJournal(t,
		decision("d1", t0, "h", "a", "b"),
		decision("d2", t0, "h", "a"),
		decision("d3", t0, "h", "a"),
		outcome("d1", "a", "order", 10, t0.Add(time.Hour)),
		outcome("d1", "a", "order", 5, t0.Add(2*time.Hour)),                 // sum: adds
		withID(outcome("d1", "a", "order", 7, t0.Add(3*time.Hour)), "o-1"),  // adds, takes o-1
		withID(outcome("d1", "b", "basket", 7, t0.Add(3*time.Hour)), "o-1"), // o-1 again: duplicate
		outcome("d1", "b", "basket", 3, t0.Add(time.Hour)),                  // max
		outcome("d1", "b", "basket", 8, t0.Add(2*time.Hour)),                // max: raises to 8
		outcome("d1", "b", "basket", 4, t0.Add(3*time.Hour)),                // max: counts, changes nothing
		outcome("d1", "b", "purchase", 1, t0.Add(time.Hour)),                // not declared here
		outcome("d2", "a", "signup", 0.25, t0.Add(time.Hour)),               // weight 2, converts
		outcome("d2", "a", "order", 1e12, t0.Add(time.Hour)),                // reward out of range
		outcome("d3", "a", "view", 0, t0.Add(8*day)),                        // late, takes the first type
		outcome("d3", "a", "view", 1, t0.Add(time.Hour)),                    // attributed, but a repeat
		outcome("d3", "a", "order", 0, t0.Add(time.Hour)),                   // counts; 0 does not convert
		journal.Event{CustomerID: "c", Type: "page_view", Time: t0.Add(30 * day)},
	)
	got, st, err := logs.Join(context.Background(), dir, logs.JoinConfig{Outcomes: outs, DefaultReward: -1})
	if err != nil {
		t.Fatal(err)
	}
	wantStats := logs.JoinStats{Records: 17, Decisions: 3, Events: 1, Outcomes: 13, Joined: 8, Late: 1,
		Duplicate: 2, UnknownType: 1, BadReward: 1, Rewarded: 4, Shown: 4}
	if st != wantStats {
		t.Errorf("stats\n got %+v\nwant %+v", st, wantStats)
	}
	want := map[string]struct {
		rewards   []float64
		types     []map[string]float64
		converted []bool
	}{
		"d1": {[]float64{22, 8}, []map[string]float64{{"order": 22}, {"basket": 8}}, []bool{true, false}},
		"d2": {[]float64{2}, []map[string]float64{{"signup": 2}}, []bool{true}},
		"d3": {[]float64{0}, []map[string]float64{{"order": 0}}, []bool{false}},
	}
	for _, j := range got {
		w := want[j.Decision.DecisionID]
		if !slices.Equal(j.Rewards, w.rewards) || !slices.Equal(j.Converted, w.converted) {
			t.Errorf("%s: rewards %v converted %v, want %v %v", j.Decision.DecisionID, j.Rewards, j.Converted, w.rewards, w.converted)
		}
		for i := range w.types {
			if !maps.Equal(j.TypeRewards[i], w.types[i]) || j.Outcomes[i] != len(w.types[i]) {
				t.Errorf("%s action %d: types %v (%d), want %v", j.Decision.DecisionID, i, j.TypeRewards[i], j.Outcomes[i], w.types[i])
			}
		}
	}
}

func TestAttributed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		at     time.Duration
		window time.Duration
		want   bool
	}{
		{"inside", time.Hour, 2 * time.Hour, true},
		{"at the end", 2 * time.Hour, 2 * time.Hour, true},
		{"past the end", 2*time.Hour + 1, 2 * time.Hour, false},
		{"before the decision", -time.Hour, 2 * time.Hour, true},
		{"no window", 1000 * time.Hour, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := logs.Attributed(t0, t0.Add(tc.at), tc.window); got != tc.want {
				t.Errorf("Attributed(+%v, window %v) = %v, want %v", tc.at, tc.window, got, tc.want)
			}
		})
	}
}

// TestJoinActivation: a decision made with defer_activation is joined
// once an activation within its window names it, with only the activated
// slots shown (an outcome that came before the activation counts); one
// never activated, or activated too late, is left out; activating again
// changes nothing; an activation of a decision made without
// defer_activation changes nothing.
func TestJoinActivation(t *testing.T) {
	h := "spec-hash"
	day := 24 * time.Hour
	deferred := func(id string, at time.Time, ids ...string) journal.Decision {
		d := decision(id, at, h, ids...)
		d.DeferActivation = true
		return d
	}
	activation := func(d journal.Decision, at time.Time, slots ...int) journal.Activation {
		return journal.Activation{ActivationID: "a-" + d.DecisionID, DecisionID: d.DecisionID, CustomerID: d.CustomerID,
			Slots: slots, Time: at, DecisionTime: d.Time}
	}
	d1 := deferred("d1", t0, "free-shipping", "welcome-15", "new-arrivals")
	d2 := deferred("d2", t0.Add(time.Minute), "style-guide")
	d3 := decision("d3", t0.Add(2*time.Minute), h, "free-shipping")
	d4 := deferred("d4", t0.Add(3*time.Minute), "welcome-15")
	dir := writeJournal(t,
		d1, d2, d3, d4,
		outcome("d1", "free-shipping", "conversion", 1, t0.Add(time.Minute)), // before the activation
		outcome("d1", "welcome-15", "click", 1, t0.Add(time.Minute)),         // a slot never activated
		activation(d1, t0.Add(2*time.Minute), 0, 2),
		activation(d1, t0.Add(3*time.Minute), 0), // again: nothing changes
		outcome("d1", "new-arrivals", "click", 1, t0.Add(4*time.Minute)),
		activation(d3, t0.Add(3*time.Minute)),       // not deferred: nothing changes
		activation(d4, t0.Add(3*time.Minute+8*day)), // past the window
	)
	got, st, err := logs.Join(context.Background(), dir, logs.JoinConfig{})
	if err != nil {
		t.Fatal(err)
	}
	want := logs.JoinStats{Records: 11, Decisions: 2, Outcomes: 3, Joined: 3, Rewarded: 2, Shown: 3,
		Activations: 4, LateActivation: 1, NotActivated: 2}
	if st != want {
		t.Errorf("stats\n got %+v\nwant %+v", st, want)
	}
	if len(got) != 2 || got[0].Decision.DecisionID != "d1" || got[1].Decision.DecisionID != "d3" {
		t.Fatalf("joined %d decisions, want d1 and d3", len(got))
	}
	j := got[0]
	if !slices.Equal(j.Activated, []bool{true, false, true}) || !j.Shown(0) || j.Shown(1) || !j.Shown(2) {
		t.Errorf("d1 activated %v", j.Activated)
	}
	if !slices.Equal(j.Rewards, []float64{1, 1, 1}) {
		t.Errorf("d1 rewards %v: the outcome before the activation counts", j.Rewards)
	}
	if j := got[1]; j.Activated != nil || !j.Shown(0) {
		t.Errorf("d3, made without defer_activation: activated %v", j.Activated)
	}
}
