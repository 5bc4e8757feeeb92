package serve

// The conformance test of openapi.json, the OpenAPI 3.1 description of
// the service.
//
// The library is github.com/pb33f/libopenapi with its validator,
// github.com/pb33f/libopenapi-validator: it reads OpenAPI 3.1 natively
// (kin-openapi reads 3.0 only, so its schemas would need a second JSON
// Schema library for 3.1's draft 2020-12), validates the document itself
// against the OpenAPI 3.1 meta-schema, and checks an http.Response
// against the document in one call: the status documented for the
// operation, the content type, the body against the schema. Its JSON
// Schema engine is pb33f/jsonschema/v6, the maintained fork of
// santhosh-tekuri/jsonschema/v6 (draft 2020-12, OpenAPI 3.1's dialect).
// Only tests import it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"nextbest/examples/retail"
	"nextbest/features"
	"nextbest/models"
)

// oaDoc is the part of the document the route checks read.
type oaDoc struct {
	Paths map[string]map[string]json.RawMessage `json:"paths"`
}

type oaOp struct {
	Scope      string           `json:"x-scope"`
	Security   []map[string]any `json:"security"`
	Parameters []struct {
		Name    string `json:"name"`
		In      string `json:"in"`
		Example string `json:"example"`
	} `json:"parameters"`
	Responses map[string]json.RawMessage `json:"responses"`
}

var oaMethods = []string{"get", "head", "post", "put", "delete", "patch", "options", "trace"}

// oaOperations returns the document's operations by "METHOD /path", and
// each path's methods.
func oaOperations(t *testing.T) (map[string]oaOp, map[string][]string, map[string]bool) {
	t.Helper()
	var d oaDoc
	if err := json.Unmarshal(openAPIDoc, &d); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	ops := map[string]oaOp{}
	methods := map[string][]string{}
	anyMethod := map[string]bool{}
	for path, item := range d.Paths {
		for k, raw := range item {
			if k == "x-any-method" {
				anyMethod[path] = string(raw) == "true"
				continue
			}
			if !slices.Contains(oaMethods, k) {
				continue
			}
			var o oaOp
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatalf("%s %s: %v", k, path, err)
			}
			m := strings.ToUpper(k)
			ops[m+" "+path] = o
			methods[path] = append(methods[path], m)
		}
		slices.Sort(methods[path])
	}
	return ops, methods, anyMethod
}

var oaParam = regexp.MustCompile(`\{([^}]+)\}`)

// concrete fills a templated path with its parameters' examples.
func (o oaOp) concrete(path string) string {
	return oaParam.ReplaceAllStringFunc(path, func(m string) string {
		name := m[1 : len(m)-1]
		for _, p := range o.Parameters {
			if p.In == "path" && p.Name == name && p.Example != "" {
				return url.PathEscape(p.Example)
			}
		}
		return "BUG-no-example-for-" + name
	})
}

// dispatch finds the route a path reaches, as Service.handle does, and
// its key in the routes tables (the exact path, or the prefix and suffix).
func dispatch(path string) (route, string, bool) {
	r, key, _, ok := findRoute(path)
	return r, key, ok
}

// TestOpenAPIDocumentValid parses the document and validates it against
// the OpenAPI 3.1 meta-schema.
func TestOpenAPIDocumentValid(t *testing.T) {
	v, _ := openAPIValidator(t)
	if ok, errs := v.ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("openapi.json: %s (%s) line %d", e.Message, e.Reason, e.SpecLine)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  %s at %s", se.Reason, se.FieldPath)
			}
		}
	}
}

func openAPIValidator(t *testing.T) (validator.Validator, *v3.Document) {
	t.Helper()
	doc, err := libopenapi.NewDocument(openAPIDoc)
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if v := doc.GetSpecInfo().VersionNumeric; v < 3.1 {
		t.Fatalf("openapi.json is OpenAPI %v, want 3.1", doc.GetSpecInfo().Version)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("openapi.json: %v", errs)
	}
	return v, &m.Model
}

// TestOpenAPICoversRoutes: every route of the routes tables is in the
// document with its method and scope, and every path of the document
// reaches a route (no stale path).
func TestOpenAPICoversRoutes(t *testing.T) {
	ops, methods, _ := oaOperations(t)
	reached := map[string]bool{}
	for key, o := range ops {
		method, path, _ := strings.Cut(key, " ")
		r, rk, ok := dispatch(o.concrete(path))
		if !ok {
			t.Errorf("%s: no route serves this path (stale?)", key)
			continue
		}
		reached[rk] = true
		if r.method != "" && method != r.method {
			t.Errorf("%s: the route takes %s only", key, r.method)
		}
		scope := r.scope
		if scope == scopePerOperation {
			scope = operationScope(method)
		}
		if o.Scope != scope {
			t.Errorf("%s: x-scope %q, the route needs %q", key, o.Scope, scope)
		}
		if o.Security == nil || (len(o.Security) == 0) != (scope == "") {
			t.Errorf("%s: security %v does not match the route's scope %q", key, o.Security, scope)
		}
		for _, req := range o.Security {
			for scheme, roles := range req {
				if scope != "" && fmt.Sprint(roles) != fmt.Sprint([]any{scope}) {
					t.Errorf("%s: security %s lists %v, the route needs [%s]", key, scheme, roles, scope)
				}
			}
		}
	}
	for path, r := range routes {
		if !reached[path] {
			t.Errorf("route %s is not in openapi.json", path)
		} else if r.method != "" && !slices.Equal(methods[path], []string{r.method}) {
			t.Errorf("route %s: documented methods %v, the route takes %s", path, methods[path], r.method)
		}
	}
	for _, pr := range prefixRoutes {
		if !reached[pr.prefix+pr.suffix] {
			t.Errorf("routes under %s…%s are not in openapi.json", pr.prefix, pr.suffix)
		}
	}
}

