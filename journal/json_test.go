package journal_test

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"nextbest/journal"
)

func sampleDecision() *journal.Decision {
	return &journal.Decision{
		V: 1, DecisionID: "0190f3a2b4c5d6e7f8091a2b3c4d5e6f", RequestID: "r\"1\\\n", CustomerID: "c-ü-\x01", Channel: "web",
		Time:    time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC),
		Context: map[string]any{"page": "cart", "cart_value": 120.5, "tiny": 1e-9, "huge": 1e22, "neg": -0.0, "ok": true, "nil": nil, "nested": map[string]any{"a": []any{1.0, "x"}}},
		Profile: map[string]any{"stage": "cart", "counters.visits_7d": 3.25, "bad\xffutf8": "\u2028"},
		Policy:  "linucb", FeatureSpec: "abc", Explorer: "epsilon_greedy(eps=0.1,alpha=1)",
		Experiment: &journal.ExperimentArm{Name: "q4", Arm: "challenger"},
		Eligible:   []string{"a", "b"},
		Actions:    []journal.LoggedAction{{ActionID: "a", Slot: 0, Score: 0.125, Estimate: 1.0 / 3, Propensity: 0.925}, {ActionID: "b", Slot: 1, Score: -2, Estimate: 0, Propensity: 1}},
		Fallback:   true, DeferActivation: true,
		Shadow: &journal.Shadow{Policy: "linucb@v7", Action: "b", Probabilities: []float64{0.05, 0.95}},
	}
}

// TestAppendDecisionMatchesEncodingJSON checks the hand-written encoder
// produces a document that decodes to exactly what encoding/json's own
// encoding decodes to.
func TestAppendDecisionMatchesEncodingJSON(t *testing.T) {
	explained := sampleDecision()
	explained.Explanation = json.RawMessage(`{ "eligible": ["a"], "dropped": [{"action_id": "b", "stage": "eligibility", "reason": "rule is false"}] }`)
	for _, d := range []*journal.Decision{sampleDecision(), {DecisionID: "x", Time: time.Unix(0, 0).UTC()}, explained} {
		ours, err := journal.AppendDecision(nil, d)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(ours) {
			t.Fatalf("invalid JSON: %s", ours)
		}
		ref, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var a, b journal.Decision
		if err := json.Unmarshal(ours, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(ref, &b); err != nil {
			t.Fatal(err)
		}
		if a.V == 0 {
			t.Error("schema version not written")
		}
		b.V = a.V
		if !reflect.DeepEqual(a, b) {
			t.Errorf("decoded differently:\nours %s\nref  %s", ours, ref)
		}
	}
}

func TestAppendDecisionRejectsNaN(t *testing.T) {
	d := sampleDecision()
	d.Context["x"] = math.NaN()
	if _, err := journal.AppendDecision(nil, d); err == nil {
		t.Fatal("NaN accepted")
	}
}

func FuzzAppendDecision(f *testing.F) {
	f.Add("c-1", "web", "cart", 12.5, "stage", "x")
	f.Add("\xff\x00\"", "\u2028", "", -1e300, "", "\\")
	f.Fuzz(func(t *testing.T, cust, ch, page string, num float64, k, v string) {
		if math.IsNaN(num) || math.IsInf(num, 0) {
			return
		}
		d := &journal.Decision{DecisionID: "d", CustomerID: cust, Channel: ch, Time: time.Unix(1, 2).UTC(),
			Context: map[string]any{"page": page, "n": num, k: v}, Actions: []journal.LoggedAction{{ActionID: v, Score: num}}}
		ours, err := journal.AppendDecision(nil, d)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := json.Marshal(d)
		var a, b journal.Decision
		if err := json.Unmarshal(ours, &a); err != nil {
			t.Fatalf("%v: %s", err, ours)
		}
		json.Unmarshal(ref, &b)
		b.V = a.V
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("decoded differently:\nours %s\nref  %s", ours, ref)
		}
	})
}

func BenchmarkAppendDecision(b *testing.B) {
	d := sampleDecision()
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = journal.AppendDecision(buf[:0], d)
	}
}

func BenchmarkMarshalDecision(b *testing.B) {
	d := sampleDecision()
	b.ReportAllocs()
	for b.Loop() {
		json.Marshal(d)
	}
}

// FuzzDecodeMatchesEncodingJSON: the payload decoders (JSON v2, for speed)
// read every decision payload encoding/json reads, to the same value, so
// that a journal replays the same whichever decoder read it; duplicate
// names, odd case and invalid UTF-8 included.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	good, _ := journal.AppendDecision(nil, sampleDecision())
	f.Add(good)
	f.Add([]byte(`{"decision_id":"a","DECISION_ID":"b","customer_id":"c\xff","context":{"k":1,"k":2},"actions":[{"action_id":"x","propensity":0.5}]}`))
	f.Add([]byte(`{"decision_id":"a","ts":"2026-01-02T03:04:05.123456789Z","explanation":{"x":[1,2]},"unknown":{"deep":[null]}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var want journal.Decision
		if json.Unmarshal(payload, &want) != nil {
			return
		}
		var got journal.Decision
		if err := journal.DecodeDecision(payload, &got); err != nil {
			t.Fatalf("encoding/json reads %q, DecodeDecision: %v", payload, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q decodes to\n%+v\nencoding/json:\n%+v", payload, got, want)
		}
	})
}

// TestAppendEventMatchesEncodingJSON: the hand-written event encoder
// writes a document that decodes to what encoding/json's does (the same
// bytes, but that encoding/json escapes <, > and &).
func TestAppendEventMatchesEncodingJSON(t *testing.T) {
	for _, e := range []*journal.Event{
		{V: journal.SchemaVersion, CustomerID: "c-1", Type: "profile_update", Time: time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC),
			Properties: map[string]any{"tier": "gold <&> \"q\"", "age": 34.5, "big": 1e21, "small": 1e-7, "opt_in": true, "none": nil, "nested": map[string]any{"a": []any{1.0, "x"}}, "é": "\u2028"}},
		{V: journal.SchemaVersion, CustomerID: "c-2", Type: "purchase", Channel: "web", Time: time.Unix(0, 0).UTC()},
		{CustomerID: "c-3", Type: "page_view", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), Properties: map[string]any{}},
	} {
		ours, err := journal.AppendEvent(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var a, b journal.Event
		if err := json.Unmarshal(ours, &a); err != nil {
			t.Fatalf("%s: %v", ours, err)
		}
		if err := json.Unmarshal(ref, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) || len(ours) > len(ref) {
			t.Errorf("encoded differently:\nours %s\nref  %s", ours, ref)
		}
	}
}
