package serve_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"nextbest/internal/journaltest"
	"nextbest/journal"
	"nextbest/logs"
	"nextbest/serve"
)

// The tests of this file reproduce the faults of "Trust the core": one
// poisoned outcome or event must not fail decisions (A), a re-sent
// outcome must not count twice (B), and outcome types are declared (C).

// metricValue returns the value of one series (name with its labels, as
// /metrics writes it), 0 if absent.
func (in *instance) metricValue(series string) float64 {
	in.t.Helper()
	out := in.mustCall("GET", "/metrics", nil, 200)
	for line := range strings.Lines(out["_raw"].(string)) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				in.t.Fatalf("metric %s: %q", series, line)
			}
			return v
		}
	}
	return 0
}

// lastLSN is the journal's last LSN, as /v1/stats reports it.
func (in *instance) lastLSN() float64 {
	in.t.Helper()
	return in.mustCall("GET", "/v1/stats", nil, 200)["journal_last_lsn"].(float64)
}

// decideOne makes a one-action decision and returns its id and action.
func (in *instance) decideOne(customer, channel string) (string, string) {
	in.t.Helper()
	out := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": customer, "channel": channel}, 200)
	acts := actionsOf(in.t, out)
	if len(acts) != 1 {
		in.t.Fatalf("decision for %s: %v", customer, out)
	}
	return out["decision_id"].(string), acts[0]["action_id"].(string)
}

// conversions is the profile's conversion count for action.
func (in *instance) conversions(customer, action string) float64 {
	in.t.Helper()
	p := in.mustCall("GET", "/v1/profiles/"+customer, nil, 200)
	contacts, _ := p["contacts"].(map[string]any)
	c, _ := contacts[action].(map[string]any)
	n, _ := c["conversions"].(float64)
	return n
}

// serveEveryone decides for 40 demo customers on every channel (the
// poisoned ones among them) and reads their profiles: every answer must
// be 200 with finite numbers.
func (in *instance) serveEveryone() {
	in.t.Helper()
	for i := 1; i <= 40; i++ {
		cust := fmt.Sprintf("c-%04d", i)
		for _, ch := range []string{"web", "app", "email", "call_centre"} {
			code, out := in.call("POST", "/v1/decide", map[string]any{"customer_id": cust, "channel": ch, "limit": 2})
			if code != 200 {
				in.t.Fatalf("decide for %s on %s: %d %v", cust, ch, code, out)
			}
			for _, a := range actionsOf(in.t, out) {
				for _, k := range []string{"score", "propensity"} {
					if v, ok := a[k].(float64); !ok || math.IsNaN(v) || math.IsInf(v, 0) {
						in.t.Errorf("decide for %s on %s: %s %v", cust, ch, k, a[k])
					}
				}
			}
		}
		if code, out := in.call("GET", "/v1/profiles/"+cust, nil); code != 200 {
			in.t.Errorf("profile of %s: %d %v", cust, code, out)
		}
	}
}