// oaUntriggered are documented answers the conformance test cannot
// provoke through the HTTP API, with why; "*" stands for every operation.
var oaUntriggered = map[string]string{
	"* 500":                                                           "a handler panic (a bug); panic_test.go proves the recover and its JSON 500",
	"POST /v1/decide 503":                                             "overload, the journal failing or the decision deadline; admission and disk-full tests provoke them",
	"POST /v1/outcomes 503":                                           "overload, the journal or the decision index failing",
	"POST /v1/events 503":                                             "overload or the journal failing",
	"GET /v1/profiles/{customer_id} 503":                              "the profile store failing",
	"DELETE /v1/customers/{customer_id} 503":                          "the profile store or the journal failing",
	"GET /v1/experiments 503":                                         "the aggregates store failing (cluster path)",
	"GET /v1/stats 503":                                               "the aggregates store failing",
	"GET /v1/audit 503":                                               "the state store failing",
	"GET /v1/decisions/{decision_id} 503":                             "the state store failing",
	"POST /v1/decisions/{decision_id}/activate 503":                   "overload, the journal or the decision index failing",
	"POST /v1/profiles:batch 503":                                     "overload or the journal failing",
	"GET /readyz 503":                                                 "starting, stopping or a journal that cannot write; diskfull_test.go",
	"PUT /admin/shadow 503":                                           "saving the shadow failing",
	"DELETE /admin/shadow 503":                                        "saving the shadow failing",
	"PUT /admin/mode 503":                                             "saving the mode failing",
	"PUT /admin/clv 503":                                              "saving the CLV model failing",
	"PUT /admin/keys/{name} 503":                                      "saving the keys failing",
	"DELETE /admin/keys/{name} 503":                                   "saving the keys failing",
	"DELETE /admin/experiments/{name} 422":                            "saving the experiments failing (the admin API answers that 422, not 503)",
	"POST /personalizer/v1.0/rank 503":                                "overload, the journal failing or the decision deadline",
	"POST /personalizer/v1.0/multislot/rank 503":                      "overload, the journal failing or the decision deadline",
	"POST /personalizer/v1.0/events/{eventId}/reward 503":             "overload, the journal or the event index failing",
	"POST /personalizer/v1.0/events/{eventId}/activate 503":           "overload, the journal or the event index failing",
	"POST /personalizer/v1.0/multislot/events/{eventId}/reward 503":   "overload, the journal or the event index failing",
	"POST /personalizer/v1.0/multislot/events/{eventId}/activate 503": "overload, the journal or the event index failing",
	"PUT /personalizer/v1.0/configurations/service 503":               "saving the configuration failing",
	"PUT /personalizer/v1.0/configurations/policy 503":                "saving the configuration failing",
	"DELETE /personalizer/v1.0/configurations/policy 503":             "saving the configuration failing",
	"GET /v1/reports/campaigns 501":                                   "the cluster path; cluster_test.go's TestClusterReports",
	"GET /v1/reports/journeys 501":                                    "the cluster path; cluster_test.go's TestClusterReports",
	"GET /v1/reports/attribution 501":                                 "the cluster path; cluster_test.go's TestClusterReports",
	"GET /v1/reports/clv 501":                                         "the cluster path; cluster_test.go's TestClusterReports",
}

// oaProbe is one request of the conformance table.
type oaProbe struct {
	op     string // the document's operation, "METHOD /path"
	method string // the request's; "" is the operation's
	path   string // the request's, query included
	key    string // the API key; "" none
	subKey bool   // send it as Ocp-Apim-Subscription-Key, not Bearer
	ctype  string // Content-Type; "" none
	body   string
	want   int
	setup  func() // run before the request
}

const (
	oaAllKey    = "key-all"
	oaReadKey   = "key-read"
	oaIngestKey = "key-ingest"
	oaSlowKey   = "key-slow"
)

