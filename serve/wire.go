package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"nextbest/journal"
)

// The v1 wire types and their decoders live here, in one place. Decoders
// are pure: bytes in, a validated struct or a *fieldError out. They never
// keep a reference to the input bytes.

// decideRequest is the body of POST /v1/decide.
type decideRequest struct {
	CustomerID string         `json:"customer_id"`
	Channel    string         `json:"channel"`
	Context    map[string]any `json:"context"`
	Candidates []string       `json:"candidates"`
	Limit      *int           `json:"limit"`
	RequestID  string         `json:"request_id"`
	Explain    bool           `json:"explain"`
}

// outcomeRequest is the body of POST /v1/outcomes.
type outcomeRequest struct {
	DecisionID string   `json:"decision_id"`
	ActionID   string   `json:"action_id"`
	Reward     *float64 `json:"reward"`
	Type       string   `json:"type"`
	TS         string   `json:"ts"`
	// OutcomeID, optional, identifies the outcome for de-duplication
	// (validated by handleOutcome).
	OutcomeID string `json:"outcome_id"`
}

// eventRequest is the body of POST /v1/events.
type eventRequest struct {
	CustomerID string         `json:"customer_id"`
	Type       string         `json:"type"`
	TS         string         `json:"ts"`
	Channel    string         `json:"channel"`
	Properties map[string]any `json:"properties"`
}

// decideResponse is the answer of POST /v1/decide.
type decideResponse struct {
	DecisionID string           `json:"decision_id"`
	Policy     string           `json:"policy"`
	Experiment *experimentWire  `json:"experiment,omitempty"`
	Actions    []actionWire     `json:"actions"`
	Fallback   bool             `json:"fallback"`
	Explain    *explanationWire `json:"explain,omitempty"`
}

type experimentWire struct {
	Name string `json:"name"`
	Arm  string `json:"arm"`
}

type actionWire struct {
	ActionID   string  `json:"action_id"`
	Score      float64 `json:"score"`
	Propensity float64 `json:"propensity"`
}

type explanationWire struct {
	Eligible []string `json:"eligible"`
	Dropped  any      `json:"dropped"`
	Scored   any      `json:"scored"`
	Explorer string   `json:"explorer"`
}

// newDecideResponse is the answer to decision d, for encoding/json (the
// explain variant).
func newDecideResponse(d *journal.Decision) decideResponse {
	resp := decideResponse{DecisionID: d.DecisionID, Policy: d.Policy, Fallback: d.Fallback, Actions: make([]actionWire, 0, len(d.Actions))}
	if d.Experiment != nil {
		resp.Experiment = &experimentWire{Name: d.Experiment.Name, Arm: d.Experiment.Arm}
	}
	for _, a := range d.Actions {
		resp.Actions = append(resp.Actions, actionWire{ActionID: a.ActionID, Score: a.Score, Propensity: a.Propensity})
	}
	return resp
}

