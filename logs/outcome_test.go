package logs_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"nextbest/logs"
)

func ptr(v float64) *float64 { return &v }

// TestFold checks each aggregation against rewards worked out by hand:
// the deltas of a sequence of outcomes and the aggregate they leave.
func TestFold(t *testing.T) {
	tests := []struct {
		name      string
		typ       logs.OutcomeType
		posted    []float64
		deltas    []float64
		counted   []bool
		wantAgg   float64
		wantCount int
	}{
		{"first counts once", logs.OutcomeType{Aggregate: logs.AggFirst},
			[]float64{3, 5, 1}, []float64{3, 0, 0}, []bool{true, false, false}, 3, 1},
		{"sum adds each", logs.OutcomeType{Aggregate: logs.AggSum},
			[]float64{3, 5, -1}, []float64{3, 5, -1}, []bool{true, true, true}, 7, 3},
		{"max adds the increase", logs.OutcomeType{Aggregate: logs.AggMax},
			[]float64{3, 1, 5, 4}, []float64{3, 0, 2, 0}, []bool{true, true, true, true}, 5, 4},
		{"max of negatives", logs.OutcomeType{Aggregate: logs.AggMax},
			[]float64{-5, -3}, []float64{-5, 2}, []bool{true, true}, -3, 2},
		{"weight ignores the posted value", logs.OutcomeType{Reward: logs.RewardRule{Weight: ptr(2)}, Aggregate: logs.AggSum},
			[]float64{100, -7}, []float64{2, 2}, []bool{true, true}, 4, 2},
		{"weight with first", logs.OutcomeType{Reward: logs.RewardRule{Weight: ptr(0.5)}},
			[]float64{9, 9}, []float64{0.5, 0}, []bool{true, false}, 0.5, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a logs.Aggregate
			for i, v := range tt.posted {
				var d float64
				var ok bool
				a, d, ok = tt.typ.Fold(a, tt.typ.Reward.Apply(v))
				if d != tt.deltas[i] || ok != tt.counted[i] {
					t.Errorf("outcome %d (%v): delta %v counted %v, want %v %v", i, v, d, ok, tt.deltas[i], tt.counted[i])
				}
			}
			if a.Reward != tt.wantAgg || a.N != tt.wantCount {
				t.Errorf("aggregate %+v, want reward %v over %d", a, tt.wantAgg, tt.wantCount)
			}
		})
	}
}

// TestDeltasSumToActionReward is the property that makes online learning
// exact: starting from the default reward, the ActionDeltas of outcomes
// folded one by one (any types, any order) add up to ActionReward of the
// final aggregates. Rewards are multiples of 1/4, so sums are exact.
func TestDeltasSumToActionReward(t *testing.T) {
	types := []logs.OutcomeType{
		{Name: "c", Aggregate: logs.AggFirst},
		{Name: "s", Aggregate: logs.AggSum},
		{Name: "m", Aggregate: logs.AggMax},
		{Name: "w", Aggregate: logs.AggSum, Reward: logs.RewardRule{Weight: ptr(1.5)}},
	}
	r := rand.New(rand.NewPCG(1, 1))
	for trial := range 2000 {
		r0 := float64(r.IntN(5)-2) / 4
		aggs := map[string]logs.Aggregate{}
		reward, seen := r0, false
		for range r.IntN(8) {
			typ := &types[r.IntN(len(types))]
			v := typ.Reward.Apply(float64(r.IntN(41)-20) / 4)
			next, d, ok := typ.Fold(aggs[typ.Name], v)
			if !ok {
				continue
			}
			reward += logs.ActionDelta(d, r0, !seen)
			seen = true
			aggs[typ.Name] = next
		}
		if want := logs.ActionReward(r0, aggs); reward != want {
			t.Fatalf("trial %d: deltas sum to %v, ActionReward %v (aggregates %v)", trial, reward, want, aggs)
		}
	}
}

func TestCheckReward(t *testing.T) {
	for _, v := range []float64{0, 1, -1, logs.MaxReward, -logs.MaxReward} {
		if err := logs.CheckReward(v); err != nil {
			t.Errorf("CheckReward(%v) = %v", v, err)
		}
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1e308, -1e10, math.Nextafter(logs.MaxReward, math.Inf(1))} {
		if err := logs.CheckReward(v); !errors.Is(err, logs.ErrBadReward) {
			t.Errorf("CheckReward(%v) = %v, want ErrBadReward", v, err)
		}
	}
}