// TestOpenAPIConformance drives a real service through every operation
// and every status it can be made to answer, and checks each answer
// against the document: the status documented for the operation, the
// content type and the body against the schema.
func TestOpenAPIConformance(t *testing.T) {
	v, model := openAPIValidator(t)
	ops, methods, anyMethod := oaOperations(t)

	dir := t.TempDir()
	var later atomic.Int64 // moves the service's clock on (the 409 of a late activation)
	cfg := Config{
		DataDir: dir, Catalog: retail.Catalog, FeatureSpec: oaFeatureSpec(), Profiles: retail.Profiles,
		Seed: 7, Now: func() time.Time {
			return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).Add(time.Duration(later.Load()))
		},
		Logger: slog.New(slog.DiscardHandler), JournalNoSync: true,
		DecisionTimeout: 5 * time.Second, Registry: dir + "/registry",
		ReportsEvery: -1, // computed when the table says (the 503 before)
	}
	cfg.Auth.Keys = []APIKey{
		{Name: "all", SHA256: HashKey(oaAllKey), Scopes: slices.Clone(scopes)},
		{Name: "reader", SHA256: HashKey(oaReadKey), Scopes: []string{ScopeRead}},
		{Name: "ingester", SHA256: HashKey(oaIngestKey), Scopes: []string{ScopeIngest}},
		// one request a thousand seconds: the bucket holds one, which
		// the first request takes; every later one is over the rate
		{Name: "slow", SHA256: HashKey(oaSlowKey), Scopes: slices.Clone(scopes), RatePerSecond: 0.001},
	}
	oaSaveModel(t, cfg.Registry) // version 1, for the shadow
	base, svc := oaStart(t, cfg)

	exercised := map[string]bool{} // "METHOD /path STATUS"
	send := func(p oaProbe) []byte {
		t.Helper()
		opMethod, opPath, _ := strings.Cut(p.op, " ")
		if _, ok := ops[p.op]; !ok {
			t.Fatalf("BUG: the table names %s, which the document lacks", p.op)
		}
		method := p.method
		if method == "" {
			method = opMethod
		}
		var rd io.Reader
		if p.body != "" {
			rd = strings.NewReader(p.body)
		}
		req, err := http.NewRequest(method, base+p.path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if p.ctype != "" {
			req.Header.Set("Content-Type", p.ctype)
		}
		switch {
		case p.key != "" && p.subKey:
			req.Header.Set("Ocp-Apim-Subscription-Key", p.key)
		case p.key != "":
			req.Header.Set("Authorization", "Bearer "+p.key)
		}
		if method == opMethod && p.body != "" && p.ctype == "application/json" && (p.want < 300 || p.want == 400 && json.Valid([]byte(p.body))) {
			// what the service takes, the document's request schema
			// takes; what its decoder refuses as JSON, the schema refuses
			vreq, _ := http.NewRequest(method, base+p.path, strings.NewReader(p.body))
			vreq.Header = req.Header.Clone()
			ok, errs := v.ValidateHttpRequestWithPathItem(vreq, model.Paths.PathItems.GetOrZero(opPath), opPath)
			switch {
			case p.want < 300 && !ok:
				for _, e := range errs {
					t.Errorf("%s (%s %s): the request does not match openapi.json: %s: %s", p.op, method, p.path, e.Message, e.Reason)
				}
			case p.want == 400 && ok:
				t.Errorf("%s (%s %s): openapi.json's request schema takes %.200s, which the service refuses with 400", p.op, method, p.path, p.body)
			}
		}
		resp, err := oaClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, p.path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%s (%s %s) %d", p.op, method, p.path, resp.StatusCode)
		if resp.StatusCode != p.want {
			t.Errorf("%s: want %d: %.300s", name, p.want, body)
			return body
		}
		// the answer is checked against the operation's entry (for a 405
		// probe, an operation the path documents)
		vreq, _ := http.NewRequest(opMethod, base+p.path, nil)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		item := model.Paths.PathItems.GetOrZero(opPath)
		if ok, errs := v.GetResponseBodyValidator().ValidateResponseBodyWithPathItem(vreq, resp, item, opPath); !ok {
			for _, e := range errs {
				msg := e.Message + ": " + e.Reason
				for _, se := range e.SchemaValidationErrors {
					msg += "; " + se.Reason + " at " + se.FieldPath + " (" + se.KeywordLocation + ")"
				}
				t.Errorf("%s: does not match openapi.json: %s; body %.300s", name, msg, body)
			}
			return body
		}
		exercised[fmt.Sprintf("%s %s %d", opMethod, opPath, resp.StatusCode)] = true
		return body
	}
	js := "application/json"
	big := `{"customer_id":"` + strings.Repeat("x", 64<<10) + `"}`

	// a decision to report outcomes of
	var dec struct {
		DecisionID string `json:"decision_id"`
		Actions    []struct {
			ActionID string `json:"action_id"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(send(oaProbe{op: "POST /v1/decide", path: "/v1/decide", key: oaAllKey, ctype: js,
		body: `{"customer_id":"c-0001","channel":"web","limit":2,"explain":true}`, want: 200}), &dec); err != nil || len(dec.Actions) == 0 {
		t.Fatalf("decide: %v %+v", err, dec)
	}
	// a decision with declared slots: each action carries its slot's id
	var slotted struct {
		DecisionID string `json:"decision_id"`
		Actions    []struct {
			SlotID string `json:"slot_id"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(send(oaProbe{op: "POST /v1/decide", path: "/v1/decide", key: oaAllKey, ctype: js,
		body: `{"customer_id":"c-0001","channel":"web","context":{"page":"product"},"slots":[{"id":"hero","context":{"device":"desktop"}},{"id":"sidebar","context":{"cart_value":300}}]}`, want: 200}), &slotted); err != nil ||
		len(slotted.Actions) != 2 || slotted.Actions[0].SlotID != "hero" || slotted.Actions[1].SlotID != "sidebar" {
		t.Fatalf("decide with slots: %v %+v", err, slotted)
	}
	outcome := func(extra string) string {
		return fmt.Sprintf(`{"decision_id":%q,"action_id":%q%s}`, dec.DecisionID, dec.Actions[0].ActionID, extra)
	}
	// decisions whose activation is deferred, to activate
	deferred := func(customer string) string {
		var d struct {
			DecisionID string `json:"decision_id"`
		}
		if err := json.Unmarshal(send(oaProbe{op: "POST /v1/decide", path: "/v1/decide", key: oaAllKey, ctype: js,
			body: `{"customer_id":"` + customer + `","channel":"web","limit":3,"defer_activation":true}`, want: 200}), &d); err != nil || d.DecisionID == "" {
			t.Fatalf("decide: %v %+v", err, d)
		}
		return "/v1/decisions/" + d.DecisionID + "/activate"
	}
	activate, late := deferred("c-0004"), deferred("c-0005")
	keyBody := `{"sha256":"` + HashKey("new-key") + `","scopes":["decide"]}`
	expBody := `{"name":"e1","start":"2026-11-01T00:00:00Z","primary_metric":"conversion","arms":[` +
		`{"name":"control","policy":"promoted","share":0.5},{"name":"explore","policy":"random","share":0.5}]}`

	table := []oaProbe{
		{op: "POST /v1/decide/batch", path: "/v1/decide/batch", ctype: js, body: oaBatch("decisions", `{"customer_id":"c-0002","channel":"web"}`, 3), want: 200},
		{op: "POST /v1/decide/batch", path: "/v1/decide/batch", ctype: js, body: `{"decisions":[]}`, want: 400},
		{op: "POST /v1/profiles:batch", path: "/v1/profiles:batch", ctype: js, body: oaBatch("profiles", `{"customer_id":"c-0003","attributes":{"tier":"gold"}}`, 2), want: 202},
		{op: "POST /v1/profiles:batch", path: "/v1/profiles:batch", ctype: js, body: `{"profiles":[{"attributes":{"tier":"gold"}}]}`, want: 400},
		{op: "POST /v1/profiles:batch", path: "/v1/profiles:batch", ctype: js, body: `{"profiles":[{"customer_id":"c-0003","attributes":{"nope":1}}]}`, want: 422},
		{op: "GET /v1/decisions/{decision_id}", path: "/v1/decisions/" + dec.DecisionID, want: 200},
		{op: "GET /v1/decisions/{decision_id}", path: "/v1/decisions/%20x", want: 400},
		{op: "GET /v1/decisions/{decision_id}", path: "/v1/decisions/nope", want: 404},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":"c-0001","channel":"web","request_id":"r-1"}`, want: 200},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":"c-0001","channel":"web","request_id":"r-1"}`, want: 200},
		{op: "POST /v1/decisions/{decision_id}/activate", path: activate, body: `{"slots":[0,2]}`, want: 200},
		{op: "POST /v1/decisions/{decision_id}/activate", path: activate, body: `{"slots":[2]}`, want: 200},                            // again: nothing changes
		{op: "POST /v1/decisions/{decision_id}/activate", path: activate, ctype: js, want: 200},                                        // no body: every slot
		{op: "POST /v1/decisions/{decision_id}/activate", path: "/v1/decisions/" + dec.DecisionID + "/activate", ctype: js, want: 200}, // not deferred
		{op: "GET /v1/decisions/{decision_id}", path: strings.TrimSuffix(activate, "/activate"), want: 200},
		{op: "POST /v1/decisions/{decision_id}/activate", path: activate, body: `{"slots":[]}`, want: 400},
		{op: "POST /v1/decisions/{decision_id}/activate", path: activate, body: `{"slots":[-1]}`, want: 400},
		{op: "POST /v1/decisions/{decision_id}/activate", path: activate, body: `{"slots":[0.5]}`, want: 400},
		{op: "POST /v1/decisions/{decision_id}/activate", path: "/v1/decisions/%20x/activate", ctype: js, want: 400},
		{op: "POST /v1/decisions/{decision_id}/activate", path: "/v1/decisions/nope/activate", ctype: js, want: 404},
		{op: "POST /v1/decisions/{decision_id}/activate", path: late, body: `{"slots":[3]}`, want: 422},
		{op: "POST /v1/decisions/{decision_id}/activate", path: late, ctype: js, want: 409, setup: func() { later.Store(int64(8 * 24 * time.Hour)) }},
		{op: "GET /healthz", path: "/healthz", want: 200, setup: func() { later.Store(0) }},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":"c-0001","channel":"web",}`, want: 400},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":"c-0001","channel":"web","limit":0}`, want: 400},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":"c-0001","channel":"web","limit":21}`, want: 400},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":" c-0001","channel":"web"}`, want: 400},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":"c-0001"}`, want: 400},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":"c-0001","channel":"web","candidates":[""]}`, want: 400},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":"c-0001","channel":"web","context":{"cart_value":2e9}}`, want: 400},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":"c-0001","channel":"web","explain":"yes"}`, want: 400},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":"c-0001","channel":"fax"}`, want: 422},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":"c-0001","channel":"web","context":{"cart_vlaue":1}}`, want: 422},
		{op: "GET /v1/decisions/{decision_id}", path: "/v1/decisions/" + slotted.DecisionID, want: 200},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":"c-0001","channel":"web","slots":[{"id":""}]}`, want: 400},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":"c-0001","channel":"web","slots":[{"id":"hero","context":{"placment":"x"}}]}`, want: 422},
		{op: "POST /v1/outcomes", path: "/v1/outcomes", ctype: js, body: outcome(`,"reward":1`), want: 202},
		{op: "POST /v1/outcomes", path: "/v1/outcomes", ctype: js, body: outcome(`,"reward":1`), want: 202}, // a duplicate
		{op: "POST /v1/outcomes", path: "/v1/outcomes", ctype: js, body: outcome(``), want: 400},
		{op: "POST /v1/outcomes", path: "/v1/outcomes", ctype: js, body: outcome(`,"reward":2e9`), want: 400},
		{op: "POST /v1/outcomes", path: "/v1/outcomes", ctype: js, body: outcome(`,"reward":1,"type":"Click"`), want: 400},
		{op: "POST /v1/outcomes", path: "/v1/outcomes", ctype: js, body: `{"decision_id":"nope","action_id":"x","reward":1}`, want: 404},
		{op: "POST /v1/outcomes", path: "/v1/outcomes", ctype: js, body: fmt.Sprintf(`{"decision_id":%q,"slate":true,"reward":2,"type":"revenue","outcome_id":"o-slate"}`, slotted.DecisionID), want: 202},
		{op: "POST /v1/outcomes", path: "/v1/outcomes", ctype: js, body: outcome(`,"slate":true,"reward":1`), want: 400},
		{op: "POST /v1/outcomes", path: "/v1/outcomes", ctype: js, body: outcome(`,"reward":1,"type":"nope"`), want: 422},
		{op: "POST /v1/events", path: "/v1/events", ctype: js, body: `{"customer_id":"c-0001","type":"page_view","channel":"web"}`, want: 202},
		{op: "POST /v1/events", path: "/v1/events", ctype: js, body: `{"type":"page_view"}`, want: 400},
		{op: "POST /v1/events", path: "/v1/events", ctype: js, body: `{"customer_id":"c-0001","type":"page_view","channel":"Web"}`, want: 400},
		{op: "POST /v1/events", path: "/v1/events", ctype: js, body: `{"customer_id":"c-0001","type":"page_view","properties":{"n":-2e9}}`, want: 400},
		{op: "POST /v1/events", path: "/v1/events", ctype: js, body: `{"customer_id":"c-0001","type":"nope"}`, want: 422},
		{op: "GET /v1/profiles/{customer_id}", path: "/v1/profiles/c-0001", want: 200},
		{op: "GET /v1/profiles/{customer_id}", path: "/v1/profiles/%20c-0001", want: 400},
		{op: "GET /v1/profiles/{customer_id}", path: "/v1/profiles/c-nobody", want: 404},
		{op: "DELETE /v1/customers/{customer_id}", path: "/v1/customers/c-0002", want: 202},
		{op: "DELETE /v1/customers/{customer_id}", path: "/v1/customers/%20c-0002", want: 400},
		{op: "DELETE /v1/customers/{customer_id}", path: "/v1/customers/c-nobody", want: 404},
		{op: "GET /v1/actions", path: "/v1/actions", want: 200},
		{op: "GET /v1/experiments", path: "/v1/experiments", want: 200},
		{op: "GET /v1/stats", path: "/v1/stats", want: 200},
		{op: "GET /v1/models", path: "/v1/models", want: 200},
		{op: "GET /v1/audit", path: "/v1/audit?limit=0", want: 400},
		{op: "GET /metrics", path: "/metrics", want: 200},
		{op: "GET /healthz", path: "/healthz", want: 200},
		{op: "GET /readyz", path: "/readyz", want: 200},
		{op: "GET /openapi.json", path: "/openapi.json", want: 200},
		{op: "POST /admin/models/reload", path: "/admin/models/reload", ctype: js, want: 200},
		{op: "POST /admin/models/reload", path: "/admin/models/reload", ctype: js, want: 422, setup: func() {
			// a promotion the registry cannot read
			if err := os.WriteFile(filepath.Join(cfg.Registry, models.PromotedFile), []byte("garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{op: "GET /admin/shadow", path: "/admin/shadow", want: 200},
		{op: "PUT /admin/shadow", path: "/admin/shadow", body: `{"version":`, want: 400},
		{op: "PUT /admin/shadow", path: "/admin/shadow", body: `{"version":2}`, want: 422},
		{op: "PUT /admin/shadow", path: "/admin/shadow", body: `{"version":1,"explorer":{"kind":"softmax","temperature":0.5}}`, want: 200},
		{op: "GET /admin/shadow", path: "/admin/shadow", want: 200},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":"c-0003","channel":"web","explain":true}`, want: 200}, // shadowed
		{op: "DELETE /admin/shadow", path: "/admin/shadow", want: 200},
		{op: "GET /admin/clv", path: "/admin/clv", want: 404},
		{op: "PUT /admin/clv", path: "/admin/clv", body: `{"r":0.243,"alpha":4.414,"a":0.793,"b":2.426,"p":6.25,"q":3.74,"gamma":15.44}`, want: 200},
		{op: "GET /admin/clv", path: "/admin/clv", want: 200},
		{op: "PUT /admin/clv", path: "/admin/clv", body: `{"r":`, want: 400},
		{op: "PUT /admin/clv", path: "/admin/clv", body: `{"r":0.243,"alpha":-4,"a":0.793,"b":2.426,"p":6.25,"q":3.74,"gamma":15.44}`, want: 422},
		{op: "GET /admin/mode", path: "/admin/mode", want: 200},
		{op: "PUT /admin/mode", path: "/admin/mode", body: `{"mode":"apprentice","baseline":"value","epsilon":0.1}`, want: 200},
		{op: "PUT /admin/mode", path: "/admin/mode", body: `{"mode":"online"}`, want: 200},
		{op: "PUT /admin/mode", path: "/admin/mode", body: `[`, want: 400},
		{op: "PUT /admin/mode", path: "/admin/mode", body: `{"mode":"sleepy"}`, want: 422},
		{op: "GET /admin/keys", path: "/admin/keys", want: 200},
		{op: "PUT /admin/keys/{name}", path: "/admin/keys/web-2", body: keyBody, want: 200},
		{op: "PUT /admin/keys/{name}", path: "/admin/keys/web-2", body: keyBody, want: 200}, // a rotation
		{op: "PUT /admin/keys/{name}", path: "/admin/keys/web-2", body: `{`, want: 400},
		{op: "PUT /admin/keys/{name}", path: "/admin/keys/web-2", body: `{"sha256":"abc","scopes":["decide"]}`, want: 422},
		{op: "PUT /admin/keys/{name}", path: "/admin/keys/reader", body: keyBody, want: 409},
		{op: "DELETE /admin/keys/{name}", path: "/admin/keys/web-2", want: 200},
		{op: "DELETE /admin/keys/{name}", path: "/admin/keys/web-2", want: 404},
		{op: "DELETE /admin/keys/{name}", path: "/admin/keys/reader", want: 409},
		{op: "GET /admin/experiments", path: "/admin/experiments", want: 200},
		{op: "PUT /admin/experiments/{name}", path: "/admin/experiments/e1", body: expBody, want: 200},
		{op: "PUT /admin/experiments/{name}", path: "/admin/experiments/e1", body: `{`, want: 400},
		{op: "PUT /admin/experiments/{name}", path: "/admin/experiments/e2", body: expBody, want: 422},
		{op: "GET /admin/experiments", path: "/admin/experiments", want: 200},
		{op: "POST /v1/decide", path: "/v1/decide", ctype: js, body: `{"customer_id":"c-0002","channel":"web"}`, want: 200}, // in e1
		{op: "GET /v1/experiments", path: "/v1/experiments", want: 200},
		{op: "GET /v1/stats", path: "/v1/stats", want: 200},
		{op: "POST /admin/experiments/{name}/ramp", path: "/admin/experiments/e1/ramp", body: `{"shares":{"control":0.8,"explore":0.2}}`, want: 200},
		{op: "POST /admin/experiments/{name}/ramp", path: "/admin/experiments/e1/ramp", body: `{"shares":{}}`, want: 400},
		{op: "POST /admin/experiments/{name}/ramp", path: "/admin/experiments/e1/ramp", body: `{"shares":{"nope":1}}`, want: 422},
		{op: "POST /admin/experiments/{name}/ramp", path: "/admin/experiments/e9/ramp", body: `{"shares":{"a":1}}`, want: 404},
		{op: "POST /admin/experiments/{name}/stop", path: "/admin/experiments/e1/stop", ctype: js, want: 200},
		{op: "POST /admin/experiments/{name}/stop", path: "/admin/experiments/e9/stop", ctype: js, want: 404},
		{op: "PUT /admin/experiments/{name}", path: "/admin/experiments/e3", body: strings.Replace(strings.Replace(expBody, "e1", "e3", 1), "2026-11-01", "2027-01-01", 1), want: 200},
		{op: "POST /admin/experiments/{name}/stop", path: "/admin/experiments/e3/stop", ctype: js, want: 422}, // it would end before it starts
		{op: "DELETE /admin/experiments/{name}", path: "/admin/experiments/e1", want: 200},
		{op: "DELETE /admin/experiments/{name}", path: "/admin/experiments/e1", want: 404},
		{op: "GET /v1/audit", path: "/v1/audit", want: 200},
		{op: "GET /v1/models", path: "/v1/models", want: 200},
		{op: "GET /v1/reports/campaigns", path: "/v1/reports/campaigns", want: 503}, // not computed yet
		{op: "GET /v1/reports/journeys", path: "/v1/reports/journeys", want: 503},
		{op: "GET /v1/reports/attribution", path: "/v1/reports/attribution", want: 503},
		{op: "GET /v1/reports/clv", path: "/v1/reports/clv", want: 503},
		{op: "GET /v1/reports/campaigns", path: "/v1/reports/campaigns", want: 200, setup: func() {
			if err := svc.ComputeReports(context.Background()); err != nil {
				t.Fatal(err)
			}
		}},
		{op: "GET /v1/reports/campaigns", path: "/v1/reports/campaigns?refresh=1", want: 200},
		{op: "GET /v1/reports/campaigns", path: "/v1/reports/campaigns?refresh=maybe", want: 400},
		{op: "GET /v1/reports/journeys", path: "/v1/reports/journeys", want: 200},
		{op: "GET /v1/reports/journeys", path: "/v1/reports/journeys?by=action", want: 400},
		{op: "GET /v1/reports/attribution", path: "/v1/reports/attribution", want: 200},
		{op: "GET /v1/reports/attribution", path: "/v1/reports/attribution?by=action", want: 200},
		{op: "GET /v1/reports/attribution", path: "/v1/reports/attribution?by=stage", want: 400},
		{op: "GET /v1/reports/clv", path: "/v1/reports/clv", want: 200},
		{op: "GET /v1/reports/clv", path: "/v1/reports/clv?refresh=2", want: 400},
		{op: "GET /ui", path: "/ui", want: 301},
		{op: "GET /ui/", path: "/ui/", want: 200},
		{op: "HEAD /ui/", path: "/ui/", want: 200},
		{op: "GET /ui/{file}", path: "/ui/app.js", want: 200},
		{op: "GET /ui/{file}", path: "/ui/style.css", want: 200},
		{op: "GET /ui/{file}", path: "/ui/nope.js", want: 404},
		{op: "HEAD /ui/{file}", path: "/ui/app.js", want: 200},
		{op: "HEAD /ui/{file}", path: "/ui/nope.js", want: 404},
		{op: "GET /debug/pprof/", path: "/debug/pprof/", want: 200},
		{op: "GET /debug/pprof/{profile}", path: "/debug/pprof/cmdline", want: 200},
		{op: "GET /debug/pprof/{profile}", path: "/debug/pprof/goroutine?debug=1", want: 200},
		{op: "GET /debug/pprof/{profile}", path: "/debug/pprof/heap", want: 200},
		{op: "GET /debug/pprof/{profile}", path: "/debug/pprof/nope", want: 404},
		// a wrong content type (415) reaches no handler: it is probed
		// below for every POST operation that documents it
	}
	table = append(table, oaPersonalizerProbes()...)
	for _, p := range table {
		if p.key == "" {
			p.key = oaAllKey
		}
		if p.body != "" && p.ctype == "" {
			p.ctype = js
		}
		if p.setup != nil {
			p.setup()
		}
		send(p)
	}

	// What every operation answers alike: a body too large (413), and
	// for one with a scope no key (401), a key without the scope (403)
	// and a key over its rate (429); for a POST route, a body that is
	// not JSON (415); and on every path, a method it does not take (405).
	send(oaProbe{op: "GET /v1/actions", path: "/v1/actions", key: oaSlowKey, want: 200}) // takes the slow key's one token
	for _, opKey := range slices.Sorted(maps.Keys(ops)) {
		o := ops[opKey]
		_, path, _ := strings.Cut(opKey, " ")
		p := o.concrete(path)
		tooBig := big
		switch opKey { // the batches read larger bodies: too many items is their 413
		case "POST /v1/decide/batch":
			tooBig = oaBatch("decisions", `{"customer_id":"c-0001","channel":"web"}`, 1001)
		case "POST /v1/profiles:batch":
			tooBig = oaBatch("profiles", `{"customer_id":"c-0001","attributes":{"tier":"gold"}}`, 1001)
		}
		send(oaProbe{op: opKey, path: p, key: oaAllKey, ctype: js, body: tooBig, want: 413})
		if _, ok := o.Responses["415"]; ok {
			send(oaProbe{op: opKey, path: p, key: oaAllKey, ctype: "text/plain", body: "{}", want: 415})
		}
		if o.Scope == "" {
			continue
		}
		send(oaProbe{op: opKey, path: p, want: 401})
		send(oaProbe{op: opKey, path: p, key: "not-a-key", want: 401})
		other := oaReadKey
		if o.Scope == ScopeRead {
			other = oaIngestKey
		}
		send(oaProbe{op: opKey, path: p, key: other, subKey: true, want: 403})
		send(oaProbe{op: opKey, path: p, key: oaSlowKey, want: 429})
	}
	for _, path := range slices.Sorted(maps.Keys(methods)) {
		if anyMethod[path] {
			// every method is answered as GET is
			opKey := "GET " + path
			want := 0
			for code := range ops[opKey].Responses {
				if n, _ := strconv.Atoi(code); n < 400 && (want == 0 || n < want) {
					want = n
				}
			}
			for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
				send(oaProbe{op: opKey, method: m, path: path, key: oaAllKey, ctype: js, body: "{}", want: want})
			}
			continue
		}
		for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
			if slices.Contains(methods[path], m) {
				continue
			}
			for _, om := range methods[path] {
				if om == "HEAD" {
					continue // its answer has no body to check
				}
				opKey := om + " " + path
				send(oaProbe{op: opKey, method: m, path: ops[opKey].concrete(path), key: oaAllKey, ctype: js, body: "{}", want: 405})
			}
		}
	}

	// every documented answer was given, or is listed with why not
	for _, opKey := range slices.Sorted(maps.Keys(ops)) {
		for status := range ops[opKey].Responses {
			k := opKey + " " + status
			_, why := oaUntriggered[k]
			if _, all := oaUntriggered["* "+status]; all {
				why = true
			}
			switch {
			case exercised[k] && why:
				t.Errorf("%s is exercised: drop it from oaUntriggered", k)
			case !exercised[k] && !why:
				t.Errorf("%s is documented but no request of the table gets it: add one, or say why in oaUntriggered", k)
			}
		}
	}
	for k := range oaUntriggered {
		method, rest, _ := strings.Cut(k, " ")
		if method == "*" {
			continue
		}
		path, status, _ := strings.Cut(rest, " ")
		if _, ok := ops[method+" "+path].Responses[status]; !ok {
			t.Errorf("oaUntriggered lists %s, which the document does not", k)
		}
	}
	t.Logf("%d operations, %d answers exercised", len(ops), len(exercised))
}

