package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"nextbest/features"
	"nextbest/internal/logthrottle"
	"nextbest/journal"
	"nextbest/logs"
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
	// DeferActivation: the actions are not shown yet; the channel
	// activates what it shows (POST /v1/decisions/{id}/activate)
	DeferActivation bool `json:"defer_activation"`
	// Slots declares the slots, each with context of its own
	// (decide.Slot); limit defaults to their number
	Slots []slotWire `json:"slots"`
}

// slotWire is one declared slot of a decide request.
type slotWire struct {
	ID      string         `json:"id"`
	Context map[string]any `json:"context"`
}

// outcomeRequest is the body of POST /v1/outcomes.
type outcomeRequest struct {
	DecisionID string   `json:"decision_id"`
	ActionID   string   `json:"action_id"`
	Reward     *float64 `json:"reward"`
	Type       string   `json:"type"`
	TS         string   `json:"ts"`
	// OutcomeID, optional, identifies the outcome for de-duplication.
	OutcomeID string `json:"outcome_id"`
	// Slate, instead of ActionID, gives the reward for the whole slate:
	// it is split over the returned slots (logs.SlateShares).
	Slate bool `json:"slate"`
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
	DecisionID string          `json:"decision_id"`
	Policy     string          `json:"policy"`
	Experiment *experimentWire `json:"experiment,omitempty"`
	Actions    []actionWire    `json:"actions"`
	Fallback   bool            `json:"fallback"`
	// DeferActivation echoes the request's: the decision awaits its
	// activation
	DeferActivation bool            `json:"defer_activation,omitempty"`
	Explain         json.RawMessage `json:"explain,omitempty"`
}

type experimentWire struct {
	Name string `json:"name"`
	Arm  string `json:"arm"`
}

type actionWire struct {
	ActionID   string  `json:"action_id"`
	Score      float64 `json:"score"`
	Propensity float64 `json:"propensity"`
	// SlotID is the declared slot's id (decisions with slots only)
	SlotID string `json:"slot_id,omitempty"`
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
	resp := decideResponse{DecisionID: d.DecisionID, Policy: d.Policy, Fallback: d.Fallback, DeferActivation: d.DeferActivation,
		Actions: make([]actionWire, 0, len(d.Actions))}
	if d.Experiment != nil {
		resp.Experiment = &experimentWire{Name: d.Experiment.Name, Arm: d.Experiment.Arm}
	}
	for _, a := range d.Actions {
		resp.Actions = append(resp.Actions, actionWire{ActionID: a.ActionID, Score: a.Score, Propensity: a.Propensity, SlotID: slotID(d, a.Slot)})
	}
	return resp
}

// slotID is the id of slot k of d, "" when d declared no slots.
func slotID(d *journal.Decision, k int) string {
	if k < 0 || k >= len(d.Slots) {
		return ""
	}
	return d.Slots[k].ID
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
		if id := slotID(d, a.Slot); id != "" {
			b = append(b, `,"slot_id":`...)
			b = journal.AppendJSONString(b, id)
		}
		b = append(b, '}')
	}
	b = append(b, `],"fallback":`...)
	b = strconv.AppendBool(b, d.Fallback)
	if d.DeferActivation {
		b = append(b, `,"defer_activation":true`...)
	}
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
//
// The decoder is encoding/json/v2's (github.com/go-json-experiment/json):
// unlike encoding/json it refuses a duplicate key (which one would win is
// a guess between us and any proxy that read the body before us) and a
// string that is not valid UTF-8 (encoding/json rewrites it to U+FFFD, so
// two distinct ids could become one). Object keys match struct fields
// exactly, not case-insensitively. Numbers in free-form objects decode to
// float64; one too large for a float64 is refused here, and checkValues
// bounds the rest.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badField("", "request body is empty: a JSON object is required")
	}
	err := jsonv2.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var se *jsonv2.SemanticError
	var xe *jsontext.SyntacticError
	switch {
	case errors.As(err, &xe):
		return syntaxError(body, xe)
	case errors.As(err, &se):
		field := pointerField(se.JSONPointer)
		switch {
		case field == "":
			return badField("", "request body must be a JSON object, not %s", kindName(se.JSONKind))
		case se.JSONKind == '0' && errors.Is(se.Err, strconv.ErrRange):
			return badField(field, "must be a finite number")
		case se.JSONKind == '0' && se.GoType != nil && strings.Contains(se.GoType.String(), "int"):
			return badField(field, "must be an integer, not number %s", se.JSONValue)
		case se.GoType != nil:
			return badField(field, "must be %s, not %s", jsonKind(se.GoType.String()), kindName(se.JSONKind))
		}
		return badField(field, "cannot be decoded: %v", se.Err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badField("", "malformed JSON: unexpected end of input")
	}
	return badField("", "malformed JSON: %v", err)
}

