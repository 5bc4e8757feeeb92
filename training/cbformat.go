package training

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Feature is one named feature of a contextual-bandit example: namespace
// (the first letter of VW's namespace, e.g. 's' for |s or |shared; ' ' for
// the default), name and value (1 for a name without ":value").
type Feature struct {
	NS    byte
	Name  string
	Value float64
}

// CBExample is one logged contextual-bandit example in Vowpal Wabbit's
// action-dependent-features shape: shared features, one feature list per
// candidate action, and the label of the logged action.
type CBExample struct {
	Shared  []Feature
	Actions [][]Feature
	// Chosen is the index in Actions of the logged action, -1 if unlabelled.
	Chosen int
	// Cost is the logged action's cost (reward = −cost) and Prob the
	// probability the logging policy chose it.
	Cost, Prob float64
	// ActionIDs optionally names the actions (tabular sources); nil means
	// actions are known by position.
	ActionIDs []string
	// Time is when the decision was made (DSJSON "Timestamp"); zero when
	// the source does not say.
	Time time.Time
}

// Reward returns −Cost, the reward nextbest learns.
func (e *CBExample) Reward() float64 { return -e.Cost }

// cbLabel is a parsed "action:cost:probability" label.
type cbLabel struct {
	ok         bool
	shared     bool
	cost, prob float64
}

// parseADFLine parses one line of a VW cb_adf file: an optional label
// ("shared", or "action:cost:probability" / "cost:probability"-free "0:1:0.5"
// on the chosen action line), then namespaces "|name feat[:value] ...".
// It appends the features to dst and returns them with the label.
func parseADFLine(line string, dst []Feature) ([]Feature, cbLabel, error) {
	var lab cbLabel
	bar := strings.IndexByte(line, '|')
	if bar < 0 {
		return dst, lab, fmt.Errorf("no '|' namespace")
	}
	head := strings.Fields(line[:bar])
	for _, tok := range head {
		if tok == "shared" {
			lab.shared = true
			continue
		}
		if strings.HasPrefix(tok, "'") { // a tag
			continue
		}
		parts := strings.Split(tok, ":")
		if len(parts) != 3 || lab.ok {
			return dst, lab, fmt.Errorf("bad label %q (want action:cost:probability)", tok)
		}
		c, err1 := strconv.ParseFloat(parts[1], 64)
		p, err2 := strconv.ParseFloat(parts[2], 64)
		if err1 != nil || err2 != nil || math.IsNaN(c) || math.IsInf(c, 0) || !(p > 0 && p <= 1) {
			return dst, lab, fmt.Errorf("bad label %q (cost finite, probability in (0,1])", tok)
		}
		lab = cbLabel{ok: true, cost: c, prob: p}
	}
	for _, seg := range strings.Split(line[bar+1:], "|") {
		if seg == "" {
			continue
		}
		ns := byte(' ')
		if seg[0] != ' ' && seg[0] != '\t' {
			ns = seg[0]
		}
		fields := strings.Fields(seg)
		if ns != ' ' && len(fields) > 0 {
			fields = fields[1:] // the namespace name itself (and its optional :weight)
		}
		for _, f := range fields {
			name, val := f, 1.0
			if i := strings.LastIndexByte(f, ':'); i >= 0 {
				v, err := strconv.ParseFloat(f[i+1:], 64)
				if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
					return dst, lab, fmt.Errorf("bad feature value %q", f)
				}
				name, val = f[:i], v
			}
			if name == "" {
				return dst, lab, fmt.Errorf("empty feature name in %q", f)
			}
			dst = append(dst, Feature{NS: ns, Name: name, Value: val})
		}
	}
	return dst, lab, nil
}

// maxLine bounds one input line (cb_adf, DSJSON).
const maxLine = 16 << 20

// ReadCBADF reads a VW cb_adf text file and calls fn for each example: an
// optional "shared" line, one line per action, a blank line between
// examples. The chosen action's line carries "action:cost:probability".
// fn must not retain the example: it is reused. Errors wrap ErrParse with
// the line number. It runs on the byte-level parser of fastcb.go, which
// accepts exactly what readCBADFReference does.
func ReadCBADF(r io.Reader, fn func(*CBExample) error) error {
	return readCBADFFast(r, fn)
}

// readCBADFReference is the original strings-based reader, kept as the
// reference the fast parser is tested and fuzzed against.
func readCBADFReference(r io.Reader, fn func(*CBExample) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var (
		ex    CBExample
		lines int
		n     int
		start int
	)
	reset := func() { ex.Shared = ex.Shared[:0]; ex.Actions = ex.Actions[:0]; ex.Chosen = -1; lines = 0 }
	flush := func() error {
		if lines == 0 {
			return nil
		}
		if len(ex.Actions) == 0 {
			return fmt.Errorf("%w: line %d: example without actions", ErrParse, start)
		}
		if err := fn(&ex); err != nil {
			return err
		}
		reset()
		return nil
	}
	reset()
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		if lines == 0 {
			start = n
		}
		var (
			lab cbLabel
			err error
		)
		if lines == 0 && strings.HasPrefix(strings.TrimSpace(line), "shared") {
			ex.Shared, lab, err = parseADFLine(line, ex.Shared)
		} else {
			var feats []Feature
			if len(ex.Actions) < cap(ex.Actions) {
				feats = ex.Actions[:len(ex.Actions)+1][len(ex.Actions)][:0]
			}
			feats, lab, err = parseADFLine(line, feats)
			if err == nil && lab.shared {
				err = fmt.Errorf("'shared' line after an action line")
			}
			ex.Actions = append(ex.Actions, feats)
			if err == nil && lab.ok {
				if ex.Chosen >= 0 {
					err = fmt.Errorf("second labelled action in one example")
				}
				ex.Chosen, ex.Cost, ex.Prob = len(ex.Actions)-1, lab.cost, lab.prob
			}
		}
		if err != nil {
			return fmt.Errorf("%w: cb_adf line %d: %v", ErrParse, n, err)
		}
		lines++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: cb_adf line %d: %v", ErrParse, n+1, err)
	}
	return flush()
}