// oaPersonalizerProbes are the conformance table's requests of the
// Personalizer-compatible API, in order: the ranks make the events the
// later requests name. (The reference examples' own requests and answers
// are checked by TestPersonalizerExamples.)
func oaPersonalizerProbes() []oaProbe {
	const base = "/personalizer/v1.0/"
	const id = "75269AD0-BFEE-4598-8196-C57383D38E10"
	actions := func(n int) string {
		a := make([]string, n)
		for i := range a {
			a[i] = fmt.Sprintf(`{"id":"a%d","features":[{"n":%d}]}`, i, i)
		}
		return "[" + strings.Join(a, ",") + "]"
	}
	rank := `{"contextFeatures":[{"timeOfDay":"Morning"}],"actions":` + actions(3) + `,"excludedActions":["a1"],"eventId":"` + id + `"}`
	multi := `{"contextFeatures":[{"user":{"tier":"gold"}}],"actions":` + actions(3) + `,"slots":[{"id":"hero","baselineAction":"a0","features":[{"size":"Large"}]},{"id":"side","baselineAction":"a1","excludedActions":["a2"]}],"eventId":"m-1"}`
	svc := `{"rewardWaitTime":"PT10M","defaultReward":0,"rewardAggregation":"earliest","explorationPercentage":0.2,"modelExportFrequency":"PT0S","logRetentionDays":-1}`
	// activate has no body; the client SDKs send it as JSON all the same
	return []oaProbe{
		{op: "GET " + base + "configurations/service", path: base + "configurations/service", want: 200},
		{op: "PUT " + base + "configurations/service", path: base + "configurations/service", body: svc, want: 200},
		{op: "PUT " + base + "configurations/service", path: base + "configurations/service", body: strings.Replace(svc, `"defaultReward":0`, `"defaultReward":2`, 1), want: 400},
		{op: "GET " + base + "configurations/policy", path: base + "configurations/policy", want: 200},
		{op: "PUT " + base + "configurations/policy", path: base + "configurations/policy", body: `{"name":"p","arguments":"--cb_explore_adf -q ::"}`, want: 200},
		{op: "PUT " + base + "configurations/policy", path: base + "configurations/policy", body: `{"arguments":"x"}`, want: 400},
		{op: "DELETE " + base + "configurations/policy", path: base + "configurations/policy", want: 200},
		{op: "POST " + base + "rank", path: base + "rank", body: rank, want: 201},
		{op: "POST " + base + "rank", path: base + "rank", body: rank, want: 201}, // a replay
		{op: "POST " + base + "rank", path: base + "rank", body: `{"actions":` + actions(51) + `}`, want: 400},
		{op: "POST " + base + "rank", path: base + "rank", body: `{"actions":` + actions(2) + `,"eventId":"d-1","deferActivation":true}`, want: 201},
		{op: "POST " + base + "events/{eventId}/reward", path: base + "events/" + id + "/reward", body: `{"value":1}`, want: 204},
		{op: "POST " + base + "events/{eventId}/reward", path: base + "events/" + id + "/reward", body: `{"value":2}`, want: 400},
		{op: "POST " + base + "events/{eventId}/reward", path: base + "events/nope/reward", body: `{"value":1}`, want: 404},
		{op: "POST " + base + "events/{eventId}/activate", path: base + "events/d-1/activate", ctype: "application/json", want: 204},
		{op: "POST " + base + "events/{eventId}/activate", path: base + "events/" + strings.Repeat("x", 257) + "/activate", ctype: "application/json", want: 400},
		{op: "POST " + base + "events/{eventId}/activate", path: base + "events/nope/activate", ctype: "application/json", want: 404},
		{op: "POST " + base + "multislot/rank", path: base + "multislot/rank", body: multi, want: 201},
		{op: "POST " + base + "multislot/rank", path: base + "multislot/rank", body: `{"actions":` + actions(2) + `}`, want: 400},
		{op: "POST " + base + "multislot/events/{eventId}/reward", path: base + "multislot/events/m-1/reward", body: `{"reward":[{"slotId":"hero","value":1}]}`, want: 204},
		{op: "POST " + base + "multislot/events/{eventId}/reward", path: base + "multislot/events/m-1/reward", body: `{"reward":[]}`, want: 400},
		{op: "POST " + base + "multislot/events/{eventId}/reward", path: base + "multislot/events/nope/reward", body: `{"reward":[{"slotId":"hero","value":1}]}`, want: 404},
		{op: "POST " + base + "multislot/events/{eventId}/activate", path: base + "multislot/events/m-1/activate", ctype: "application/json", want: 204},
		{op: "POST " + base + "multislot/events/{eventId}/activate", path: base + "multislot/events/" + strings.Repeat("x", 257) + "/activate", ctype: "application/json", want: 400},
		{op: "POST " + base + "multislot/events/{eventId}/activate", path: base + "multislot/events/nope/activate", ctype: "application/json", want: 404},
	}
}