// TestPoisonInTheJournalIsSkipped writes what the issue posted into the
// journal directly, past any edge check: an outcome with reward 1e308,
// one of an undeclared type, two purchase events of 1e308 for one
// customer, and a re-sent outcome. The applier skips the poison, counts
// it in nextbest_apply_errors_total and logs it at ERROR with its LSN;
// every customer is served 200 after it, after a restart, and after the
// state and the model are rebuilt from the journal (which replays the
// poison again).
func TestPoisonInTheJournalIsSkipped(t *testing.T) {
	dir := t.TempDir()
	var logBuf serve.LogBuffer
	cfg := retailConfig(dir)
	cfg.JournalNoSync = true
	cfg.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
	in := start(t, cfg)
	poisoned, poisonedAct := in.decideOne("c-0001", "app")
	resent, resentAct := in.decideOne("c-0002", "app")
	in.stop()

	outcome := func(id, cust, act, typ string, reward float64) journal.Outcome {
		return journal.Outcome{DecisionID: id, ActionID: act, CustomerID: cust, Type: typ, Reward: reward, Time: testNow, DecisionTime: testNow}
	}
	purchase := journal.Event{CustomerID: "c-0003", Type: "purchase", Channel: "web", Time: testNow, Properties: map[string]any{"amount": 1e308}}
	// into the stopped service's journal, as an old journal, written
	// before the edge refused them, would hold them
	journaltest.WriteDir(t, filepath.Join(dir, "journal"),
		outcome(poisoned, "c-0001", poisonedAct, "conversion", 1e308),
		outcome(poisoned, "c-0001", poisonedAct, "convresion", 1),
		purchase, purchase,
		outcome(resent, "c-0002", resentAct, "conversion", 1),
		outcome(resent, "c-0002", resentAct, "conversion", 1),
	)

	check := func(in *instance, replayed bool) {
		t.Helper()
		if replayed {
			if n := in.metricValue(`nextbest_apply_errors_total{kind="reward"}`); n != 1 {
				t.Errorf("apply errors of kind reward: %v, want 1", n)
			}
			if n := in.metricValue(`nextbest_apply_errors_total{kind="type"}`); n != 1 {
				t.Errorf("apply errors of kind type: %v, want 1", n)
			}
			// ApplyEvent refuses the first purchase (out of range) or the
			// applier refuses the second (the counter would overflow)
			if n := in.metricValue(`nextbest_apply_errors_total{kind="event"}`); n < 1 {
				t.Errorf("apply errors of kind event: %v, want at least 1", n)
			}
		}
		in.serveEveryone()
		if n := in.conversions("c-0002", resentAct); n != 1 {
			t.Errorf("conversions of c-0002 for %s: %v, want 1 (the journal holds a re-sent outcome)", resentAct, n)
		}
		if n := in.conversions("c-0001", poisonedAct); n != 0 {
			t.Errorf("conversions of c-0001 for %s: %v, want 0 (the only conversion was poisoned)", poisonedAct, n)
		}
	}

	in = start(t, cfg)
	check(in, true)
	if l := logBuf.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "kind=reward") || !strings.Contains(l, "lsn=") {
		t.Errorf("the poison was not logged at ERROR with its LSN:\n%s", l)
	}
	in.stop()

	in = start(t, cfg) // a restart: state and model as they were
	check(in, false)
	in.stop()

	// a rebuild of the state and the model replays the poison
	if err := os.RemoveAll(filepath.Join(dir, "state")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "model", "online.state")); err != nil {
		t.Fatal(err)
	}
	in = start(t, cfg)
	check(in, true)
}

// TestPoisonRewardAtTheEdge posts the outcome, reward 1e308: it
// is refused, and every customer is still served afterwards.
func TestPoisonRewardAtTheEdge(t *testing.T) {
	cfg := retailConfig(t.TempDir())
	cfg.JournalNoSync = true
	in := start(t, cfg)
	id, act := in.decideOne("c-0001", "app")
	before := in.lastLSN()
	for _, r := range []string{"1e308", "-1e308", "1e10"} {
		code, out := in.call("POST", "/v1/outcomes", `{"decision_id":"`+id+`","action_id":"`+act+`","reward":`+r+`}`)
		if code != 400 || out["error"].(map[string]any)["field"] != "reward" {
			t.Errorf("reward %s: %d %v, want 400 naming reward", r, code, out)
		}
	}
	if after := in.lastLSN(); after != before {
		t.Errorf("refused outcomes were journaled: LSN %v → %v", before, after)
	}
	in.serveEveryone()
}

