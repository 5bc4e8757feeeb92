package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"nextbest/erasure"
	"nextbest/journal"
	"nextbest/logs"
)

// RawRow is one journal record as --raw exports it: its type, LSN and
// time, the payload's identifying fields (empty, Parquet null, where the
// type has none) and the payload itself.
type RawRow struct {
	Type       string    `parquet:"type" json:"type"` // decision, outcome, event, audit, activation or lost
	LSN        int64     `parquet:"lsn" json:"lsn"`
	Time       time.Time `parquet:"time,timestamp(microsecond)" json:"time"` // the record's time
	DecisionID string    `parquet:"decision_id,optional" json:"-"`
	CustomerID string    `parquet:"customer_id,optional" json:"-"`
	Channel    string    `parquet:"channel,optional" json:"-"`
	ActionID   string    `parquet:"action_id,optional" json:"-"` // outcome
	// Kind is an outcome's or event's type, or an audit record's kind.
	Kind string `parquet:"kind,optional" json:"-"`
	// Reward is an outcome's reward as posted (null for other types).
	Reward *float64 `parquet:"reward,optional" json:"-"`
	// Payload is the record's JSON payload as journaled.
	Payload string `parquet:"payload,json" json:"-"`
}

// RawColumns are the raw table's column names, in order: the CSV header.
var RawColumns = []string{"type", "lsn", "time", "decision_id", "customer_id", "channel", "action_id", "kind", "reward", "payload"}

// peek is the part of any payload a raw row shows.
type peek struct {
	DecisionID string   `json:"decision_id"`
	CustomerID string   `json:"customer_id"`
	Channel    string   `json:"channel"`
	ActionID   string   `json:"action_id"`
	Type       string   `json:"type"`
	Kind       string   `json:"kind"`
	Reward     *float64 `json:"reward"`
	Experiment *struct {
		Name string `json:"name"`
	} `json:"experiment"`
}

type rawWriter interface {
	write(r *RawRow) error
	close() error
}

func raw(ctx context.Context, dir string, w io.Writer, o *Options) (Stats, error) {
	var st Stats
	var rw rawWriter
	switch o.Format {
	case Parquet:
		rw = rawParquet{newParquetFile[RawRow](w)}
	case CSV:
		bw := bufio.NewWriterSize(w, 256<<10)
		rw = &rawCSV{bw: bw, cw: csv.NewWriter(bw)}
	case JSONL:
		rw = &rawJSONL{bw: bufio.NewWriterSize(w, 256<<10)}
	}
	filter := o.Channel != "" || o.Experiment != ""
	kept := make(map[string]struct{}) // decisions kept, for their outcomes
	var p peek
	n, err := logs.EachRecord(ctx, dir, func(rec *journal.Record) error {
		if o.Progress != nil && st.Records%progressEvery == 0 && st.Records > 0 {
			o.Progress(Progress{Records: st.Records, Decisions: st.Decisions, Rows: st.Rows})
		}
		st.Records++
		if !o.inRange(rec.Time) {
			st.Filtered++
			return nil
		}
		p = peek{}
		if err := json.Unmarshal(rec.Payload, &p); err != nil {
			return fmt.Errorf("record %d (%s): %w: %w", rec.LSN, rec.Type, journal.ErrBadPayload, err)
		}
		if filter && !o.keepRaw(rec.Type, &p, kept) {
			st.Filtered++
			return nil
		}
		payload := rec.Payload
		if rec.Type == journal.TypeErasure {
			// an erasure not yet redacted names the customer it erased:
			// never in an export
			var e journal.Erasure
			if err := json.Unmarshal(rec.Payload, &e); err != nil {
				return fmt.Errorf("record %d (%s): %w: %w", rec.LSN, rec.Type, journal.ErrBadPayload, err)
			}
			payload, p.CustomerID = erasure.Anonymous(e), ""
		}
		if rec.Type == journal.TypeDecision && o.Personal != nil {
			// the decision's personal inputs left out, as in the joined rows
			var d journal.Decision
			if err := journal.DecodeDecision(rec.Payload, &d); err != nil {
				return fmt.Errorf("record %d (%s): %w", rec.LSN, rec.Type, err)
			}
			if m := o.withoutPersonal(d.Profile); len(m) != len(d.Profile) {
				d.Profile = m
				var err error
				if payload, err = journal.AppendDecision(nil, &d); err != nil {
					return fmt.Errorf("record %d (%s): %w", rec.LSN, rec.Type, err)
				}
			}
		}
		r := RawRow{Type: rec.Type.String(), LSN: int64(rec.LSN), Time: rec.Time.UTC(), DecisionID: p.DecisionID,
			CustomerID: p.CustomerID, Channel: p.Channel, ActionID: p.ActionID, Kind: p.Type, Reward: p.Reward,
			Payload: string(payload)}
		if rec.Type == journal.TypeAudit {
			r.Kind = p.Kind
		}
		if rec.Type != journal.TypeOutcome {
			r.Reward = nil
		}
		if err := rw.write(&r); err != nil {
			return err
		}
		st.Decisions++
		st.Rows++
		return nil
	})
	if err != nil {
		return st, err
	}
	if err := rw.close(); err != nil {
		return st, err
	}
	st.Records = n
	if o.Progress != nil {
		o.Progress(Progress{Records: st.Records, Decisions: st.Decisions, Rows: st.Rows, Done: true})
	}
	return st, nil
}

