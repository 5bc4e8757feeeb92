package clv

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Date is a calendar day, counted in days from 1970-01-01. Transactions
// are dated to the day: the models work in whole days turned into
// fractional weeks, as Fader, Hardie & Lee do.
type Date int32

// Year range accepted by ParseDate: wide enough for any real ledger,
// narrow enough that day arithmetic never overflows.
const (
	minYear = 1900
	maxYear = 2200
)

// DateOf returns the calendar day of t in UTC.
func DateOf(t time.Time) Date {
	y, m, d := t.UTC().Date()
	return Date(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Time returns midnight UTC of d.
func (d Date) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String returns d as YYYY-MM-DD.
func (d Date) String() string { return d.Time().Format(time.DateOnly) }

// MarshalText writes d as YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads YYYY-MM-DD or YYYYMMDD.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDate reads a day written YYYYMMDD (CDNOW) or YYYY-MM-DD, years
// 1900 to 2200.
func ParseDate(s string) (Date, error) {
	var y, m, d int
	var err error
	switch {
	case len(s) == 8 && allDigits(s):
		y, _ = strconv.Atoi(s[:4])
		m, _ = strconv.Atoi(s[4:6])
		d, _ = strconv.Atoi(s[6:])
	case len(s) == 10 && s[4] == '-' && s[7] == '-' && allDigits(s[:4]) && allDigits(s[5:7]) && allDigits(s[8:]):
		y, _ = strconv.Atoi(s[:4])
		m, _ = strconv.Atoi(s[5:7])
		d, _ = strconv.Atoi(s[8:])
	default:
		return 0, errors.New("not a date (want YYYYMMDD or YYYY-MM-DD)")
	}
	if y < minYear || y > maxYear {
		return 0, fmt.Errorf("year outside %d–%d", minYear, maxYear)
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if yy, mm, dd := t.Date(); yy != y || int(mm) != m || dd != d {
		return 0, errors.New("no such day")
	}
	return DateOf(t), err
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Transaction is one purchase: who, which day, how many items and for
// how much. Several transactions of one customer on one day are one
// purchase to the models (Summarize merges them).
type Transaction struct {
	Customer string
	Date     Date
	Quantity float64
	Amount   float64
}

// MaxLine is the longest line Parse accepts, in bytes.
const MaxLine = 64 << 10

// MaxNumber is the largest quantity or amount Parse accepts, so that sums
// over any file stay finite.
const MaxNumber = 1e15

// ReadTransactions reads a whole transaction file (see Parse).
func ReadTransactions(r io.Reader) ([]Transaction, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse reads transactions in one of two layouts, told apart by the first
// non-blank line:
//
//   - CSV (the first line has a comma): a header naming the columns
//     customer_id, date and amount, and optionally quantity, in any order;
//     other columns are ignored.
//   - Whitespace-separated, CDNOW's layout: customer_id date quantity
//     amount (CDNOW_master.txt, whose first line is a header, skipped), or
//     five columns customer_id sample_id date quantity amount
//     (CDNOW_sample.txt). The first data line fixes the number of columns.
//
// Dates are YYYYMMDD or YYYY-MM-DD; quantity and amount are finite and not
// negative; the customer id is not empty. Lines may end in LF or CRLF;
// blank lines are skipped. The first problem is returned as a *ParseError
// wrapping ErrSyntax. Parse never panics, whatever the input.
func Parse(data []byte) ([]Transaction, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	first := firstLine(data)
	if bytes.IndexByte(first, ',') >= 0 {
		return parseCSV(data)
	}
	return parseFields(data)
}

func firstLine(data []byte) []byte {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimSpace(line)) > 0 {
			return line
		}
	}
	return nil
}

// shorten returns s cut to 40 bytes on a rune boundary, for error text.
func shorten(s string) string {
	if len(s) <= 40 {
		return s
	}
	n := 40
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// field names of the whitespace layouts, by number of columns.
var layouts = map[int][]string{
	4: {"customer_id", "date", "quantity", "amount"},
	5: {"customer_id", "sample_id", "date", "quantity", "amount"},
}

func parseFields(data []byte) ([]Transaction, error) {
	var out []Transaction
	var names []string
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) > MaxLine {
			return nil, &ParseError{Line: lineNo, Reason: fmt.Sprintf("line longer than %d bytes", MaxLine)}
		}
		fields := strings.Fields(string(line))
		if len(fields) == 0 {
			continue
		}
		if names == nil {
			if isHeader(fields) {
				if _, ok := layouts[len(fields)]; !ok {
					return nil, &ParseError{Line: lineNo, Reason: fmt.Sprintf("header has %d columns, want 4 (customer_id date quantity amount) or 5 (customer_id sample_id date quantity amount)", len(fields))}
				}
				continue
			}
			var ok bool
			if names, ok = layouts[len(fields)]; !ok {
				return nil, &ParseError{Line: lineNo, Reason: fmt.Sprintf("%d columns, want 4 (customer_id date quantity amount) or 5 (customer_id sample_id date quantity amount), separated by spaces", len(fields))}
			}
		}
		if len(fields) != len(names) {
			return nil, &ParseError{Line: lineNo, Reason: fmt.Sprintf("%d columns, want %d like the first line", len(fields), len(names))}
		}
		off := len(names) - 4 // the sample layout's extra column
		t, err := transaction(fields[0], fields[1+off], fields[2+off], fields[3+off])
		if err != nil {
			err.Line = lineNo
			if err.Column > 1 {
				err.Column += off
			}
			err.Field = names[err.Column-1]
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// isHeader says whether the first line of a whitespace file is a header:
// it names a date column instead of holding a date.
func isHeader(fields []string) bool {
	for _, f := range fields {
		if strings.EqualFold(f, "date") {
			return true
		}
	}
	return false
}

// transaction checks and converts one row's fields. The error's Column is
// 1 to 4 for id, date, quantity, amount; quantity may be "" (absent).
func transaction(id, date, qty, amount string) (Transaction, *ParseError) {
	var t Transaction
	if id == "" {
		return t, &ParseError{Column: 1, Reason: "empty customer id"}
	}
	t.Customer = id
	d, err := ParseDate(date)
	if err != nil {
		return t, &ParseError{Column: 2, Value: shorten(date), Reason: err.Error()}
	}
	t.Date = d
	if qty != "" {
		q, err := number(qty)
		if err != nil {
			return t, &ParseError{Column: 3, Value: shorten(qty), Reason: err.Error()}
		}
		t.Quantity = q
	}
	a, err := number(amount)
	if err != nil {
		return t, &ParseError{Column: 4, Value: shorten(amount), Reason: err.Error()}
	}
	t.Amount = a
	return t, nil
}

func number(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil:
		return 0, errors.New("not a number")
	case math.IsNaN(v) || math.IsInf(v, 0):
		return 0, errors.New("not a finite number")
	case v < 0:
		return 0, errors.New("negative (returns and refunds are not purchases: leave them out)")
	case v > MaxNumber:
		return 0, errors.New("too large (over 1e15)")
	}
	return v, nil
}

func parseCSV(data []byte) ([]Transaction, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, csvError(err)
	}
	col := map[string]int{"customer_id": -1, "date": -1, "quantity": -1, "amount": -1}
	line, _ := r.FieldPos(0)
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(h))
		if j, ok := col[h]; ok {
			if j >= 0 {
				return nil, &ParseError{Line: line, Column: i + 1, Value: shorten(head[i]), Reason: "column named twice in the header"}
			}
			col[h] = i
		}
	}
	for _, name := range []string{"customer_id", "date", "amount"} {
		if col[name] < 0 {
			return nil, &ParseError{Line: line, Reason: fmt.Sprintf("header has no %s column (want customer_id,date,quantity,amount; quantity optional)", name)}
		}
	}
	width := 0
	for _, i := range col {
		width = max(width, i+1)
	}
	var out []Transaction
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) < width {
			return nil, &ParseError{Line: line, Reason: fmt.Sprintf("%d columns, the header has %d", len(rec), len(head))}
		}
		get := func(name string) string {
			if i := col[name]; i >= 0 {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		t, perr := transaction(get("customer_id"), get("date"), get("quantity"), get("amount"))
		if perr != nil {
			name := []string{"customer_id", "date", "quantity", "amount"}[perr.Column-1]
			perr.Field = name
			perr.Line, _ = r.FieldPos(col[name])
			perr.Column = col[name] + 1
			return nil, perr
		}
		out = append(out, t)
	}
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &ParseError{Line: pe.Line, Reason: fmt.Sprintf("%v (byte %d)", pe.Err, pe.Column)}
	}
	return &ParseError{Line: 1, Reason: err.Error()}
}
