package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nextbest/internal/journaltest"
	"nextbest/journal"
)

// attributionJournal: two customers. c1 is touched by email (day 0)
// and web (day 3) and converts (a purchase outcome of 50) on day 4; c2 is
// touched by web on day 0 and buys (a purchase event of 30) on day 1;
// c3 is touched by email and never converts.
func attributionJournal(t *testing.T) string {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	d := func(id, cust, ch string, days int, action string) journal.Decision {
		return journal.Decision{DecisionID: id, CustomerID: cust, Channel: ch, Time: t0.AddDate(0, 0, days), Policy: "p",
			Eligible: []string{action}, Actions: []journal.LoggedAction{{ActionID: action, Propensity: 1}}}
	}
	return journaltest.Write(t,
		d("d1", "c1", "email", 0, "a-1"),
		d("d2", "c2", "web", 0, "a-2"),
		d("d5", "c3", "email", 0, "a-1"),
		journal.Event{CustomerID: "c2", Type: "purchase", Time: t0.AddDate(0, 0, 1), Properties: map[string]any{"amount": 30.0}},
		d("d3", "c1", "web", 3, "a-2"),
		journal.Outcome{DecisionID: "d3", ActionID: "a-2", CustomerID: "c1", Type: "purchase", Reward: 50, Time: t0.AddDate(0, 0, 4)},
	)
}

func TestReportAttribution(t *testing.T) {
	dir := attributionJournal(t)
	outDir := t.TempDir()
	html := filepath.Join(outDir, "sub", "attr.html")
	var stdout, stderr bytes.Buffer
	if err := report([]string{"attribution", "--journal", dir, "--out", html}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	// web is on both converting paths and is last on both: Markov and
	// last touch agree that it leads
	if !strings.HasPrefix(stdout.String(), "Most conversions by the data-driven model: channel web drives") ||
		!strings.Contains(stdout.String(), "last touch credits the same channel") {
		t.Errorf("stdout:\n%s", &stdout)
	}
	if !strings.Contains(stderr.String(), "journal: 6 records, 4 touches, 1 converting outcomes, 1 conversion events (0 merged), 3 customers") {
		t.Errorf("stderr:\n%s", &stderr)
	}
	for _, name := range []string{"attr.html", "attr.json", "attr.csv"} {
		if st, err := os.Stat(filepath.Join(outDir, "sub", name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	page, _ := os.ReadFile(html)
	if !bytes.Contains(page, []byte("<svg")) || !bytes.Contains(page, []byte("Attribution by channel")) {
		t.Errorf("the page has no chart or title")
	}

	// --json, by action: the report on stdout
	stdout.Reset()
	if err := report([]string{"attribution", "--journal", dir, "--out", html, "--by", "action", "--json", "--lookback", "2d"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var got struct {
		By          string   `json:"by"`
		Lookback    float64  `json:"lookback_days"`
		Conversions int      `json:"conversions"`
		Attributed  int      `json:"attributed_conversions"`
		Keys        []string `json:"keys"`
		Source      string   `json:"source"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("--json: %v\n%s", err, &stdout)
	}
	// with a 2-day lookback c1's email touch (4 days before) is stale:
	// a-1 is only on paths that did not convert, listed with no credit
	if got.By != "action" || got.Lookback != 2 || got.Conversions != 2 || got.Attributed != 2 || strings.Join(got.Keys, " ") != "a-2 a-1" || got.Source != dir {
		t.Errorf("--json: %+v", got)
	}

	// --csv
	stdout.Reset()
	if err := report([]string{"attribution", "--journal", dir, "--out", html, "--csv"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(stdout.String()), "\n"); len(lines) != 1+6*2 || lines[0] != "by,model,key,conversions,revenue,share" {
		t.Errorf("--csv:\n%s", &stdout)
	}
}

func TestReportAttributionErrors(t *testing.T) {
	dir := attributionJournal(t)
	empty := t.TempDir()
	notDir := filepath.Join(empty, "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "r.html")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "report attribution: --journal is required (see nextbest report attribution -h)"},
		{[]string{"--journal", dir, "--by", "campaign"}, `--by "campaign": want channel or action`},
		{[]string{"--journal", dir, "--lookback", "7x"}, `-lookback`},
		{[]string{"--journal", dir, "--lookback", "0"}, "--lookback and --half-life must be positive"},
		{[]string{"--journal", dir, "--json", "--csv"}, "at most one of --json and --csv"},
		{[]string{"--journal", dir, "--conversions", "clicks"}, `--conversions "clicks"`},
		{[]string{"--journal", dir, "--out", "r.json"}, `--out "r.json"`},
		{[]string{"--journal", filepath.Join(empty, "missing")}, "no such file or directory"},
		{[]string{"--journal", notDir}, "not a directory"},
		{[]string{"--journal", empty, "--out", out}, "no conversion with a touch"},
		{[]string{"--journal", dir, "--out", out, "--config", filepath.Join(empty, "nope.yaml")}, "config "},
		{[]string{"--journal", dir, "extra"}, `unexpected argument "extra"`},
	} {
		var stdout, stderr bytes.Buffer
		err := report(append([]string{"attribution"}, c.args...), &stdout, &stderr)
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		if msg := oneLine(err.Error()); !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%v: error %q does not say %q", c.args, msg, c.want)
		}
	}
	// the experiment report is still what plain "report" runs
	err := report([]string{"--journal", dir}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--experiments") {
		t.Errorf("report --journal DIR: %v", err)
	}
}
