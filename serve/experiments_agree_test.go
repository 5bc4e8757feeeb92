package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"nextbest/eval"
	"nextbest/logs"
)

// TestExperimentsAgreeWithReport runs an experiment through the real
// service for three days of decisions and outcomes (late ones, repeats,
// outcomes for an earlier day's decision after the customer's later one)
// and checks that GET /v1/experiments, computed from the sums the state
// applier keeps, equals nextbest report's analysis of the same journal
// (logs.Join, eval.AnalyzeExperiment) number for number; that a restart
// and a rebuild of the state from the journal give the same answer to
// the bit; and that /v1/stats counts what was sent, restarts included.
// A quarter of the decisions defer their activation: activated before
// their outcomes, after them, or never (the experiment counts them only
// once activated, in the service as in the report).
func TestExperimentsAgreeWithReport(t *testing.T) {
	dir := t.TempDir()
	const window = 2 * 24 * time.Hour
	exps := parseExperiments(t, `
experiments:
  - name: agree
    start: 2026-11-01T00:00:00Z
    primary_metric: reward
    guardrails: [conversion, revenue]
    control: champion
    arms:
      - {name: champion, policy: online, share: 2}
      - {name: random, policy: random, share: 1}
      - {name: fallback, policy: fallback, share: 1}
`)
	var clock atomic.Int64
	clock.Store(testNow.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	cfg := retailConfig(dir)
	cfg.Now, cfg.AttributionWindow, cfg.Experiments, cfg.ExperimentsTTL = now, window, exps, -1
	cfg.JournalNoSync = true
	inst := start(t, cfg)

	type shown struct {
		id, action string
		at         time.Time
	}
	var (
		made    []shown
		sent    = map[string]float64{} // decisions by channel
		r       = rand.New(rand.NewPCG(3, 4))
		rd      = rand.New(rand.NewPCG(5, 6)) // the deferred decisions' draws
		chans   = []string{"web", "app", "email"}
		outcome = func(s shown, typ string, reward float64, id string) {
			body := map[string]any{"decision_id": s.id, "action_id": s.action, "type": typ, "reward": reward}
			if id != "" {
				body["outcome_id"] = id
			}
			inst.mustCall("POST", "/v1/outcomes", body, 202)
		}
	)
	activate := func(id string) { inst.mustCall("POST", "/v1/decisions/"+id+"/activate", "", 200) }
	for day := range 3 {
		var later []string // deferred decisions activated at the end of the day
		clock.Store(testNow.Add(time.Duration(day) * 24 * time.Hour).UnixNano())
		for i := range 120 {
			clock.Add(int64(4 * time.Minute))
			ch := chans[r.IntN(len(chans))]
			deferred := rd.Float64() < 0.25
			dec := inst.mustCall("POST", "/v1/decide", map[string]any{"customer_id": fmt.Sprintf("c-%04d", r.IntN(50)), "channel": ch,
				"defer_activation": deferred}, 200)
			sent[ch]++
			switch when := rd.Float64(); { // < 0.2: never
			case deferred && when >= 0.6: // after its outcomes, at the end of the day
				later = append(later, dec["decision_id"].(string))
			case deferred && when >= 0.2:
				activate(dec["decision_id"].(string))
			}
			acts := actionsOf(t, dec)
			if len(acts) == 0 {
				continue
			}
			s := shown{dec["decision_id"].(string), acts[0]["action_id"].(string), now()}
			made = append(made, s)
			switch u := r.Float64(); {
			case u < 0.15:
				id := fmt.Sprintf("o-%d-%d", day, i)
				outcome(s, "conversion", 1, id)
				outcome(s, "revenue", 10+80*r.Float64(), "")
				outcome(s, "conversion", 1, id) // re-sent: a duplicate
			case u < 0.3:
				outcome(s, "click", 1, "")
			}
		}
		// outcomes for decisions of the day before, some the customer's
		// earlier ones: within the window
		for range 15 {
			s := made[r.IntN(len(made))]
			if now().Sub(s.at) < window {
				outcome(s, "purchase", 1, "")
			}
		}
		for _, id := range later {
			activate(id)
		}
	}
	// late outcomes: past the window, counted but not attributed
	clock.Add(int64(window / 2))
	for range 10 {
		outcome(made[r.IntN(len(made)/3)], "revenue", 50, "")
	}

	served := inst.mustCall("GET", "/v1/experiments", nil, 200)
	list := served["experiments"].([]any)
	if len(list) != 1 {
		t.Fatalf("experiments: %v", served)
	}

	// nextbest report's analysis of the same journal
	joined, _, err := logs.Join(context.Background(), filepath.Join(dir, "journal"),
		logs.JoinConfig{Window: window, DefaultReward: cfg.DefaultReward})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := eval.AnalyzeExperiment(exps[0], joined, eval.ExperimentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := rep.Result
	res.Methods = res.Methods[:len(res.Methods)-1] // the off-policy method: the report's own
	var want any
	b, err := json.Marshal(&res)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if d := jsonDiff("", list[0], want); d != "" {
		t.Fatalf("GET /v1/experiments differs from the report:\n%s", d)
	}
	arms := list[0].(map[string]any)["arms"].([]any)
	if n := arms[0].(map[string]any)["decisions"].(float64); n < 100 {
		t.Fatalf("the champion arm has only %v decisions", n)
	}
	if cmp := list[0].(map[string]any)["comparisons"].([]any); len(cmp) != 6 {
		t.Fatalf("%d comparisons, want 6 (2 challengers × 3 metrics)", len(cmp))
	}

	stats := inst.mustCall("GET", "/v1/stats", nil, 200)
	for ch, n := range sent {
		if got := stats["decisions_by_channel"].(map[string]any)[ch]; got != n {
			t.Errorf("stats: %v decisions on %s, sent %v", got, ch, n)
		}
	}
	if got := stats["outcomes_by_type"].(map[string]any)["revenue"].(float64); got < 10 {
		t.Errorf("stats: %v revenue outcomes, want the late ones too", got)
	}

	// a restart, then the state deleted and rebuilt from the journal: the
	// same sums, the same answers
	for _, step := range []string{"restart", "rebuild"} {
		inst.stop()
		if step == "rebuild" {
			if err := os.RemoveAll(filepath.Join(dir, "state")); err != nil {
				t.Fatal(err)
			}
		}
		inst = start(t, cfg)
		again := inst.mustCall("GET", "/v1/experiments", nil, 200)
		delete(again, "computed_at")
		delete(served, "computed_at")
		if !reflect.DeepEqual(again, served) {
			t.Errorf("after a %s GET /v1/experiments differs:\n%s", step, jsonDiff("", again, served))
		}
		if st := inst.mustCall("GET", "/v1/stats", nil, 200); !reflect.DeepEqual(st, stats) {
			t.Errorf("after a %s /v1/stats is %v, was %v", step, st, stats)
		}
	}
}

// jsonDiff describes where two decoded JSON values differ, numbers
// within 1e-9 relative (the service adds the sums as records arrive, the
// report from the final values: the same terms in another order); ""
// if they agree.
func jsonDiff(path string, got, want any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: %v, want an object\n", path, got)
		}
		var out string
		for k := range w {
			if _, ok := g[k]; !ok {
				out += fmt.Sprintf("%s/%s: missing\n", path, k)
			}
		}
		for k, gv := range g {
			wv, ok := w[k]
			if !ok {
				out += fmt.Sprintf("%s/%s: not in the report\n", path, k)
				continue
			}
			out += jsonDiff(path+"/"+k, gv, wv)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: %v, want %v\n", path, got, want)
		}
		var out string
		for i := range w {
			out += jsonDiff(fmt.Sprintf("%s/%d", path, i), g[i], w[i])
		}
		return out
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(g-w) > 1e-9*max(1, math.Abs(w)) {
			return fmt.Sprintf("%s: %v, want %v\n", path, got, want)
		}
		return ""
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("%s: %v, want %v\n", path, got, want)
	}
	return ""
}
