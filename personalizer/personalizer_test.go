package personalizer_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/journal"
	"nextbest/personalizer"
)

// TestFlattenRule: how many features each kind of value makes, and what
// makes two features the same or different (side, namespace, name, value).
func TestFlattenRule(t *testing.T) {
	one := func(s personalizer.Side, obj map[string]any) []personalizer.Feature {
		return personalizer.Flatten(nil, s, []map[string]any{obj})
	}
	for _, tc := range []struct {
		name string
		obj  map[string]any
		n    int // features
	}{
		{name: "string one-hot", obj: map[string]any{"timeOfDay": "Morning"}, n: 1},
		{name: "number", obj: map[string]any{"itemsInCart": 3.0}, n: 1},
		{name: "zero number and false add nothing", obj: map[string]any{"x": 0.0, "b": false, "n": nil}, n: 0},
		{name: "true", obj: map[string]any{"mobile": true}, n: 1},
		{name: "namespace", obj: map[string]any{"user": map[string]any{"profileType": "Anon", "age": 30.0}}, n: 2},
		{name: "nested objects flatten with dots", obj: map[string]any{"user": map[string]any{"address": map[string]any{"city": "Seattle"}}}, n: 1},
		{name: "underscore keys ignored", obj: map[string]any{"_label": "x", "user": map[string]any{"_id": "u1", "a": "b"}}, n: 1},
		{name: "arrays: bag of strings, indexed numbers, objects merged", obj: map[string]any{"tags": []any{"a", "b", 2.0, map[string]any{"k": "v"}}}, n: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := one(personalizer.Context, tc.obj); len(got) != tc.n {
				t.Errorf("%v: %d features, want %d: %v", tc.obj, len(got), tc.n, got)
			}
		})
	}
	// what makes two features the same, and different
	eq := func(a, b []personalizer.Feature) bool { return slices.Equal(a, b) }
	ctx := one(personalizer.Context, map[string]any{"type": "News"})
	if eq(ctx, one(personalizer.Action, map[string]any{"type": "News"})) {
		t.Error("a context feature and an action feature of the same name and value hash alike: the side must count")
	}
	if eq(ctx, one(personalizer.Context, map[string]any{"type": "Sports"})) {
		t.Error("two values of a string feature hash alike")
	}
	if eq(one(personalizer.Context, map[string]any{"a": map[string]any{"b": "c"}}), one(personalizer.Context, map[string]any{"a.b": "c"})) {
		t.Error("the namespace a's feature b and the default namespace's feature a.b hash alike")
	}
	if !eq(one(personalizer.Context, map[string]any{"u": map[string]any{"a": map[string]any{"b": "c"}}}),
		one(personalizer.Context, map[string]any{"u": map[string]any{"a.b": "c"}})) {
		t.Error("a nested key and its dotted name differ within a namespace")
	}
	if got := one(personalizer.Context, map[string]any{"price": 2.5}); got[0].Value != 2.5 {
		t.Errorf("a number's value: %v", got)
	}
}

// TestFlattenDeterministic: the features come out in one order whatever
// the maps' iteration order, and the list's objects add up.
func TestFlattenDeterministic(t *testing.T) {
	list := []map[string]any{
		{"user": map[string]any{"a": "1", "b": 2.0, "c": true, "d": []any{"x", "y"}}, "z": "w"},
		{"env": map[string]any{"weather": "Sunny"}},
	}
	first := personalizer.Flatten(nil, personalizer.Context, list)
	for range 50 {
		if got := personalizer.Flatten(nil, personalizer.Context, list); !slices.Equal(got, first) {
			t.Fatalf("Flatten is not deterministic: %v vs %v", got, first)
		}
	}
	if len(first) != 7 {
		t.Errorf("%d features, want 7", len(first))
	}
}

