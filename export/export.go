package export

import (
	"context"
	"fmt"
	"io"
	"maps"
	"time"

	"nextbest/decide"
	"nextbest/journal"
	"nextbest/logs"
)

// Format names an output format.
type Format string

// The output formats.
const (
	Parquet Format = "parquet" // a table, one row per shown action (Row)
	CSV     Format = "csv"     // the same table, with a header row
	JSONL   Format = "jsonl"   // the same table, one JSON object per line
	DSJSON  Format = "dsjson"  // Vowpal Wabbit's decision-service JSON, one example per decision
	CBADF   Format = "cb_adf"  // Vowpal Wabbit's cb_adf text, one example per decision
)

// Formats lists the formats, in the order the command line names them.
var Formats = []Format{Parquet, CSV, JSONL, DSJSON, CBADF}

// ParseFormat returns the Format named s, or an error wrapping
// ErrBadOptions.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("%w: unknown format %q (parquet, csv, jsonl, dsjson or cb_adf)", ErrBadOptions, s)
}

// Options configures an export. The zero value with a Format exports every
// joined decision with the default join (logs.JoinConfig's zero value).
type Options struct {
	Format Format
	// Raw exports every record as it was journaled (RawRow) instead of the
	// joined decisions: Parquet, CSV and JSON lines only.
	Raw bool
	// Join is the join of outcomes to decisions: the service's attribution
	// window, default reward and outcome types. Its From and To are
	// ignored: use From and To below.
	Join logs.JoinConfig
	// From and To, when not zero, keep only decisions (with Raw, records)
	// with From ≤ time < To.
	From, To time.Time
	// Channel and Experiment, when not empty, keep only the decisions made
	// on that channel and in that experiment (its name). With Raw, an
	// outcome is kept when its decision was, and an event when its channel
	// matches (no event is kept with Experiment); audit and lost records
	// are left out by either.
	Channel, Experiment string
	// ActionFeatures, when not nil, gives the features of actions by id
	// (the catalog's action features): DSJSON and cb_adf write them
	// beside each candidate's id, as "action.KEY" features. An action it
	// does not name has its id only.
	ActionFeatures map[string]map[string]any
	// Personal, when not nil, names the profile inputs that are personal
	// data (features.Spec.IsPII: attributes marked pii): they are left out
	// of every row, unless the export asks for them (nextbest export
	// --include-pii leaves this nil).
	Personal func(input string) bool
	// Progress, when not nil, is called every few thousand records or
	// decisions and once at the end, on the exporting goroutine.
	Progress func(Progress)
}

// Progress is how far an export has got.
type Progress struct {
	Records   int // journal records read (Raw: as they are read; joined: after the join)
	Decisions int // decisions (Raw: records) written
	Rows      int // rows, lines or examples written
	Done      bool
}

// Stats says what an export read and wrote.
type Stats struct {
	// Join is the join's account (not with Raw).
	Join logs.JoinStats
	// Records is the number of journal records read.
	Records int
	// Decisions is the number of decisions (Raw: records) written.
	Decisions int
	// Rows is the number of rows, lines or examples written.
	Rows int
	// Filtered counts decisions (Raw: records) left out by Channel,
	// Experiment, From and To.
	Filtered int
	// Skipped counts decisions that a DSJSON or cb_adf example cannot
	// hold: no shown action, or a first slot's propensity outside (0, 1].
	Skipped int
}

// progressEvery is how many records or decisions pass between calls of
// Options.Progress.
const progressEvery = 1 << 13

func (o *Options) check() error {
	switch o.Format {
	case Parquet, CSV, JSONL:
	case DSJSON, CBADF:
		if o.Raw {
			return fmt.Errorf("%w: %s has no raw form (raw exports are parquet, csv or jsonl)", ErrBadOptions, o.Format)
		}
	default:
		if _, err := ParseFormat(string(o.Format)); err != nil {
			return err
		}
	}
	if !o.From.IsZero() && !o.To.IsZero() && !o.From.Before(o.To) {
		return fmt.Errorf("%w: the time range [%s, %s) is empty", ErrBadOptions, o.From.Format(time.RFC3339), o.To.Format(time.RFC3339))
	}
	return nil
}