// syntaxError maps a syntax error of the JSON decoder. Duplicate keys and
// invalid UTF-8 name the field; other syntax errors name none.
func syntaxError(body []byte, e *jsontext.SyntacticError) *fieldError {
	switch {
	case e.Err == jsontext.ErrDuplicateName:
		// the pointer ends with the repeated key
		return badField(pointerField(e.JSONPointer), "duplicate key: each key may appear once in an object")
	case e.Err != nil && (e.Err.Error() == "invalid UTF-8" || strings.Contains(e.Err.Error(), "surrogate")):
		// invalid bytes, or an escaped unpaired surrogate (\ud800), which
		// encoding/json would also have turned into U+FFFD (the decoder
		// exports neither error)
		field := pointerField(e.JSONPointer)
		if inKey(body, e.ByteOffset) {
			// the pointer names the object; the key itself cannot be
			// quoted back as UTF-8
			if field == "" {
				return badField("", "a key is not valid UTF-8")
			}
			return badField(field, "has a key that is not valid UTF-8")
		}
		return badField(field, "must be valid UTF-8")
	case errors.Is(e.Err, io.ErrUnexpectedEOF):
		return badField("", "malformed JSON: unexpected end of input")
	case e.Err != nil && strings.Contains(e.Err.Error(), "after top-level value"):
		return badField("", "malformed JSON: data after the object")
	}
	return badField("", "malformed JSON at byte %d: %v", e.ByteOffset, e.Err)
}

// inKey reports whether the byte at off, inside a JSON string, is in an
// object key: the string is followed by a colon.
func inKey(body []byte, off int64) bool {
	if off < 0 || off >= int64(len(body)) {
		return false
	}
	i := int(off)
	for ; i < len(body) && body[i] != '"'; i++ {
		if body[i] == '\\' {
			i++
		}
	}
	for i++; i < len(body); i++ {
		switch body[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case ':':
			return true
		}
		return false
	}
	return false
}

// pointerField spells a JSON pointer the way our errors name fields:
// "/context/cart_value" is "context.cart_value", "/candidates/1" is
// "candidates[1]".
func pointerField(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		switch {
		case isIndex(tok):
			b.WriteString("[" + tok + "]")
		case b.Len() == 0:
			b.WriteString(tok)
		default:
			b.WriteString("." + tok)
		}
	}
	return b.String()
}

func isIndex(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return false
		}
	}
	return true
}

// kindName names the JSON kind k as encoding/json's type errors did.
func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "a JSON value"
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

