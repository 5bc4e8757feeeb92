package serve_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"nextbest/serve"
)

// The request/response tests generated from Personalizer's published
// specification: each x-ms-examples file of the reference specifications
// (stable v1.0, and the preview v1.0 the client SDKs are generated from)
// is sent as the example says (its path parameters, body and
// Ocp-Apim-Subscription-Key) and the answer checked against the
// example's status and body; then requests derived from each example are
// made invalid, and the answers checked against the specification's
// ErrorResponse and its error codes. The specification is read from
// $NEXTBEST_PERSONALIZER_SPEC, else from its copy in
// testdata/personalizer-spec (see its SOURCE.md), else from beside the
// repository (../shared/reference/personalizer).

// pzReferenceDir returns the reference specification's directory, or
// skips t (fails it under CI).
func pzReferenceDir(t *testing.T) string {
	t.Helper()
	for _, d := range []string{os.Getenv("NEXTBEST_PERSONALIZER_SPEC"), filepath.Join("testdata", "personalizer-spec"), "../../shared/reference/personalizer", "../shared/reference/personalizer"} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "stable", "v1.0", "Personalizer.json")); err == nil {
			return d
		}
	}
	msg := "the Personalizer reference specification was not found (../shared/reference/personalizer, or $NEXTBEST_PERSONALIZER_SPEC)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// swagger is the part of a Swagger 2.0 document the examples test reads.
type swagger struct {
	Paths       map[string]map[string]swaggerOp `json:"paths"`
	Definitions struct {
		PersonalizerError struct {
			Properties struct {
				Code struct {
					Enum []string `json:"enum"`
				} `json:"code"`
			} `json:"properties"`
		} `json:"PersonalizerError"`
	} `json:"definitions"`
}

type swaggerOp struct {
	OperationID string `json:"operationId"`
	Parameters  []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
	Examples map[string]struct {
		Ref string `json:"$ref"`
	} `json:"x-ms-examples"`
}

// pzExample is one example: the operation, its request and its answer.
type pzExample struct {
	spec, file string // where it comes from
	op         string // operationId
	method     string
	path       string                     // the operation's path, parameters filled in
	body       json.RawMessage            // the body parameter, if any
	key        string                     // Ocp-Apim-Subscription-Key
	status     int                        // the example's answer
	response   map[string]json.RawMessage // its body, if any
}

// pzOffered are the operations the Personalizer-compatible API offers, in
// the order the test sends their examples: the configuration first (the
// rank example's probabilities are the configured exploration's), rank
// before the events it makes.
var pzOffered = []string{"ServiceConfiguration_Update", "ServiceConfiguration_Get", "Policy_Update", "Policy_Get", "Policy_Reset",
	"Rank", "Events_Reward", "Events_Activate"}

func pzExamples(t *testing.T, dir string) ([]pzExample, []string) {
	t.Helper()
	var out []pzExample
	var codes []string
	for _, spec := range []string{"stable/v1.0", "preview/v1.0"} {
		raw, err := os.ReadFile(filepath.Join(dir, spec, "Personalizer.json"))
		if err != nil {
			t.Fatal(err)
		}
		var doc swagger
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		codes = append(codes, doc.Definitions.PersonalizerError.Properties.Code.Enum...)
		for path, item := range doc.Paths {
			for method, op := range item {
				for _, ref := range op.Examples {
					file := filepath.Join(dir, spec, ref.Ref)
					var ex struct {
						Parameters map[string]json.RawMessage `json:"parameters"`
						Responses  map[string]struct {
							Body json.RawMessage `json:"body"`
						} `json:"responses"`
					}
					b, err := os.ReadFile(file)
					if err != nil {
						t.Fatal(err)
					}
					if err := json.Unmarshal(b, &ex); err != nil {
						t.Fatalf("%s: %v", file, err)
					}
					e := pzExample{spec: spec, file: filepath.Base(file), op: op.OperationID, method: strings.ToUpper(method), path: path}
					for _, p := range op.Parameters {
						v, ok := ex.Parameters[p.Name]
						switch {
						case !ok:
						case p.In == "body":
							e.body = v
						case p.In == "path":
							var s string
							json.Unmarshal(v, &s)
							e.path = strings.ReplaceAll(e.path, "{"+p.Name+"}", s)
						}
					}
					json.Unmarshal(ex.Parameters["Ocp-Apim-Subscription-Key"], &e.key)
					for status, r := range ex.Responses {
						fmt.Sscan(status, &e.status)
						json.Unmarshal(r.Body, &e.response) // an object's fields (the offered operations answer objects)
					}
					out = append(out, e)
				}
			}
		}
	}
	rank := func(e pzExample) int {
		if i := slices.Index(pzOffered, e.op); i >= 0 {
			return i
		}
		return len(pzOffered)
	}
	slices.SortStableFunc(out, func(a, b pzExample) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a.spec+a.file, b.spec+b.file)
	})
	slices.Sort(codes)
	return out, slices.Compact(codes)
}

