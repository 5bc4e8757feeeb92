package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"nextbest/features"
	"nextbest/training"
)

// Import file formats (--format; by default from the file's extension).
const (
	formatCSV     = "csv"
	formatJSONL   = "jsonl"
	formatParquet = "parquet"
)

// The columns of an import file that are not attributes.
const (
	colCustomer = "customer_id"
	colTS       = "ts"
)

// importFormat is the format of path: format when given, else from the
// extension (.csv, .jsonl/.ndjson/.json, .parquet).
func importFormat(path, format string) (string, error) {
	if format != "" {
		switch format {
		case formatCSV, formatJSONL, formatParquet:
			return format, nil
		}
		return "", fmt.Errorf("unknown format %q: csv, jsonl or parquet", format)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return formatCSV, nil
	case ".jsonl", ".ndjson", ".json":
		return formatJSONL, nil
	case ".parquet":
		return formatParquet, nil
	}
	return "", fmt.Errorf("%s: cannot tell the format from the extension; give --format csv, jsonl or parquet", path)
}

// profileRecord is one profile of an import file, as POST
// /v1/profiles:batch takes it.
type profileRecord struct {
	CustomerID string         `json:"customer_id"`
	Attributes map[string]any `json:"attributes"`
	TS         string         `json:"ts,omitempty"`
}

// profileReader maps an import file's columns onto the feature spec's
// attributes and converts their cells to the attributes' types. Each row
// is checked as the service will check it (features.Spec.ValidateEvent of
// the attribute event), so that a bad file is refused before anything is
// sent.
type profileReader struct {
	spec  *features.Spec
	event string // the spec's attribute event type
	types map[string]string
	now   time.Time
}

func newProfileReader(spec *features.Spec, now time.Time) (*profileReader, error) {
	r := &profileReader{spec: spec, event: spec.AttributeEvent(), types: map[string]string{}, now: now}
	if r.event == "" {
		return nil, errors.New("the feature spec declares no attribute event type (profile.attribute_events): profiles cannot be imported")
	}
	for _, a := range spec.Attributes() {
		r.types[a.Name] = a.Type
	}
	return r, nil
}

// checkColumns refuses a column that is neither customer_id, ts nor a
// declared attribute, naming it; header must have customer_id.
func (r *profileReader) checkColumns(header []string) error {
	seen := map[string]bool{}
	for _, c := range header {
		switch {
		case seen[c]:
			return fmt.Errorf("column %q appears twice", c)
		case c != colCustomer && c != colTS && r.types[c] == "":
			return fmt.Errorf("column %q is not a declared profile attribute (the feature spec's profile.attributes: %s)", c, strings.Join(slices.Sorted(maps.Keys(r.types)), ", "))
		}
		seen[c] = true
	}
	if !seen[colCustomer] {
		return fmt.Errorf("no %s column", colCustomer)
	}
	return nil
}

// record converts one row, cells by column name (a nil or "" cell: not
// given), into rec. The error names the column.
func (r *profileReader) record(cells func(yield func(col string, v any) bool), rec *profileRecord) error {
	*rec = profileRecord{Attributes: map[string]any{}}
	var err error
	cells(func(col string, v any) bool {
		if v == nil || v == "" {
			return true
		}
		switch col {
		case colCustomer:
			s, ok := v.(string)
			if !ok {
				err = fmt.Errorf("column %s: must be a string", col)
				return false
			}
			rec.CustomerID = s
		case colTS:
			s, ok := v.(string)
			if !ok {
				err = fmt.Errorf("column %s: must be an RFC 3339 time", col)
				return false
			}
			if _, e := time.Parse(time.RFC3339Nano, s); e != nil {
				err = fmt.Errorf("column %s: must be an RFC 3339 time such as 2026-11-22T10:00:00Z, not %q", col, s)
				return false
			}
			rec.TS = s
		default:
			x, e := convertCell(r.types[col], v)
			if e != nil {
				err = fmt.Errorf("column %s: %w", col, e)
				return false
			}
			rec.Attributes[col] = x
		}
		return true
	})
	if err != nil {
		return err
	}
	if rec.CustomerID == "" {
		return fmt.Errorf("column %s: is empty", colCustomer)
	}
	if len(rec.Attributes) == 0 {
		return errors.New("no attribute is given")
	}
	// the service's own check of the attribute event
	err = r.spec.ValidateEvent(features.Event{Type: r.event, Time: r.now, Properties: rec.Attributes})
	if fe := (*features.FieldError)(nil); errors.As(err, &fe) {
		return fmt.Errorf("column %s: %s", strings.TrimPrefix(fe.Field, "properties."), fe.Reason)
	}
	return err
}