// TestRowBuild: a row holds the bias, the context's, the action's and the
// slot's features and the crosses, indexed within 2^bits.
func TestRowBuild(t *testing.T) {
	ctx := personalizer.ContextFeatures(nil, []map[string]any{{"a": "x", "n": 2.0}})
	act := personalizer.ActionFeatures(nil, "art", []map[string]any{{"type": "News", "w": 3.0}})
	slot := personalizer.SlotFeatures(nil, "hero", nil)
	var r personalizer.Row
	r.Build(6, ctx, act, slot)
	want := 1 + len(ctx) + len(act) + len(slot) + len(ctx)*len(act) + len(slot)*len(act)
	if len(r.Index) != want || len(r.Value) != want {
		t.Fatalf("%d entries, want %d", len(r.Index), want)
	}
	for _, ix := range r.Index {
		if ix < 0 || ix >= 64 {
			t.Fatalf("index %d out of [0, 64)", ix)
		}
	}
	// the cross of n=2 and w=3 has value 6
	if !slices.Contains(r.Value, 6.0) {
		t.Errorf("no cross of 2×3 among %v", r.Value)
	}
	x := make([]float64, 64)
	r.Dense(x)
	theta := make([]float64, 64)
	for i := range theta {
		theta[i] = float64(i % 7)
	}
	var dense float64
	for i := range x {
		dense += x[i] * theta[i]
	}
	if d := r.Dot(theta); math.Abs(d-dense) > 1e-9 {
		t.Errorf("Dot %v, dense %v", d, dense)
	}
}