// dsjsonLine is the part of a DSJSON record nextbest reads.
type dsjsonLine struct {
	Cost      *float64        `json:"_label_cost"`
	Prob      *float64        `json:"_label_probability"`
	Index     *int            `json:"_labelIndex"`
	Timestamp string          `json:"Timestamp"`
	C         json.RawMessage `json:"c"`
	A         []int           `json:"a"`
	P         []float64       `json:"p"`
}

// parseDSJSON parses one DSJSON line (the JSON-lines decision log of VW and
// Azure Personalizer) into ex: "c" holds the shared context (every key not
// starting with '_') and "_multi", the list of actions; "_labelIndex" is
// the 0-based chosen action, "_label_cost" its cost and
// "_label_probability" its probability. When "_labelIndex" is missing the
// chosen action is a[0]−1 ("a" is 1-based) and the probability p[0].
// "Timestamp" (RFC 3339, as VW writes it) sets the example's Time.
// Objects are flattened: {"user":{"age":3,"tier":"gold"}} gives features
// "user.age"=3 and "user.tier=gold"=1 in namespace 'u' (the first letter
// of the top-level key).
func parseDSJSON(line []byte, ex *CBExample) error {
	var d dsjsonLine
	if err := json.Unmarshal(line, &d); err != nil {
		return err
	}
	var c map[string]any
	if len(d.C) == 0 {
		return fmt.Errorf("no context \"c\"")
	}
	if err := json.Unmarshal(d.C, &c); err != nil {
		return fmt.Errorf("context \"c\": %v", err)
	}
	ex.Shared, ex.Actions, ex.Chosen, ex.Time = ex.Shared[:0], ex.Actions[:0], -1, time.Time{}
	if d.Timestamp != "" {
		t, err := time.Parse(time.RFC3339, d.Timestamp)
		if err != nil {
			return fmt.Errorf("\"Timestamp\" %q is not an RFC 3339 time", d.Timestamp)
		}
		ex.Time = t.UTC()
	}
	keys := sortedKeys(c)
	for _, k := range keys {
		if k == "" || strings.HasPrefix(k, "_") {
			continue
		}
		ex.Shared = flatten(ex.Shared, k[0], k, c[k])
	}
	multi, _ := c["_multi"].([]any)
	if len(multi) == 0 {
		return fmt.Errorf("context has no \"_multi\" actions")
	}
	for _, a := range multi {
		var feats []Feature
		obj, ok := a.(map[string]any)
		if !ok {
			return fmt.Errorf("\"_multi\" entry is not an object")
		}
		for _, k := range sortedKeys(obj) {
			if k == "" || strings.HasPrefix(k, "_") && k != "_tag" {
				continue
			}
			feats = flatten(feats, k[0], k, obj[k])
		}
		ex.Actions = append(ex.Actions, feats)
	}
	switch {
	case d.Index != nil:
		ex.Chosen = *d.Index
	case len(d.A) > 0:
		ex.Chosen = d.A[0] - 1
	}
	if d.Cost == nil {
		ex.Chosen = -1 // not labelled (no reward arrived)
		return nil
	}
	if ex.Chosen < 0 || ex.Chosen >= len(ex.Actions) {
		return fmt.Errorf("chosen action %d not in [0, %d)", ex.Chosen, len(ex.Actions))
	}
	ex.Cost = *d.Cost
	switch {
	case d.Prob != nil:
		ex.Prob = *d.Prob
	case len(d.P) > 0:
		ex.Prob = d.P[0]
	}
	if math.IsNaN(ex.Cost) || math.IsInf(ex.Cost, 0) || !(ex.Prob > 0 && ex.Prob <= 1) {
		return fmt.Errorf("label cost %v probability %v (cost finite, probability in (0,1])", ex.Cost, ex.Prob)
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// flatten appends the features of JSON value v under name.
func flatten(dst []Feature, ns byte, name string, v any) []Feature {
	switch x := v.(type) {
	case float64:
		return append(dst, Feature{NS: ns, Name: name, Value: x})
	case string:
		return append(dst, Feature{NS: ns, Name: name + "=" + x, Value: 1})
	case bool:
		if x {
			return append(dst, Feature{NS: ns, Name: name, Value: 1})
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			dst = flatten(dst, ns, name+"."+k, x[k])
		}
	case []any:
		for i, e := range x {
			dst = flatten(dst, ns, name+"["+strconv.Itoa(i)+"]", e)
		}
	}
	return dst
}

// ReadDSJSON reads a DSJSON file (one JSON object per line) and calls fn
// for each example. Blank lines are skipped; errors wrap ErrParse with the
// line number. fn must not retain the example.
func ReadDSJSON(r io.Reader, fn func(*CBExample) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var ex CBExample
	n := 0
	for sc.Scan() {
		n++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		if err := parseDSJSON(b, &ex); err != nil {
			return fmt.Errorf("%w: dsjson line %d: %v", ErrParse, n, err)
		}
		if err := fn(&ex); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: dsjson line %d: %v", ErrParse, n+1, err)
	}
	return nil
}
