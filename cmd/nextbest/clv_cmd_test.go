package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"nextbest/internal/journaltest"
	"nextbest/journal"
)

// cdnowCSV rebuilds a transaction file from clv/testdata/cdnow_summary.csv
// (the CDNOW sample's calibration summary): each customer's first
// purchase on the end day minus T, x repeat purchases spread over
// (first, first + t_x] with the last on t_x, each worth the mean repeat
// spend, and the holdout purchases spread over the weeks after the end.
// It has exactly the sample's (x, t_x, T, mean spend), so fitting it must
// give the published parameters.
func cdnowCSV(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../clv/testdata/cdnow_summary.csv")
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	b.WriteString("customer_id,date,quantity,amount\n")
	day := func(d int) string { return end.AddDate(0, 0, d).Format("2006-01-02") }
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
		f := strings.Split(line, ",")
		x, _ := strconv.Atoi(f[1])
		tx, _ := strconv.Atoi(f[2])
		T, _ := strconv.Atoi(f[3])
		hold, _ := strconv.Atoi(f[5])
		first := -T
		fmt.Fprintf(&b, "%s,%s,1,10\n", f[0], day(first))
		for k := 1; k <= x; k++ {
			fmt.Fprintf(&b, "%s,%s,1,%s\n", f[0], day(first+int(math.Round(float64(k*tx)/float64(x)))), f[4])
		}
		for k := 1; k <= hold; k++ {
			fmt.Fprintf(&b, "%s,%s,1,20\n", f[0], day(k*270/(hold+1)))
		}
	}
	path := filepath.Join(t.TempDir(), "cdnow.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCLVFitJSON(t *testing.T) {
	path := cdnowCSV(t)
	var out, errOut bytes.Buffer
	if err := runCLV([]string{"fit", "--transactions", path, "--end", "1997-09-30", "--json"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	published := map[string]float64{"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "gamma": 15.44}
	for k, want := range published {
		v, ok := got[k].(float64)
		if !ok || math.Abs(v/want-1) > 0.01 {
			t.Errorf("%s = %v, published %v", k, got[k], want)
		}
		if se, ok := got["se"].(map[string]any)[k].(float64); !ok || !(se > 0) {
			t.Errorf("se.%s = %v", k, got["se"].(map[string]any)[k])
		}
	}
	if got["customers"] != 2357.0 || got["repeat_buyers"] != 946.0 {
		t.Errorf("customers %v, repeat buyers %v", got["customers"], got["repeat_buyers"])
	}

	// the text form
	out.Reset()
	if err := runCLV([]string{"fit", "--transactions", path, "--end", "1997-09-30"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), "r 0.24259 (SE 0.01256) alpha 4.41360 (SE 0.37822)") {
		t.Errorf("text output:\n%s", out.String())
	}
}

func TestCLVReport(t *testing.T) {
	path := cdnowCSV(t)
	dir := t.TempDir()
	for _, format := range []string{"csv", "json"} {
		var out, errOut bytes.Buffer
		html := filepath.Join(dir, "r-"+format+".html")
		extra := filepath.Join(dir, "extra.csv")
		if err := runCLV([]string{"report", "--transactions", path, "--end", "1997-09-30", "--out", html, "--format", format, "--csv", extra}, &out, &errOut); err != nil {
			t.Fatal(err)
		}
		page, err := os.ReadFile(html)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(page), "Expected value of the customer base") || !strings.Contains(string(page), "<svg") {
			t.Error("page lacks the headline or the chart")
		}
		// the holdout runs to the file's last day by default: 1,882 purchases
		if !strings.Contains(out.String(), "they made 1,882") {
			t.Errorf("stdout:\n%s", out.String())
		}
		beside, err := os.ReadFile(filepath.Join(dir, "r-"+format+"."+format))
		if err != nil {
			t.Fatal(err)
		}
		if format == "csv" && !strings.HasPrefix(string(beside), "customer_id,first,x,t_x,T,") ||
			format == "json" && !json.Valid(beside) {
			t.Errorf("%s file starts %q", format, beside[:min(60, len(beside))])
		}
		if _, err := os.Stat(extra); err != nil {
			t.Error(err)
		}
	}
}

func TestCLVBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	bad := write("bad.txt", " 00001 19970101  1   11.77\n 00002 1997011x  5   77.00\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fit", "--transactions", bad}, "transactions " + bad + `: line 2, column 2 (date): "1997011x": not a date (want YYYYMMDD or YYYY-MM-DD)`},
		{[]string{"fit", "--transactions", filepath.Join(dir, "none")}, "transactions " + filepath.Join(dir, "none") + ": open: no such file or directory"},
		{[]string{"fit"}, "clv fit: give one of --transactions and --journal"},
		{[]string{"fit", "--transactions", bad, "--end", "1997-13-01"}, `clv fit: --end "1997-13-01": no such day`},
		{[]string{"report", "--transactions", bad}, "clv report: --out is required"},
		{[]string{"report", "--transactions", bad, "--out", "x.html", "--format", "xml"}, `clv report: --format "xml": want csv or json`},
		{[]string{"nope"}, `clv: unknown subcommand "nope"`},
		{[]string{"fit", "--transactions", write("one.csv", "customer_id,date,amount\na,2024-01-01,5\n")}, "BG/NBD: clv: maximum-likelihood fit failed"},
		{[]string{"fit", "--transactions", write("empty.csv", "customer_id,date,amount\n")}, "no purchases"},
	} {
		var out, errOut bytes.Buffer
		err := runCLV(c.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(oneLine(err.Error()), "\n") {
			t.Errorf("%v: got %v, want %q", c.args, err, c.want)
		}
	}
}

// TestCLVJournalPurchases reads purchase events from a journal: other
// records and event types are skipped, the day is the event time's UTC
// day; an event without an amount is an error naming its LSN.
func TestCLVJournalPurchases(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC)
	ev := func(c, typ string, at time.Time, props map[string]any) journal.Event {
		return journal.Event{CustomerID: c, Type: typ, Time: at, Properties: props}
	}
	dir := journaltest.Write(t,
		ev("c1", "purchase", t0, map[string]any{"amount": 12.5, "quantity": 2.0}),
		ev("c1", "page_view", t0, nil),
		journaltest.Outcome("d1", "a1", "purchase", 1, t0),
		ev("c2", "purchase", t0.Add(time.Hour), map[string]any{"amount": 3.0}),
	)
	txs, err := journalPurchases(dir, "purchase", "amount")
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) != 2 || txs[0].Customer != "c1" || txs[0].Amount != 12.5 || txs[0].Quantity != 2 ||
		txs[0].Date.String() != "2026-03-01" || txs[1].Date.String() != "2026-03-02" {
		t.Errorf("got %+v", txs)
	}
	bad := journaltest.Write(t, ev("c1", "purchase", t0, map[string]any{"amount": 1.0}), ev("c2", "purchase", t0, map[string]any{"value": 1.0}))
	if _, err := journalPurchases(bad, "purchase", "amount"); err == nil || !strings.Contains(err.Error(), `LSN 2: purchase event of customer "c2" without a non-negative number in property "amount"`) {
		t.Errorf("got %v", err)
	}
}
