package serve

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"nextbest/features"
	"nextbest/logs"
)

// The request decoders must never panic, must answer every input with
// either a valid request or a *fieldError, and a request they accept must
// re-encode (as the journal encodes it) to valid UTF-8 without duplicate
// keys and survive the round trip, so what is journaled is what was
// validated. Seed corpora live in testdata/fuzz/<Fuzz...>/, past crashers
// and the seeds below among them.

var fuzzNow = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// maxFuzzBody caps the inputs: the service caps bodies at 64 KiB.
const maxFuzzBody = 1 << 16

// strictSeeds are inputs that encoding/json accepted and we refuse:
// duplicate keys, invalid UTF-8, unpaired surrogates, numbers beyond the
// bounds or beyond float64.
var strictSeeds = []string{
	`{"customer_id":"a","customer_id":"b","channel":"web"}`,
	`{"customer_id":"c","channel":"web","context":{"cart_value":1,"cart_value":2}}`,
	`{"customer_id":"c","channel":"web","context":{"a":{"b":1,"b":1}}}`,
	"{\"customer_id\":\"c-\xff\",\"channel\":\"web\"}",
	"{\"customer_id\":\"c\",\"channel\":\"web\",\"context\":{\"p\xc3\":\"x\"}}",
	"{\"customer_id\":\"c\",\"channel\":\"web\",\"candidates\":[\"\xed\xa0\x80\"]}",
	`{"customer_id":"c-\ud800","channel":"web"}`,
	`{"customer_id":"c","channel":"web","context":{"\udfff":1}}`,
	`{"customer_id":"c","channel":"web","context":{"cart_value":1e308}}`,
	`{"customer_id":"c","channel":"web","context":{"cart_value":-1e400}}`,
	`{"customer_id":"c","channel":"web","context":{"cart_value":1000000001}}`,
	`{"customer_id":"c","channel":"web","limit":99999999999999999999}`,
}

func FuzzDecideRequest(f *testing.F) {
	for _, s := range append([]string{
		`{"customer_id":"c-1","channel":"web","context":{"page":"cart","cart_value":12.5},"limit":3}`,
		`{"customer_id":"c-1","channel":"web","candidates":["a","b"],"request_id":"r1","explain":true}`,
		`{"customer_id":"","channel":"web"}`, `{"customer_id":1}`, `[]`, `{`, `{"context":{"x":1e999}}`,
		`{"customer_id":"c","channel":"web","context":{"a":{"b":{"c":{"d":{"e":1}}}}}}`,
		`{"customer_id":"c","channel":"web","limit":-1}`, `{"customer_id":"c","channel":"web"} x`,
	}, strictSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzBody {
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
		checkBounded(t, r.Context)
		again := reencode(t, r)
		var r2 decideRequest
		if err := parseDecide(again, &r2); err != nil {
			t.Fatalf("re-encoded request refused: %v\n%s", err, again)
		}
		if r2.CustomerID != r.CustomerID || len(r2.Context) != len(r.Context) || len(r2.Candidates) != len(r.Candidates) {
			t.Fatalf("round trip changed the request: %+v → %+v", r, r2)
		}
	})
}

func FuzzOutcomeRequest(f *testing.F) {
	for _, s := range append([]string{
		`{"decision_id":"0123","action_id":"a","reward":1,"type":"conversion"}`,
		`{"decision_id":"0123","action_id":"a","reward":-2.5,"ts":"2026-11-22T09:00:00Z"}`,
		`{"decision_id":"0123","action_id":"a"}`, `{"reward":"1"}`, `{"decision_id":"d","action_id":"a","reward":1,"type":"Big"}`,
		`{"decision_id":"d","action_id":"a","reward":1,"reward":2}`,
		"{\"decision_id\":\"d\xff\",\"action_id\":\"a\",\"reward\":1}",
		`{"decision_id":"d","action_id":"a\udc00","reward":1}`,
		`{"decision_id":"d","action_id":"a","reward":1000000000.0001}`,
		`{"decision_id":"d","action_id":"a","reward":-1e999}`,
	}, strictSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzBody {
			return
		}
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
		if math.IsNaN(*r.Reward) || math.Abs(*r.Reward) > logs.MaxReward {
			t.Fatalf("accepted reward %v", *r.Reward)
		}
		again := reencode(t, r)
		var r2 outcomeRequest
		if _, err := parseOutcome(again, &r2, fuzzNow); err != nil || r2.DecisionID != r.DecisionID || r2.ActionID != r.ActionID || *r2.Reward != *r.Reward {
			t.Fatalf("round trip: %v\n%s", err, again)
		}
	})
}

