package export_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nextbest/export"
	"nextbest/internal/journaltest"
	"nextbest/journal"
	"nextbest/logs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var t0 = journaltest.T0

// fixture writes the golden journal: five decisions on two channels (one
// in an experiment, one a two-slot decision, one a fallback without
// actions), outcomes joined, late, duplicate and for an unknown decision,
// an event and an audit record. It returns the directory.
func fixture(t testing.TB) string {
	t.Helper()
	d1 := journaltest.Decision("d1", t0, "spec1", "a-home", "a-cart")
	d1.Eligible = []string{"a-none", "a-home", "a-cart", "a-product"}
	d1.Explorer = "epsilon_greedy(0.1)"
	d1.Actions[0].Score, d1.Actions[0].Estimate = 1.5, 0.25
	d2 := journaltest.Decision("d2", t0.Add(time.Hour), "spec1", "a-product")
	d2.Channel = "email"
	d2.Experiment = &journal.ExperimentArm{Name: "exp1", Arm: "treatment"}
	d2.Actions[0].Propensity = 0.9
	d3 := journaltest.Decision("d3", t0.Add(2*time.Hour), "spec1", "a-cart")
	d3.Context = map[string]any{"page": "home", "flags": []any{true, false}, "geo": map[string]any{"city": "Paris x|y"}}
	d3.Profile = nil
	d3.Experiment = &journal.ExperimentArm{Name: "exp1", Arm: "control"}
	d4 := journaltest.Decision("d4", t0.Add(3*time.Hour), "spec1")
	d4.Fallback = true
	d5 := journaltest.Decision("d5", t0.Add(30*24*time.Hour), "spec1", "a-home")
	late := journaltest.Outcome("d2", "a-product", "conversion", 1, t0.Add(9*24*time.Hour))
	late.DecisionTime = d2.Time
	dir := journaltest.Write(t,
		d1, d2,
		journaltest.Outcome("d1", "a-cart", "click", 1, t0.Add(time.Minute)),
		journaltest.Outcome("d1", "a-cart", "revenue", 42.5, t0.Add(2*time.Minute)),
		journaltest.Outcome("d1", "a-cart", "click", 1, t0.Add(3*time.Minute)), // duplicate
		journal.Event{CustomerID: "c-d1", Type: "page_view", Channel: "web", Time: t0.Add(4 * time.Minute)},
		d3, d4,
		journaltest.Outcome("d3", "a-cart", "conversion", 1, t0.Add(3*time.Hour)),
		journaltest.Outcome("zz", "a-cart", "click", 1, t0.Add(3*time.Hour)), // unknown decision
		late, d5)
	// an audit record, appended as the service appends it
	j, err := journal.Open(journal.Config{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(context.Background(), journal.TypeAudit, t0.Add(31*24*time.Hour),
		[]byte(`{"v":1,"ts":"2026-12-23T10:00:00Z","by":"cli","kind":"mode_set","detail":"learning on"}`)); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func run(t *testing.T, dir string, o export.Options) ([]byte, export.Stats) {
	t.Helper()
	var b bytes.Buffer
	st, err := export.Journal(context.Background(), dir, &b, o)
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), st
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./export -run Golden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./export -run Golden -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// TestExportGolden exports the golden journal in each text format, joined
// and raw, and compares with testdata.
func TestExportGolden(t *testing.T) {
	dir := fixture(t)
	for _, c := range []struct {
		file string
		o    export.Options
		rows int
	}{
		{"golden.csv", export.Options{Format: export.CSV}, 5},
		{"golden.jsonl", export.Options{Format: export.JSONL}, 5},
		{"golden.dsjson", export.Options{Format: export.DSJSON}, 4},
		{"golden.cb_adf", export.Options{Format: export.CBADF}, 4},
		{"raw.csv", export.Options{Format: export.CSV, Raw: true}, 13},
		{"raw.jsonl", export.Options{Format: export.JSONL, Raw: true}, 13},
	} {
		t.Run(c.file, func(t *testing.T) {
			got, st := run(t, dir, c.o)
			if st.Rows != c.rows || st.Records != 13 {
				t.Errorf("stats %+v, want %d rows of 13 records", st, c.rows)
			}
			golden(t, c.file, got)
		})
	}
}

// TestExportJoinAccount checks what the join folded into the exported
// rewards: d1's clicked and bought second slot, d2's late conversion left
// out, the fallback's lack of a row, and the skip of DSJSON.
func TestExportJoinAccount(t *testing.T) {
	dir := fixture(t)
	_, st := run(t, dir, export.Options{Format: export.CSV})
	if st.Join.Late != 1 || st.Join.Duplicate != 1 || st.Join.Unknown != 1 || st.Decisions != 4 || st.Rows != 5 {
		t.Errorf("stats %+v", st)
	}
	_, st = run(t, dir, export.Options{Format: export.DSJSON})
	if st.Decisions != 4 || st.Skipped != 1 {
		t.Errorf("dsjson: %d decisions, %d skipped; want 4 and the fallback without actions skipped", st.Decisions, st.Skipped)
	}
	// a longer window joins d2's late conversion
	out, _ := run(t, dir, export.Options{Format: export.CSV, Join: logs.JoinConfig{Window: 10 * 24 * time.Hour}})
	if !strings.Contains(string(out), "d2,2,c-d2,email,2026-11-22T11:00:00Z,linucb@v1,spec1,,exp1,treatment,false,1,0,a-product,0.9,0,0,1,1,true") {
		t.Errorf("a 10-day window does not join d2's conversion:\n%s", out)
	}
}

func TestExportFilters(t *testing.T) {
	dir := fixture(t)
	ids := func(o export.Options) string {
		t.Helper()
		o.Format = export.JSONL
		out, _ := run(t, dir, o)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l == "" {
				continue
			}
			if o.Raw {
				got = append(got, l[strings.Index(l, `"type":"`)+8:][:3])
				continue
			}
			i := strings.Index(l, `"decision_id":"`) + len(`"decision_id":"`)
			got = append(got, l[i:i+2])
		}
		return strings.Join(got, " ")
	}
	for _, c := range []struct {
		name string
		o    export.Options
		want string
	}{
		{"none", export.Options{}, "d1 d1 d2 d3 d5"},
		{"channel", export.Options{Channel: "email"}, "d2"},
		{"experiment", export.Options{Experiment: "exp1"}, "d2 d3"},
		{"experiment and channel", export.Options{Experiment: "exp1", Channel: "web"}, "d3"},
		{"from", export.Options{From: t0.Add(2 * time.Hour)}, "d3 d5"},
		{"to", export.Options{To: t0.Add(time.Hour)}, "d1 d1"},
		{"from to", export.Options{From: t0.Add(time.Hour), To: t0.Add(3 * time.Hour)}, "d2 d3"},
		{"raw", export.Options{Raw: true}, "dec dec out out out eve dec dec out out out dec aud"},
		{"raw channel", export.Options{Raw: true, Channel: "web"}, "dec out out out eve dec dec out dec"},
		{"raw experiment", export.Options{Raw: true, Experiment: "exp1"}, "dec dec out out"},
		{"raw to", export.Options{Raw: true, To: t0.Add(time.Hour)}, "dec out out out eve"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ids(c.o); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestExportBadOptions(t *testing.T) {
	dir := fixture(t)
	for _, o := range []export.Options{
		{Format: "xml"},
		{},
		{Format: export.DSJSON, Raw: true},
		{Format: export.CBADF, Raw: true},
		{Format: export.CSV, From: t0, To: t0},
		{Format: export.CSV, From: t0.Add(time.Hour), To: t0},
	} {
		var b bytes.Buffer
		_, err := export.Journal(context.Background(), dir, &b, o)
		if !errors.Is(err, export.ErrBadOptions) {
			t.Errorf("%+v: error %v, want ErrBadOptions", o, err)
		}
		if b.Len() != 0 {
			t.Errorf("%+v: wrote %q before failing", o, b.String())
		}
	}
	if _, err := export.ParseFormat("cb_adf"); err != nil {
		t.Error(err)
	}
	if _, err := export.Journal(context.Background(), filepath.Join(dir, "missing"), &bytes.Buffer{}, export.Options{Format: export.CSV}); err == nil {
		t.Error("no error for a missing journal")
	}
}

// TestExportProgress checks the progress callback ends with the totals.
func TestExportProgress(t *testing.T) {
	dir := fixture(t)
	for _, raw := range []bool{false, true} {
		var last export.Progress
		calls := 0
		_, st := run(t, dir, export.Options{Format: export.CSV, Raw: raw, Progress: func(p export.Progress) { last = p; calls++ }})
		if !last.Done || last.Rows != st.Rows || last.Records != 13 || calls != 1 {
			t.Errorf("raw %v: last progress %+v after %d calls, stats %+v", raw, last, calls, st)
		}
	}
}

// TestExportLeavesOutPersonal: the profile inputs Options.Personal names
// (the feature spec's pii attributes) are in no row, joined or raw;
// without it they are all there.
func TestExportLeavesOutPersonal(t *testing.T) {
	dir := fixture(t)
	personal := func(input string) bool { return input == "attributes.tier" }
	for _, raw := range []bool{false, true} {
		all, _ := run(t, dir, export.Options{Format: export.JSONL, Raw: raw})
		if !strings.Contains(string(all), "attributes.tier") {
			t.Fatalf("raw %v: the fixture has no attributes.tier to leave out:\n%s", raw, all)
		}
		out, _ := run(t, dir, export.Options{Format: export.JSONL, Raw: raw, Personal: personal})
		if strings.Contains(string(out), "attributes.tier") {
			t.Errorf("raw %v: a personal input was exported:\n%s", raw, out)
		}
		if !strings.Contains(string(out), "attributes.age") && strings.Contains(string(all), "attributes.age") {
			t.Errorf("raw %v: a non-personal input was left out", raw)
		}
	}
}

// TestExportActivation: a decision made with defer_activation exports a
// row per activated slot, none if never activated; raw exports keep its
// activation records with the decision (and drop them with it).
func TestExportActivation(t *testing.T) {
	d1 := journaltest.Decision("d1", t0, "spec1", "a-home", "a-cart", "a-product")
	d1.DeferActivation = true
	d2 := journaltest.Decision("d2", t0.Add(time.Minute), "spec1", "a-home")
	d2.DeferActivation, d2.Channel = true, "email"
	act := func(d journal.Decision, slots ...int) journal.Activation {
		return journal.Activation{ActivationID: "a-" + d.DecisionID, DecisionID: d.DecisionID, CustomerID: d.CustomerID,
			Slots: slots, Time: d.Time.Add(time.Minute), DecisionTime: d.Time}
	}
	dir := journaltest.Write(t, d1, d2, act(d1, 0, 2))
	out, _ := run(t, dir, export.Options{Format: export.JSONL})
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		i := strings.Index(l, `"action_id":"`) + len(`"action_id":"`)
		rows = append(rows, l[i:i+strings.IndexByte(l[i:], '"')])
	}
	if got := strings.Join(rows, " "); got != "a-home a-product" {
		t.Errorf("rows for %q, want the activated slots of d1 only", got)
	}
	raw, _ := run(t, dir, export.Options{Format: export.JSONL, Raw: true, Channel: "web"})
	if n := strings.Count(string(raw), `"type":"activation"`); n != 1 || strings.Count(string(raw), "\n") != 2 {
		t.Errorf("raw, web only: %s", raw)
	}
}
