package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"nextbest/models"
	"nextbest/serve"
)

const pzBase = "/personalizer/v1.0/"

// pzServiceConfig is a service configuration with the model published as
// soon as it learns (the tests read it right after), and the rest
// Personalizer's defaults.
func pzServiceConfig(mode string) map[string]any {
	return map[string]any{"rewardWaitTime": "PT10M", "defaultReward": 0, "rewardAggregation": "earliest",
		"explorationPercentage": 0.2, "modelExportFrequency": "PT0S", "logRetentionDays": -1, "learningMode": mode}
}

// pzStart starts the retail service (its native API untouched by these
// tests) with the Personalizer namespace configured by pzServiceConfig.
func pzStart(t *testing.T, cfg serve.Config, mode string) *instance {
	t.Helper()
	in := start(t, cfg)
	in.mustCall("PUT", pzBase+"configurations/service", pzServiceConfig(mode), 200)
	return in
}

func pzActions(ids ...string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"id": id, "features": []any{map[string]any{"kind": id, "size": float64(i + 1)}}}
	}
	return out
}

// pzRanking decodes a RankResponse's ranking as id → probability, and its
// order.
func pzRanking(t *testing.T, out map[string]any) (map[string]float64, []string) {
	t.Helper()
	probs := map[string]float64{}
	var order []string
	raw, ok := out["ranking"].([]any)
	if !ok {
		t.Fatalf("no ranking in %v", out)
	}
	for _, r := range raw {
		m := r.(map[string]any)
		probs[m["id"].(string)] = m["probability"].(float64)
		order = append(order, m["id"].(string))
	}
	return probs, order
}

// pzErrorCode returns the code of a Personalizer error body, failing t
// unless it is one ({"error": {"code", "message"}}).
func pzErrorCode(t *testing.T, out map[string]any) string {
	t.Helper()
	e, ok := out["error"].(map[string]any)
	if !ok {
		t.Fatalf("not an error body: %v", out)
	}
	code, _ := e["code"].(string)
	if msg, _ := e["message"].(string); code == "" || msg == "" {
		t.Fatalf("an error body without code or message: %v", out)
	}
	return code
}

// modelEmpty reports whether the namespace's model has learned nothing.
func modelEmpty(m *models.Ridge) bool {
	st := m.Stats()[0]
	return st.N == 0 && !slices.ContainsFunc(st.Xty, func(v float64) bool { return v != 0 })
}

