package export

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"

	"nextbest/logs"
)

// Row is one row of the tables (Parquet, CSV, JSON lines): one shown
// action of a joined decision. The decision's fields repeat on each of its
// rows. docs/export.md documents each column; the struct tags are the
// Parquet schema.
type Row struct {
	DecisionID  string    `parquet:"decision_id" json:"decision_id"`
	LSN         int64     `parquet:"lsn" json:"lsn"`
	CustomerID  string    `parquet:"customer_id" json:"customer_id"`
	Channel     string    `parquet:"channel" json:"channel"`
	TS          time.Time `parquet:"ts,timestamp(microsecond)" json:"ts"`
	Policy      string    `parquet:"policy" json:"policy"`
	FeatureSpec string    `parquet:"feature_spec" json:"feature_spec"`
	Explorer    string    `parquet:"explorer,optional" json:"explorer,omitempty"`
	Experiment  string    `parquet:"experiment,optional" json:"experiment,omitempty"`
	Arm         string    `parquet:"arm,optional" json:"arm,omitempty"`
	Fallback    bool      `parquet:"fallback" json:"fallback"`
	Eligible    int32     `parquet:"eligible" json:"eligible"`
	Slot        int32     `parquet:"slot" json:"slot"`
	ActionID    string    `parquet:"action_id" json:"action_id"`
	Propensity  float64   `parquet:"propensity" json:"propensity"`
	Score       float64   `parquet:"score" json:"score"`
	Estimate    float64   `parquet:"estimate" json:"estimate"`
	Reward      float64   `parquet:"reward" json:"reward"`
	Outcomes    int32     `parquet:"outcomes" json:"outcomes"`
	Converted   bool      `parquet:"converted" json:"converted"`
	// Context and Profile are the decision's logged inputs as JSON objects
	// (keys sorted); "{}" when none were logged. For a decision with
	// declared slots, Context is the one the row's action was scored
	// with: its slot's context merged over the request's.
	Context string `parquet:"context,json" json:"-"`
	Profile string `parquet:"profile,json" json:"-"`
}

// Columns are the tables' column names, in order: the CSV header.
var Columns = []string{"decision_id", "lsn", "customer_id", "channel", "ts", "policy", "feature_spec",
	"explorer", "experiment", "arm", "fallback", "eligible", "slot", "action_id", "propensity",
	"score", "estimate", "reward", "outcomes", "converted", "context", "profile"}

// rows appends the rows of j (one per shown action) to dst.
func rows(dst []Row, j *logs.Joined) ([]Row, error) {
	d := &j.Decision
	base := Row{DecisionID: d.DecisionID, LSN: int64(j.LSN), CustomerID: d.CustomerID, Channel: d.Channel,
		TS: d.Time.UTC(), Policy: d.Policy, FeatureSpec: d.FeatureSpec, Explorer: d.Explorer,
		Fallback: d.Fallback, Eligible: int32(len(d.Eligible))}
	if d.Experiment != nil {
		base.Experiment, base.Arm = d.Experiment.Name, d.Experiment.Arm
	}
	var err error
	if base.Context, err = jsonObject(d.Context); err != nil {
		return dst, fmt.Errorf("decision %q: context: %w", d.DecisionID, err)
	}
	if base.Profile, err = jsonObject(d.Profile); err != nil {
		return dst, fmt.Errorf("decision %q: profile: %w", d.DecisionID, err)
	}
	for i, a := range d.Actions {
		if !j.Shown(i) {
			continue // a slot of a deferred decision that was never activated
		}
		r := base
		r.Slot, r.ActionID, r.Propensity, r.Score, r.Estimate = int32(a.Slot), a.ActionID, a.Propensity, a.Score, a.Estimate
		if len(d.Slots) > 0 {
			if r.Context, err = jsonObject(slotContext(d, a.Slot)); err != nil {
				return dst, fmt.Errorf("decision %q: slot %d context: %w", d.DecisionID, a.Slot, err)
			}
		}
		if i < len(j.Rewards) {
			r.Reward, r.Outcomes, r.Converted = j.Rewards[i], int32(j.Outcomes[i]), j.Converted[i]
		}
		dst = append(dst, r)
	}
	return dst, nil
}

