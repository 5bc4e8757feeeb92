package stream

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"nextbest/journal"
)

func TestParseHeaders(t *testing.T) {
	ts := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name     string
		typ, at  string
		wantTyp  journal.Type
		wantTime time.Time
		ok       bool
	}{
		{"decision", "1", "2026-03-01T12:00:00.123456789Z", journal.TypeDecision, ts, true},
		{"lost", "4", "2026-03-01T12:00:00.123456789Z", journal.TypeLost, ts, true},
		{"audit", "5", "2026-03-01T12:00:00.123456789Z", journal.TypeAudit, ts, true},
		{"offset_to_utc", "3", "2026-03-01T13:00:00.123456789+01:00", journal.TypeEvent, ts, true},
		{"no_fraction", "2", "2026-03-01T12:00:00Z", journal.TypeOutcome, ts.Truncate(time.Second), true},
		{"missing_type", "", "2026-03-01T12:00:00Z", 0, time.Time{}, false},
		{"type_zero", "0", "2026-03-01T12:00:00Z", 0, time.Time{}, false},
		{"erasure", "6", "2026-03-01T12:00:00.123456789Z", journal.TypeErasure, ts, true},
		{"activation", "8", "2026-03-01T12:00:00.123456789Z", journal.TypeActivation, ts, true},
		{"type_unknown", "99", "2026-03-01T12:00:00Z", 0, time.Time{}, false},
		{"type_256", "256", "2026-03-01T12:00:00Z", 0, time.Time{}, false},
		{"type_sign", "+1", "2026-03-01T12:00:00Z", 0, time.Time{}, false},
		{"type_name", "decision", "2026-03-01T12:00:00Z", 0, time.Time{}, false},
		{"missing_time", "1", "", 0, time.Time{}, false},
		{"unix_time", "1", "1772366400", 0, time.Time{}, false},
		{"year_1600", "1", "1600-01-01T00:00:00Z", 0, time.Time{}, false},
		{"year_2263", "1", "2263-01-01T00:00:00Z", 0, time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := nats.Header{}
			if tc.typ != "" {
				h.Set(HeaderType, tc.typ)
			}
			if tc.at != "" {
				h.Set(HeaderTime, tc.at)
			}
			typ, at, err := parseHeaders(h)
			if !tc.ok {
				if !errors.Is(err, ErrBadRecord) {
					t.Fatalf("parseHeaders = %v, %v, %v; want ErrBadRecord", typ, at, err)
				}
				return
			}
			if err != nil || typ != tc.wantTyp || !at.Equal(tc.wantTime) || at.Location() != time.UTC {
				t.Fatalf("parseHeaders = %v, %v, %v; want %v, %v", typ, at, err, tc.wantTyp, tc.wantTime)
			}
		})
	}
}

// FuzzParseHeaders feeds parseHeaders arbitrary header values. Property:
// it never panics; what it accepts, setHeaders writes back into values
// that parse to the same type and instant; what it refuses wraps
// ErrBadRecord. Seeds beyond these live in testdata/fuzz/FuzzParseHeaders.
func FuzzParseHeaders(f *testing.F) {
	f.Add("1", "2026-03-01T12:00:00.123456789Z")
	f.Add("3", "2026-03-01T13:00:00+01:00")
	f.Add("4", "2262-04-11T23:47:16.854775807Z")
	f.Add("01", "1678-01-01T00:00:00Z")
	f.Add("255", "2026-03-01T12:00:00Z")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, typS, timeS string) {
		if len(typS) > 64 || len(timeS) > 256 {
			return
		}
		h := nats.Header{}
		h.Set(HeaderType, typS)
		h.Set(HeaderTime, timeS)
		typ, at, err := parseHeaders(h)
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v does not wrap ErrBadRecord", err)
			}
			return
		}
		if at.Location() != time.UTC {
			t.Fatalf("time %v not in UTC", at)
		}
		h2 := nats.Header{}
		setHeaders(h2, typ, at)
		typ2, at2, err := parseHeaders(h2)
		if err != nil || typ2 != typ || !at2.Equal(at) {
			t.Fatalf("round trip of (%q, %q): %v %v %v, want %v %v", typS, timeS, typ2, at2, err, typ, at)
		}
	})
}
