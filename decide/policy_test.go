package decide_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/features"
)

// TestContactPolicies: a global policy (at most 3 contacts in 7 days,
// whatever the offer) and a group policy (at most 1 of the promotions a
// day): actions are dropped with the policy named once their policy is
// full, counting every covered action's impressions; within a multi-slot
// decision a promotion drawn for an early slot keeps the other
// promotions out of the later slots, and every slot's logged propensity
// is still its exact conditional probability (frequencies within 5 SE);
// a bad policy is refused naming the field.
func TestContactPolicies(t *testing.T) {
	spec := mustSpec(t)
	cat, err := decide.ParseCatalog([]byte(`
version: 1
channels: [web]
actions:
  - {id: promo-a, channels: [web], value: 3}
  - {id: promo-b, channels: [web], value: 2}
  - {id: info, channels: [web], value: 1}
contact_policies:
  - {name: weekly, max: 3, window: 7d}
  - {name: promos-daily, actions: [promo-a, promo-b], max: 1, window: 1d}
`), spec)
	if err != nil {
		t.Fatal(err)
	}
	eps := decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: 0.5}
	e, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Explorer: eps, Seed: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	decideFor := func(p *features.Profile, at time.Time, limit int) *decide.Result {
		var res decide.Result
		if err := e.Decide(context.Background(), &decide.Request{CustomerID: p.CustomerID, Channel: "web", Limit: limit, Now: at, Explain: true}, p, &res); err != nil && !errors.Is(err, decide.ErrNoActions) {
			t.Fatal(err)
		}
		return &res
	}
	dropped := func(res *decide.Result) map[string]string {
		m := map[string]string{}
		for _, d := range res.Explain.Dropped {
			m[d.ActionID] = d.Reason
		}
		return m
	}
	p := spec.NewProfile("c", t0)
	features.RecordImpression(p, "promo-a", t0)
	d := dropped(decideFor(p, t0.Add(time.Hour), 1))
	if !strings.Contains(d["promo-b"], "contact policy promos-daily: 1 contacts in the last 1d (max 1)") || d["info"] != "" {
		t.Errorf("a promotion shown an hour ago: dropped %v", d)
	}
	if d := dropped(decideFor(p, t0.Add(25*time.Hour), 1)); len(d) != 0 {
		t.Errorf("a day later: dropped %v", d)
	}
	features.RecordImpression(p, "info", t0.Add(26*time.Hour))
	features.RecordImpression(p, "info", t0.Add(27*time.Hour))
	d = dropped(decideFor(p, t0.Add(28*time.Hour), 1))
	if len(d) != 3 || !strings.Contains(d["info"], "contact policy weekly: 3 contacts in the last 7d (max 3)") {
		t.Errorf("three contacts this week: dropped %v", d)
	}

	// multi-slot: never two promotions in one answer; exact conditionals
	fresh := spec.NewProfile("f", t0)
	const n = 20000
	first := map[string]int{}
	second := map[string]map[string]int{}
	p0, p1 := map[string]float64{}, map[string]map[string]float64{}
	for range n {
		res := decideFor(fresh, t0, 3)
		promos := 0
		for _, a := range res.Actions {
			if strings.HasPrefix(a.Action.ID, "promo") {
				promos++
			}
		}
		if promos > 1 {
			t.Fatalf("two promotions in one answer: %v", res.Actions)
		}
		a0 := res.Actions[0].Action.ID
		first[a0]++
		p0[a0] = res.Actions[0].Propensity
		if len(res.Actions) > 1 {
			if second[a0] == nil {
				second[a0], p1[a0] = map[string]int{}, map[string]float64{}
			}
			a1 := res.Actions[1].Action.ID
			second[a0][a1]++
			p1[a0][a1] = res.Actions[1].Propensity
		}
	}
	for id, c := range first {
		checkFreq(t, "slot 0 "+id, c, n, p0[id])
	}
	for a0, m := range second {
		for a1, c := range m {
			checkFreq(t, fmt.Sprintf("slot 1 %s | slot 0 %s", a1, a0), c, first[a0], p1[a0][a1])
		}
	}
	if len(second["promo-a"]) != 1 || second["promo-a"]["info"] != first["promo-a"] {
		t.Errorf("after promo-a in slot 0, slot 1 drew %v, want info only", second["promo-a"])
	}

	for _, bad := range []string{
		"contact_policies:\n  - {name: x, max: 0, window: 1d}",
		"contact_policies:\n  - {name: x, actions: [nope], max: 1, window: 1d}",
	} {
		_, err := decide.ParseCatalog([]byte("version: 1\nchannels: [web]\nactions:\n  - {id: a, channels: [web], value: 1}\n"+bad+"\n"), spec)
		if err == nil || !strings.Contains(err.Error(), "contact_policies[0]") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
