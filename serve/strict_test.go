package serve

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/examples/retail"
	"nextbest/personalizer"
)

// The edge trusts nothing the core would later have to guess about:
// duplicate keys, invalid UTF-8, undeclared context keys, unbounded
// numbers and a Content-Type a browser may send cross-site are refused
// before anything is journaled.

var strictNow = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// parseAny runs the decoder of one endpoint.
func parseAny(endpoint string, body []byte) error {
	switch endpoint {
	case "decide":
		var r decideRequest
		return parseDecide(body, &r)
	case "outcome":
		var r outcomeRequest
		_, err := parseOutcome(body, &r, strictNow)
		return err
	case "event":
		var r eventRequest
		_, err := parseEvent(body, &r, strictNow)
		return err
	}
	panic("BUG: unknown endpoint " + endpoint)
}

func TestDecodeStrict(t *testing.T) {
	cases := []struct {
		name, endpoint, body string
		field, message       string // message: a substring of the error
	}{
		// duplicate keys: encoding/json kept the last one silently
		{"duplicate top-level key", "decide", `{"customer_id":"a","channel":"web","customer_id":"b"}`, "customer_id", "duplicate key"},
		{"duplicate context key", "decide", `{"customer_id":"a","channel":"web","context":{"cart_value":1,"cart_value":1e6}}`, "context.cart_value", "duplicate key"},
		{"duplicate nested key", "decide", `{"customer_id":"a","channel":"web","context":{"x":{"y":1,"y":2}}}`, "context.x.y", "duplicate key"},
		{"duplicate reward", "outcome", `{"decision_id":"d","action_id":"a","reward":0,"reward":1}`, "reward", "duplicate key"},
		{"duplicate property", "event", `{"customer_id":"c","type":"purchase","properties":{"amount":1,"amount":2}}`, "properties.amount", "duplicate key"},
		// invalid UTF-8: encoding/json rewrote it to U+FFFD
		{"invalid UTF-8 customer id", "decide", "{\"customer_id\":\"c-\xff1\",\"channel\":\"web\"}", "customer_id", "valid UTF-8"},
		{"invalid UTF-8 context value", "decide", "{\"customer_id\":\"c\",\"channel\":\"web\",\"context\":{\"page\":\"ca\xc3rt\"}}", "context.page", "valid UTF-8"},
		{"invalid UTF-8 context key", "decide", "{\"customer_id\":\"c\",\"channel\":\"web\",\"context\":{\"pa\xffge\":\"cart\"}}", "context", "has a key that is not valid UTF-8"},
		{"invalid UTF-8 top-level key", "decide", "{\"cust\xffomer_id\":\"c\",\"channel\":\"web\"}", "", "a key is not valid UTF-8"},
		{"invalid UTF-8 candidate", "decide", "{\"customer_id\":\"c\",\"channel\":\"web\",\"candidates\":[\"a\",\"b\xfe\"]}", "candidates[1]", "valid UTF-8"},
		{"unpaired surrogate escape", "decide", `{"customer_id":"c-\ud800","channel":"web"}`, "customer_id", "valid UTF-8"},
		{"unpaired surrogate escape in key", "decide", `{"customer_id":"c","channel":"web","context":{"p\udc00":1}}`, "context", "has a key that is not valid UTF-8"},
		{"invalid UTF-8 action id", "outcome", "{\"decision_id\":\"d\",\"action_id\":\"a\xff\",\"reward\":1}", "action_id", "valid UTF-8"},
		{"invalid UTF-8 property", "event", "{\"customer_id\":\"c\",\"type\":\"page_view\",\"properties\":{\"title\":\"\xff\"}}", "properties.title", "valid UTF-8"},
		// bounds
		{"reward over the limit", "outcome", `{"decision_id":"d","action_id":"a","reward":1000000000.5}`, "reward", "between -1e+09 and 1e+09"},
		{"reward under the limit", "outcome", `{"decision_id":"d","action_id":"a","reward":-2e9}`, "reward", "between -1e+09 and 1e+09"},
		{"reward overflows", "outcome", `{"decision_id":"d","action_id":"a","reward":1e999}`, "reward", "finite"},
		{"context number over the limit", "decide", `{"customer_id":"c","channel":"web","context":{"cart_value":2e9}}`, "context.cart_value", "between -1e9 and 1e9"},
		{"nested context number over the limit", "decide", `{"customer_id":"c","channel":"web","context":{"x":[1,-1e10]}}`, "context.x[1]", "between -1e9 and 1e9"},
		{"property over the limit", "event", `{"customer_id":"c","type":"purchase","properties":{"amount":1e12}}`, "properties.amount", "between -1e9 and 1e9"},
		{"property overflows", "event", `{"customer_id":"c","type":"purchase","properties":{"amount":-1e400}}`, "properties.amount", "finite"},
		// what decodeJSON said with encoding/json (the type errors in its
		// words); candidates[1] was "candidates", 1e999 "not number 1e999"
		{"empty body", "decide", " \n", "", "request body is empty"},
		{"not an object", "decide", `[1,2]`, "", "must be a JSON object, not array"},
		{"trailing data", "decide", `{"customer_id":"c","channel":"web"} {}`, "", "data after the object"},
		{"truncated", "decide", `{"customer_id":`, "", "unexpected end of input"},
		{"NaN literal", "decide", `{"customer_id":"c","channel":"web","context":{"cart_value":NaN}}`, "", "malformed JSON"},
		{"wrong type", "decide", `{"customer_id":12,"channel":"web"}`, "customer_id", "must be a string, not number"},
		{"fractional limit", "decide", `{"customer_id":"c","channel":"web","limit":1.5}`, "limit", "must be an integer, not number 1.5"},
		{"candidates not an array", "decide", `{"customer_id":"c","channel":"web","candidates":"a"}`, "candidates", "must be an array, not string"},
		{"candidate not a string", "decide", `{"customer_id":"c","channel":"web","candidates":["a",2]}`, "candidates[1]", "must be a string, not number"},
		{"context not an object", "decide", `{"customer_id":"c","channel":"web","context":[1]}`, "context", "must be an object, not array"},
		{"context huge number", "decide", `{"customer_id":"c","channel":"web","context":{"cart_value":1e999}}`, "context.cart_value", "must be a finite number"},
		{"reward a string", "outcome", `{"decision_id":"d","action_id":"a","reward":"1"}`, "reward", "must be a number, not string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := parseAny(tc.endpoint, []byte(tc.body))
			var fe *fieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T), want a *fieldError", err, err)
			}
			if fe.status != 400 || fe.code != "invalid_argument" {
				t.Errorf("status %d %s, want 400 invalid_argument", fe.status, fe.code)
			}
			if fe.field != tc.field {
				t.Errorf("field %q, want %q (%v)", fe.field, tc.field, fe)
			}
			if !strings.Contains(fe.Error(), tc.message) {
				t.Errorf("message %q, want it to contain %q", fe.Error(), tc.message)
			}
		})
	}
}

