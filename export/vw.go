package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"nextbest/journal"
	"nextbest/logs"
)

// A contextual-bandit example of a joined decision, as DSJSON and cb_adf
// write it: the candidate actions are the decision's eligible set, in the
// order the explorer saw it (then any shown action missing from it); the
// label is the first slot's action, its propensity and its cost (−reward).
type cbExample struct {
	actions []string  // candidates, "_multi" order
	shown   []int     // index in actions of each shown action, in slot order
	probs   []float64 // their propensities
	cost    float64
	prob    float64
}

// build fills e from j and reports whether j makes an example: it needs a
// shown first slot (logs.Joined.Shown) whose propensity is in (0, 1].
func (e *cbExample) build(j *logs.Joined) bool {
	d := &j.Decision
	if len(d.Actions) == 0 || !j.Shown(0) || !(d.Actions[0].Propensity > 0 && d.Actions[0].Propensity <= 1) || len(j.Rewards) == 0 {
		return false
	}
	e.actions = append(e.actions[:0], d.Eligible...)
	e.shown, e.probs = e.shown[:0], e.probs[:0]
	for i, a := range d.Actions {
		if !j.Shown(i) {
			continue // a slot of a deferred decision never activated
		}
		k := slices.Index(e.actions, a.ActionID)
		if k < 0 {
			k = len(e.actions)
			e.actions = append(e.actions, a.ActionID)
		}
		e.shown = append(e.shown, k)
		e.probs = append(e.probs, a.Propensity)
	}
	e.cost, e.prob = -j.Rewards[0], d.Actions[0].Propensity
	if e.cost == 0 {
		e.cost = 0 // not −0
	}
	return true
}

// dsjsonTime is DSJSON's timestamp layout (VW's "year-month-dayThh:mm:ss.ssssZ",
// seven decimals as Personalizer writes it), always UTC.
const dsjsonTime = "2006-01-02T15:04:05.0000000Z"

type dsjsonWriter struct {
	bw    *bufio.Writer
	ex    cbExample
	b     []byte
	feats map[string][]byte // action id → its features' JSON members, without braces
}

func newDSJSONWriter(w io.Writer, actions map[string]map[string]any) (*dsjsonWriter, error) {
	dw := &dsjsonWriter{bw: bufio.NewWriterSize(w, 256<<10), feats: make(map[string][]byte, len(actions))}
	for id, m := range actions {
		m = withoutID(m)
		if len(m) == 0 {
			continue
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("%w: features of action %q: %v", ErrBadOptions, id, err)
		}
		dw.feats[id] = b[1 : len(b)-1]
	}
	return dw, nil
}

// withoutID is m without an "id" key (the id is written from the log).
func withoutID(m map[string]any) map[string]any {
	if _, ok := m["id"]; !ok {
		return m
	}
	c := maps.Clone(m)
	delete(c, "id")
	return c
}