func TestConverts(t *testing.T) {
	conv := logs.OutcomeType{Name: "conversion", Conversion: true}
	if !conv.Converts(1) || conv.Converts(0) || conv.Converts(-1) {
		t.Error("a conversion type converts when its reward is positive")
	}
	click := logs.OutcomeType{Name: "click"}
	if click.Converts(1) {
		t.Error("a click is not a conversion")
	}
	fixed := logs.OutcomeType{Name: "signup", Conversion: true, Reward: logs.RewardRule{Weight: ptr(1)}}
	if !fixed.Converts(0) {
		t.Error("a weighted conversion type converts whatever was posted")
	}
}

func TestParseOutcomeTypes(t *testing.T) {
	const doc = `
- {name: conversion, reward: value, conversion: true, aggregate: first}
- {name: click, reward: {weight: 0.1}}
- name: revenue
  aggregate: sum
- {name: rating, aggregate: max}
`
	var decls []logs.OutcomeType
	if err := yaml.Unmarshal([]byte(doc), &decls); err != nil {
		t.Fatal(err)
	}
	o, err := logs.NewOutcomes(decls)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.Names(), ","); got != "conversion,click,revenue,rating" {
		t.Errorf("names %s", got)
	}
	conv, _ := o.Lookup("conversion")
	click, _ := o.Lookup("click")
	rev, _ := o.Lookup("revenue")
	rating, _ := o.Lookup("rating")
	switch {
	case !conv.Conversion || conv.Reward.Weight != nil || conv.Aggregate != logs.AggFirst:
		t.Errorf("conversion %+v", conv)
	case click.Conversion || click.Reward.Weight == nil || *click.Reward.Weight != 0.1:
		t.Errorf("click %+v", click)
	case rev.Aggregate != logs.AggSum || rev.Reward.Apply(12.5) != 12.5:
		t.Errorf("revenue %+v", rev)
	case rating.Aggregate != logs.AggMax:
		t.Errorf("rating %+v", rating)
	}
	if _, ok := o.Lookup("convresion"); ok {
		t.Error("a typo is a type")
	}
	// the declarations round-trip through YAML
	out, err := yaml.Marshal(decls)
	if err != nil {
		t.Fatal(err)
	}
	var again []logs.OutcomeType
	if err := yaml.Unmarshal(out, &again); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if o2, err := logs.NewOutcomes(again); err != nil || o2.String() != o.String() {
		t.Errorf("round trip: %v %v\n%s", o2, err, out)
	}
}

func TestBadOutcomeTypes(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"upper case", `[{name: Click}]`},
		{"empty name", `[{reward: value}]`},
		{"twice", `[{name: click}, {name: click}]`},
		{"bad reward", `[{name: click, reward: posted}]`},
		{"bad reward map", `[{name: click, reward: {scale: 2}}]`},
		{"weight too big", `[{name: click, reward: {weight: 1e308}}]`},
		{"weight not finite", `[{name: click, reward: {weight: .inf}}]`},
		{"bad aggregate", `[{name: click, aggregate: last}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var decls []logs.OutcomeType
			err := yaml.Unmarshal([]byte(tt.doc), &decls)
			if err == nil {
				_, err = logs.NewOutcomes(decls)
			}
			if !errors.Is(err, logs.ErrInvalidOutcomeType) {
				t.Errorf("err %v, want ErrInvalidOutcomeType", err)
			}
		})
	}
}

func TestDefaultOutcomeTypes(t *testing.T) {
	o, err := logs.NewOutcomes(nil)
	if err != nil {
		t.Fatal(err)
	}
	// the types the retail sample, the simulator, apptest and the serve
	// tests post
	for _, name := range []string{"conversion", "purchase", "click", "revenue", logs.DefaultOutcomeType} {
		if _, ok := o.Lookup(name); !ok {
			t.Errorf("default types lack %q", name)
		}
	}
	for _, name := range []string{"conversion", "purchase"} {
		if typ, _ := o.Lookup(name); !typ.Conversion || typ.Aggregate != logs.AggFirst {
			t.Errorf("%s: %+v", name, typ)
		}
	}
}
