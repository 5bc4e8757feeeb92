package apptest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nextbest/internal/journaltest"
)

// exportJournal writes a journal of n retail web decisions (every third
// one's first slot clicked) and returns its directory.
func exportJournal(t *testing.T, n int) string {
	t.Helper()
	spec, _ := journaltest.Retail(t)
	ids := []string{"free-shipping", "new-arrivals", "style-guide"}
	var recs []any
	for i := range n {
		id := fmt.Sprintf("d%03d", i)
		at := journaltest.T0.Add(time.Duration(i) * time.Minute)
		d := journaltest.Decision(id, at, spec.Hash(), ids[i%3], ids[(i+1)%3])
		if i%2 == 1 {
			d.Channel = "email"
		}
		recs = append(recs, d)
		if i%3 == 0 {
			o := journaltest.Outcome(id, ids[i%3], "click", 1, at.Add(time.Minute))
			o.DecisionTime = at
			recs = append(recs, o)
		}
	}
	return journaltest.Write(t, recs...)
}

// TestCLIExport runs nextbest export as an analyst would: Parquet and CSV
// files, CSV on stdout with a filter, DSJSON that nextbest train reads
// back, and --raw.
func TestCLIExport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	dir := exportJournal(t, 30)
	out := t.TempDir()

	pq := filepath.Join(out, "x.parquet")
	_, stderr := runCLISplit(t, "export", "--journal", dir, "--format", "parquet", "--out", pq)
	if !strings.Contains(stderr, "exported 30 decisions (60 rows) of 40 records") || !strings.Contains(stderr, "10 outcomes joined") {
		t.Errorf("summary: %s", stderr)
	}
	if b, err := os.ReadFile(pq); err != nil || !strings.HasPrefix(string(b), "PAR1") {
		t.Fatalf("no parquet file: %v", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 1 {
		t.Errorf("temporary files left beside the output: %v", ents)
	}

	csv, _ := runCLISplit(t, "export", "--journal", dir, "--format", "csv", "--channel", "email", "--to", "2026-11-22T10:10:00Z")
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) != 1+5*2 || !strings.HasPrefix(lines[0], "decision_id,lsn,customer_id,channel,ts,") || !strings.Contains(lines[1], "d001,") {
		t.Errorf("csv of email before 10:10 (5 decisions, 10 rows):\n%s", csv)
	}

	ds := filepath.Join(out, "x.dsjson")
	runCLISplit(t, "export", "--journal", dir, "--format", "dsjson", "--out", ds)
	reg := filepath.Join(t.TempDir(), "registry")
	train := runCLI(t, "train", "--dsjson", ds, "--model", "linucb", "--registry", reg, "--seed", "1", "--feature-mismatch", "warn")
	if !strings.Contains(train, "saved version 1") {
		t.Errorf("train --dsjson on the export:\n%s", train)
	}

	raw, _ := runCLISplit(t, "export", "--journal", dir, "--format", "jsonl", "--raw")
	if n := strings.Count(raw, "\n"); n != 40 || strings.Count(raw, `"type":"outcome"`) != 10 {
		t.Errorf("raw jsonl: %d lines:\n%s", n, raw)
	}
}

// TestCLIExportUsageErrors: every bad invocation is one line on stderr,
// exit status 1, nothing on stdout, and no output file.
func TestCLIExportUsageErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	dir := exportJournal(t, 2)
	tmp := t.TempDir()
	outFile := filepath.Join(tmp, "out.csv")
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"export", "--bogus"}, []string{"export: ", "-bogus", "nextbest export -h"}},
		{[]string{"export", "--journal", dir}, []string{"--format is required"}},
		{[]string{"export", "--format", "csv"}, []string{"give --journal DIR or --stream URL"}},
		{[]string{"export", "--journal", dir, "--stream", "nats://x", "--format", "csv"}, []string{"not both"}},
		{[]string{"export", "--journal", dir, "--format", "xml"}, []string{`--format "xml"`}},
		{[]string{"export", "--journal", dir, "--format", "dsjson", "--raw"}, []string{"--raw exports parquet, csv or jsonl"}},
		{[]string{"export", "--journal", dir, "--format", "csv", "--from", "yesterday"}, []string{`--from "yesterday"`}},
		{[]string{"export", "--journal", dir, "--format", "csv", "--from", "2026-11-23", "--to", "2026-11-22"}, []string{"is not before --to"}},
		{[]string{"export", "--journal", dir, "--format", "csv", "--window", "7x"}, []string{"-window", `"7x"`}},
		{[]string{"export", "--journal", dir, "--format", "csv", "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"export", "--journal", filepath.Join(tmp, "missing"), "--format", "csv", "--out", outFile}, []string{"journal ", "no such file"}},
		{[]string{"export", "--journal", dir, "--format", "csv", "--config", filepath.Join(tmp, "missing.yaml")}, []string{"config ", "no such file"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args[1:], " "), func(t *testing.T) {
			t.Parallel()
			line := serveFails(t, c.args...)
			for _, w := range c.want {
				if !strings.Contains(line, w) {
					t.Errorf("%q does not contain %q", line, w)
				}
			}
		})
	}
	t.Cleanup(func() {
		if _, err := os.Stat(outFile); err == nil {
			t.Errorf("a failed export left %s", outFile)
		}
	})
}
