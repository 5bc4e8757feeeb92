package eval

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"nextbest/training"
)

// Decision log formats (LogFile.Format).
const (
	LogCSV     = "csv"
	LogParquet = "parquet"
	LogDSJSON  = "dsjson"
)

// LogColumns names the columns of a tabular decision log (CSV, Parquet).
// Empty names take the defaults, the columns nextbest export writes.
type LogColumns struct {
	// Action is the logged action's id (a string); default "action_id".
	Action string
	// Reward is the observed reward, a finite number; default "reward".
	Reward string
	// Propensity is the logging policy's probability of the logged
	// action, in (0, 1]; default "propensity".
	Propensity string
	// Slot, optional, is the slot of a multi-slot decision's row; when
	// the file has the column, only the rows of slot 0 are read (the
	// first slot, whose propensity is the marginal one). Default "slot".
	Slot string
	// Context lists the context columns, the features a rule reads and a
	// model is scored on; nil means every column not named above.
	Context []string
}

// A tabular log's column "ts", when present, is the decision's time (RFC
// 3339, or microseconds since 1970 as nextbest export's Parquet writes
// it), which a feature spec's time.hour and time.weekday read; it is a
// context column too.

func (c LogColumns) withDefaults() LogColumns {
	if c.Action == "" {
		c.Action = "action_id"
	}
	if c.Reward == "" {
		c.Reward = "reward"
	}
	if c.Propensity == "" {
		c.Propensity = "propensity"
	}
	if c.Slot == "" {
		c.Slot = "slot"
	}
	return c
}

// ParseLogColumns parses a column map in nextbest train's --columns
// syntax, "context=a,b;action=x;reward=y;propensity=p", plus "slot=s";
// every key is optional (LogColumns' defaults).
func ParseLogColumns(s string) (LogColumns, error) {
	var c LogColumns
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(v) == "" {
			return c, fmt.Errorf("%w: column map entry %q is not key=column", ErrInvalidOptions, part)
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "context":
			for _, col := range strings.Split(v, ",") {
				if col = strings.TrimSpace(col); col != "" {
					c.Context = append(c.Context, col)
				}
			}
		case "action":
			c.Action = v
		case "reward":
			c.Reward = v
		case "propensity":
			c.Propensity = v
		case "slot":
			c.Slot = v
		default:
			return c, fmt.Errorf("%w: unknown column map key %q (context, action, reward, propensity, slot)", ErrInvalidOptions, k)
		}
	}
	return c, nil
}

// LogFile is a decision log of a data scientist's own, to evaluate a
// policy on (ReadLog): one row (CSV, Parquet) or line (DSJSON) per
// decision, with the logged action's string id, its propensity, the
// reward and the context.
type LogFile struct {
	Format  string // LogCSV, LogParquet or LogDSJSON
	Path    string
	Columns LogColumns // CSV and Parquet
	// Actions, for the tabular formats, is every decision's candidate
	// set; nil means every action id the file logs, in order of first
	// appearance. A DSJSON line lists its own candidates ("_multi").
	Actions []string
}

// LoggedDecision is one decision of a log file.
type LoggedDecision struct {
	// Example holds the context features (Shared, named as the training
	// readers name them: "context.page=cart", "context.cart_value"),
	// every candidate as an action (its features; for the tabular
	// formats only "action.id=ID"), the logged one (Chosen), its cost
	// (−reward) and propensity (Prob), and the time when known.
	Example training.CBExample
	// IDs are the candidates' action ids, in the order of
	// Example.Actions.
	IDs []string
	// Vars is the context by name ("context.page": "cart",
	// "context.cart_value": 80), for rules.
	Vars map[string]any
	// Line is the decision's data row (tabular, 1 the first after the
	// header) or line (DSJSON) in the file.
	Line int
}

// Reward is the logged action's reward.
func (d *LoggedDecision) Reward() float64 { return -d.Example.Cost }

// LogData is a decision log read into memory.
type LogData struct {
	Source    string
	Decisions []LoggedDecision
	// Names are the context names the decisions carry, sorted.
	Names []string
	// Actions are every candidate id, in order of first appearance.
	Actions []string
	// LaterSlots counts the rows of slots after the first, skipped;
	// Unlabeled the DSJSON decisions without a reward, skipped.
	LaterSlots, Unlabeled int
}

