package clv_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nextbest/clv"
)

func TestParse(t *testing.T) {
	d := mustDate
	for _, c := range []struct {
		name, in string
		want     []clv.Transaction
	}{
		{"cdnow master with header, CRLF", " customer_id  date number_of_cds  dollar_value\r\n 00001 19970101  1   11.77\r\n 00002 19970112  5   77.00\r\n",
			[]clv.Transaction{{"00001", d("1997-01-01"), 1, 11.77}, {"00002", d("1997-01-12"), 5, 77}}},
		{"cdnow sample, five columns, no final newline", " 00004 0001 19970101  2   29.33\n\n 00004 0001 19970118  2   29.73",
			[]clv.Transaction{{"00004", d("1997-01-01"), 2, 29.33}, {"00004", d("1997-01-18"), 2, 29.73}}},
		{"csv, columns in any order, extra column, ISO dates", "\ufeffamount,customer_id,channel,date\n12.5,c1,web,2024-02-29\n0,c2,shop,20240301\n",
			[]clv.Transaction{{"c1", d("2024-02-29"), 0, 12.5}, {"c2", d("2024-03-01"), 0, 0}}},
		{"csv with quantity, CRLF, blank line", "customer_id,date,quantity,amount\r\nc1,2024-01-01,3,9.99\r\n\r\n",
			[]clv.Transaction{{"c1", d("2024-01-01"), 3, 9.99}}},
		{"empty", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := clv.Parse([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("row %d: got %+v, want %+v", i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"bad date", "a 19970101 1 2\nb 19971301 1 2\n", `line 2, column 2 (date): "19971301": no such day`},
		{"bad date sample layout", "a 1 19970101 1 2\nb 2 1997-1-1 1 2\n", `line 2, column 3 (date): "1997-1-1": not a date (want YYYYMMDD or YYYY-MM-DD)`},
		{"negative amount", "a 19970101 1 -2\n", `line 1, column 4 (amount): "-2": negative (returns and refunds are not purchases: leave them out)`},
		{"NaN amount", "a 19970101 1 NaN\n", `line 1, column 4 (amount): "NaN": not a finite number`},
		{"bad quantity", "a 19970101 x 2\n", `line 1, column 3 (quantity): "x": not a number`},
		{"column count", "a 19970101 1 2\nb 19970101 1\n", "line 2: 3 columns, want 4 like the first line"},
		{"too few columns", "a 19970101\n", "line 1: 2 columns, want 4 (customer_id date quantity amount) or 5 (customer_id sample_id date quantity amount), separated by spaces"},
		{"csv missing column", "customer_id,date,quantity\nc,20240101,1\n", "line 1: header has no amount column (want customer_id,date,quantity,amount; quantity optional)"},
		{"csv bad amount", "customer_id,date,amount\nc,20240101,1\nd,20240101,1e999\n", `line 3, column 3 (amount): "1e999": not a number`},
		{"csv empty id", "customer_id,date,amount\n,20240101,1\n", "line 2, column 1 (customer_id): empty customer id"},
		{"csv short row", "customer_id,date,amount\nc,20240101\n", "line 2: 2 columns, the header has 3"},
		{"csv quote", "customer_id,date,amount\n\"c,20240101,1\n", `line 2: extraneous or missing " in quoted-field`},
		{"too large", "a 19970101 1 1.1e308\n", `line 1, column 4 (amount): "1.1e308": too large (over 1e15)`},
		{"year", "a 18000101 1 2\n", `line 1, column 2 (date): "18000101": year outside 1900–2200`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := clv.Parse([]byte(c.in))
			var pe *clv.ParseError
			if !errors.As(err, &pe) || !errors.Is(err, clv.ErrSyntax) {
				t.Fatalf("got %v, want a *ParseError", err)
			}
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("got  %s\nwant %s", err, c.want)
			}
		})
	}
}

// FuzzParse: Parse never panics, and what it accepts is well formed:
// non-empty ids, dates in range, finite non-negative numbers; parsing is
// deterministic. Seeds: testdata/fuzz/FuzzParse and the cases above.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		" customer_id  date number_of_cds  dollar_value\r\n 00001 19970101  1   11.77\r\n",
		" 00004 0001 19970101  2   29.33\n",
		"customer_id,date,quantity,amount\nc1,2024-01-01,3,9.99\n",
		"amount,customer_id,date\n1,\"a\"\"b\",20240101\n",
		"a 19970229 1 2\n",
		"date\n",
	} {
		f.Add([]byte(s))
	}
	lo, hi := mustDate("1900-01-01"), mustDate("2200-12-31")
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		txs, err := clv.Parse(data)
		if err != nil {
			var pe *clv.ParseError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("error %v is not a *ParseError with a line", err)
			}
			return
		}
		for _, tx := range txs {
			if tx.Customer == "" || tx.Date < lo || tx.Date > hi || !(tx.Amount >= 0) || !(tx.Quantity >= 0) || tx.Amount > clv.MaxNumber || tx.Quantity > clv.MaxNumber {
				t.Fatalf("accepted a bad transaction %+v", tx)
			}
		}
		again, _ := clv.Parse(data)
		if len(again) != len(txs) {
			t.Fatal("not deterministic")
		}
		if len(txs) > 0 {
			s, err := clv.Summarize(txs, clv.SummaryOptions{})
			if err != nil {
				t.Fatalf("Summarize of parsed transactions: %v", err)
			}
			for _, c := range s.Customers {
				if c.X < 0 || c.TX < 0 || c.TX > c.T || math.IsInf(c.MeanSpend, 0) || math.IsNaN(c.MeanSpend) {
					t.Fatalf("bad summary %+v", c)
				}
			}
		}
	})
}

// TestFuzzCorpusPresent keeps the seed corpus from going missing.
func TestFuzzCorpusPresent(t *testing.T) {
	m, _ := filepath.Glob("testdata/fuzz/FuzzParse/*")
	if len(m) == 0 {
		t.Fatal("no seed corpus in testdata/fuzz/FuzzParse")
	}
	if _, err := os.Stat(m[0]); err != nil {
		t.Fatal(err)
	}
}