// TestResentOutcomeCountedOnce re-sends one outcome 50 times in a row
// and another 50 times at once: each is journaled once, counted once in
// the profile and in nextbest_outcomes_total, and every re-send is
// answered 202 with "duplicate": true and the first one's LSN, also after
// a restart.
func TestResentOutcomeCountedOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := retailConfig(dir)
	cfg.JournalNoSync = true
	in := start(t, cfg)

	post := func(body map[string]any) (float64, bool) {
		code, out := in.call("POST", "/v1/outcomes", body)
		if code != 202 {
			t.Errorf("outcome %v: %d %v", body, code, out)
			return 0, false
		}
		dup, _ := out["duplicate"].(bool)
		lsn, _ := out["lsn"].(float64)
		return lsn, dup
	}

	// sequential
	id, act := in.decideOne("c-0005", "app")
	body := map[string]any{"decision_id": id, "action_id": act, "reward": 1, "type": "conversion"}
	before := in.lastLSN()
	firstLSN, dup := post(body)
	if dup {
		t.Fatal("the first outcome was answered as a duplicate")
	}
	for i := range 49 {
		lsn, dup := post(body)
		if !dup || lsn != firstLSN {
			t.Fatalf("re-send %d: lsn %v duplicate %v, want %v true", i, lsn, dup, firstLSN)
		}
	}
	in.countedOnce("50 sends", before, "c-0005", act, "conversion")

	// concurrent
	id2, act2 := in.decideOne("c-0006", "app")
	body2 := map[string]any{"decision_id": id2, "action_id": act2, "reward": 1, "type": "purchase"}
	before = in.lastLSN()
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh, lsns := 0, map[float64]bool{}
	for range 50 {
		wg.Go(func() {
			lsn, dup := post(body2)
			mu.Lock()
			defer mu.Unlock()
			lsns[lsn] = true
			if !dup {
				fresh++
			}
		})
	}
	wg.Wait()
	if fresh != 1 || len(lsns) != 1 {
		t.Errorf("50 concurrent sends: %d accepted as new, LSNs %v; want 1 and one LSN", fresh, lsns)
	}
	in.countedOnce("50 concurrent sends", before, "c-0006", act2, "purchase")

	// the stored keys outlive the process
	in.stop()
	in = start(t, cfg)
	if lsn, dup := post(body); !dup || lsn != firstLSN {
		t.Errorf("re-send after a restart: lsn %v duplicate %v, want %v true", lsn, dup, firstLSN)
	}
	if n := in.conversions("c-0005", act); n != 1 {
		t.Errorf("conversions after a restart %v, want 1", n)
	}
}

// countedOnce checks that the outcome sent (what) since the journal's
// last LSN was before is journaled once, and counted once in customer's
// conversions of act and in nextbest_outcomes_total of type typ.
func (in *instance) countedOnce(what string, before float64, customer, act, typ string) {
	in.t.Helper()
	if after := in.lastLSN(); after != before+1 {
		in.t.Errorf("%s journaled %v records, want 1", what, after-before)
	}
	if n := in.conversions(customer, act); n != 1 {
		in.t.Errorf("conversions %v, want 1", n)
	}
	if n := in.metricValue(`nextbest_outcomes_total{type="` + typ + `"}`); n != 1 {
		in.t.Errorf("outcomes_total %v, want 1", n)
	}
}