// ColumnError is a column of a log file that cannot be used: missing
// (Row 0) or holding a value that is not what its role needs. It wraps
// ErrFormat.
type ColumnError struct {
	Path   string
	Column string
	// Role is what the column was to give: "action", "reward",
	// "propensity", "slot", "context", or "rule" (a name a rule reads).
	Role   string
	Row    int
	Reason string
	// Have are the file's columns, for a missing one.
	Have []string
}

func (e *ColumnError) Error() string {
	if e.Row == 0 {
		have := listNames(e.Have)
		if e.Role == "rule" {
			return fmt.Sprintf("eval: %s: the rule reads %q, which is no column of the log (it has: %s)", e.Path, e.Column, have)
		}
		return fmt.Sprintf("eval: %s: no %s column %q (the file has: %s)", e.Path, e.Role, e.Column, have)
	}
	return fmt.Sprintf("eval: %s row %d: %s column %q: %s", e.Path, e.Row, e.Role, e.Column, e.Reason)
}

// Unwrap returns ErrFormat.
func (e *ColumnError) Unwrap() error { return ErrFormat }

func listNames(names []string) string {
	const most = 30
	if len(names) > most {
		return strings.Join(names[:most], ", ") + fmt.Sprintf(" and %d more", len(names)-most)
	}
	return strings.Join(names, ", ")
}

// ReadLog reads a decision log into memory. Tabular files (CSV with a
// header row, Parquet with a flat schema) give one decision per row: a
// context cell that parses as a number is a numeric feature, any other
// a categorical one (name=value), an empty one is missing, and a JSON
// object (the context and profile columns of nextbest export) is
// flattened to name.key; a column "channel" (export's) gives
// request.channel. DSJSON gives one decision per labelled line, read as
// nextbest train reads it (training.ReadDSJSON). Errors: a
// *ColumnError for a column that is missing or holds an unusable value,
// or errors wrapping ErrFormat.
func ReadLog(f LogFile) (*LogData, error) {
	data := &LogData{Source: f.Format + " " + f.Path}
	var err error
	switch f.Format {
	case LogCSV, LogParquet:
		err = readTabular(f, data)
	case LogDSJSON:
		err = readDSJSONLog(f, data)
	default:
		return nil, fmt.Errorf("%w: unknown log format %q (csv, parquet, dsjson)", ErrInvalidOptions, f.Format)
	}
	if err != nil {
		return nil, err
	}
	if len(data.Decisions) == 0 {
		return nil, fmt.Errorf("%w: %s has no decisions to evaluate", ErrTooFewRounds, f.Path)
	}
	seen := map[string]bool{}
	for i := range data.Decisions {
		for name := range data.Decisions[i].Vars {
			if !seen[name] {
				seen[name] = true
				data.Names = append(data.Names, name)
			}
		}
	}
	slices.Sort(data.Names)
	return data, nil
}

// tabularCols is a tabular file's header resolved to roles.
type tabularCols struct {
	act, rew, prop, slot int
	ts                   int // the decision's time, -1 if none
	ctx                  []int
	names                []string
}

func resolveColumns(path string, header []string, c LogColumns) (*tabularCols, error) {
	pos := make(map[string]int, len(header))
	for i, h := range header {
		pos[strings.TrimSpace(h)] = i
	}
	tc := &tabularCols{slot: -1, ts: -1, names: header}
	if i, ok := pos["ts"]; ok {
		tc.ts = i
	}
	find := func(col, role string) (int, error) {
		i, ok := pos[col]
		if !ok {
			return 0, &ColumnError{Path: path, Column: col, Role: role, Have: header}
		}
		return i, nil
	}
	var err error
	if tc.act, err = find(c.Action, "action"); err != nil {
		return nil, err
	}
	if tc.rew, err = find(c.Reward, "reward"); err != nil {
		return nil, err
	}
	if tc.prop, err = find(c.Propensity, "propensity"); err != nil {
		return nil, err
	}
	if i, ok := pos[c.Slot]; ok {
		tc.slot = i
	}
	if c.Context != nil {
		for _, col := range c.Context {
			i, err := find(col, "context")
			if err != nil {
				return nil, err
			}
			tc.ctx = append(tc.ctx, i)
		}
		return tc, nil
	}
	for i := range header {
		if i != tc.act && i != tc.rew && i != tc.prop && i != tc.slot {
			tc.ctx = append(tc.ctx, i)
		}
	}
	return tc, nil
}