// convertCell converts a cell to an attribute of type typ ("number",
// "string", "bool"): a CSV cell is text; JSON and Parquet cells may
// already have the type.
func convertCell(typ string, v any) (any, error) {
	switch typ {
	case "number":
		switch x := v.(type) {
		case float64:
			return x, nil
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("must be a number, not %q", x)
			}
			return f, nil
		}
		return nil, fmt.Errorf("must be a number, not %v", v)
	case "bool":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true", "t", "1", "yes", "y":
				return true, nil
			case "false", "f", "0", "no", "n":
				return false, nil
			}
			return nil, fmt.Errorf("must be true or false, not %q", x)
		}
		return nil, fmt.Errorf("must be true or false, not %v", v)
	case "string":
		switch x := v.(type) {
		case string:
			return x, nil
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), nil
		}
		return nil, fmt.Errorf("must be a string, not %v", v)
	}
	return nil, fmt.Errorf("BUG: attribute type %q", typ)
}

// readProfiles reads the import file at path in format and calls fn with
// each profile and where it is ("line 12", "row 7"). The columns are
// checked before the first row; an error names the file, the place and
// the column.
func (r *profileReader) readProfiles(path, format string, fn func(at string, rec *profileRecord) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	switch format {
	case formatCSV:
		err = r.readCSV(f, fn)
	case formatJSONL:
		err = r.readJSONL(f, fn)
	case formatParquet:
		err = r.readParquet(f, fn)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// rowError is an error about one row of the file, and where it is.
type rowError struct {
	at  string
	err error
}

func (e *rowError) Error() string { return e.at + ": " + e.err.Error() }
func (e *rowError) Unwrap() error { return e.err }

func (r *profileReader) readCSV(f io.Reader, fn func(string, *profileRecord) error) error {
	cr := csv.NewReader(bufio.NewReaderSize(f, 1<<16))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty file: a header line (customer_id,attribute,...) is required")
		}
		return fmt.Errorf("header: %w", err)
	}
	header = slices.Clone(header)
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	if len(header) > 0 { // a spreadsheet's byte order mark
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	if err := r.checkColumns(header); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	var rec profileRecord
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err // csv.ParseError names the line and column
		}
		line, _ := cr.FieldPos(0)
		at := "line " + strconv.Itoa(line)
		cells := func(yield func(string, any) bool) {
			for i, c := range row {
				if !yield(header[i], c) {
					return
				}
			}
		}
		if err := r.record(cells, &rec); err != nil {
			return &rowError{at, err}
		}
		if err := fn(at, &rec); err != nil {
			return err
		}
	}
}

func (r *profileReader) readJSONL(f io.Reader, fn func(string, *profileRecord) error) error {
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	var rec profileRecord
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		at := "line " + strconv.Itoa(line)
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			return &rowError{at, fmt.Errorf("not a JSON object: %v", err)}
		}
		cols := make([]string, 0, len(obj))
		for k := range obj {
			cols = append(cols, k)
		}
		slices.Sort(cols)
		if err := r.checkColumns(cols); err != nil {
			return &rowError{at, err}
		}
		cells := func(yield func(string, any) bool) {
			for _, k := range cols {
				if !yield(k, obj[k]) {
					return
				}
			}
		}
		if err := r.record(cells, &rec); err != nil {
			return &rowError{at, err}
		}
		if err := fn(at, &rec); err != nil {
			return err
		}
	}
	return sc.Err()
}

// readParquet reads a Parquet file with a flat schema: customer_id, ts and
// the attributes as top-level columns of string, number or boolean types.
func (r *profileReader) readParquet(f *os.File, fn func(string, *profileRecord) error) error {
	var header []string
	var cells []any
	var rec profileRecord
	err := training.EachParquetRow(f, func(h []string) error {
		header, cells = h, make([]any, len(h))
		return r.checkColumns(header)
	}, func(rowNum int, row []parquet.Value) error {
		for c, v := range row {
			cells[c] = nil
			if !v.IsNull() {
				cells[c] = parquetValue(v)
			}
		}
		at := "row " + strconv.Itoa(rowNum)
		each := func(yield func(string, any) bool) {
			for i, c := range cells {
				if !yield(header[i], c) {
					return
				}
			}
		}
		if e := r.record(each, &rec); e != nil {
			return &rowError{at, e}
		}
		return fn(at, &rec)
	})
	var re *training.ParquetRowError
	if errors.As(err, &re) {
		return fmt.Errorf("row %d: %v", re.Row, re.Err)
	}
	return err // a *training.ParquetOpenError says "not a Parquet file: ..."
}

// parquetValue is a Parquet cell as the JSON decoder would give it.
func parquetValue(v parquet.Value) any {
	switch v.Kind() {
	case parquet.Boolean:
		return v.Boolean()
	case parquet.Int32:
		return float64(v.Int32())
	case parquet.Int64:
		return float64(v.Int64())
	case parquet.Float:
		return float64(v.Float())
	case parquet.Double:
		return v.Double()
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return string(v.ByteArray())
	}
	return v.String()
}