// TestPersonalizerRank: the easy-to-miss semantics of rank. Excluded
// actions are ranked with probability 0; the probabilities are the
// policy's exactly (a model that knows nothing prefers the first
// non-excluded action: 1−ε for it, ε/(K−1) for the others) and sum to 1;
// an eventId is generated when absent; a call with an eventId ranked
// already answers the same (and 400 for another request); more than 50
// actions, or every action excluded, is InvalidRankRequest.
func TestPersonalizerRank(t *testing.T) {
	t.Parallel()
	in := pzStart(t, retailConfig(t.TempDir()), "Online")
	req := map[string]any{"contextFeatures": []any{map[string]any{"user": map[string]any{"tier": "gold"}}},
		"actions": pzActions("a", "b", "c", "d"), "excludedActions": []any{"a"}, "eventId": "ev-1"}
	out := in.mustCall("POST", pzBase+"rank", req, 201)
	probs, order := pzRanking(t, out)
	want := map[string]float64{"a": 0, "b": 0.8, "c": 0.1, "d": 0.1}
	for id, p := range want {
		if math.Abs(probs[id]-p) > 1e-12 {
			t.Errorf("P(%s) = %v, want %v (ranking %v)", id, probs[id], p, probs)
		}
	}
	if !slices.Equal(order, []string{"a", "b", "c", "d"}) {
		t.Errorf("ranking order %v: a model that knows nothing keeps the request's order", order)
	}
	if out["eventId"] != "ev-1" || probs[out["rewardActionId"].(string)] == 0 {
		t.Errorf("eventId %v, rewardActionId %v", out["eventId"], out["rewardActionId"])
	}
	// a replay answers the same, and says so
	resp, body := in.raw("POST", pzBase+"rank", mustJSON(t, req))
	if resp.StatusCode != 201 || resp.Header.Get("Idempotent-Replay") != "true" || !jsonEqual(t, body, out) {
		t.Errorf("a replay: %d %s, want %v", resp.StatusCode, body, out)
	}
	other := map[string]any{"actions": pzActions("a", "b"), "eventId": "ev-1"}
	if code, e := in.call("POST", pzBase+"rank", other); code != 400 || pzErrorCode(t, e) != "InvalidRankRequest" {
		t.Errorf("ev-1 again with another request: %d %v", code, e)
	}
	// generated event ids, and the draw they seed
	out = in.mustCall("POST", pzBase+"rank", map[string]any{"actions": pzActions("a", "b")}, 201)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(out["eventId"].(string)) {
		t.Errorf("generated eventId %v", out["eventId"])
	}
	ids := make([]string, 51)
	for i := range ids {
		ids[i] = fmt.Sprintf("x%d", i)
	}
	for name, bad := range map[string]map[string]any{
		"51 actions":          {"actions": pzActions(ids...)},
		"no action":           {"actions": []any{}},
		"every one excluded":  {"actions": pzActions("a", "b"), "excludedActions": []any{"b", "a"}},
		"a duplicate id":      {"actions": pzActions("a", "a")},
		"an empty id":         {"actions": []any{map[string]any{"id": ""}}},
		"a number too large":  {"actions": pzActions("a"), "contextFeatures": []any{map[string]any{"n": 2e9}}},
		"a feature not a map": {"actions": pzActions("a"), "contextFeatures": []any{"x"}},
		"an eventId too long": {"actions": pzActions("a"), "eventId": strings.Repeat("e", 257)},
	} {
		if code, e := in.call("POST", pzBase+"rank", bad); code != 400 || pzErrorCode(t, e) != "InvalidRankRequest" {
			t.Errorf("%s: %d %v", name, code, e)
		}
	}
}

// TestPersonalizerSeededDraw: the eventId seeds the draw. Two services
// that know nothing answer an eventId alike, and over 400 eventIds the
// draws follow the probabilities (the first action 1−ε = 0.8: within 4
// standard errors, sqrt(0.16/400) = 0.02).
func TestPersonalizerSeededDraw(t *testing.T) {
	t.Parallel()
	a := pzStart(t, retailConfig(t.TempDir()), "Online")
	b := pzStart(t, retailConfig(t.TempDir()), "Online")
	first := 0
	const n = 400
	for i := range n {
		req := map[string]any{"actions": pzActions("a", "b", "c"), "eventId": fmt.Sprintf("seed-%d", i)}
		x := a.mustCall("POST", pzBase+"rank", req, 201)["rewardActionId"]
		if y := b.mustCall("POST", pzBase+"rank", req, 201)["rewardActionId"]; x != y {
			t.Fatalf("seed-%d: %v on one service, %v on the other", i, x, y)
		}
		if x == "a" {
			first++
		}
	}
	if share := float64(first) / n; math.Abs(share-0.8) > 4*0.02 {
		t.Errorf("the first action drawn %.3f of the time, want 0.8 ± 0.08", share)
	}
}