// FuzzActivateRequest: the activate body is all slots (nil) or a sorted
// set of slot numbers, or a *fieldError; what it accepts re-encodes to
// the same slots.
func FuzzActivateRequest(f *testing.F) {
	for _, s := range append([]string{
		``, `  `, `{}`, `{"slots":null}`, `{"slots":[0,2]}`, `{"slots":[2,0,2]}`, `{"slots":[]}`, `{"slots":[-1]}`,
		`{"slots":[0.5]}`, `{"slots":[1e3]}`, `{"slots":[99999999999999999999]}`, `{"slots":"0"}`, `[0]`, `{"slots":[0],"slots":[1]}`,
	}, strictSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzBody {
			return
		}
		slots, err := parseActivate(body)
		if err != nil {
			if _, ok := err.(*fieldError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if slots == nil {
			return // every slot
		}
		if len(slots) == 0 || slots[0] < 0 {
			t.Fatalf("accepted slots %v", slots)
		}
		for i := 1; i < len(slots); i++ {
			if slots[i] <= slots[i-1] {
				t.Fatalf("slots %v not sorted and unique", slots)
			}
		}
		again, err := parseActivate(reencode(t, activateRequest{Slots: &slots}))
		if err != nil || !slices.Equal(again, slots) {
			t.Fatalf("round trip: %v, %v", again, err)
		}
	})
}

func FuzzEventRequest(f *testing.F) {
	for _, s := range append([]string{
		`{"customer_id":"c-1","type":"purchase","ts":"2026-11-22T10:00:00Z","properties":{"amount":12}}`,
		`{"customer_id":"c-1","type":"page_view","channel":"web"}`,
		`{"customer_id":"c-1"}`, `{"customer_id":"c","type":"x","ts":"2099-01-01T00:00:00Z"}`, `{"properties":[1]}`,
		`{"customer_id":"c","type":"purchase","properties":{"amount":1,"amount":2}}`,
		`{"customer_id":"c","type":"purchase","type":"page_view"}`,
		"{\"customer_id\":\"c\",\"type\":\"purchase\",\"properties\":{\"note\":\"\xff\"}}",
		`{"customer_id":"c","type":"purchase","properties":{"amount":1e10}}`,
		`{"customer_id":"c","type":"purchase","properties":{"amount":1e999}}`,
	}, strictSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzBody {
			return
		}
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
		checkBounded(t, r.Properties)
		again := reencode(t, r)
		var r2 eventRequest
		if _, err := parseEvent(again, &r2, fuzzNow); err != nil || r2.CustomerID != r.CustomerID || len(r2.Properties) != len(r.Properties) {
			t.Fatalf("round trip: %v\n%s", err, again)
		}
	})
}

// reencode encodes an accepted request as the journal does (encoding/json)
// and checks the encoding is valid UTF-8 with no duplicate keys.
func reencode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("accepted request does not encode: %v", err)
	}
	if !utf8.Valid(b) {
		t.Fatalf("accepted request encodes to invalid UTF-8: %q", b)
	}
	// jsontext's defaults refuse duplicate names and invalid UTF-8
	if !jsontext.Value(b).IsValid() {
		t.Fatalf("accepted request encodes to invalid JSON or duplicate keys: %s", b)
	}
	return b
}

// checkBounded checks every number of a free-form object is finite and
// within the bound.
func checkBounded(t *testing.T, v any) {
	t.Helper()
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.Abs(x) > features.MaxNumber {
			t.Fatalf("accepted number %v", x)
		}
	case map[string]any:
		for _, e := range x {
			checkBounded(t, e)
		}
	case []any:
		for _, e := range x {
			checkBounded(t, e)
		}
	}
}
