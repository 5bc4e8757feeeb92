package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nextbest/internal/journaltest"
	"nextbest/journal"
)

// reportsFixture writes a small journal under the retail feature spec
// and a configuration whose experiments file holds a permanent holdout:
// c1 views (web), is shown free-shipping, adds to cart and buys (an
// outcome and the purchase event); c2 views and is shown nothing (held
// out); c3 is asked on email and nothing is eligible.
func reportsFixture(t *testing.T) (journalDir, config string) {
	t.Helper()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := func(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }
	dec := func(id, cust, ch string, h float64, arm string, eligible []string, shown ...string) journal.Decision {
		d := journal.Decision{DecisionID: id, CustomerID: cust, Channel: ch, Time: at(h), Policy: "p", Eligible: eligible,
			Profile: map[string]any{"stage": "consideration"}, Experiment: &journal.ExperimentArm{Name: "hold", Arm: arm}}
		for i, a := range shown {
			d.Actions = append(d.Actions, journal.LoggedAction{ActionID: a, Slot: i, Propensity: 1})
		}
		return d
	}
	dir := t.TempDir()
	journalDir = filepath.Join(dir, "journal")
	journaltest.WriteDir(t, journalDir,
		journal.Event{CustomerID: "c1", Type: "page_view", Channel: "web", Time: at(0)},
		dec("d1", "c1", "web", 0, "programme", []string{"free-shipping"}, "free-shipping"),
		journal.Event{CustomerID: "c2", Type: "page_view", Channel: "web", Time: at(1)},
		dec("d2", "c2", "web", 1, "held", []string{"free-shipping"}),
		dec("d3", "c3", "email", 2, "programme", nil),
		journal.Event{CustomerID: "c1", Type: "add_to_cart", Channel: "web", Time: at(3)},
		journal.Outcome{DecisionID: "d1", ActionID: "free-shipping", CustomerID: "c1", Type: "purchase", Reward: 60, Time: at(4)},
		journal.Event{CustomerID: "c1", Type: "purchase", Channel: "web", Time: at(4), Properties: map[string]any{"amount": 60.0}},
	)
	exps := filepath.Join(dir, "experiments.yaml")
	config = filepath.Join(dir, "nextbest.yaml")
	for path, content := range map[string]string{
		exps: `experiments:
  - name: hold
    holdout: true
    start: 2026-03-01T00:00:00Z
    control: programme
    arms:
      - {name: programme, policy: promoted, share: 0.9}
      - {name: held, policy: none, share: 0.1}
`,
		config: fmt.Sprintf("experiments: %s\nattribution_window: 3d\nprofiles: none\n", exps),
	} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return journalDir, config
}