// TestPersonalizerActivation: a deferred event never activated leaves
// the model untouched, its reward kept but not learned; activated, it is
// learned with the reward it got before. Rewards out of [-1, 1] and for
// unknown events are refused, activating an unknown event is 404.
func TestPersonalizerActivation(t *testing.T) {
	t.Parallel()
	in := pzStart(t, retailConfig(t.TempDir()), "Online")
	ctx := context.Background()
	rank := func(id string, deferred bool) {
		in.mustCall("POST", pzBase+"rank", map[string]any{"actions": pzActions("a", "b"), "eventId": id, "deferActivation": deferred}, 201)
	}
	rank("deferred", true)
	in.mustCall("POST", pzBase+"events/deferred/reward", map[string]any{"value": 1}, 204)
	if err := in.svc.WaitLearned(ctx); err != nil {
		t.Fatal(err)
	}
	if !modelEmpty(in.svc.PersonalizerModel()) {
		t.Fatal("a deferred event never activated changed the model")
	}
	in.mustCall("POST", pzBase+"events/deferred/activate", map[string]any{}, 204)
	in.mustCall("POST", pzBase+"events/deferred/activate", map[string]any{}, 204) // a second time: nothing more
	if err := in.svc.WaitLearned(ctx); err != nil {
		t.Fatal(err)
	}
	st := in.svc.PersonalizerModel().Stats()[0]
	if st.N != 1 || !slices.ContainsFunc(st.Xty, func(v float64) bool { return v != 0 }) {
		t.Errorf("activated: %d observations, a reward of 1 learned: %v", st.N, slices.ContainsFunc(st.Xty, func(v float64) bool { return v != 0 }))
	}
	for name, c := range map[string]struct {
		path string
		body any
		want int
		code string
	}{
		"reward above 1":       {"events/deferred/reward", map[string]any{"value": 1.5}, 400, "InvalidRewardRequest"},
		"reward below -1":      {"events/deferred/reward", map[string]any{"value": -2}, 400, "InvalidRewardRequest"},
		"reward without value": {"events/deferred/reward", map[string]any{}, 400, "InvalidRewardRequest"},
		"reward unknown event": {"events/nope/reward", map[string]any{"value": 1}, 404, "ResourceNotFound"},
		"activate unknown":     {"events/nope/activate", map[string]any{}, 404, "ResourceNotFound"},
		"multi-slot reward of a rank event": {"multislot/events/deferred/reward",
			map[string]any{"reward": []any{map[string]any{"slotId": "s", "value": 1}}}, 400, "InvalidRewardRequest"},
		"no such operation": {"events/deferred/punish", map[string]any{}, 404, "ResourceNotFound"},
	} {
		code, e := in.call("POST", pzBase+c.path, c.body)
		if code != c.want || pzErrorCode(t, e) != c.code {
			t.Errorf("%s: %d %v, want %d %s", name, code, e, c.want, c.code)
		}
	}
}

// TestPersonalizerModes: Apprentice serves the baseline (the first
// non-excluded action; each slot's baselineAction) with probability 1 and
// learns from it; LoggingOnly serves it and learns nothing.
func TestPersonalizerModes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"Apprentice", "LoggingOnly"} {
		t.Run(mode, func(t *testing.T) {
			in := pzStart(t, retailConfig(t.TempDir()), mode)
			for i := range 20 {
				id := fmt.Sprintf("%s-%d", mode, i)
				out := in.mustCall("POST", pzBase+"rank", map[string]any{"actions": pzActions("a", "b", "c"), "excludedActions": []any{"a"}, "eventId": id}, 201)
				probs, _ := pzRanking(t, out)
				if out["rewardActionId"] != "b" || probs["b"] != 1 || probs["c"] != 0 {
					t.Fatalf("%s serves %v with %v, want the baseline b with probability 1", mode, out["rewardActionId"], probs)
				}
				in.mustCall("POST", pzBase+"events/"+id+"/reward", map[string]any{"value": 1}, 204)
			}
			out := in.mustCall("POST", pzBase+"multislot/rank", map[string]any{"actions": pzActions("a", "b", "c"), "eventId": mode + "-multi",
				"slots": []any{map[string]any{"id": "hero", "baselineAction": "c"}, map[string]any{"id": "side", "baselineAction": "a"}}}, 201)
			if got := fmt.Sprint(out["slots"]); got != "[map[id:hero rewardActionId:c] map[id:side rewardActionId:a]]" {
				t.Errorf("multi-slot in %s: %s", mode, got)
			}
			if err := in.svc.WaitLearned(context.Background()); err != nil {
				t.Fatal(err)
			}
			n := in.svc.PersonalizerModel().Stats()[0].N
			if want := map[string]uint64{"Apprentice": 22, "LoggingOnly": 0}[mode]; n != want {
				t.Errorf("%s learned %d observations, want %d", mode, n, want)
			}
		})
	}
}

