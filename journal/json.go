package journal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// AppendDecision appends the JSON encoding of d to dst. It is the decision
// hot path's encoder: the same document encoding/json would write (map
// keys sorted, times in RFC 3339 with nanoseconds), without reflection.
// Values in Context and Profile may be string, float64, int, bool, nil,
// map[string]any or []any; anything else is encoded with encoding/json.
// A non-finite number is an error, as in encoding/json.
func AppendDecision(dst []byte, d *Decision) ([]byte, error) {
	e := encoder{b: dst}
	e.b = append(e.b, `{"v":`...)
	v := d.V
	if v == 0 {
		v = SchemaVersion
	}
	e.b = strconv.AppendInt(e.b, int64(v), 10)
	e.key("decision_id")
	e.str(d.DecisionID)
	if d.RequestID != "" {
		e.key("request_id")
		e.str(d.RequestID)
	}
	e.key("customer_id")
	e.str(d.CustomerID)
	e.key("channel")
	e.str(d.Channel)
	e.key("ts")
	e.time(d.Time)
	if len(d.Context) > 0 {
		e.key("context")
		e.object(d.Context)
	}
	if len(d.Profile) > 0 {
		e.key("profile")
		e.object(d.Profile)
	}
	e.key("policy")
	e.str(d.Policy)
	e.key("feature_spec")
	e.str(d.FeatureSpec)
	if d.Explorer != "" {
		e.key("explorer")
		e.str(d.Explorer)
	}
	if d.Experiment != nil {
		e.key("experiment")
		e.b = append(e.b, `{"name":`...)
		e.str(d.Experiment.Name)
		e.b = append(e.b, `,"arm":`...)
		e.str(d.Experiment.Arm)
		if d.Experiment.Covariate != 0 {
			e.b = append(e.b, `,"covariate":`...)
			e.float(d.Experiment.Covariate)
		}
		e.b = append(e.b, '}')
	}
	e.key("eligible")
	if d.Eligible == nil {
		e.b = append(e.b, "null"...)
	} else {
		e.b = append(e.b, '[')
		for i, id := range d.Eligible {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.str(id)
		}
		e.b = append(e.b, ']')
	}
	e.key("actions")
	if d.Actions == nil {
		e.b = append(e.b, "null"...)
	} else {
		e.b = append(e.b, '[')
		for i := range d.Actions {
			a := &d.Actions[i]
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.b = append(e.b, `{"action_id":`...)
			e.str(a.ActionID)
			e.b = append(e.b, `,"slot":`...)
			e.b = strconv.AppendInt(e.b, int64(a.Slot), 10)
			e.b = append(e.b, `,"score":`...)
			e.float(a.Score)
			e.b = append(e.b, `,"estimate":`...)
			e.float(a.Estimate)
			e.b = append(e.b, `,"propensity":`...)
			e.float(a.Propensity)
			e.b = append(e.b, '}')
		}
		e.b = append(e.b, ']')
	}
	if d.Fallback {
		e.b = append(e.b, `,"fallback":true`...)
	}
	if d.Degenerate {
		e.b = append(e.b, `,"degenerate":true`...)
	}
	if d.DeferActivation {
		e.b = append(e.b, `,"defer_activation":true`...)
	}
	if sh := d.Shadow; sh != nil {
		e.key("shadow")
		e.b = append(e.b, `{"policy":`...)
		e.str(sh.Policy)
		e.b = append(e.b, `,"action":`...)
		e.str(sh.Action)
		e.b = append(e.b, `,"probabilities":[`...)
		for i, p := range sh.Probabilities {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.float(p)
		}
		e.b = append(e.b, ']', '}')
	}
	if len(d.Explanation) > 0 {
		e.key("explanation")
		var cb bytes.Buffer // compacted, as encoding/json writes a RawMessage
		if err := json.Compact(&cb, d.Explanation); err != nil {
			return e.b, fmt.Errorf("%w: decision %q: the explanation is not valid JSON: %w", ErrBadPayload, d.DecisionID, err)
		}
		e.b = append(e.b, cb.Bytes()...)
	}
	e.b = append(e.b, '}')
	return e.b, e.err
}