// TestOutcomeIDDeduplicatesRepeatableTypes: for sum and max types
// repeats are meaningful, so only the same outcome_id is a duplicate —
// also when 50 copies are sent at once.
func TestOutcomeIDDeduplicatesRepeatableTypes(t *testing.T) {
	cfg := retailConfig(t.TempDir())
	cfg.JournalNoSync = true
	cfg.OutcomeTypes = []logs.OutcomeType{
		{Name: "conversion", Conversion: true},
		{Name: "revenue", Aggregate: logs.AggSum},
		{Name: "rating", Aggregate: logs.AggMax},
	}
	in := start(t, cfg)
	id, act := in.decideOne("c-0007", "app")
	send := func(typ, outcomeID string, n int) (fresh int) {
		body := map[string]any{"decision_id": id, "action_id": act, "reward": 20, "type": typ}
		if outcomeID != "" {
			body["outcome_id"] = outcomeID
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range n {
			wg.Go(func() {
				code, out := in.call("POST", "/v1/outcomes", body)
				if code != 202 {
					t.Errorf("%v: %d %v", body, code, out)
					return
				}
				if dup, _ := out["duplicate"].(bool); !dup {
					mu.Lock()
					fresh++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return fresh
	}
	before := in.lastLSN()
	if n := send("revenue", "order-1", 50); n != 1 {
		t.Errorf("50 sends of outcome_id order-1: %d new, want 1", n)
	}
	if n := send("revenue", "order-2", 1); n != 1 {
		t.Errorf("another outcome_id: %d new, want 1", n)
	}
	if n := send("revenue", "", 2); n != 2 {
		t.Errorf("two revenue outcomes without an outcome_id: %d new, want 2 (sum counts repeats)", n)
	}
	if n := send("rating", "", 2); n != 2 {
		t.Errorf("two rating outcomes: %d new, want 2 (max counts repeats)", n)
	}
	// an outcome_id is one outcome, whatever else differs
	if n := send("rating", "order-1", 1); n != 0 {
		t.Errorf("outcome_id order-1 again for another type: %d new, want 0", n)
	}
	if got := in.lastLSN() - before; got != 6 {
		t.Errorf("journaled %v records, want 6", got)
	}
	if n := in.metricValue(`nextbest_outcomes_total{type="revenue"}`); n != 4 {
		t.Errorf("outcomes_total{revenue} %v, want 4", n)
	}
	if code, out := in.call("POST", "/v1/outcomes", map[string]any{"decision_id": id, "action_id": act, "reward": 1, "outcome_id": " x"}); code != 400 {
		t.Errorf("outcome_id with white space: %d %v", code, out)
	}
}

// TestUndeclaredOutcomeType: a typo is refused with 422 naming the field
// and listing the declared types; it is not journaled and adds no metric
// label.
func TestUndeclaredOutcomeType(t *testing.T) {
	cfg := retailConfig(t.TempDir())
	cfg.JournalNoSync = true
	in := start(t, cfg)
	id, act := in.decideOne("c-0008", "app")
	before := in.lastLSN()
	code, out := in.call("POST", "/v1/outcomes", map[string]any{"decision_id": id, "action_id": act, "reward": 1, "type": "convresion"})
	e, _ := out["error"].(map[string]any)
	if code != 422 || e["field"] != "type" {
		t.Fatalf("undeclared type: %d %v, want 422 naming type", code, out)
	}
	msg, _ := e["message"].(string)
	for _, name := range []string{"convresion", "conversion", "purchase", "click", "revenue"} {
		if !strings.Contains(msg, name) {
			t.Errorf("message %q does not mention %s", msg, name)
		}
	}
	if in.lastLSN() != before {
		t.Error("the outcome was journaled")
	}
	if raw := in.mustCall("GET", "/metrics", nil, 200)["_raw"].(string); strings.Contains(raw, "convresion") {
		t.Error("the typo became a metric label")
	}
}

// TestDeclaredOutcomeTypes: the declarations decide what counts as a
// conversion, not the type's name.
func TestDeclaredOutcomeTypes(t *testing.T) {
	w := 1.0
	cfg := retailConfig(t.TempDir())
	cfg.JournalNoSync = true
	cfg.OutcomeTypes = []logs.OutcomeType{
		{Name: "signup", Conversion: true, Reward: logs.RewardRule{Weight: &w}},
		{Name: "purchase"}, // declared, but not a conversion here
	}
	in := start(t, cfg)
	id, act := in.decideOne("c-0009", "app")
	in.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": id, "action_id": act, "reward": 50, "type": "purchase"}, 202)
	if n := in.conversions("c-0009", act); n != 0 {
		t.Errorf("a purchase declared as no conversion counted %v", n)
	}
	// posted 0, but the declared weight makes it a rewarded conversion
	in.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": id, "action_id": act, "reward": 0, "type": "signup"}, 202)
	if n := in.conversions("c-0009", act); n != 1 {
		t.Errorf("a signup counted %v conversions, want 1", n)
	}
	// without a type an outcome is a "conversion", which is not declared
	if code, out := in.call("POST", "/v1/outcomes", map[string]any{"decision_id": id, "action_id": act, "reward": 1}); code != 422 {
		t.Errorf("an outcome of the default type, undeclared: %d %v", code, out)
	}
}

// modelMeans is the online model's mean for every action at one fixed
// feature vector.
func modelMeans(in *instance) []float64 {
	m := in.svc.Model()
	n, dim := max(m.Actions(), 1), m.Dim()
	x := make([]float64, n*dim)
	acts := make([]int, n)
	for i := range acts {
		acts[i] = i
		for j := range dim {
			x[i*dim+j] = math.Sin(float64(j + 1))
		}
	}
	mean, std := make([]float64, n), make([]float64, n)
	m.Predict(mean, std, acts, x)
	return mean
}

// TestOnlineRewardFollowsDeclaredRule: the online model learns what the
// declared rule says an action's reward is. Outcomes folded by their
// types (sum 3+4, max of 3, 1, 5, a weighted click posted twice, a
// conversion) teach the model exactly what single outcomes of the final
// values do (sum 7, max 5, click 0.5, conversion 1) — live, after the
// model is rebuilt from the journal over the existing state (the
// recovery path that reads the stored aggregates), and after state and
// model are both rebuilt.
func TestOnlineRewardFollowsDeclaredRule(t *testing.T) {
	half := 0.5
	types := []logs.OutcomeType{
		{Name: "conversion", Conversion: true},
		{Name: "revenue", Aggregate: logs.AggSum},
		{Name: "rating", Aggregate: logs.AggMax},
		{Name: "click", Reward: logs.RewardRule{Weight: &half}},
	}
	type outcome struct {
		typ    string
		reward float64
	}
	run := func(outcomes []outcome) [][]float64 {
		dir := t.TempDir()
		cfg := retailConfig(dir)
		cfg.JournalNoSync = true
		cfg.OutcomeTypes = types
		in := start(t, cfg)
		id, act := in.decideOne("c-0010", "app")
		for i, o := range outcomes {
			in.mustCall("POST", "/v1/outcomes", map[string]any{"decision_id": id, "action_id": act,
				"type": o.typ, "reward": o.reward, "outcome_id": fmt.Sprint("o-", i)}, 202)
		}
		if err := in.svc.WaitLearned(context.Background()); err != nil {
			t.Fatal(err)
		}
		out := [][]float64{modelMeans(in)}
		in.stop()
		for _, drop := range [][]string{{"model/online.state"}, {"model/online.state", "state"}} {
			for _, p := range drop {
				if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
					t.Fatal(err)
				}
			}
			in = start(t, cfg)
			out = append(out, modelMeans(in))
			in.mustCall("GET", "/healthz", nil, 200) // Serve is running: Close stops it
			in.stop()
		}
		return out
	}
	folded := run([]outcome{{"revenue", 3}, {"rating", 3}, {"revenue", 4}, {"rating", 1}, {"click", 100}, {"rating", 5}, {"click", 7}, {"conversion", 1}})
	single := run([]outcome{{"revenue", 7}, {"rating", 5}, {"click", 0.5}, {"conversion", 1}})
	learned := false
	for k, when := range []string{"live", "model rebuilt", "state and model rebuilt"} {
		for i := range single[0] {
			a, b := folded[k][i], single[0][i]
			if math.Abs(a-b) > 1e-9*(1+math.Abs(b)) {
				t.Errorf("%s: action %d: mean %v after folded outcomes, %v after their final values", when, i, a, b)
			}
			learned = learned || b != 0
		}
	}
	if !learned {
		t.Error("the model learned nothing from the outcomes")
	}
}