// TestPersonalizerMultiSlot: slots are filled in order with distinct
// actions, each from those neither excluded from it nor taken; rewards
// name slots; the checks of the request.
func TestPersonalizerMultiSlot(t *testing.T) {
	t.Parallel()
	in := pzStart(t, retailConfig(t.TempDir()), "Online")
	slots := []any{
		map[string]any{"id": "hero", "features": []any{map[string]any{"size": "Large"}}, "baselineAction": "a", "excludedActions": []any{"b"}},
		map[string]any{"id": "side", "baselineAction": "b"},
		map[string]any{"id": "footer", "baselineAction": "c"},
	}
	for i := range 30 {
		id := fmt.Sprintf("m-%d", i)
		out := in.mustCall("POST", pzBase+"multislot/rank", map[string]any{"actions": pzActions("a", "b", "c"), "slots": slots, "eventId": id}, 201)
		got := out["slots"].([]any)
		seen := map[string]bool{}
		for j, s := range got {
			m := s.(map[string]any)
			a, _ := m["rewardActionId"].(string)
			if m["id"] != slots[j].(map[string]any)["id"] || a == "" || seen[a] || (j == 0 && a == "b") {
				t.Fatalf("%s: slots %v", id, got)
			}
			seen[a] = true
		}
		in.mustCall("POST", pzBase+"multislot/events/"+id+"/reward", map[string]any{"reward": []any{
			map[string]any{"slotId": "hero", "value": 1}, map[string]any{"slotId": "footer", "value": 0.5}}}, 204)
	}
	// the query-versioned paths of the 2022-09-01-preview clients reach
	// the same routes
	out := in.mustCall("POST", "/personalizer/multislot/rank?api-version=2022-09-01-preview", map[string]any{"actions": pzActions("a", "b", "c"), "slots": slots, "eventId": "q-1"}, 201)
	if got := out["slots"].([]any); len(got) != 3 {
		t.Fatalf("query-versioned multislot rank: %v", out)
	}
	in.mustCall("POST", "/personalizer/multislot/events/q-1/reward?api-version=2022-09-01-preview", map[string]any{"reward": []any{
		map[string]any{"slotId": "side", "value": 1}}}, 204)
	in.mustCall("POST", "/personalizer/multislot/rank", map[string]any{"actions": pzActions("a"), "slots": slots, "eventId": "q-2"}, 404)
	for name, c := range map[string]struct {
		path string
		body any
	}{
		"no slots":                          {"multislot/rank", map[string]any{"actions": pzActions("a")}},
		"baseline excluded":                 {"multislot/rank", map[string]any{"actions": pzActions("a", "b"), "slots": []any{map[string]any{"id": "s", "baselineAction": "a", "excludedActions": []any{"a"}}}}},
		"baseline repeated":                 {"multislot/rank", map[string]any{"actions": pzActions("a", "b"), "slots": []any{map[string]any{"id": "s", "baselineAction": "a"}, map[string]any{"id": "t", "baselineAction": "a"}}}},
		"baseline unknown":                  {"multislot/rank", map[string]any{"actions": pzActions("a"), "slots": []any{map[string]any{"id": "s", "baselineAction": "z"}}}},
		"slot id repeated":                  {"multislot/rank", map[string]any{"actions": pzActions("a", "b"), "slots": []any{map[string]any{"id": "s", "baselineAction": "a"}, map[string]any{"id": "s", "baselineAction": "b"}}}},
		"unknown slot":                      {"multislot/events/m-0/reward", map[string]any{"reward": []any{map[string]any{"slotId": "nope", "value": 1}}}},
		"slot rewarded twice":               {"multislot/events/m-0/reward", map[string]any{"reward": []any{map[string]any{"slotId": "hero", "value": 1}, map[string]any{"slotId": "hero", "value": 0}}}},
		"value out of range":                {"multislot/events/m-0/reward", map[string]any{"reward": []any{map[string]any{"slotId": "hero", "value": 3}}}},
		"rank reward of a multi-slot event": {"events/m-0/reward", map[string]any{"value": 1}},
	} {
		if code, e := in.call("POST", pzBase+c.path, c.body); code != 400 {
			t.Errorf("%s: %d %v", name, code, e)
		}
	}
	if err := in.svc.WaitLearned(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := in.svc.PersonalizerModel().Stats()[0].N; n != 93 {
		t.Errorf("%d observations, want 93 (31 events × 3 slots)", n)
	}
}

// TestPersonalizerRebuild: the namespace's state and model are the
// journal's: with the model snapshot and the state store deleted, a
// restart rebuilds the same statistics (and the event index, which a
// replay of an eventId reads).
func TestPersonalizerRebuild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := retailConfig(dir)
	in := pzStart(t, cfg, "Online")
	for i := range 25 {
		id := fmt.Sprintf("r-%d", i)
		in.mustCall("POST", pzBase+"rank", map[string]any{"contextFeatures": []any{map[string]any{"u": fmt.Sprint(i % 3)}},
			"actions": pzActions("a", "b", "c"), "eventId": id, "deferActivation": i%4 == 0}, 201)
		if i%2 == 0 {
			in.mustCall("POST", pzBase+"events/"+id+"/reward", map[string]any{"value": float64(i%5) / 4}, 204)
		}
		if i%8 == 0 {
			in.mustCall("POST", pzBase+"events/"+id+"/activate", map[string]any{}, 204)
		}
	}
	if err := in.svc.WaitLearned(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := in.svc.PersonalizerModel().Stats()[0]
	replay := in.mustCall("POST", pzBase+"rank", map[string]any{"contextFeatures": []any{map[string]any{"u": "2"}},
		"actions": pzActions("a", "b", "c"), "eventId": "r-5"}, 201)
	in.stop()
	for _, p := range []string{filepath.Join(dir, "model", "personalizer.state"), filepath.Join(dir, "state")} {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	again := start(t, cfg)
	got := again.svc.PersonalizerModel().Stats()[0]
	if got.N != want.N || !slices.Equal(got.Xty, want.Xty) || !slices.Equal(got.XtX, want.XtX) {
		t.Errorf("rebuilt: N %d (want %d), statistics equal: %v", got.N, want.N, slices.Equal(got.Xty, want.Xty) && slices.Equal(got.XtX, want.XtX))
	}
	if out := again.mustCall("POST", pzBase+"rank", map[string]any{"contextFeatures": []any{map[string]any{"u": "2"}},
		"actions": pzActions("a", "b", "c"), "eventId": "r-5"}, 201); fmt.Sprint(out) != fmt.Sprint(replay) {
		t.Errorf("a replay after the rebuild: %v, want %v", out, replay)
	}
	// the configuration is kept too
	if out := again.mustCall("GET", pzBase+"configurations/service", nil, 200); out["modelExportFrequency"] != "PT0S" {
		t.Errorf("configuration after a restart: %v", out)
	}
}

// TestPersonalizerConfiguration: the configuration routes map onto the
// namespace's settings, are validated with Personalizer's error codes and
// land in the audit trail.
func TestPersonalizerConfiguration(t *testing.T) {
	t.Parallel()
	in := start(t, retailConfig(t.TempDir()))
	def := in.mustCall("GET", pzBase+"configurations/service", nil, 200)
	for k, v := range map[string]any{"rewardWaitTime": "PT10M", "defaultReward": 0.0, "rewardAggregation": "earliest",
		"explorationPercentage": 0.2, "modelExportFrequency": "PT1M", "logRetentionDays": -1.0, "learningMode": "Online"} {
		if def[k] != v {
			t.Errorf("default %s = %v, want %v", k, def[k], v)
		}
	}
	c := pzServiceConfig("Online")
	c["explorationPercentage"], c["rewardAggregation"] = 0.5, "average"
	out := in.mustCall("PUT", pzBase+"configurations/service", c, 200)
	if out["explorationPercentage"] != 0.5 || out["rewardAggregation"] != "average" || out["lastConfigurationEditDate"] == "" {
		t.Errorf("PUT answered %v", out)
	}
	// ε = 0.5 over three actions: 0.5, 0.25, 0.25
	probs, _ := pzRanking(t, in.mustCall("POST", pzBase+"rank", map[string]any{"actions": pzActions("a", "b", "c")}, 201))
	if probs["a"] != 0.5 || probs["b"] != 0.25 || probs["c"] != 0.25 {
		t.Errorf("exploration 0.5: %v", probs)
	}
	bad := func(edit func(map[string]any), code string) {
		t.Helper()
		c := pzServiceConfig("Online")
		edit(c)
		if got, e := in.call("PUT", pzBase+"configurations/service", c); got != 400 || pzErrorCode(t, e) != code {
			t.Errorf("%v: %d %v, want 400 %s", c, got, e, code)
		}
	}
	bad(func(c map[string]any) { delete(c, "defaultReward") }, "InvalidServiceConfiguration")
	bad(func(c map[string]any) { c["rewardWaitTime"] = "ten minutes" }, "InvalidServiceConfiguration")
	bad(func(c map[string]any) { c["rewardWaitTime"] = "PT1S" }, "InvalidRewardWaitTime")
	bad(func(c map[string]any) { c["learningMode"], c["defaultReward"] = "Apprentice", 1 }, "InvalidLearningModeServiceConfiguration")
	if code, e := in.call("PUT", pzBase+"configurations/service", "{"); code != 400 || pzErrorCode(t, e) != "InvalidServiceConfiguration" {
		t.Errorf("malformed JSON: %d %v", code, e)
	}
	pol := in.mustCall("PUT", pzBase+"configurations/policy", map[string]any{"name": "mine", "arguments": "--cb_explore_adf --epsilon 0.1"}, 200)
	if got := in.mustCall("GET", pzBase+"configurations/policy", nil, 200); fmt.Sprint(got) != fmt.Sprint(pol) {
		t.Errorf("GET policy %v, PUT answered %v", got, pol)
	}
	if got := in.mustCall("DELETE", pzBase+"configurations/policy", nil, 200); got["name"] != "nextbest" {
		t.Errorf("reset policy: %v", got)
	}
	if code, e := in.call("PUT", pzBase+"configurations/policy", map[string]any{"arguments": "x"}); code != 400 || pzErrorCode(t, e) != "InvalidPolicyContract" {
		t.Errorf("policy without a name: %d %v", code, e)
	}
	if code, e := in.call("POST", pzBase+"configurations/policy", map[string]any{}); code != 405 || pzErrorCode(t, e) != "OperationNotAllowed" {
		t.Errorf("POST policy: %d %v", code, e)
	}
	audit := fmt.Sprint(in.mustCall("GET", "/v1/audit", nil, 200))
	for _, kind := range []string{"personalizer_service_configuration_set", "personalizer_policy_set"} {
		if !strings.Contains(audit, kind) {
			t.Errorf("no %s in the audit trail", kind)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonEqual reports whether a JSON text decodes to want.
func jsonEqual(t *testing.T, text string, want any) bool {
	t.Helper()
	var got any
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatalf("%q: %v", text, err)
	}
	return fmt.Sprint(got) == fmt.Sprint(want)
}