// oaSaveModel saves a small ridge model for the retail spec in the
// registry at dir, as version 1, without promoting it.
// oaFeatureSpec is the retail spec keeping purchase histories, so that
// the CLV model's routes can answer 200.
func oaFeatureSpec() []byte {
	return []byte(strings.Replace(string(retail.FeatureSpec), "  attribute_events: [profile_update]",
		"  attribute_events: [profile_update]\n  clv: {event: purchase, amount: amount}", 1))
}

func oaSaveModel(t *testing.T, dir string) {
	t.Helper()
	spec, err := features.ParseSpec(oaFeatureSpec())
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.NewRidge(models.RidgeConfig{Dim: spec.Dim(), Name: "offline"})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, spec.Dim())
	for i := range 50 {
		for j := range x {
			x[j] = float64((i*7+j*3)%11) / 11
		}
		m.Update(0, x, float64(i%2))
	}
	m.Publish()
	art, err := models.NewArtifact(models.Metadata{Name: "offline", FeatureSpec: spec.Hash(), Source: "test"}, m)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := models.OpenRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := reg.Save(art); err != nil || v != 1 {
		t.Fatalf("save: version %d, %v", v, err)
	}
}

var oaClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// oaStart serves cfg on a loopback port until the test ends.
func oaStart(t *testing.T, cfg Config) (string, *Service) {
	t.Helper()
	svc, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ln) }()
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		<-done
	})
	return "http://" + ln.Addr().String(), svc
}

// oaBatch is a batch body: n copies of item under key.
func oaBatch(key, item string, n int) string {
	return `{"` + key + `":[` + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + `]}`
}