func TestReportJourneys(t *testing.T) {
	dir, config := reportsFixture(t)
	out := filepath.Join(t.TempDir(), "sub", "j.html")
	var stdout, stderr bytes.Buffer
	if err := report([]string{"journeys", "--journal", dir, "--config", config, "--out", out}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	// c1 reaches consideration and goes further, c2 stays; c3 never had an
	// event and entered at awareness with its decision
	if !strings.HasPrefix(stdout.String(), "Most customers stall at 'consideration': 50.0% of the 2 who reach it never go further.") ||
		!strings.Contains(stdout.String(), "wrote "+out) {
		t.Errorf("stdout:\n%s", &stdout)
	}
	if !strings.Contains(stderr.String(), "journal: 8 records, 3 customers followed (0 left out), 4 events, 3 decisions") {
		t.Errorf("stderr:\n%s", &stderr)
	}
	checkReportFiles(t, out, "section,row,column,metric,value")

	// --json - prints the report instead of the headline
	stdout.Reset()
	if err := report([]string{"journeys", "--journal", dir, "--out", out, "--json", "-", "--steps", "2", "--from", "2026-03-02T09:30:00Z"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Steps int `json:"steps"`
		Stats struct {
			Customers int `json:"customers"`
			LeftOut   int `json:"left_out"`
		} `json:"stats"`
		Paths []struct {
			Steps []string `json:"steps"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("--json -: %v\n%s", err, &stdout)
	}
	if got.Steps != 2 || got.Stats.Customers != 2 || got.Stats.LeftOut != 1 || len(got.Paths) == 0 || len(got.Paths[0].Steps) > 2 {
		t.Errorf("--json -: %+v", got)
	}
}

func TestReportCampaigns(t *testing.T) {
	dir, config := reportsFixture(t)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "c.html")
	csvPath := filepath.Join(outDir, "elsewhere", "c.csv")
	var stdout, stderr bytes.Buffer
	if err := report([]string{"campaigns", "--journal", dir, "--config", config, "--out", out, "--csv", csvPath, "--by", "week"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), "The one campaign: free-shipping converts 100.0% of its 1 impressions") ||
		!strings.Contains(stdout.String(), "Lift against the holdout 'hold': 'programme' converts 50.0% of 2 customers against 0.0% of 1 in 'held'") {
		t.Errorf("stdout:\n%s", &stdout)
	}
	if !strings.Contains(stderr.String(), "journal: 3 decisions, 1 outcomes joined (0 late, 0 duplicate), 1 impressions") {
		t.Errorf("stderr:\n%s", &stderr)
	}
	for _, p := range []string{out, filepath.Join(outDir, "c.json"), csvPath} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}

	// without the experiments, no lift; --csv - prints the CSV
	stdout.Reset()
	if err := report([]string{"campaigns", "--journal", dir, "--out", out, "--csv", "-", "--segment", "none"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&stdout).ReadAll()
	if err != nil || len(rows) < 2 || strings.Join(rows[0], ",") != "section,by,key,segment,segment_value,period,metric,value" {
		t.Fatalf("--csv -: %v\n%v", err, rows)
	}
	for _, r := range rows {
		if r[0] == "lift" || r[0] == "breakdowns" {
			t.Errorf("--segment none and no experiments, yet a %s row: %v", r[0], r)
		}
	}
}

func checkReportFiles(t *testing.T, html, csvHeader string) {
	t.Helper()
	base := strings.TrimSuffix(html, ".html")
	page, err := os.ReadFile(html)
	if err != nil || !bytes.Contains(page, []byte("<svg")) {
		t.Errorf("%s: %v, or no chart", html, err)
	}
	var v map[string]any
	if data, err := os.ReadFile(base + ".json"); err != nil || json.Unmarshal(data, &v) != nil || v["headline"] == nil {
		t.Errorf("%s.json: %v", base, err)
	}
	f, err := os.Open(base + ".csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 || strings.Join(rows[0], ",") != csvHeader {
		t.Errorf("%s.csv: %v, header %v", base, err, rows[:min(1, len(rows))])
	}
}

func TestReportJourneysCampaignsErrors(t *testing.T) {
	dir, config := reportsFixture(t)
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
		{[]string{"journeys"}, "report journeys: --journal is required (see nextbest report journeys -h)"},
		{[]string{"journeys", "--journal", dir, "--steps", "0"}, "--inactive, --steps and --paths must be positive"},
		{[]string{"journeys", "--journal", dir, "--inactive", "2x"}, "-inactive"},
		{[]string{"journeys", "--journal", dir, "--from", "yesterday"}, `--from "yesterday": not an RFC 3339 time`},
		{[]string{"journeys", "--journal", dir, "--from", "2026-03-05", "--to", "2026-03-01"}, "is not before --to"},
		{[]string{"journeys", "--journal", dir, "--out", "r.csv"}, `--out "r.csv"`},
		{[]string{"journeys", "--journal", dir, "--json", "-", "--csv", "-"}, "cannot both be -"},
		{[]string{"journeys", "--journal", filepath.Join(empty, "missing")}, "no such file or directory"},
		{[]string{"journeys", "--journal", notDir}, "not a directory"},
		{[]string{"journeys", "--journal", empty, "--out", out}, "no customer in the period"},
		{[]string{"journeys", "--journal", dir, "--features", filepath.Join(empty, "nope.yaml")}, "no such file"},
		{[]string{"journeys", "--journal", dir, "extra"}, `unexpected argument "extra"`},
		{[]string{"campaigns"}, "report campaigns: --journal is required"},
		{[]string{"campaigns", "--journal", dir, "--by", "month"}, `--by "month": want day or week`},
		{[]string{"campaigns", "--journal", dir, "--segment", "region"}, `--segment "region"`},
		{[]string{"campaigns", "--journal", dir, "--level", "95"}, "--level 95"},
		{[]string{"campaigns", "--journal", dir, "--click-types", "tap", "--out", out}, `outcome type "tap" is not declared`},
		{[]string{"campaigns", "--journal", dir, "--lift", "hold"}, "--lift hold: give the experiments"},
		{[]string{"campaigns", "--journal", dir, "--config", config, "--lift", "nope"}, `no experiment "nope"`},
		{[]string{"campaigns", "--journal", empty, "--out", out}, "no decision in the journal"},
		{[]string{"campaigns", "--journal", dir, "--window", "-1d"}, "-window"},
	} {
		var stdout, stderr bytes.Buffer
		err := report(c.args, &stdout, &stderr)
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		if msg := oneLine(err.Error()); !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%v: error %q does not say %q", c.args, msg, c.want)
		}
		if stdout.Len() > 0 || stderr.Len() > 0 {
			t.Errorf("%v: printed %q and %q before failing", c.args, &stdout, &stderr)
		}
	}
}