// AppendEvent appends the JSON encoding of e to dst: the document
// encoding/json writes, without reflection (imports journal many events
// at once). Property values are as in AppendDecision's Context.
func AppendEvent(dst []byte, e *Event) ([]byte, error) {
	enc := encoder{b: dst}
	enc.b = append(enc.b, `{"v":`...)
	enc.b = strconv.AppendInt(enc.b, int64(e.V), 10)
	enc.key("customer_id")
	enc.str(e.CustomerID)
	enc.key("type")
	enc.str(e.Type)
	if e.Channel != "" {
		enc.key("channel")
		enc.str(e.Channel)
	}
	enc.key("ts")
	enc.time(e.Time)
	if len(e.Properties) > 0 {
		enc.key("properties")
		enc.object(e.Properties)
	}
	enc.b = append(enc.b, '}')
	return enc.b, enc.err
}

type encoder struct {
	b   []byte
	err error
}

func (e *encoder) key(k string) {
	e.b = append(e.b, ',', '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

func (e *encoder) time(t time.Time) {
	if y := t.Year(); y < 0 || y >= 10000 {
		e.fail(fmt.Errorf("journal: time %v out of range", t))
		return
	}
	e.b = append(e.b, '"')
	e.b = t.AppendFormat(e.b, time.RFC3339Nano)
	e.b = append(e.b, '"')
}

// float writes f as encoding/json does (shortest representation that
// reads back exactly; exponent form outside [1e-6, 1e21)).
func (e *encoder) float(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		e.fail(fmt.Errorf("journal: unsupported value %v", f))
		e.b = append(e.b, '0')
		return
	}
	abs := math.Abs(f)
	fmtc := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtc = 'e'
	}
	n := len(e.b)
	e.b = strconv.AppendFloat(e.b, f, fmtc, -1, 64)
	if fmtc == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		m := len(e.b)
		if m-n >= 4 && e.b[m-4] == 'e' && e.b[m-3] == '-' && e.b[m-2] == '0' {
			e.b[m-2] = e.b[m-1]
			e.b = e.b[:m-1]
		}
	}
}

func (e *encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

var keyPool = sync.Pool{New: func() any { s := make([]string, 0, 32); return &s }}

func (e *encoder) object(m map[string]any) {
	if m == nil {
		e.b = append(e.b, "null"...)
		return
	}
	kp := keyPool.Get().(*[]string)
	keys := (*kp)[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.b = append(e.b, '{')
	for i, k := range keys {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.str(k)
		e.b = append(e.b, ':')
		e.value(m[k])
	}
	e.b = append(e.b, '}')
	clear(keys)
	*kp = keys[:0]
	keyPool.Put(kp)
}

func (e *encoder) value(v any) {
	switch x := v.(type) {
	case nil:
		e.b = append(e.b, "null"...)
	case string:
		e.str(x)
	case float64:
		e.float(x)
	case int:
		e.b = strconv.AppendInt(e.b, int64(x), 10)
	case int64:
		e.b = strconv.AppendInt(e.b, x, 10)
	case bool:
		e.b = strconv.AppendBool(e.b, x)
	case map[string]any:
		e.object(x)
	case []any:
		e.b = append(e.b, '[')
		for i, y := range x {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.value(y)
		}
		e.b = append(e.b, ']')
	default:
		b, err := json.Marshal(x)
		if err != nil {
			e.fail(err)
			e.b = append(e.b, "null"...)
			return
		}
		e.b = append(e.b, b...)
	}
}

const hexDigits = "0123456789abcdef"

// str writes s as a JSON string; invalid UTF-8 becomes U+FFFD, as in
// encoding/json.
func (e *encoder) str(s string) {
	b := append(e.b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	e.b = append(b, '"')
}

// AppendJSONString appends s as a JSON string (see AppendDecision).
func AppendJSONString(dst []byte, s string) []byte {
	e := encoder{b: dst}
	e.str(s)
	return e.b
}

// AppendJSONFloat appends f as a JSON number, as encoding/json writes it.
// A non-finite f is an error.
func AppendJSONFloat(dst []byte, f float64) ([]byte, error) {
	e := encoder{b: dst}
	e.float(f)
	return e.b, e.err
}