// checkValues checks the values of a free-form object (context,
// properties): numbers finite and within ±features.MaxNumber, at most
// maxContextKeys keys per object, nesting no deeper than 4. The error
// names the field.
func checkValues(field string, m map[string]any, depth int) *fieldError {
	if len(m) > maxContextKeys {
		return badField(field, "must have at most %d keys", maxContextKeys)
	}
	for k, v := range m {
		if err := checkValue(field+"."+k, v, depth); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(field string, v any, depth int) *fieldError {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return badField(field, "must be a finite number")
		}
		if math.Abs(x) > features.MaxNumber {
			return badField(field, "must be between -1e9 and 1e9")
		}
	case map[string]any:
		if depth >= 4 {
			return badField(field, "is nested too deeply")
		}
		return checkValues(field, x, depth+1)
	case []any:
		if depth >= 4 {
			return badField(field, "is nested too deeply")
		}
		for i, e := range x {
			if err := checkValue(fmt.Sprintf("%s[%d]", field, i), e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
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
	for i, sl := range r.Slots {
		field := fmt.Sprintf("slots[%d]", i)
		if err := checkID(field+".id", sl.ID); err != nil {
			return err
		}
		for _, o := range r.Slots[:i] {
			if o.ID == sl.ID {
				return badField(field+".id", "duplicates slot id %q", sl.ID)
			}
		}
		if err := checkValues(field+".context", sl.Context, 0); err != nil {
			return err
		}
	}
	return nil
}

// limit is the request's limit: as given, else the number of declared
// slots, else defaultLimit. (The engine refuses a limit given with slots
// that is not their number.)
func (r *decideRequest) limit() int {
	switch {
	case r.Limit != nil:
		return *r.Limit
	case len(r.Slots) > 0:
		return len(r.Slots)
	}
	return defaultLimit
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
	switch {
	case r.Slate && r.ActionID != "":
		return time.Time{}, badField("action_id", "give action_id (one slot's outcome) or \"slate\": true (the whole slate's), not both")
	case !r.Slate:
		if err := checkID("action_id", r.ActionID); err != nil {
			return time.Time{}, err
		}
	}
	if r.Reward == nil {
		return time.Time{}, badField("reward", "is required (a number, e.g. 1 for a conversion)")
	}
	// JSON has no NaN or infinity, and decodeJSON refuses a number a
	// float64 cannot hold: the bound is what is left to check
	if logs.CheckReward(*r.Reward) != nil {
		return time.Time{}, badField("reward", "must be a finite number between -%g and %g", float64(logs.MaxReward), float64(logs.MaxReward))
	}
	if r.Type == "" {
		r.Type = "conversion"
	}
	if len(r.Type) > maxTypeLen || !typePattern.MatchString(r.Type) {
		return time.Time{}, badField("type", "must be a lower-case name like \"click\" or \"conversion\"")
	}
	ts, err := parseTS("ts", r.TS, now)
	if err != nil {
		return time.Time{}, err
	}
	if r.OutcomeID != "" {
		if err := checkID("outcome_id", r.OutcomeID); err != nil {
			return time.Time{}, err
		}
	}
	return ts, nil
}

// parseEvent decodes and validates a journey event.
func parseEvent(body []byte, r *eventRequest, now time.Time) (time.Time, error) {
	*r = eventRequest{}
	if err := decodeJSON(body, r); err != nil {
		return time.Time{}, err
	}
	return checkEvent(r, now)
}

// checkEvent validates the syntax of a decoded event and returns its
// time (now when it has none): the one rule for POST /v1/events and each
// row of POST /v1/profiles:batch. The errors name the event's fields
// ("customer_id", "properties.age").
func checkEvent(r *eventRequest, now time.Time) (time.Time, error) {
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

// contextFields is what the context-key check needs of the feature spec.
type contextFields interface {
	HasContextField(name string) bool
	ContextFields() []string
}

// checkContextKeys refuses a context key that the feature spec does not
// declare (a typo such as "cart_vlaue" would otherwise be ignored by the
// model and journaled as if it meant something) with 422 naming the key,
// the first in byte order, and suggesting the closest declared one. With
// drop, the undeclared keys are deleted from ctx instead; first is the
// first of them and n how many there were.
func checkContextKeys(spec contextFields, ctx map[string]any, drop bool) (first string, n int, err *fieldError) {
	for k := range ctx {
		if spec.HasContextField(k) {
			continue
		}
		if n == 0 || k < first {
			first = k
		}
		n++
		if drop {
			delete(ctx, k)
		}
	}
	if n == 0 || drop {
		return first, n, nil
	}
	reason := "is not a context field of the feature spec (vector.context)"
	if near := closest(first, spec.ContextFields()); near != "" {
		reason += fmt.Sprintf("; did you mean %q?", near)
	}
	if n > 1 {
		reason += fmt.Sprintf(" (%d undeclared keys in all)", n)
	}
	return first, n, &fieldError{status: 422, code: "unprocessable", field: "context." + first, reason: reason}
}

// closest returns the name of names nearest to s by edit distance, if
// one is near enough to be a likely typo: at most a third of its length,
// and at least 1, apart.
func closest(s string, names []string) string {
	best, bestD := "", 0
	for _, name := range names {
		d := editDistance(s, name)
		if d <= max(1, len(name)/3) && (best == "" || d < bestD) {
			best, bestD = name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// decodeDecide is parseDecide plus the context-key check against the
// service's feature spec (Config.AllowUndeclaredContext drops the keys
// instead, before the request is journaled, with a throttled warning).
func (s *Service) decodeDecide(body []byte, r *decideRequest) error {
	if err := parseDecide(body, r); err != nil {
		return err
	}
	key, n, err := checkContextKeys(s.spec, r.Context, s.cfg.AllowUndeclaredContext)
	if err != nil {
		return err
	}
	if n > 0 {
		s.undeclared.note(s.log, key, n)
	}
	// a slot's context is context: the same check
	for i := range r.Slots {
		key, n, err := checkContextKeys(s.spec, r.Slots[i].Context, s.cfg.AllowUndeclaredContext)
		if err != nil {
			err.field = fmt.Sprintf("slots[%d].", i) + err.field
			return err
		}
		if n > 0 {
			s.undeclared.note(s.log, key, n)
		}
	}
	return nil
}

// undeclaredLog counts the undeclared context keys dropped and warns about
// them at most once a minute. The zero value is ready to use.
type undeclaredLog struct {
	once  sync.Once
	limit *logthrottle.Throttle
	total atomic.Int64 // keys dropped since the start
}

func (u *undeclaredLog) note(log *slog.Logger, key string, n int) {
	total := u.total.Add(int64(n))
	u.once.Do(func() { u.limit = logthrottle.New(time.Minute) })
	if ok, held := u.limit.Allow("undeclared"); ok {
		log.Warn("dropped context keys the feature spec does not declare (allow_undeclared_context is on)",
			"example", key, "requests_since_last", held+1, "keys_total", total)
	}
}

// dropped is the number of undeclared context keys dropped since the
// start.
func (u *undeclaredLog) dropped() int64 { return u.total.Load() }

// jsonMediaType reports whether ct, a Content-Type header value, is
// application/json: the media type matched case-insensitively, any
// parameters allowed, except a charset other than UTF-8. Write endpoints
// require it: a browser page can post text/plain or a form to another
// origin without asking, but not application/json.
func jsonMediaType(ct []byte) bool {
	mt, params, _ := bytes.Cut(ct, []byte(";"))
	if !bytes.EqualFold(bytes.TrimSpace(mt), []byte("application/json")) {
		return false
	}
	for len(params) > 0 {
		var p []byte
		p, params, _ = bytes.Cut(params, []byte(";"))
		name, value, _ := bytes.Cut(p, []byte("="))
		if !bytes.EqualFold(bytes.TrimSpace(name), []byte("charset")) {
			continue
		}
		value = bytes.Trim(bytes.TrimSpace(value), `"`)
		if !bytes.EqualFold(value, []byte("utf-8")) && !bytes.EqualFold(value, []byte("utf8")) {
			return false
		}
	}
	return true
}