// keepRaw applies Channel and Experiment to a raw record (see Options).
func (o *Options) keepRaw(t journal.Type, p *peek, kept map[string]struct{}) bool {
	switch t {
	case journal.TypeDecision:
		if (o.Channel != "" && p.Channel != o.Channel) ||
			(o.Experiment != "" && (p.Experiment == nil || p.Experiment.Name != o.Experiment)) {
			return false
		}
		kept[p.DecisionID] = struct{}{}
		return true
	case journal.TypeOutcome, journal.TypeActivation:
		_, ok := kept[p.DecisionID]
		return ok
	case journal.TypeEvent:
		return o.Experiment == "" && p.Channel == o.Channel
	}
	return false
}

// rawParquet writes the raw rows.
type rawParquet struct{ *parquetFile[RawRow] }

func (p rawParquet) write(r *RawRow) error {
	p.buf = append(p.buf, *r)
	return p.added()
}

type rawCSV struct {
	bw    *bufio.Writer
	cw    *csv.Writer
	cells []string
	head  bool
}

func (c *rawCSV) header() error {
	if c.head {
		return nil
	}
	c.head = true
	return c.cw.Write(RawColumns)
}

func (c *rawCSV) write(r *RawRow) error {
	if err := c.header(); err != nil {
		return err
	}
	reward := ""
	if r.Reward != nil {
		reward = ftoa(*r.Reward)
	}
	c.cells = append(c.cells[:0], r.Type, strconv.FormatInt(r.LSN, 10), r.Time.Format(time.RFC3339Nano),
		r.DecisionID, r.CustomerID, r.Channel, r.ActionID, r.Kind, reward, r.Payload)
	if err := c.cw.Write(c.cells); err != nil {
		return fmt.Errorf("cannot write csv: %w", err)
	}
	return nil
}

func (c *rawCSV) close() error {
	if err := c.header(); err != nil {
		return err
	}
	return flushCSV(c.cw, c.bw)
}

// rawJSONL writes {"type":T,"lsn":N,"time":TS,"payload":{...}} per record,
// the payload as journaled.
type rawJSONL struct {
	bw *bufio.Writer
	b  []byte
}

func (l *rawJSONL) write(r *RawRow) error {
	b := append(l.b[:0], `{"type":`...)
	b = journal.AppendJSONString(b, r.Type)
	b = append(b, `,"lsn":`...)
	b = strconv.AppendInt(b, r.LSN, 10)
	b = append(b, `,"time":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","payload":`...)
	b = append(b, r.Payload...)
	b = append(b, "}\n"...)
	l.b = b
	_, err := l.bw.Write(b)
	return err
}

func (l *rawJSONL) close() error { return l.bw.Flush() }
