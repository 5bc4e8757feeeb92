package loop

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestCanaryHealth: the rules that roll a canary back before any
// statistics, on their inputs (a served ridge refuses every non-finite
// input and overflow, and a test must not hang on the machine's speed, so
// no real model is made to misbehave or slow down on purpose;
// TestLatencyFromMetrics and TestFallbacksFromStats read the inputs from a
// real service).
func TestCanaryHealth(t *testing.T) {
	c := Canary{MaxFallbackShare: 0.01, MinFallbackDecisions: 100, MaxLatency: 50 * time.Millisecond, MaxDegenerateShare: 0.5}
	fast := map[string]float64{"canary": 0.0005, "serving": 0.0005}
	many := map[string]uint64{"canary": 500, "serving": 500}
	for _, tc := range []struct {
		name                             string
		decisions, fallbacks, degenerate map[string]int64
		p99                              map[string]float64
		count                            map[string]uint64
		want                             string // a word of the reason; "" healthy
	}{
		{"every canary decision falls back", map[string]int64{"canary": 200, "serving": 1800}, map[string]int64{"canary": 200}, nil, fast, many, "misbehaves"},
		{"3% against 0%", map[string]int64{"canary": 1000, "serving": 9000}, map[string]int64{"canary": 30}, nil, fast, many, "misbehaves"},
		{"as often as the serving arm (a store outage)", map[string]int64{"canary": 1000, "serving": 9000}, map[string]int64{"canary": 50, "serving": 450}, nil, fast, many, ""},
		{"too few decisions to tell", map[string]int64{"canary": 50, "serving": 450}, map[string]int64{"canary": 50}, nil, fast, many, ""},
		{"a constant model on every decision", map[string]int64{"canary": 300, "serving": 2700}, nil, map[string]int64{"canary": 300}, fast, many, "degenerate"},
		{"constant on both arms (a blank serving model)", map[string]int64{"canary": 300, "serving": 2700}, nil, map[string]int64{"canary": 300, "serving": 2700}, fast, many, ""},
		{"constant now and then", map[string]int64{"canary": 300, "serving": 2700}, nil, map[string]int64{"canary": 30}, fast, many, ""},
		{"over the latency budget", nil, nil, nil, map[string]float64{"canary": 0.1, "serving": 0.0005}, many, "too slow"},
		{"past the last bucket", nil, nil, nil, map[string]float64{"canary": math.Inf(1), "serving": 0.0005}, many, "too slow"},
		{"within the budget", nil, nil, nil, map[string]float64{"canary": 0.025, "serving": 0.0005}, many, ""},
		{"too few timings", nil, nil, nil, map[string]float64{"canary": 0.1}, map[string]uint64{"canary": 20}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad, reason := c.unhealthy(ArmCounts{tc.decisions, tc.fallbacks, tc.degenerate}, tc.p99, tc.count)
			if bad != (tc.want != "") || !strings.Contains(reason, tc.want) {
				t.Fatalf("unhealthy = %v, %q; want a reason with %q", bad, reason, tc.want)
			}
		})
	}
}

// TestApprenticeMatches: the apprentice's gate passes a candidate whose
// paired difference with the baseline has a lower bound above −margin ×
// the baseline's value, a worse one not, and keeps the gate's minimums.
func TestApprenticeMatches(t *testing.T) {
	g := Gate{MinRounds: 100, MinESS: 10}
	base := Interval{Value: 0.20, Lo: 0.18, Hi: 0.22}
	for _, tc := range []struct {
		name string
		f    Figures
		want bool
		word string
	}{
		{"better: passes as the online gate would", Figures{Rounds: 500, ESS: 80, Serving: base, Candidate: Interval{Value: 0.3, Lo: 0.25, Hi: 0.35}, Diff: Interval{Value: 0.1, Lo: 0.05, Hi: 0.15}}, true, "estimate"},
		{"as good: lower bound −0.005 > −0.01", Figures{Rounds: 500, ESS: 80, Serving: base, Candidate: Interval{Value: 0.2, Lo: 0.17, Hi: 0.23}, Diff: Interval{Value: 0.002, Lo: -0.005, Hi: 0.009}}, true, "matches"},
		{"worse: lower bound −0.03 < −0.01", Figures{Rounds: 500, ESS: 80, Serving: base, Candidate: Interval{Value: 0.19, Lo: 0.15, Hi: 0.23}, Diff: Interval{Value: -0.01, Lo: -0.03, Hi: 0.01}}, false, "does not match"},
		{"too few rounds", Figures{Rounds: 50, ESS: 80, Serving: base, Diff: Interval{Lo: 0.01}}, false, "fewer than"},
		{"too small an ESS", Figures{Rounds: 500, ESS: 5, Serving: base, Diff: Interval{Lo: 0.01}}, false, "effective sample size"},
	} {
		ok, reason := matches(tc.f, g, 0.05)
		if ok != tc.want || !strings.Contains(reason, tc.word) {
			t.Errorf("%s: %v %q, want %v with %q", tc.name, ok, reason, tc.want, tc.word)
		}
	}
}
