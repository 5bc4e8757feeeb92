package attribution_test

import (
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"nextbest/attribution"
	"nextbest/internal/journaltest"
	"nextbest/journal"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json")

var g0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func day(d float64) time.Time { return g0.Add(time.Duration(d * 24 * float64(time.Hour))) }

func dec(id, customer, channel string, at time.Time, actions ...string) journal.Decision {
	d := journal.Decision{DecisionID: id, CustomerID: customer, Channel: channel, Time: at, Policy: "p", Eligible: actions}
	for i, a := range actions {
		d.Actions = append(d.Actions, journal.LoggedAction{ActionID: a, Slot: i, Propensity: 1})
	}
	return d
}

// goldenJournal is a small journal whose credits are counted by hand
// below (lookback 30 days, half-life 7 days, default outcome types).
//
//	c1: d1 email day 0 [a-x], d2 web day 7 [a-y a-z], d3 app day 14 [a-x];
//	    a purchase outcome (reward 100) at day 14, the same outcome again
//	    (a duplicate), and a purchase event of 120 ten minutes later
//	    (merged into the outcome: one conversion worth 120)
//	c2: d4 web day 0 [a-y]; a click (not a conversion); a purchase event
//	    of 40 at day 2; d5 email day 40 [a-x], after which nothing
//	c3: d6 email day 0 [a-x]; a conversion outcome (reward 1) at day 35,
//	    when d6 is out of the lookback: a conversion nothing touched
//
// Three conversions (161 revenue), two with touches (160). The paths:
// c1 email → web → app → conv (120), c2 web → conv (40), c2 email → null,
// c3 email → null (stale), and c3's untouched conversion.
//
// By channel, c1's weights (touches 14, 7 and 0 days before):
//
//	last (0, 0, 1); first (1, 0, 0); linear (⅓, ⅓, ⅓);
//	time decay (¼, ½, 1)/1.75 = (1/7, 2/7, 4/7); position (0.4, 0.2, 0.4)
//
// and c2 gives web 1 in every rule. Conversions (revenue):
//
//	last      app 1 (120), web 1 (40)
//	first     email 1 (120), web 1 (40)
//	linear    email ⅓ (40), web 4/3 (80), app ⅓ (40)
//	decay     email 1/7 (120/7), web 9/7 (240/7 + 40), app 4/7 (480/7)
//	position  email 0.4 (48), web 1.2 (64), app 0.4 (48)
//
// Markov by channel: start → email 3/4, → web 1/4; email → web 1/3,
// → null 2/3; web → app ½, → conv ½; app → conv 1. h(app) = 1,
// h(web) = 1, h(email) = ⅓, P = ¾·⅓ + ¼·1 = ½. Without email P = ¼
// (effect ½); without web P = 0 (effect 1); without app h(web) = ½,
// h(email) = 1/6, P = ¾·1/6 + ¼·½ = ¼ (effect ½). Shares ¼, ½, ¼ of 2
// conversions and 160: email 0.5 (40), web 1 (80), app 0.5 (40).
//
// By action (a touch's weight split among its actions; c1's path is
// a-x, a-y a-z, a-x):
//
//	last      a-x 1 (120), a-y 1 (40)
//	first     a-x 1 (120), a-y 1 (40)
//	linear    a-x ⅔ (80), a-y 7/6 (60), a-z 1/6 (20)
//	decay     a-x 5/7 (600/7), a-y 8/7 (120/7 + 40), a-z 1/7 (120/7)
//	position  a-x 0.8 (96), a-y 1.1 (52), a-z 0.1 (12)
//
// Markov by action: the walks a-x a-y a-z a-x → conv, a-y → conv,
// a-x → null twice. start → a-x ¾, → a-y ¼; a-x → a-y, conv ¼ each,
// → null ½; a-y → a-z ½, → conv ½; a-z → a-x 1. h(x) = ¼h(y) + ¼,
// h(y) = ½h(z) + ½, h(z) = h(x): h(x) = 3/7, h(y) = 5/7, P = ½.
// Without a-x: h(y) = ½, P = 1/8 (effect ¾). Without a-y: h(x) = ¼,
// P = 3/16 (effect 5/8). Without a-z: h(y) = ½, h(x) = 3/8,
// P = 13/32 (effect 3/16). Shares 12/25, 10/25, 3/25: a-x 0.96 (76.8),
// a-y 0.8 (64), a-z 0.24 (19.2).
func goldenJournal(t *testing.T) string {
	purchase := func(customer string, at time.Time, amount float64) journal.Event {
		return journal.Event{CustomerID: customer, Type: "purchase", Time: at, Properties: map[string]any{"amount": amount}}
	}
	out := func(d, a, customer, typ string, reward float64, at time.Time) journal.Outcome {
		return journal.Outcome{DecisionID: d, ActionID: a, CustomerID: customer, Type: typ, Reward: reward, Time: at}
	}
	return journaltest.Write(t,
		dec("d1", "c1", "email", day(0), "a-x"),
		dec("d4", "c2", "web", day(0), "a-y"),
		dec("d6", "c3", "email", day(0), "a-x"),
		out("d4", "a-y", "c2", "click", 1, day(1)),
		purchase("c2", day(2), 40),
		dec("d2", "c1", "web", day(7), "a-y", "a-z"),
		dec("d3", "c1", "app", day(14), "a-x"),
		out("d3", "a-x", "c1", "purchase", 100, day(14)),
		out("d3", "a-x", "c1", "purchase", 100, day(14).Add(time.Minute)),
		purchase("c1", day(14).Add(10*time.Minute), 120),
		out("d6", "a-x", "c3", "conversion", 1, day(35)),
		dec("d5", "c2", "email", day(40), "a-x"),
	)
}

type golden struct {
	Stats   attribution.BuildStats `json:"stats"`
	Channel *attribution.Result    `json:"by_channel"`
	Action  *attribution.Result    `json:"by_action"`
}

func TestGolden(t *testing.T) {
	dir := goldenJournal(t)
	journeys, st, err := attribution.Build(context.Background(), dir, attribution.BuildConfig{})
	if err != nil {
		t.Fatal(err)
	}
	wantStats := attribution.BuildStats{Records: 12, Decisions: 6, Touches: 6, Outcomes: 4, OutcomeConversions: 2, Duplicate: 1, Events: 2, EventConversions: 2, Merged: 1}
	if st != wantStats {
		t.Errorf("stats %+v\nwant  %+v", st, wantStats)
	}
	var g golden
	g.Stats = st
	for _, by := range []attribution.Dimension{attribution.ByChannel, attribution.ByAction} {
		res, err := attribution.Attribute(journeys, attribution.Options{By: by})
		if err != nil {
			t.Fatal(err)
		}
		if res.Conversions != 3 || res.Attributed != 2 || res.Revenue != 161 || res.AttributedRevenue != 160 || res.Paths != 5 || res.NonConvertingPaths != 2 {
			t.Errorf("%s: %d conversions (%d attributed), revenue %v (%v), %d paths (%d not converting); want 3 (2), 161 (160), 5 (2)",
				by, res.Conversions, res.Attributed, res.Revenue, res.AttributedRevenue, res.Paths, res.NonConvertingPaths)
		}
		if by == attribution.ByChannel {
			g.Channel = res
		} else {
			g.Action = res
		}
	}

	// the hand counts of goldenJournal's comment: conversions, revenue
	type cr = [2]float64
	hand := map[attribution.Dimension]map[attribution.Model]map[string]cr{
		attribution.ByChannel: {
			attribution.LastTouch:     {"app": {1, 120}, "web": {1, 40}, "email": {0, 0}},
			attribution.FirstTouch:    {"email": {1, 120}, "web": {1, 40}, "app": {0, 0}},
			attribution.Linear:        {"email": {1.0 / 3, 40}, "web": {4.0 / 3, 80}, "app": {1.0 / 3, 40}},
			attribution.TimeDecay:     {"email": {1.0 / 7, 120.0 / 7}, "web": {9.0 / 7, 240.0/7 + 40}, "app": {4.0 / 7, 480.0 / 7}},
			attribution.PositionBased: {"email": {0.4, 48}, "web": {1.2, 64}, "app": {0.4, 48}},
			attribution.Markov:        {"email": {0.5, 40}, "web": {1, 80}, "app": {0.5, 40}},
		},
		attribution.ByAction: {
			attribution.LastTouch:     {"a-x": {1, 120}, "a-y": {1, 40}, "a-z": {0, 0}},
			attribution.FirstTouch:    {"a-x": {1, 120}, "a-y": {1, 40}, "a-z": {0, 0}},
			attribution.Linear:        {"a-x": {2.0 / 3, 80}, "a-y": {7.0 / 6, 60}, "a-z": {1.0 / 6, 20}},
			attribution.TimeDecay:     {"a-x": {5.0 / 7, 600.0 / 7}, "a-y": {8.0 / 7, 120.0/7 + 40}, "a-z": {1.0 / 7, 120.0 / 7}},
			attribution.PositionBased: {"a-x": {0.8, 96}, "a-y": {1.1, 52}, "a-z": {0.1, 12}},
			attribution.Markov:        {"a-x": {0.96, 76.8}, "a-y": {0.8, 64}, "a-z": {0.24, 19.2}},
		},
	}
	for by, res := range map[attribution.Dimension]*attribution.Result{attribution.ByChannel: g.Channel, attribution.ByAction: g.Action} {
		for m, want := range hand[by] {
			mc := res.Model(m)
			if mc == nil || len(mc.Credits) != len(want) {
				t.Errorf("%s %s: credits %+v, want %v", by, m, mc, want)
				continue
			}
			for _, c := range mc.Credits {
				w := want[c.Key]
				if math.Abs(c.Conversions-w[0]) > 1e-12 || math.Abs(c.Revenue-w[1]) > 1e-9 || math.Abs(c.Share-w[0]/2) > 1e-12 {
					t.Errorf("%s %s %s: %v conversions (share %v), %v revenue; by hand %v (%v), %v", by, m, c.Key, c.Conversions, c.Share, c.Revenue, w[0], w[0]/2, w[1])
				}
			}
		}
	}
	if got := g.Channel.Keys; len(got) != 3 || got[0] != "web" || got[1] != "app" || got[2] != "email" {
		t.Errorf("channel keys %v, want [web app email] (Markov credit, then name)", got)
	}

	data, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, '\n')
	path := filepath.Join("testdata", "golden.json")
	if *update {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update)", err)
	}
	var a, b any
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatal(err)
	}
	if !jsonClose(a, b) {
		t.Errorf("the result differs from %s (run go test -run TestGolden -update and review the diff):\n%s", path, data)
	}
}