// TestDistinctIDsStayDistinct is the reproduction: encoding/json
// decoded both ids to "c-\uFFFD1", one customer's profile.
func TestDistinctIDsStayDistinct(t *testing.T) {
	for _, id := range []string{"c-\xff1", "c-\xfe1", `c-\udfff1`} {
		var r decideRequest
		err := parseDecide([]byte(`{"customer_id":"`+id+`","channel":"web"}`), &r)
		if err == nil {
			t.Errorf("customer_id %q accepted as %q", id, r.CustomerID)
		}
	}
}

func TestDecodeAccepts(t *testing.T) {
	for _, body := range []string{
		`{"customer_id":"c-ü","channel":"web","context":{"page":"cart","cart_value":1e9,"x":[-1e9]},"limit":2}`,
		`{"customer_id":"c-\ud83d\ude00","channel":"web"}`, // a surrogate pair is fine
		`{"customer_id":"c","channel":"web","unknown_field":1}`,
	} {
		var r decideRequest
		if err := parseDecide([]byte(body), &r); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
	var o outcomeRequest
	for _, reward := range []string{"1e9", "-1e9", "0"} { // logs.MaxReward
		if _, err := parseOutcome([]byte(`{"decision_id":"d","action_id":"a","reward":`+reward+`}`), &o, strictNow); err != nil {
			t.Errorf("reward %s: %v", reward, err)
		}
	}
}

func TestJSONMediaType(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json":                   true,
		"Application/JSON":                   true,
		"application/json; charset=utf-8":    true,
		"application/json;charset=UTF-8":     true,
		`application/json; charset="utf-8"`:  true,
		" application/json ; foo=bar":        true,
		"":                                   false,
		"text/plain":                         false,
		"text/plain; charset=utf-8":          false,
		"application/x-www-form-urlencoded":  false,
		"multipart/form-data; boundary=x":    false,
		"application/json-seq":               false,
		"application/jsonp":                  false,
		"application/json; charset=latin1":   false,
		"application/json; charset=utf-16le": false,
	} {
		if got := jsonMediaType([]byte(ct)); got != want {
			t.Errorf("jsonMediaType(%q) = %v, want %v", ct, got, want)
		}
	}
}