// pzSend sends a request with the example's key and returns the status
// and the body.
func (in *instance) pzSend(method, path, key string, body []byte) (int, []byte) {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequest(method, in.base+pzBase+strings.TrimPrefix(path, "/"), rd)
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Ocp-Apim-Subscription-Key", key)
	if method == "POST" || method == "PUT" {
		req.Header.Set("Content-Type", "application/json; charset=utf-8") // as the SDKs send it
	}
	resp, err := client.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// TestPersonalizerExamples sends every example of the reference
// specifications and checks the answer: the example's status; for the
// configuration, the example's body (every field the example has, equal);
// for rank, the example's shape and ids, the excluded action at
// probability 0, probabilities that are the policy's exactly (ε = 0.2,
// the example configuration's, over the two non-excluded actions: 0.8 for
// the best and 0.2 for the other, which are also the example's) and the
// example's eventId; for reward and activate, 204 and no body. Operations
// nextbest does not offer (evaluations, logs, model) answer 404 with
// Personalizer's error body. Then each offered operation's example, made
// invalid, answers the specification's ErrorResponse with one of its
// codes.
func TestPersonalizerExamples(t *testing.T) {
	t.Parallel()
	dir := pzReferenceDir(t)
	examples, codes := pzExamples(t, dir)
	cfg := retailConfig(t.TempDir())
	// the examples' own key, "{API key}", is a key of the service
	cfg.Auth.Keys = []serve.APIKey{{Name: "examples", SHA256: serve.HashKey("{API key}"),
		Scopes: []string{serve.ScopeDecide, serve.ScopeIngest, serve.ScopeRead, serve.ScopeAdmin}}}
	in := start(t, cfg)
	const key = "{API key}"
	// the event the reward and activate examples name ("id"), deferred
	// so that activating it changes something
	if code, body := in.pzSend("POST", "rank", key, []byte(`{"actions":[{"id":"x","features":[{"a":1}]}],"eventId":"id","deferActivation":true}`)); code != 201 {
		t.Fatalf("the events' rank: %d %s", code, body)
	}
	offered := 0
	for _, e := range examples {
		name := e.spec + "/" + e.file
		code, body := in.pzSend(e.method, e.path, key, e.body)
		if !slices.Contains(pzOffered, e.op) {
			if code != 404 || pzBodyCode(t, body) != "ResourceNotFound" {
				t.Errorf("%s (%s, not offered): %d %s, want 404 ResourceNotFound", name, e.op, code, body)
			}
			continue
		}
		offered++
		if code != e.status {
			t.Errorf("%s: %d %s, want %d", name, code, body, e.status)
			continue
		}
		if e.response == nil {
			if len(body) != 0 {
				t.Errorf("%s: a body %q, want none", name, body)
			}
			continue
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(body, &got); err != nil {
			t.Errorf("%s: %v: %s", name, err, body)
			continue
		}
		switch e.op {
		case "Rank":
			checkRankExample(t, name, e, got)
		case "Policy_Reset":
			// our default learning settings, in the example's shape
			for k := range e.response {
				if kindOf(got[k]) != kindOf(e.response[k]) {
					t.Errorf("%s: %s is %s, want %s", name, k, got[k], e.response[k])
				}
			}
		default:
			for k, want := range e.response {
				if !jsonSame(got[k], want) {
					t.Errorf("%s: %s = %s, want %s", name, k, got[k], want)
				}
			}
		}
	}
	if offered != 8+3 {
		t.Errorf("%d examples of offered operations, want 11 (stable v1.0's 8, the preview's 3)", offered)
	}

	// errors: each offered operation's example, made invalid
	example := func(op string) pzExample {
		i := slices.IndexFunc(examples, func(e pzExample) bool { return e.op == op })
		if i < 0 {
			t.Fatalf("no example of %s", op)
		}
		return examples[i]
	}
	edit := func(op string, f func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(example(op).body, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	rank := example("Rank")
	for _, c := range []struct {
		name, method, path string
		body               []byte
		status             int
		code               string
	}{
		{"rank of 51 actions", "POST", "rank", edit("Rank", func(m map[string]any) {
			a := m["actions"].([]any)
			for len(a) <= 50 {
				x := maps(a[0])
				x["id"] = fmt.Sprintf("extra-%d", len(a))
				a = append(a, x)
			}
			m["actions"], m["eventId"] = a, "too-many"
		}), 400, "InvalidRankRequest"},
		{"rank without actions", "POST", "rank", edit("Rank", func(m map[string]any) { delete(m, "actions"); m["eventId"] = "none" }), 400, "InvalidRankRequest"},
		{"rank with every action excluded", "POST", "rank", edit("Rank", func(m map[string]any) {
			m["excludedActions"], m["eventId"] = []any{"NewsArticle", "SportsArticle", "EntertainmentArticle"}, "all-excluded"
		}), 400, "InvalidRankRequest"},
		{"rank replaying its eventId with other actions", "POST", "rank", edit("Rank", func(m map[string]any) { m["actions"] = m["actions"].([]any)[:2] }), 400, "InvalidRankRequest"},
		{"rank as malformed JSON", "POST", "rank", rank.body[:len(rank.body)/2], 400, "InvalidRankRequest"},
		{"reward above 1", "POST", example("Events_Reward").path, []byte(`{"value":1.5}`), 400, "InvalidRewardRequest"},
		{"reward without value", "POST", example("Events_Reward").path, []byte(`{}`), 400, "InvalidRewardRequest"},
		{"reward of an unknown event", "POST", "/events/never-ranked/reward", example("Events_Reward").body, 404, "ResourceNotFound"},
		{"activate an unknown event", "POST", "/events/never-ranked/activate", nil, 404, "ResourceNotFound"},
		{"activate an eventId too long", "POST", "/events/" + strings.Repeat("x", 257) + "/activate", nil, 400, "InvalidEventIdToActivate"},
		{"service configuration, defaultReward 2", "PUT", example("ServiceConfiguration_Update").path,
			edit("ServiceConfiguration_Update", func(m map[string]any) { m["defaultReward"] = 2 }), 400, "InvalidServiceConfiguration"},
		{"service configuration without rewardWaitTime", "PUT", example("ServiceConfiguration_Update").path,
			edit("ServiceConfiguration_Update", func(m map[string]any) { delete(m, "rewardWaitTime") }), 400, "InvalidServiceConfiguration"},
		{"policy without a name", "PUT", example("Policy_Update").path, edit("Policy_Update", func(m map[string]any) { delete(m, "name") }), 400, "InvalidPolicyContract"},
	} {
		code, body := in.pzSend(c.method, c.path, key, c.body)
		got := pzBodyCode(t, body)
		if code != c.status || got != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, code, body, c.status, c.code)
		}
		if !slices.Contains(codes, got) {
			t.Errorf("%s: code %q is not one of the specification's (%v)", c.name, got, codes)
		}
	}
	// a key the service does not know: 401, Personalizer's body
	if code, body := in.pzSend("POST", "rank", "not-a-key", rank.body); code != 401 || pzBodyCode(t, body) != "Unauthorized" {
		t.Errorf("an unknown key: %d %s", code, body)
	}
}

// checkRankExample checks a rank answer against the example's.
func checkRankExample(t *testing.T, name string, e pzExample, got map[string]json.RawMessage) {
	t.Helper()
	type ranked struct {
		ID          string   `json:"id"`
		Probability *float64 `json:"probability"`
	}
	var req struct {
		Actions []struct {
			ID string `json:"id"`
		} `json:"actions"`
		Excluded []string `json:"excludedActions"`
	}
	json.Unmarshal(e.body, &req)
	var want, have []ranked
	json.Unmarshal(e.response["ranking"], &want)
	if err := json.Unmarshal(got["ranking"], &have); err != nil || len(have) != len(want) {
		t.Errorf("%s: ranking %s, want the shape of %s", name, got["ranking"], e.response["ranking"])
		return
	}
	ids := func(r []ranked) []string {
		out := make([]string, len(r))
		for i, x := range r {
			out[i] = x.ID
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(ids(have), ids(want)) {
		t.Errorf("%s: ranked %v, want %v", name, ids(have), ids(want))
	}
	// the policy: a model that knows nothing prefers the first
	// non-excluded action (NewsArticle) with 1−ε = 0.8, the other
	// non-excluded one gets ε/(K−1) = 0.2, the excluded one 0
	policy := map[string]float64{}
	first := true
	for _, a := range req.Actions {
		switch {
		case slices.Contains(req.Excluded, a.ID):
			policy[a.ID] = 0
		case first:
			policy[a.ID], first = 0.8, false
		default:
			policy[a.ID] = 0.2
		}
	}
	var sum float64
	var probs, wantProbs []float64
	for i, r := range have {
		if r.Probability == nil || *r.Probability != policy[r.ID] {
			t.Errorf("%s: P(%s) = %v, the policy's is %v", name, r.ID, r.Probability, policy[r.ID])
			continue
		}
		sum += *r.Probability
		probs = append(probs, *r.Probability)
		wantProbs = append(wantProbs, *want[i].Probability)
	}
	slices.Sort(probs)
	slices.Sort(wantProbs)
	if math.Abs(sum-1) > 1e-12 || !slices.Equal(probs, wantProbs) {
		t.Errorf("%s: probabilities %v (sum %v), the example's %v", name, probs, sum, wantProbs)
	}
	var reward string
	json.Unmarshal(got["rewardActionId"], &reward)
	if policy[reward] == 0 {
		t.Errorf("%s: rewardActionId %q has probability 0", name, reward)
	}
	if !jsonSame(got["eventId"], e.response["eventId"]) {
		t.Errorf("%s: eventId %s, want %s", name, got["eventId"], e.response["eventId"])
	}
}

// pzBodyCode returns the code of a Personalizer ErrorResponse ("" if the
// body is not one: {"error": {"code": string, "message": string,
// "target"?: string}}).
func pzBodyCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error *struct {
			Code    *string         `json:"code"`
			Message *string         `json:"message"`
			Target  json.RawMessage `json:"target"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == nil || e.Error.Code == nil || e.Error.Message == nil ||
		(e.Error.Target != nil && kindOf(e.Error.Target) != "string") {
		return ""
	}
	return *e.Error.Code
}

func maps(v any) map[string]any {
	out := map[string]any{}
	for k, x := range v.(map[string]any) {
		out[k] = x
	}
	return out
}

// kindOf names a JSON value's kind.
func kindOf(v json.RawMessage) string {
	var x any
	if json.Unmarshal(v, &x) != nil {
		return "invalid"
	}
	return fmt.Sprintf("%T", x)
}

// jsonSame reports whether two JSON values are equal (numbers as
// numbers: 0.0 and 0 are one).
func jsonSame(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}