// appendDecideResponse writes the answer of a decision without
// reflection (the explain variant goes through encoding/json). Scores
// and propensities are finite: the engine never produces anything else.
func appendDecideResponse(b []byte, d *journal.Decision) []byte {
	b = append(b, `{"decision_id":`...)
	b = journal.AppendJSONString(b, d.DecisionID)
	b = append(b, `,"policy":`...)
	b = journal.AppendJSONString(b, d.Policy)
	if d.Experiment != nil {
		b = append(b, `,"experiment":{"name":`...)
		b = journal.AppendJSONString(b, d.Experiment.Name)
		b = append(b, `,"arm":`...)
		b = journal.AppendJSONString(b, d.Experiment.Arm)
		b = append(b, '}')
	}
	b = append(b, `,"actions":[`...)
	for i := range d.Actions {
		a := &d.Actions[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"action_id":`...)
		b = journal.AppendJSONString(b, a.ActionID)
		b = append(b, `,"score":`...)
		b, _ = journal.AppendJSONFloat(b, a.Score)
		b = append(b, `,"propensity":`...)
		b, _ = journal.AppendJSONFloat(b, a.Propensity)
		b = append(b, '}')
	}
	b = append(b, `],"fallback":`...)
	b = strconv.AppendBool(b, d.Fallback)
	return append(b, '}')
}

// Limits on request fields.
const (
	maxIDLen       = 256
	maxTypeLen     = 64
	maxCandidates  = 1000
	maxContextKeys = 128
	defaultLimit   = 1
)

var typePattern = regexp.MustCompile(`^[a-z][a-z0-9_.:-]*$`)

// fieldError is bad input that names the offending field; status is the
// HTTP status to answer with.
type fieldError struct {
	status int
	code   string
	field  string
	reason string
}

func (e *fieldError) Error() string {
	if e.field == "" {
		return e.reason
	}
	return e.field + ": " + e.reason
}

func badField(field, format string, args ...any) *fieldError {
	return &fieldError{status: 400, code: "invalid_argument", field: field, reason: fmt.Sprintf(format, args...)}
}

// decodeJSON decodes one JSON object from body into v and maps the JSON
// package's errors to a fieldError naming the field.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badField("", "request body is empty: a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // free-form values: numbers are checked and converted by checkValues
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				return badField("", "request body must be a JSON object, not %s", te.Value)
			}
			return badField(field, "must be %s, not %s", jsonKind(te.Type.String()), te.Value)
		case errors.As(err, &se):
			return badField("", "malformed JSON at byte %d: %v", se.Offset, se)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return badField("", "malformed JSON: unexpected end of input")
		}
		return badField("", "malformed JSON: %v", err)
	}
	if dec.More() {
		return badField("", "malformed JSON: data after the object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badField("", "malformed JSON: data after the object")
	}
	return nil
}

func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "map"):
		return "an object"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "string":
		return "a string"
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "float"):
		return "a number"
	case goType == "bool":
		return "a boolean"
	}
	return goType
}

func checkID(field, v string) *fieldError {
	switch {
	case v == "":
		return badField(field, "is required and must not be empty")
	case len(v) > maxIDLen:
		return badField(field, "must be at most %d bytes", maxIDLen)
	case strings.TrimSpace(v) != v:
		return badField(field, "must not start or end with white space")
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return badField(field, "must not contain control characters")
		}
	}
	return nil
}

// checkValues converts the json.Numbers of a free-form object (context,
// properties) to float64 in place, refusing numbers that do not fit a
// finite float64 (such as 1e999) and nesting deeper than 4, naming the
// field.
func checkValues(field string, m map[string]any, depth int) *fieldError {
	if len(m) > maxContextKeys {
		return badField(field, "must have at most %d keys", maxContextKeys)
	}
	for k, v := range m {
		nv, err := checkValue(field+"."+k, v, depth)
		if err != nil {
			return err
		}
		m[k] = nv
	}
	return nil
}

func checkValue(field string, v any, depth int) (any, *fieldError) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, badField(field, "must be a finite number")
		}
		return f, nil
	case map[string]any:
		if depth >= 4 {
			return nil, badField(field, "is nested too deeply")
		}
		return x, checkValues(field, x, depth+1)
	case []any:
		if depth >= 4 {
			return nil, badField(field, "is nested too deeply")
		}
		for i, e := range x {
			ne, err := checkValue(fmt.Sprintf("%s[%d]", field, i), e, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = ne
		}
	}
	return v, nil
}

// parseDecide decodes and validates the syntax of a decide request (the
// engine checks what needs the catalog: channel, candidates, limit range).
func parseDecide(body []byte, r *decideRequest) error {
	*r = decideRequest{}
	if err := decodeJSON(body, r); err != nil {
		return err
	}
	if err := checkID("customer_id", r.CustomerID); err != nil {
		return err
	}
	if r.Channel == "" {
		return badField("channel", "is required and must not be empty")
	}
	if r.RequestID != "" {
		if err := checkID("request_id", r.RequestID); err != nil {
			return err
		}
	}
	if len(r.Candidates) > maxCandidates {
		return badField("candidates", "must have at most %d entries", maxCandidates)
	}
	for i, c := range r.Candidates {
		if c == "" {
			return badField(fmt.Sprintf("candidates[%d]", i), "must not be empty")
		}
	}
	if err := checkValues("context", r.Context, 0); err != nil {
		return err
	}
	return nil
}

func (r *decideRequest) limit() int {
	if r.Limit == nil {
		return defaultLimit
	}
	return *r.Limit
}

// parseOutcome decodes and validates an outcome.
func parseOutcome(body []byte, r *outcomeRequest, now time.Time) (time.Time, error) {
	*r = outcomeRequest{}
	if err := decodeJSON(body, r); err != nil {
		return time.Time{}, err
	}
	if err := checkID("decision_id", r.DecisionID); err != nil {
		return time.Time{}, err
	}
	if err := checkID("action_id", r.ActionID); err != nil {
		return time.Time{}, err
	}
	if r.Reward == nil {
		return time.Time{}, badField("reward", "is required (a number, e.g. 1 for a conversion)")
	}
	if math.IsNaN(*r.Reward) || math.IsInf(*r.Reward, 0) {
		return time.Time{}, badField("reward", "must be a finite number")
	}
	if r.Type == "" {
		r.Type = "conversion"
	}
	if len(r.Type) > maxTypeLen || !typePattern.MatchString(r.Type) {
		return time.Time{}, badField("type", "must be a lower-case name like \"click\" or \"conversion\"")
	}
	return parseTS("ts", r.TS, now)
}

// parseEvent decodes and validates a journey event.
func parseEvent(body []byte, r *eventRequest, now time.Time) (time.Time, error) {
	*r = eventRequest{}
	if err := decodeJSON(body, r); err != nil {
		return time.Time{}, err
	}
	if err := checkID("customer_id", r.CustomerID); err != nil {
		return time.Time{}, err
	}
	if r.Type == "" {
		return time.Time{}, badField("type", "is required and must not be empty")
	}
	if len(r.Type) > maxTypeLen || !typePattern.MatchString(r.Type) {
		return time.Time{}, badField("type", "must be a lower-case name like \"cart_abandoned\"")
	}
	if r.Channel != "" && (len(r.Channel) > maxTypeLen || !typePattern.MatchString(r.Channel)) {
		return time.Time{}, badField("channel", "must be a lower-case name like \"web\"")
	}
	if err := checkValues("properties", r.Properties, 0); err != nil {
		return time.Time{}, err
	}
	return parseTS("ts", r.TS, now)
}

// maxClockSkew is how far in the future a client timestamp may be.
const maxClockSkew = 5 * time.Minute

func parseTS(field, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badField(field, "must be an RFC 3339 time such as 2026-11-22T10:00:00Z")
	}
	if t.After(now.Add(maxClockSkew)) {
		return time.Time{}, badField(field, "is in the future")
	}
	if t.Year() < 2000 {
		return time.Time{}, badField(field, "is before the year 2000")
	}
	return t.UTC(), nil
}