func readTabular(f LogFile, data *LogData) error {
	c := f.Columns.withDefaults()
	var tc *tabularCols
	ids := map[string]int{}
	for _, id := range f.Actions {
		if _, ok := ids[id]; !ok {
			ids[id] = len(data.Actions)
			data.Actions = append(data.Actions, id)
		}
	}
	var logged []string // per decision, its action
	header := func(h []string) error {
		var err error
		tc, err = resolveColumns(f.Path, h, c)
		return err
	}
	row := func(n int, cells []string) error {
		bad := func(col int, role, format string, args ...any) error {
			return &ColumnError{Path: f.Path, Column: tc.names[col], Role: role, Row: n, Reason: fmt.Sprintf(format, args...)}
		}
		if tc.slot >= 0 {
			s := strings.TrimSpace(cells[tc.slot])
			k, err := strconv.Atoi(s)
			if err != nil || k < 0 {
				return bad(tc.slot, "slot", "%q is not a slot (0, 1, …)", s)
			}
			if k > 0 {
				data.LaterSlots++
				return nil
			}
		}
		act := strings.TrimSpace(cells[tc.act])
		if act == "" {
			return bad(tc.act, "action", "empty action id")
		}
		rs := strings.TrimSpace(cells[tc.rew])
		r, err := strconv.ParseFloat(rs, 64)
		if err != nil || math.IsNaN(r) || math.IsInf(r, 0) {
			return bad(tc.rew, "reward", "%q is not a finite number", rs)
		}
		ps := strings.TrimSpace(cells[tc.prop])
		p, err := strconv.ParseFloat(ps, 64)
		if err != nil || !(p > 0 && p <= 1) {
			return bad(tc.prop, "propensity", "%q is not a probability in (0, 1]", ps)
		}
		d := LoggedDecision{Line: n, Vars: map[string]any{}}
		d.Example.Cost, d.Example.Prob = -r, p
		if tc.ts >= 0 {
			d.Example.Time = parseTime(strings.TrimSpace(cells[tc.ts]))
		}
		for _, i := range tc.ctx {
			name := strings.TrimSpace(tc.names[i])
			v := strings.TrimSpace(cells[i])
			if strings.HasPrefix(v, "{") {
				var obj map[string]any
				if err := json.Unmarshal([]byte(v), &obj); err != nil {
					return bad(i, "context", "not a JSON object: %v", err)
				}
				addJSON(&d, name, obj)
				continue
			}
			if name == "channel" && !slices.Contains(tc.names, "request.channel") && v != "" {
				addValue(&d, "request.channel", v)
			}
			addValue(&d, name, v)
		}
		if _, ok := ids[act]; !ok {
			if f.Actions != nil {
				return bad(tc.act, "action", "%q is not one of the candidate actions given (%s)", act, listNames(f.Actions))
			}
			ids[act] = len(data.Actions)
			data.Actions = append(data.Actions, act)
		}
		logged = append(logged, act)
		data.Decisions = append(data.Decisions, d)
		return nil
	}
	var err error
	if f.Format == LogParquet {
		err = eachParquetRow(f.Path, header, row)
	} else {
		err = eachCSVRow(f.Path, header, row)
	}
	if err != nil {
		return err
	}
	// every decision's candidates are the whole set, known only now
	acts := make([][]training.Feature, len(data.Actions))
	for i, id := range data.Actions {
		acts[i] = []training.Feature{{NS: 'a', Name: "action.id=" + id, Value: 1}}
	}
	for i := range data.Decisions {
		d := &data.Decisions[i]
		d.IDs, d.Example.ActionIDs, d.Example.Actions = data.Actions, data.Actions, acts
		d.Example.Chosen = ids[logged[i]]
	}
	return nil
}

// parseTime reads a decision's time: RFC 3339 (nextbest export's CSV),
// or microseconds since 1970 (its Parquet timestamp); zero otherwise.
func parseTime(v string) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC()
	}
	if us, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMicro(us).UTC()
	}
	return time.Time{}
}