// write writes one DSJSON line: the label of the first slot
// ("_label_cost", "_label_probability", "_label_Action" 1-based,
// "_labelIndex" 0-based), "Timestamp", "Version", "EventId" (the decision
// id), "a" (the shown actions, 1-based into "_multi", in slot order), "c"
// ({"request":{"channel":C}}, context and profile, and the candidates in
// "_multi", each {"action":{"id":ID, its Options.ActionFeatures}}), "p"
// (the propensity of each action of "a" in its slot) and "VWState" ({"m":
// the policy}).
func (w *dsjsonWriter) write(j *logs.Joined) (int, error) {
	e := &w.ex
	if !e.build(j) {
		return 0, nil
	}
	d := &j.Decision
	b := append(w.b[:0], `{"_label_cost":`...)
	var err error
	if b, err = journal.AppendJSONFloat(b, e.cost); err != nil {
		return 0, fmt.Errorf("decision %q: cost: %w", d.DecisionID, err)
	}
	b = append(b, `,"_label_probability":`...)
	b, _ = journal.AppendJSONFloat(b, e.prob) // in (0, 1]
	b = append(b, `,"_label_Action":`...)
	b = strconv.AppendInt(b, int64(e.shown[0]+1), 10)
	b = append(b, `,"_labelIndex":`...)
	b = strconv.AppendInt(b, int64(e.shown[0]), 10)
	b = append(b, `,"Timestamp":"`...)
	b = d.Time.UTC().AppendFormat(b, dsjsonTime)
	b = append(b, `","Version":"1","EventId":`...)
	b = journal.AppendJSONString(b, d.DecisionID)
	b = append(b, `,"a":[`...)
	for i, k := range e.shown {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(k+1), 10)
	}
	b = append(b, `],"c":{"request":{"channel":`...)
	b = journal.AppendJSONString(b, d.Channel)
	b = append(b, '}')
	for _, ns := range [...]struct {
		name string
		m    map[string]any
	}{{"context", d.Context}, {"profile", d.Profile}} {
		if len(ns.m) == 0 {
			continue
		}
		obj, err := json.Marshal(ns.m)
		if err != nil {
			return 0, fmt.Errorf("decision %q: %s: %w", d.DecisionID, ns.name, err)
		}
		b = append(b, `,"`...)
		b = append(b, ns.name...)
		b = append(b, `":`...)
		b = append(b, obj...)
	}
	b = append(b, `,"_multi":[`...)
	for i, id := range e.actions {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"action":{"id":`...)
		b = journal.AppendJSONString(b, id)
		if f := w.feats[id]; f != nil {
			b = append(b, ',')
			b = append(b, f...)
		}
		b = append(b, "}}"...)
	}
	b = append(b, `]},"p":[`...)
	for i, p := range e.probs {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = journal.AppendJSONFloat(b, p); err != nil {
			return 0, fmt.Errorf("decision %q: propensity: %w", d.DecisionID, err)
		}
	}
	b = append(b, `],"VWState":{"m":`...)
	b = journal.AppendJSONString(b, d.Policy)
	b = append(b, "}}\n"...)
	w.b = b
	if _, err := w.bw.Write(b); err != nil {
		return 0, err
	}
	return 1, nil
}

func (w *dsjsonWriter) close() error { return w.bw.Flush() }

type cbadfWriter struct {
	bw    *bufio.Writer
	ex    cbExample
	b     []byte
	feats map[string][]byte // action id → " action.id=ID action.key=value ..." (sorted)
}

func newCBADFWriter(w io.Writer, actions map[string]map[string]any) *cbadfWriter {
	aw := &cbadfWriter{bw: bufio.NewWriterSize(w, 256<<10), feats: make(map[string][]byte, len(actions))}
	for id, m := range actions {
		if m = withoutID(m); len(m) > 0 {
			m = maps.Clone(m)
			m["id"] = id
			aw.feats[id] = appendFeature(nil, "action", m)
		}
	}
	return aw
}

// write writes one cb_adf example: a shared line with the namespaces
// context, profile and request (features named as DSJSON's reader
// flattens them: "request.channel=web", "context.page=cart",
// "profile.visits:3"), one line "|action action.id=ID" (and the action's
// Options.ActionFeatures) per candidate, the first slot's carrying the
// label "0:cost:probability", and a blank line.
func (w *cbadfWriter) write(j *logs.Joined) (int, error) {
	e := &w.ex
	if !e.build(j) {
		return 0, nil
	}
	d := &j.Decision
	b := append(w.b[:0], "shared"...)
	for _, ns := range [...]struct {
		name string
		m    map[string]any
	}{{"context", d.Context}, {"profile", d.Profile}} {
		if len(ns.m) == 0 {
			continue
		}
		b = append(b, " |"...)
		b = append(b, ns.name...)
		b = appendFeature(b, ns.name, ns.m)
	}
	b = append(b, " |request"...)
	b = appendFeature(b, "request.channel", d.Channel)
	b = append(b, '\n')
	for i, id := range e.actions {
		if i == e.shown[0] {
			b = append(b, "0:"...)
			b = strconv.AppendFloat(b, e.cost, 'g', -1, 64)
			b = append(b, ':')
			b = strconv.AppendFloat(b, e.prob, 'g', -1, 64)
			b = append(b, ' ')
		}
		if f, ok := w.feats[id]; ok {
			b = append(b, "|action"...)
			b = append(b, f...)
		} else {
			b = append(b, "|action action.id="...)
			b = appendName(b, id)
		}
		b = append(b, '\n')
	}
	b = append(b, '\n')
	w.b = b
	if _, err := w.bw.Write(b); err != nil {
		return 0, err
	}
	return 1, nil
}

func (w *cbadfWriter) close() error { return w.bw.Flush() }

// appendFeature appends " name[:value]" for each feature of JSON value v
// under name, as training's DSJSON reader flattens it: a number is a
// numeric feature, a string s the one-hot "name=s", true the feature name
// (value 1), false and null nothing; objects and arrays recurse with
// "name.key" and "name[i]" in sorted key order.
func appendFeature(b []byte, name string, v any) []byte {
	switch x := v.(type) {
	case float64:
		b = append(b, ' ')
		b = appendName(b, name)
		b = append(b, ':')
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case int:
		return appendFeature(b, name, float64(x))
	case string:
		b = append(b, ' ')
		b = appendName(b, name)
		b = append(b, '=')
		return appendName(b, x)
	case bool:
		if x {
			b = append(b, ' ')
			b = appendName(b, name)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			b = appendFeature(b, name+"."+k, x[k])
		}
	case []any:
		for i, e := range x {
			b = appendFeature(b, name+"["+strconv.Itoa(i)+"]", e)
		}
	}
	return b
}

// appendName appends s with the bytes VW's text format cannot hold in a
// feature name (white space, '|' and ':') replaced by '_'.
func appendName(b []byte, s string) []byte {
	if !strings.ContainsAny(s, " \t\r\n|:") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\r', '\n', '|', ':':
			c = '_'
		}
		b = append(b, c)
	}
	return b
}
