package training

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// ColumnMap maps a tabular file's columns to a logged bandit example: the
// context columns are the shared features, and the one action feature is
// "action.id=" + the action column. Name the context columns after the
// feature spec's inputs ("context.page", "profile.stage", ...) and a
// SpecBuilder featurizes the file as the service would.
type ColumnMap struct {
	// Context lists the context feature columns. A value that parses as a
	// number is a numeric feature named by the column; any other value v
	// is a one-hot feature "column=v". Empty cells are missing.
	Context []string
	// Action is the column with the logged action's id; required.
	Action string
	// Reward is the column with the observed reward; required.
	Reward string
	// Propensity is the column with the logging probability of the logged
	// action; optional (0, i.e. unknown, without it).
	Propensity string
}

// ParseColumnMap parses "context=a,b,c;action=x;reward=y;propensity=p".
func ParseColumnMap(s string) (ColumnMap, error) {
	var m ColumnMap
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			if part == "" {
				continue
			}
			return m, fmt.Errorf("%w: column map entry %q is not key=value", ErrBadConfig, part)
		}
		switch k {
		case "context":
			for _, c := range strings.Split(v, ",") {
				if c = strings.TrimSpace(c); c != "" {
					m.Context = append(m.Context, c)
				}
			}
		case "action":
			m.Action = v
		case "reward":
			m.Reward = v
		case "propensity":
			m.Propensity = v
		default:
			return m, fmt.Errorf("%w: unknown column map key %q (context, action, reward, propensity)", ErrBadConfig, k)
		}
	}
	if m.Action == "" || m.Reward == "" {
		return m, fmt.Errorf("%w: the column map needs action= and reward=", ErrBadConfig)
	}
	return m, nil
}

// tabIndex turns one row (cell lookup by column name) into ex.
type tabIndex struct {
	ctx            []int
	act, rew, prop int
	names          []string
}

func (m *ColumnMap) index(header []string) (*tabIndex, error) {
	pos := make(map[string]int, len(header))
	for i, h := range header {
		pos[strings.TrimSpace(h)] = i
	}
	find := func(c string) (int, error) {
		i, ok := pos[c]
		if !ok {
			return 0, fmt.Errorf("%w: no column %q in %v", ErrBadConfig, c, header)
		}
		return i, nil
	}
	ix := &tabIndex{prop: -1, names: m.Context}
	var err error
	if ix.act, err = find(m.Action); err != nil {
		return nil, err
	}
	if ix.rew, err = find(m.Reward); err != nil {
		return nil, err
	}
	if m.Propensity != "" {
		if ix.prop, err = find(m.Propensity); err != nil {
			return nil, err
		}
	}
	for _, c := range m.Context {
		i, err := find(c)
		if err != nil {
			return nil, err
		}
		ix.ctx = append(ix.ctx, i)
	}
	return ix, nil
}

func (ix *tabIndex) example(cells []string, ex *CBExample) error {
	ex.Shared = ex.Shared[:0]
	for k, i := range ix.ctx {
		v := strings.TrimSpace(cells[i])
		if v == "" {
			continue
		}
		if x, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) {
			ex.Shared = append(ex.Shared, Feature{NS: 's', Name: ix.names[k], Value: x})
		} else {
			ex.Shared = append(ex.Shared, Feature{NS: 's', Name: ix.names[k] + "=" + v, Value: 1})
		}
	}
	act := strings.TrimSpace(cells[ix.act])
	if act == "" {
		return fmt.Errorf("empty action")
	}
	r, err := strconv.ParseFloat(strings.TrimSpace(cells[ix.rew]), 64)
	if err != nil || math.IsNaN(r) || math.IsInf(r, 0) {
		return fmt.Errorf("reward %q is not a finite number", cells[ix.rew])
	}
	p := 0.0
	if ix.prop >= 0 {
		p, err = strconv.ParseFloat(strings.TrimSpace(cells[ix.prop]), 64)
		if err != nil || !(p > 0 && p <= 1) {
			return fmt.Errorf("propensity %q not in (0, 1]", cells[ix.prop])
		}
	}
	if cap(ex.Actions) == 0 {
		ex.Actions = make([][]Feature, 1)
	}
	ex.Actions = ex.Actions[:1]
	ex.Actions[0] = append(ex.Actions[0][:0], Feature{NS: 'a', Name: "action.id=" + act, Value: 1})
	ex.ActionIDs = append(ex.ActionIDs[:0], act)
	ex.Chosen, ex.Cost, ex.Prob = 0, -r, p
	return nil
}