// addValue adds a context cell: a number, or a string (name=value as a
// feature); an empty cell is missing.
func addValue(d *LoggedDecision, name, v string) {
	if v == "" {
		return
	}
	if x, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) {
		d.Vars[name] = x
		d.Example.Shared = append(d.Example.Shared, training.Feature{NS: 's', Name: name, Value: x})
		return
	}
	if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
		d.Vars[name] = b
	} else {
		d.Vars[name] = v
	}
	d.Example.Shared = append(d.Example.Shared, training.Feature{NS: 's', Name: name + "=" + v, Value: 1})
}

// addJSON flattens a JSON object cell under name: nested objects give
// name.key.key, numbers numeric features, strings and booleans
// categorical ones; arrays and nulls are left out.
func addJSON(d *LoggedDecision, name string, v any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			addJSON(d, name+"."+k, x[k])
		}
	case float64:
		d.Vars[name] = x
		d.Example.Shared = append(d.Example.Shared, training.Feature{NS: 's', Name: name, Value: x})
	case string:
		d.Vars[name] = x
		d.Example.Shared = append(d.Example.Shared, training.Feature{NS: 's', Name: name + "=" + x, Value: 1})
	case bool:
		d.Vars[name] = x
		d.Example.Shared = append(d.Example.Shared, training.Feature{NS: 's', Name: name + "=" + strconv.FormatBool(x), Value: 1})
	}
}

func eachCSVRow(path string, header func([]string) error, row func(int, []string) error) error {
	in, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot open the log: %w", err)
	}
	defer in.Close()
	cr := csv.NewReader(in)
	cr.Comment = '#'
	h, err := cr.Read()
	if err != nil {
		return fmt.Errorf("%w: %s: no CSV header: %v", ErrFormat, path, err)
	}
	if err := header(slices.Clone(h)); err != nil {
		return err
	}
	for n := 1; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %s row %d: %v", ErrFormat, path, n, err)
		}
		if err := row(n, rec); err != nil {
			return err
		}
	}
}

func eachParquetRow(path string, header func([]string) error, row func(int, []string) error) error {
	in, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot open the log: %w", err)
	}
	defer in.Close()
	var cells []string
	err = training.EachParquetRow(in, func(h []string) error {
		cells = make([]string, len(h))
		return header(h)
	}, func(n int, vals []parquet.Value) error {
		for i, v := range vals {
			cells[i] = ""
			if !v.IsNull() {
				cells[i] = training.ParquetString(v)
			}
		}
		return row(n, cells)
	})
	var oe *training.ParquetOpenError
	var re *training.ParquetRowError
	switch {
	case errors.As(err, &oe):
		return fmt.Errorf("%w: %s: %v", ErrFormat, path, oe)
	case errors.As(err, &re):
		return fmt.Errorf("%w: %s: %v", ErrFormat, path, re)
	}
	return err
}

func readDSJSONLog(f LogFile, data *LogData) error {
	in, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("cannot open the log: %w", err)
	}
	defer in.Close()
	seen := map[string]bool{}
	n := 0
	err = training.ReadDSJSON(in, func(ex *training.CBExample) error {
		n++
		if ex.Chosen < 0 {
			data.Unlabeled++
			return nil
		}
		d := LoggedDecision{Line: n, Vars: map[string]any{}}
		d.Example = training.CBExample{Chosen: ex.Chosen, Cost: ex.Cost, Prob: ex.Prob, Time: ex.Time,
			Shared: slices.Clone(ex.Shared)}
		for k, feats := range ex.Actions {
			d.Example.Actions = append(d.Example.Actions, slices.Clone(feats))
			id := dsjsonActionID(feats, k)
			d.IDs = append(d.IDs, id)
			if !seen[id] {
				seen[id] = true
				data.Actions = append(data.Actions, id)
			}
		}
		for _, ft := range d.Example.Shared {
			if name, v, ok := strings.Cut(ft.Name, "="); ok {
				d.Vars[name] = v
			} else {
				d.Vars[ft.Name] = ft.Value
			}
		}
		data.Decisions = append(data.Decisions, d)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrFormat, f.Path, err)
	}
	return nil
}

// dsjsonActionID is the id of a DSJSON action: its action.id (nextbest
// export's, and the training reader's), or its id or _tag, or else its
// position.
func dsjsonActionID(feats []training.Feature, k int) string {
	for _, prefix := range []string{"action.id=", "id=", "_tag="} {
		for _, f := range feats {
			if id, ok := strings.CutPrefix(f.Name, prefix); ok {
				return id
			}
		}
	}
	return strconv.Itoa(k)
}