// jsonObject is m as a JSON object with sorted keys.
func jsonObject(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// parquetBatch is how many rows the Parquet writer is handed at once.
const parquetBatch = 4096

// parquetFile writes rows of T to a Parquet file (Zstd), parquetBatch at
// a time: the joined rows and the raw ones.
type parquetFile[T any] struct {
	pw  *parquet.GenericWriter[T]
	buf []T
}

func newParquetFile[T any](w io.Writer) *parquetFile[T] {
	return &parquetFile[T]{pw: parquet.NewGenericWriter[T](w, parquet.Compression(&parquet.Zstd)), buf: make([]T, 0, parquetBatch)}
}

// added writes the buffer out once it holds parquetBatch rows.
func (p *parquetFile[T]) added() error {
	if len(p.buf) >= parquetBatch {
		return p.flush()
	}
	return nil
}

func (p *parquetFile[T]) flush() error {
	if _, err := p.pw.Write(p.buf); err != nil {
		return fmt.Errorf("cannot write parquet: %w", err)
	}
	clear(p.buf) // drop the strings
	p.buf = p.buf[:0]
	return nil
}

func (p *parquetFile[T]) close() error {
	if len(p.buf) > 0 {
		if err := p.flush(); err != nil {
			return err
		}
	}
	if err := p.pw.Close(); err != nil {
		return fmt.Errorf("cannot write parquet: %w", err)
	}
	return nil
}

// parquetRows writes the joined rows.
type parquetRows struct{ *parquetFile[Row] }

func newParquetRows(w io.Writer) parquetRows { return parquetRows{newParquetFile[Row](w)} }

func (p parquetRows) write(j *logs.Joined) (int, error) {
	n := len(p.buf)
	var err error
	if p.buf, err = rows(p.buf, j); err != nil {
		return 0, err
	}
	return len(p.buf) - n, p.added()
}

type csvRows struct {
	bw    *bufio.Writer
	cw    *csv.Writer
	rows  []Row
	cells []string
	head  bool
}

func newCSVRows(w io.Writer) *csvRows {
	bw := bufio.NewWriterSize(w, 256<<10)
	return &csvRows{bw: bw, cw: csv.NewWriter(bw), cells: make([]string, len(Columns))}
}

func (c *csvRows) header() error {
	if c.head {
		return nil
	}
	c.head = true
	return c.cw.Write(Columns)
}

func (c *csvRows) write(j *logs.Joined) (int, error) {
	if err := c.header(); err != nil {
		return 0, err
	}
	var err error
	if c.rows, err = rows(c.rows[:0], j); err != nil {
		return 0, err
	}
	for i := range c.rows {
		r := &c.rows[i]
		c.cells = append(c.cells[:0], r.DecisionID, strconv.FormatInt(r.LSN, 10), r.CustomerID, r.Channel,
			r.TS.Format(time.RFC3339Nano), r.Policy, r.FeatureSpec, r.Explorer, r.Experiment, r.Arm,
			strconv.FormatBool(r.Fallback), strconv.Itoa(int(r.Eligible)), strconv.Itoa(int(r.Slot)), r.ActionID,
			ftoa(r.Propensity), ftoa(r.Score), ftoa(r.Estimate), ftoa(r.Reward),
			strconv.Itoa(int(r.Outcomes)), strconv.FormatBool(r.Converted), r.Context, r.Profile)
		if err := c.cw.Write(c.cells); err != nil {
			return 0, fmt.Errorf("cannot write csv: %w", err)
		}
	}
	return len(c.rows), nil
}

func (c *csvRows) close() error {
	if err := c.header(); err != nil {
		return err
	}
	return flushCSV(c.cw, c.bw)
}

// flushCSV flushes a CSV writer and the buffered file under it.
func flushCSV(cw *csv.Writer, bw *bufio.Writer) error {
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("cannot write csv: %w", err)
	}
	return bw.Flush()
}

// ftoa formats a number as the tables write it: the shortest decimal that
// reads back to the same float64.
func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// jsonRow is a Row as a JSON line: context and profile as objects.
type jsonRow struct {
	*Row
	Context json.RawMessage `json:"context"`
	Profile json.RawMessage `json:"profile"`
}

type jsonlRows struct {
	bw   *bufio.Writer
	enc  *json.Encoder
	rows []Row
}

func newJSONLRows(w io.Writer) *jsonlRows {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &jsonlRows{bw: bw, enc: enc}
}

func (l *jsonlRows) write(j *logs.Joined) (int, error) {
	var err error
	if l.rows, err = rows(l.rows[:0], j); err != nil {
		return 0, err
	}
	for i := range l.rows {
		r := &l.rows[i]
		if err := l.enc.Encode(jsonRow{Row: r, Context: json.RawMessage(r.Context), Profile: json.RawMessage(r.Profile)}); err != nil {
			return 0, fmt.Errorf("cannot write json lines: %w", err)
		}
	}
	return len(l.rows), nil
}

func (l *jsonlRows) close() error { return l.bw.Flush() }
