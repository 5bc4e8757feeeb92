package serve

import (
	"encoding/json"
	"testing"
	"time"
)

// The request decoders must never panic, must answer every input with
// either a valid request or a *fieldError, and a request they accept must
// survive a JSON round trip unchanged (so what is journaled is what was
// validated). Seed corpora live in testdata/fuzz/<Fuzz...>/.

var fuzzNow = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func FuzzDecideRequest(f *testing.F) {
	for _, s := range []string{
		`{"customer_id":"c-1","channel":"web","context":{"page":"cart","cart_value":12.5},"limit":3}`,
		`{"customer_id":"c-1","channel":"web","candidates":["a","b"],"request_id":"r1","explain":true}`,
		`{"customer_id":"","channel":"web"}`, `{"customer_id":1}`, `[]`, `{`, `{"context":{"x":1e999}}`,
		`{"customer_id":"c","channel":"web","context":{"a":{"b":{"c":{"d":{"e":1}}}}}}`,
		`{"customer_id":"c","channel":"web","limit":-1}`, `{"customer_id":"c","channel":"web"} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 1<<16 {
			return
		}
		var r decideRequest
		err := parseDecide(body, &r)
		if err != nil {
			if _, ok := err.(*fieldError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if r.CustomerID == "" || r.Channel == "" {
			t.Fatalf("accepted without customer or channel: %q", body)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("accepted request does not encode: %v", err)
		}
		var r2 decideRequest
		if err := parseDecide(again, &r2); err != nil {
			t.Fatalf("re-encoded request refused: %v\n%s", err, again)
		}
	})
}

func FuzzOutcomeRequest(f *testing.F) {
	for _, s := range []string{
		`{"decision_id":"0123","action_id":"a","reward":1,"type":"conversion"}`,
		`{"decision_id":"0123","action_id":"a","reward":-2.5,"ts":"2026-11-22T09:00:00Z"}`,
		`{"decision_id":"0123","action_id":"a"}`, `{"reward":"1"}`, `{"decision_id":"d","action_id":"a","reward":1,"type":"Big"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r outcomeRequest
		ts, err := parseOutcome(body, &r, fuzzNow)
		if err != nil {
			if _, ok := err.(*fieldError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if r.Reward == nil || r.DecisionID == "" || r.ActionID == "" || r.Type == "" || ts.IsZero() || ts.After(fuzzNow.Add(maxClockSkew)) {
			t.Fatalf("accepted an invalid outcome: %+v %v", r, ts)
		}
	})
}

func FuzzEventRequest(f *testing.F) {
	for _, s := range []string{
		`{"customer_id":"c-1","type":"purchase","ts":"2026-11-22T10:00:00Z","properties":{"amount":12}}`,
		`{"customer_id":"c-1","type":"page_view","channel":"web"}`,
		`{"customer_id":"c-1"}`, `{"customer_id":"c","type":"x","ts":"2099-01-01T00:00:00Z"}`, `{"properties":[1]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r eventRequest
		ts, err := parseEvent(body, &r, fuzzNow)
		if err != nil {
			if _, ok := err.(*fieldError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if r.CustomerID == "" || r.Type == "" || ts.IsZero() {
			t.Fatalf("accepted an invalid event: %+v", r)
		}
		if _, err := json.Marshal(r.Properties); err != nil {
			t.Fatalf("accepted properties that do not encode: %v", err)
		}
	})
}
