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
	c := Canary{MaxFallbackShare: 0.01, MinFallbackDecisions: 100, MaxLatency: 50 * time.Millisecond}
	fast := map[string]float64{"canary": 0.0005, "serving": 0.0005}
	many := map[string]uint64{"canary": 500, "serving": 500}
	for _, tc := range []struct {
		name                 string
		decisions, fallbacks map[string]int64
		p99                  map[string]float64
		count                map[string]uint64
		want                 string // a word of the reason; "" healthy
	}{
		{"every canary decision falls back", map[string]int64{"canary": 200, "serving": 1800}, map[string]int64{"canary": 200}, fast, many, "misbehaves"},
		{"3% against 0%", map[string]int64{"canary": 1000, "serving": 9000}, map[string]int64{"canary": 30}, fast, many, "misbehaves"},
		{"as often as the serving arm (a store outage)", map[string]int64{"canary": 1000, "serving": 9000}, map[string]int64{"canary": 50, "serving": 450}, fast, many, ""},
		{"too few decisions to tell", map[string]int64{"canary": 50, "serving": 450}, map[string]int64{"canary": 50}, fast, many, ""},
		{"over the latency budget", nil, nil, map[string]float64{"canary": 0.1, "serving": 0.0005}, many, "too slow"},
		{"past the last bucket", nil, nil, map[string]float64{"canary": math.Inf(1), "serving": 0.0005}, many, "too slow"},
		{"within the budget", nil, nil, map[string]float64{"canary": 0.025, "serving": 0.0005}, many, ""},
		{"too few timings", nil, nil, map[string]float64{"canary": 0.1}, map[string]uint64{"canary": 20}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad, reason := c.unhealthy(tc.decisions, tc.fallbacks, tc.p99, tc.count)
			if bad != (tc.want != "") || !strings.Contains(reason, tc.want) {
				t.Fatalf("unhealthy = %v, %q; want a reason with %q", bad, reason, tc.want)
			}
		})
	}
}