// ReadCSV reads a CSV file with a header row and calls fn with one
// example per row, built by m. Errors wrap ErrParse with the row number
// (1 = the first data row). fn must not retain the example.
func ReadCSV(r io.Reader, m ColumnMap, fn func(*CBExample) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("%w: csv header: %v", ErrParse, err)
	}
	ix, err := m.index(append([]string(nil), header...))
	if err != nil {
		return err
	}
	var ex CBExample
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: csv row %d: %v", ErrParse, row, err)
		}
		if err := ix.example(rec, &ex); err != nil {
			return fmt.Errorf("%w: csv row %d: %v", ErrParse, row, err)
		}
		if err := fn(&ex); err != nil {
			return err
		}
	}
}

// ReadParquet reads a Parquet file with a flat schema (each mapped column
// a top-level leaf of a number, string or boolean type) and calls fn with
// one example per row, as ReadCSV does.
func ReadParquet(path string, m ColumnMap, fn func(*CBExample) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot open parquet file: %w", err)
	}
	defer f.Close()
	var ix *tabIndex
	cells := make([]string, 0, 64)
	var ex CBExample
	err = EachParquetRow(f, func(header []string) error {
		var err error
		ix, err = m.index(header)
		cells = make([]string, len(header))
		return err
	}, func(rowNum int, row []parquet.Value) error {
		for c, v := range row {
			cells[c] = ""
			if !v.IsNull() {
				cells[c] = ParquetString(v)
			}
		}
		if e := ix.example(cells, &ex); e != nil {
			return fmt.Errorf("%w: parquet row %d: %v", ErrParse, rowNum, e)
		}
		return fn(&ex)
	})
	var oe *ParquetOpenError
	var re *ParquetRowError
	switch {
	case errors.As(err, &oe):
		return fmt.Errorf("%w: parquet %s: %v", ErrParse, path, oe.Err)
	case errors.As(err, &re):
		return fmt.Errorf("%w: parquet row %d: %v", ErrParse, re.Row, re.Err)
	}
	return err
}

// ParquetOpenError is EachParquetRow's error for a file that is not a
// Parquet file.
type ParquetOpenError struct{ Err error }

func (e *ParquetOpenError) Error() string { return "not a Parquet file: " + e.Err.Error() }
func (e *ParquetOpenError) Unwrap() error { return e.Err }

// ParquetRowError is EachParquetRow's error for a row that cannot be read
// (its 1-based number).
type ParquetRowError struct {
	Row int
	Err error
}

func (e *ParquetRowError) Error() string { return fmt.Sprintf("row %d: %v", e.Row, e.Err) }
func (e *ParquetRowError) Unwrap() error { return e.Err }

// EachParquetRow reads a Parquet file with a flat schema: header is called
// once with the column names (nested ones dotted), then row with each
// row's 1-based number and its values, one per column in header order
// (null where the row has none; the slice is reused). An error from
// either stops the walk and is returned as it is; a file that is not
// Parquet is a *ParquetOpenError, a row that cannot be read a
// *ParquetRowError. The one walk of the training reader and of nextbest
// profiles import.
func EachParquetRow(f *os.File, header func([]string) error, row func(int, []parquet.Value) error) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return &ParquetOpenError{err}
	}
	var names []string
	for _, c := range pf.Schema().Columns() {
		names = append(names, strings.Join(c, "."))
	}
	if err := header(names); err != nil {
		return err
	}
	cells := make([]parquet.Value, len(names))
	rows := make([]parquet.Row, 256)
	rowNum := 0
	for _, rg := range pf.RowGroups() {
		if err := func() error {
			rr := rg.Rows()
			defer rr.Close()
			for {
				n, err := rr.ReadRows(rows)
				for _, r := range rows[:n] {
					rowNum++
					clear(cells)
					for _, v := range r {
						if c := v.Column(); c >= 0 && c < len(cells) {
							cells[c] = v
						}
					}
					if e := row(rowNum, cells); e != nil {
						return e
					}
				}
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return &ParquetRowError{rowNum + 1, err}
				}
			}
		}(); err != nil {
			return err
		}
	}
	return nil
}

// ParquetString is a Parquet cell as text: numbers in the shortest form
// that reads back exactly, booleans as 1 or 0, byte arrays as they are.
// The tabular readers (ReadParquet, eval's log files) read cells with it.
func ParquetString(v parquet.Value) string {
	switch v.Kind() {
	case parquet.Boolean:
		if v.Boolean() {
			return "1"
		}
		return "0"
	case parquet.Int32:
		return strconv.FormatInt(int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.FormatInt(v.Int64(), 10)
	case parquet.Float:
		return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32)
	case parquet.Double:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64)
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return string(v.ByteArray())
	}
	return v.String()
}