// TestEventRow: the row of a journaled rank call's chosen action is the
// row the call scored it with.
func TestEventRow(t *testing.T) {
	rk := &journal.PersonalizerRank{
		ContextFeatures: []map[string]any{{"user": map[string]any{"tier": "gold"}}},
		Actions:         []journal.PersonalizerAction{{ID: "a", Features: []map[string]any{{"k": "1"}}}, {ID: "b"}},
		RewardActionID:  "b",
	}
	var got, want personalizer.Row
	var s personalizer.Scratch
	if !personalizer.EventRow(&got, &s, 8, rk, 0) {
		t.Fatal("no row")
	}
	want.Build(8, personalizer.ContextFeatures(nil, rk.ContextFeatures), personalizer.ActionFeatures(nil, "b", nil), nil)
	if !slices.Equal(got.Index, want.Index) || !slices.Equal(got.Value, want.Value) {
		t.Errorf("EventRow %v, want %v", got, want)
	}
	rk.RewardActionID = "gone"
	if personalizer.EventRow(&got, &s, 8, rk, 0) {
		t.Error("a row for an action the call did not list")
	}
	rk.Slots = []journal.PersonalizerSlot{{ID: "s1", ActionID: "a"}, {ID: "s2"}}
	if !personalizer.EventRow(&got, &s, 8, rk, 0) || personalizer.EventRow(&got, &s, 8, rk, 1) {
		t.Error("a multi-slot call: slot 0 has a row, slot 1 (no action) none")
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"PT10M", 10 * time.Minute, "PT10M"},
		{"PT5M", 5 * time.Minute, "PT5M"},
		{"P1D", 24 * time.Hour, "P1D"},
		{"P1DT1H30M", 25*time.Hour + 30*time.Minute, "P1DT1H30M"},
		{"PT0S", 0, "PT0S"},
		{"PT0.5S", 500 * time.Millisecond, "PT0.5S"},
		{"pt4h", 4 * time.Hour, "PT4H"},
		{"P1W", 7 * 24 * time.Hour, "P7D"},
		{"PT90S", 90 * time.Second, "PT1M30S"},
	} {
		d, err := personalizer.ParseDuration(tc.in)
		if err != nil || d != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, d, err, tc.want)
		}
		if got := personalizer.FormatDuration(d); got != tc.out {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, tc.out)
		}
	}
	for _, bad := range []string{"", "P", "PT", "10M", "P1M", "P1Y", "PT1.5M", "PT-1S", "PTS", "P1DT", "PT1H1H", "PT1M1H", "PT5"} {
		if d, err := personalizer.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, d)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestResolve(t *testing.T) {
	def := personalizer.DefaultSettings()
	if def.Mode != personalizer.Online || def.RewardWait != 10*time.Minute || def.Exploration != 0.2 ||
		def.Aggregation != personalizer.Earliest || def.DefaultReward != 0 || def.ModelUpdate != time.Minute {
		t.Errorf("defaults: %+v", def)
	}
	good := personalizer.ServiceConfiguration{RewardWaitTime: "PT10M", DefaultReward: ptr(0.0), RewardAggregation: "earliest",
		ExplorationPercentage: ptr(0.2), ModelExportFrequency: "PT5M", LogRetentionDays: ptr(7)}
	s, err := personalizer.Resolve(def, good, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if s.ModelUpdate != 5*time.Minute || s.Doc.LearningMode != "Online" || s.Doc.LastConfigurationEditDate != "2026-01-02T03:04:05Z" {
		t.Errorf("%+v", s)
	}
	code := func(err error) string {
		var pe *personalizer.Error
		if !errors.As(err, &pe) {
			return "not an *Error: " + err.Error()
		}
		return pe.Code + " " + pe.Field
	}
	for _, tc := range []struct {
		name string
		edit func(c *personalizer.ServiceConfiguration)
		want string
	}{
		{"wait missing", func(c *personalizer.ServiceConfiguration) { c.RewardWaitTime = "" }, "InvalidServiceConfiguration rewardWaitTime"},
		{"wait not ISO", func(c *personalizer.ServiceConfiguration) { c.RewardWaitTime = "10m" }, "InvalidServiceConfiguration rewardWaitTime"},
		{"wait too short", func(c *personalizer.ServiceConfiguration) { c.RewardWaitTime = "PT1S" }, "InvalidRewardWaitTime rewardWaitTime"},
		{"wait too long", func(c *personalizer.ServiceConfiguration) { c.RewardWaitTime = "P3D" }, "InvalidRewardWaitTime rewardWaitTime"},
		{"default reward missing", func(c *personalizer.ServiceConfiguration) { c.DefaultReward = nil }, "InvalidServiceConfiguration defaultReward"},
		{"default reward out of range", func(c *personalizer.ServiceConfiguration) { c.DefaultReward = ptr(1.5) }, "InvalidServiceConfiguration defaultReward"},
		{"aggregation", func(c *personalizer.ServiceConfiguration) { c.RewardAggregation = "latest" }, "InvalidServiceConfiguration rewardAggregation"},
		{"exploration", func(c *personalizer.ServiceConfiguration) { c.ExplorationPercentage = ptr(-0.1) }, "InvalidServiceConfiguration explorationPercentage"},
		{"frequency", func(c *personalizer.ServiceConfiguration) { c.ModelExportFrequency = "P2D" }, "InvalidServiceConfiguration modelExportFrequency"},
		{"retention", func(c *personalizer.ServiceConfiguration) { c.LogRetentionDays = ptr(0) }, "InvalidLogRetentionDays logRetentionDays"},
		{"mode", func(c *personalizer.ServiceConfiguration) { c.LearningMode = "Sleepy" }, "InvalidServiceConfiguration learningMode"},
		{"mode and wait together", func(c *personalizer.ServiceConfiguration) { c.LearningMode, c.RewardWaitTime = "Apprentice", "PT4H" },
			"InvalidLearningModeServiceConfiguration learningMode"},
	} {
		c := good
		tc.edit(&c)
		if _, err := personalizer.Resolve(s, c, time.Time{}); err == nil || code(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	// the mode alone may change, and case does not matter
	c := good
	c.LearningMode = "apprentice"
	a, err := personalizer.Resolve(s, c, time.Time{})
	if err != nil || a.Mode != personalizer.Apprentice || a.Doc.LearningMode != "Apprentice" {
		t.Errorf("mode change: %+v %v", a.Mode, err)
	}
	// left out, the mode stays
	if b, err := personalizer.Resolve(a, good, time.Time{}); err != nil || b.Mode != personalizer.Apprentice {
		t.Errorf("mode left out: %v %v", b.Mode, err)
	}
}

func TestResolvePolicy(t *testing.T) {
	p, err := personalizer.ResolvePolicy(personalizer.PolicyContract{Name: ptr("p"), Arguments: ptr("--cb_explore_adf --epsilon 0.2 -q ::")})
	if err != nil || p.Name != "p" {
		t.Errorf("%+v %v", p, err)
	}
	for _, c := range []personalizer.PolicyContract{
		{Arguments: ptr("x")},
		{Name: ptr("p")},
		{Name: ptr(""), Arguments: ptr("x")},
		{Name: ptr("p"), Arguments: ptr(string(make([]byte, 1025)))},
	} {
		if _, err := personalizer.ResolvePolicy(c); err == nil {
			t.Errorf("%v accepted", c)
		}
	}
}

// TestProbabilities: ε-greedy as Personalizer's explorationPercentage:
// the best 1−ε, each other non-excluded ε/(K−1), excluded 0; ties to the
// earliest; the baseline modes serve the baseline with probability 1.
func TestProbabilities(t *testing.T) {
	p := make([]float64, 3)
	if b := personalizer.Probabilities(p, []float64{0, 5, 1}, []bool{false, true, false}, 0.2, -1); b != 2 || !slices.Equal(p, []float64{0.2, 0, 0.8}) {
		t.Errorf("excluded best: %d %v", b, p)
	}
	if b := personalizer.Probabilities(p, []float64{0, 0, 0}, []bool{false, false, false}, 0.3, -1); b != 0 || math.Abs(p[0]-0.7) > 1e-15 || p[1] != 0.15 || p[2] != 0.15 {
		t.Errorf("ties: %d %v", b, p)
	}
	if b := personalizer.Probabilities(p, []float64{0, 1, 2}, []bool{true, true, false}, 0.2, -1); b != 2 || !slices.Equal(p, []float64{0, 0, 1}) {
		t.Errorf("one left: %d %v", b, p)
	}
	if b := personalizer.Probabilities(p, []float64{0, 1, 2}, []bool{true, true, true}, 0.2, -1); b != -1 {
		t.Errorf("all excluded: %d", b)
	}
	if b := personalizer.Probabilities(p, []float64{0, 1, 2}, []bool{false, false, false}, 0.2, 1); b != 1 || !slices.Equal(p, []float64{0, 1, 0}) {
		t.Errorf("baseline: %d %v", b, p)
	}
}

// TestDraw: one event id draws the same; the draws follow the
// probabilities: 20,000 event ids, p = (0.7, 0.2, 0.1): each share within
// 4 standard errors (sqrt(p(1-p)/n) ≤ 0.0033).
func TestDraw(t *testing.T) {
	probs := []float64{0.7, 0.2, 0, 0.1}
	if a, b := decide.Draw(personalizer.Seed("e"), probs), decide.Draw(personalizer.Seed("e"), probs); a != b {
		t.Errorf("one event id drew %d and %d", a, b)
	}
	const n = 20000
	var count [4]int
	for i := range n {
		count[decide.Draw(personalizer.Seed(fmt.Sprintf("event-%d", i)), probs)]++
	}
	for i, p := range probs {
		got := float64(count[i]) / n
		if se := math.Sqrt(p * (1 - p) / n); math.Abs(got-p) > 4*se+1e-12 {
			t.Errorf("action %d drawn %.4f, want %.2f ± %.4f", i, got, p, 4*se)
		}
	}
}

func TestOrder(t *testing.T) {
	if got := personalizer.Order([]float64{1, 3, 3, 0}); !slices.Equal(got, []int{1, 2, 0, 3}) {
		t.Errorf("Order: %v", got)
	}
}

func TestFold(t *testing.T) {
	v := []float64{0.5, 1, 0}
	for _, tc := range []struct {
		a    personalizer.Aggregation
		want float64
	}{{personalizer.Earliest, 0.5}, {personalizer.Average, 0.5}, {personalizer.Sum, 1.5}} {
		if got, ok := tc.a.Fold(v); !ok || got != tc.want {
			t.Errorf("%s: %v", tc.a, got)
		}
	}
	if got := personalizer.Learned(personalizer.Average, -0.5, nil); got != -0.5 {
		t.Errorf("no reward: %v, want the default", got)
	}
}