// Journal exports the journal in dir to w as o says: the decisions joined
// with their outcomes (logs.Join with o.Join), or with o.Raw every
// record. It reads the journal read-only (another process may be
// appending) up to its end when it starts. The writer is flushed (a
// Parquet file's footer written) before it returns; w is not closed.
func Journal(ctx context.Context, dir string, w io.Writer, o Options) (Stats, error) {
	if err := o.check(); err != nil {
		return Stats{}, err
	}
	if o.Raw {
		return raw(ctx, dir, w, &o)
	}
	jc := o.Join
	jc.From, jc.To = o.From, o.To
	joined, jst, err := logs.Join(ctx, dir, jc)
	if err != nil {
		return Stats{Join: jst, Records: jst.Records}, err
	}
	st, err := decisions(ctx, w, joined, &o, jst.Records)
	st.Join, st.Records = jst, jst.Records
	st.Filtered += jst.Filtered
	return st, err
}

// exampleWriter writes one joined decision.
type exampleWriter interface {
	// write writes j and returns the number of rows or examples written
	// (0 when the format cannot hold it).
	write(j *logs.Joined) (int, error)
	close() error
}

func decisions(ctx context.Context, w io.Writer, joined []logs.Joined, o *Options, records int) (Stats, error) {
	var st Stats
	var ew exampleWriter
	switch o.Format {
	case Parquet:
		ew = newParquetRows(w)
	case CSV:
		ew = newCSVRows(w)
	case JSONL:
		ew = newJSONLRows(w)
	case DSJSON:
		dw, err := newDSJSONWriter(w, o.ActionFeatures)
		if err != nil {
			return st, err
		}
		ew = dw
	case CBADF:
		ew = newCBADFWriter(w, o.ActionFeatures)
	}
	report := func(done bool) {
		if o.Progress != nil {
			o.Progress(Progress{Records: records, Decisions: st.Decisions, Rows: st.Rows, Done: done})
		}
	}
	for i := range joined {
		if i%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			if i > 0 {
				report(false)
			}
		}
		j := &joined[i]
		if !o.keep(j) {
			st.Filtered++
			continue
		}
		j.Decision.Profile = o.withoutPersonal(j.Decision.Profile)
		n, err := ew.write(j)
		if err != nil {
			return st, err
		}
		if n == 0 {
			st.Skipped++
			continue
		}
		st.Decisions++
		st.Rows += n
	}
	if err := ew.close(); err != nil {
		return st, err
	}
	report(true)
	return st, nil
}

// keep reports whether the joined decision passes o's filters.
func (o *Options) keep(j *logs.Joined) bool {
	d := &j.Decision
	if o.Channel != "" && d.Channel != o.Channel {
		return false
	}
	if o.Experiment != "" && (d.Experiment == nil || d.Experiment.Name != o.Experiment) {
		return false
	}
	return o.inRange(d.Time)
}

func (o *Options) inRange(t time.Time) bool {
	return (o.From.IsZero() || !t.Before(o.From)) && (o.To.IsZero() || t.Before(o.To))
}

// withoutPersonal returns profile inputs m without the personal ones
// (Options.Personal); m itself when there are none to leave out.
func (o *Options) withoutPersonal(m map[string]any) map[string]any {
	if o.Personal == nil {
		return m
	}
	var out map[string]any
	for k := range m {
		if o.Personal(k) {
			if out == nil {
				out = maps.Clone(m)
			}
			delete(out, k)
		}
	}
	if out == nil {
		return m
	}
	return out
}

// slotContext is the context the action in slot k of d was scored with:
// for a decision with declared slots, slot k's context merged over the
// request's (decide.SlotContext); otherwise the request's.
func slotContext(d *journal.Decision, k int) map[string]any {
	if k < 0 || k >= len(d.Slots) || len(d.Slots[k].Context) == 0 {
		return d.Context
	}
	return decide.SlotContext(nil, d.Context, d.Slots[k].Context)
}