// jsonClose compares decoded JSON, numbers within 1e-9 relative (the
// last bits of a float sum may differ where the compiler fuses
// multiply-adds).
func jsonClose(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Abs(x-y) <= 1e-9*max(1, math.Abs(x), math.Abs(y))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonClose(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if !jsonClose(v, y[k]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// TestDeferredTouches: a decision made with defer_activation is a touch
// only once activated (at the activation's time, with the slots shown;
// a later activation adds slots to the same touch); one never activated,
// or activated past the window, is none.
func TestDeferredTouches(t *testing.T) {
	deferred := func(d journal.Decision) journal.Decision { d.DeferActivation = true; return d }
	activation := func(d journal.Decision, at time.Time, slots ...int) journal.Activation {
		return journal.Activation{ActivationID: "a-" + d.DecisionID, DecisionID: d.DecisionID, CustomerID: d.CustomerID,
			Slots: slots, Time: at, DecisionTime: d.Time}
	}
	d1 := deferred(dec("d1", "c1", "web", day(0), "a-x", "a-y", "a-z"))
	d2 := deferred(dec("d2", "c1", "email", day(1), "a-x"))
	d3 := deferred(dec("d3", "c2", "web", day(0), "a-y"))
	dir := journaltest.Write(t, d1, d2, d3,
		activation(d1, day(0.5), 2),
		activation(d1, day(0.6), 0, 2),
		activation(d3, day(30), 0)) // past the window
	js, st, err := attribution.Build(context.Background(), dir, attribution.BuildConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Touches != 1 || st.NotActivated != 2 {
		t.Errorf("%d touches, %d not activated; want 1 and 2", st.Touches, st.NotActivated)
	}
	var touches []attribution.Touch
	for _, j := range js {
		touches = append(touches, j.Touches...)
	}
	if len(touches) != 1 || touches[0].DecisionID != "d1" || !touches[0].Time.Equal(day(0.5)) ||
		len(touches[0].Actions) != 2 || touches[0].Actions[0] != "a-x" || touches[0].Actions[1] != "a-z" {
		t.Errorf("touches %+v, want d1's at its first activation, showing a-x and a-z", touches)
	}
}
