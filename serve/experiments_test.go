package serve_test

import (
	"fmt"
	"math"
	"testing"
)

func TestExperimentAssignment(t *testing.T) {
	exps := parseExperiments(t, `
experiments:
  - name: q4-offers
    start: 2026-11-01T00:00:00Z
    end: 2027-01-01T00:00:00Z
    channels: [web, app]
    primary_metric: conversion
    control: control
    arms:
      - {name: control, policy: random, share: 1}
      - {name: bandit, policy: online, share: 3}
`)
	cfg := retailConfig(t.TempDir())
	cfg.Experiments = exps
	cfg.JournalNoSync = true
	in := start(t, cfg)

	arms := map[string]int{}
	const n = 400
	for i := range n {
		cust := fmt.Sprintf("x-%04d", i)
		var first string
		for _, ch := range []string{"web", "app", "web"} {
			out := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": cust, "channel": ch, "limit": 2}, 200)
			e, ok := out["experiment"].(map[string]any)
			if !ok || e["name"] != "q4-offers" {
				t.Fatalf("no experiment in %v", out)
			}
			arm := e["arm"].(string)
			if first == "" {
				first = arm
				arms[arm]++
			} else if arm != first {
				t.Fatalf("%s moved from arm %s to %s", cust, first, arm)
			}
			if arm == "control" {
				if out["policy"] != "random" {
					t.Errorf("control arm served by %v", out["policy"])
				}
				// uniform over the eligible set: slot 0 has propensity 1/n
				p := actionsOf(t, out)[0]["propensity"].(float64)
				if k := math.Round(1 / p); math.Abs(1/p-k) > 1e-9 {
					t.Errorf("random arm propensity %v is not 1/n", p)
				}
			} else if out["policy"] != "linucb" {
				t.Errorf("bandit arm served by %v", out["policy"])
			}
		}
	}
	// shares 1:3 → 100 expected in control; binomial sd = sqrt(400·0.25·0.75) ≈ 8.7,
	// so ±35 is 4 sd
	if c := arms["control"]; c < 65 || c > 135 {
		t.Errorf("control got %d of %d customers, want about 100", c, n)
	}
	// outside the experiment's channels there is no experiment
	out := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "x-0001", "channel": "email"}, 200)
	if _, ok := out["experiment"]; ok {
		t.Errorf("email is not in the experiment: %v", out)
	}
}