// openStrict opens a retail service for handler-level tests.
func openStrict(t *testing.T, allowUndeclared bool) *Service {
	t.Helper()
	s, err := Open(Config{DataDir: t.TempDir(), Catalog: retail.Catalog, FeatureSpec: retail.FeatureSpec, Seed: 1,
		AdminToken: "secret", AllowUndeclaredContext: allowUndeclared, JournalNoSync: true,
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return strictNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type answer struct {
	status int
	body   []byte
	err    errorDetail
}

// serveOne runs one request through the service's handler, no socket.
func serveOne(s *Service, method, path, ctype, body string) answer {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	if ctype != "" {
		ctx.Request.Header.SetContentType(ctype)
	}
	ctx.Request.Header.Set("Authorization", "Bearer secret")
	ctx.Request.SetBodyString(body)
	s.Handler()(&ctx)
	a := answer{status: ctx.Response.StatusCode(), body: append([]byte(nil), ctx.Response.Body()...)}
	var eb errorBody
	if json.Unmarshal(a.body, &eb) == nil {
		a.err = eb.Error
	}
	return a
}

// TestWriteEndpointsNeedJSON: every POST route refuses a body that is not
// declared application/json with 415, before reading it.
func TestWriteEndpointsNeedJSON(t *testing.T) {
	s := openStrict(t, false)
	posts := 0
	for path, r := range routes {
		if r.method != "POST" {
			continue
		}
		posts++
		code := "unsupported_media_type"
		if isPZPath([]byte(path)) {
			code = personalizer.CodeUnsupportedMediaType
		}
		for _, ct := range []string{"", "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
			a := serveOne(s, "POST", path, ct, `{"customer_id":"c-0001","channel":"web"}`)
			if a.status != 415 || a.err.Code != code {
				t.Errorf("POST %s as %q: %d %s", path, ct, a.status, a.body)
			}
		}
	}
	if posts < 4 {
		t.Fatalf("%d POST routes, want decide, outcomes, events and reload at least", posts)
	}
	for _, ct := range []string{"application/json", "Application/JSON; charset=UTF-8"} {
		if a := serveOne(s, "POST", "/v1/decide", ct, `{"customer_id":"c-0001","channel":"web"}`); a.status != 200 {
			t.Errorf("decide as %q: %d %s", ct, a.status, a.body)
		}
	}
}

// TestUndeclaredContext: a context key the feature spec does not declare
// is refused with 422 naming it; with AllowUndeclaredContext it is dropped
// before the decision is journaled.
func TestUndeclaredContext(t *testing.T) {
	const body = `{"customer_id":"c-0001","channel":"web","context":{"page":"cart","cart_vlaue":120,"zz_other":"x"}}`
	t.Run("refused", func(t *testing.T) {
		s := openStrict(t, false)
		a := serveOne(s, "POST", "/v1/decide", "application/json", body)
		if a.status != 422 || a.err.Code != "unprocessable" || a.err.Field != "context.cart_vlaue" {
			t.Fatalf("%d %s, want 422 unprocessable for context.cart_vlaue", a.status, a.body)
		}
		if !strings.Contains(a.err.Message, `did you mean "cart_value"?`) || !strings.Contains(a.err.Message, "2 undeclared keys") {
			t.Errorf("message %q: want the suggestion and the count", a.err.Message)
		}
		a = serveOne(s, "POST", "/v1/decide", "application/json", `{"customer_id":"c-0001","channel":"web","context":{"qwertyuiop":1}}`)
		if a.status != 422 || a.err.Field != "context.qwertyuiop" || strings.Contains(a.err.Message, "did you mean") {
			t.Errorf("%d %s: want 422 without a suggestion", a.status, a.body)
		}
		if a := serveOne(s, "POST", "/v1/decide", "application/json", `{"customer_id":"c-0001","channel":"web","context":{"page":"cart","cart_value":1,"device":"mobile","campaign":"x"}}`); a.status != 200 {
			t.Errorf("declared keys: %d %s", a.status, a.body)
		}
	})
	t.Run("dropped", func(t *testing.T) {
		s := openStrict(t, true)
		a := serveOne(s, "POST", "/v1/decide", "application/json", body)
		if a.status != 200 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		var resp struct {
			DecisionID string `json:"decision_id"`
		}
		if err := json.Unmarshal(a.body, &resp); err != nil {
			t.Fatal(err)
		}
		d, err := s.index.Decision(resp.DecisionID)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Context) != 1 || d.Context["page"] != "cart" {
			t.Errorf("journaled context %v, want only page", d.Context)
		}
		if n := s.undeclared.dropped(); n != 2 {
			t.Errorf("dropped %d keys, want 2", n)
		}
	})
}

// TestBoundsOverHTTP: the limits answer 400 naming the field and journal
// nothing.
func TestBoundsOverHTTP(t *testing.T) {
	s := openStrict(t, false)
	for _, c := range []struct{ path, body, field string }{
		{"/v1/outcomes", `{"decision_id":"d","action_id":"a","reward":1e10}`, "reward"},
		{"/v1/events", `{"customer_id":"c","type":"purchase","properties":{"amount":1e10}}`, "properties.amount"},
		{"/v1/decide", `{"customer_id":"c","channel":"web","context":{"cart_value":-1e10}}`, "context.cart_value"},
		{"/v1/decide", `{"customer_id":"c","channel":"web","channel":"app"}`, "channel"},
		{"/v1/events", "{\"customer_id\":\"c\xff\",\"type\":\"purchase\"}", "customer_id"},
	} {
		a := serveOne(s, "POST", c.path, "application/json", c.body)
		if a.status != 400 || a.err.Code != "invalid_argument" || a.err.Field != c.field {
			t.Errorf("%s %q: %d %s, want 400 for %s", c.path, c.body, a.status, a.body, c.field)
		}
	}
	if lsn := s.journal.LastLSN(); lsn != 0 {
		t.Errorf("refused requests were journaled: last LSN %d", lsn)
	}
}

// TestCheckValuesLimit pins the serve edge to the features package's
// bound, the one rule the applier applies.
func TestCheckValuesLimit(t *testing.T) {
	for _, x := range []float64{1e9, -1e9, 0, math.SmallestNonzeroFloat64} {
		if err := checkValue("x", x, 0); err != nil {
			t.Errorf("%v: %v", x, err)
		}
	}
	for _, x := range []float64{math.Nextafter(1e9, 2e9), -1e9 - 1, math.Inf(1), math.NaN()} {
		if err := checkValue("x", x, 0); err == nil {
			t.Errorf("%v accepted", x)
		}
	}
}

// BenchmarkParseDecide measures the decoder alone, on the body the HTTP
// benchmark sends.
func BenchmarkParseDecide(b *testing.B) {
	body := []byte(`{"customer_id":"b-00042","channel":"web","limit":3,"context":{"page":"cart","cart_value":42.5,"device":"mobile"}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	var r decideRequest
	for b.Loop() {
		if err := parseDecide(body, &r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPprofIsAdmin: the runtime profiles answer only an admin caller.
func TestPprofIsAdmin(t *testing.T) {
	s := openStrict(t, false)
	if a := serveOne(s, "GET", "/debug/pprof/cmdline", "", ""); a.status != 200 || len(a.body) == 0 {
		t.Errorf("GET /debug/pprof/cmdline as admin: %d %q", a.status, a.body)
	}
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI("/debug/pprof/heap")
	s.Handler()(&ctx)
	if ctx.Response.StatusCode() != 401 {
		t.Errorf("GET /debug/pprof/heap without the admin token: %d, want 401", ctx.Response.StatusCode())
	}
}
