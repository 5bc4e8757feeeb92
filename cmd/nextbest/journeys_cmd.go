package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"nextbest/decide"
	"nextbest/journeys"
	"nextbest/logs"
)

const journeysUsage = `Usage:
  nextbest report journeys --journal DIR [--config FILE] [--from T] [--to T] [--inactive 14d]
                           [--steps 5] [--paths 10] [--out journeys.html] [--json FILE] [--csv FILE]

Journey analytics: replays each customer's events through the feature
spec's journey stages and transitions (the config's feature_spec, or
--features) and reports the stage funnel (reached, went further,
drop-off), the moves between stages, the time in each stage
(Kaplan-Meier), the most frequent paths of events and shown actions (a
flow chart), and the touchpoint gaps (stages and channels where customers
came and got no eligible action, or no decision). --from/--to follow the
customers first seen in that period, up to --to. Writes the HTML page to
--out and the JSON and CSV beside it (or to --json and --csv; "-" is
stdout); prints the opening lines. See docs/reports.md.
`

// reportJourneys is "nextbest report journeys".
func reportJourneys(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report journeys", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(stderr, journeysUsage+"\nFlags:\n"); fs.SetOutput(stderr); fs.PrintDefaults() }
	cf := addConfigFlags(fs, cfgFeatures)
	var (
		journalDir = fs.String("journal", "", "journal `directory` (required)")
		from       = fs.String("from", "", "follow only customers first seen at or after this `time` (RFC 3339 or YYYY-MM-DD, UTC)")
		to         = fs.String("to", "", "follow only customers first seen before this `time`, and read nothing after it")
		inactive   = decide.Duration(journeys.DefaultInactive)
		steps      = fs.Int("steps", journeys.DefaultSteps, "the journey map follows the first `n` steps of each journey")
		paths      = fs.Int("paths", journeys.DefaultPaths, "how many of the most frequent paths to list")
		out        reportOutputs
	)
	fs.Var((*durationFlag)(&inactive), "inactive", "a customer without an event or decision for this `duration` has dropped off at their last stage")
	out.flags(fs, "journeys.html")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *journalDir == "" {
		return usageErrorf(fs, "--journal is required")
	}
	o := journeys.Options{Inactive: inactive.D(), Steps: *steps, Paths: *paths}
	if inactive <= 0 || *steps <= 0 || *paths <= 0 {
		return usageErrorf(fs, "--inactive, --steps and --paths must be positive")
	}
	var err error
	if o.From, o.To, err = period(fs, *from, *to); err != nil {
		return err
	}
	if err := out.check(fs); err != nil {
		return err
	}
	cfg, err := cf.load()
	if err != nil {
		return fmt.Errorf("report journeys: %w", err)
	}
	spec, err := cfg.spec()
	if err != nil {
		return fmt.Errorf("report journeys: %w", err)
	}
	outcomes, err := logs.NewOutcomes(cfg.OutcomeTypes)
	if err != nil {
		return fmt.Errorf("report journeys: config %s: %w", cfg.path, err)
	}
	if err := journalDirExists(*journalDir); err != nil {
		return fmt.Errorf("report journeys: %w", err)
	}
	r, err := journeys.FromJournal(context.Background(), *journalDir, journeys.Config{Spec: spec, Outcomes: outcomes, Options: o})
	if err != nil {
		return fmt.Errorf("report journeys: journal %s: %w", *journalDir, err)
	}
	if err := out.write("report journeys", stdout, r.Headline, r.WriteHTML, r.WriteJSON, r.WriteCSV); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "journal: %d records, %d customers followed (%d left out), %d events, %d decisions\n",
		r.Stats.Journal.Records, r.Stats.Customers, r.Stats.LeftOut, r.Stats.Events, r.Stats.Decisions)
	return nil
}

// period parses --from and --to.
func period(fs *flag.FlagSet, from, to string) (f, t time.Time, err error) {
	if f, err = parseWhen(from); err != nil {
		return f, t, usageErrorf(fs, "--from %q: %v", from, err)
	}
	if t, err = parseWhen(to); err != nil {
		return f, t, usageErrorf(fs, "--to %q: %v", to, err)
	}
	if !f.IsZero() && !t.IsZero() && !f.Before(t) {
		return f, t, usageErrorf(fs, "--from %s is not before --to %s", from, to)
	}
	return f, t, nil
}

// journalDirExists says, in one line, why dir is not a journal
// directory.
func journalDirExists(dir string) error {
	st, err := os.Stat(dir)
	if err == nil && !st.IsDir() {
		err = errors.New("not a directory")
	}
	if err != nil {
		return fmt.Errorf("journal %s: %w", dir, unwrapPath(err))
	}
	return nil
}

// reportOutputs are the --out, --json and --csv flags of a report: the
// HTML page, and the JSON and CSV beside it unless named ("-" is
// stdout).
type reportOutputs struct {
	html, json, csv string
}

func (o *reportOutputs) flags(fs *flag.FlagSet, def string) {
	fs.StringVar(&o.html, "out", def, "the HTML report to `write`; the .json and .csv go beside it unless --json or --csv name them")
	fs.StringVar(&o.json, "json", "", "write the JSON report to this `file` (\"-\": stdout, instead of the opening lines)")
	fs.StringVar(&o.csv, "csv", "", "write the CSV report to this `file` (\"-\": stdout, instead of the opening lines)")
}

func (o *reportOutputs) check(fs *flag.FlagSet) error {
	if ext := filepath.Ext(o.html); ext == ".json" || ext == ".csv" {
		return usageErrorf(fs, "--out %q: name the HTML page; give the JSON and CSV with --json and --csv", o.html)
	}
	if o.json == "-" && o.csv == "-" {
		return usageErrorf(fs, "--json and --csv cannot both be - (stdout)")
	}
	base := strings.TrimSuffix(o.html, filepath.Ext(o.html))
	if o.json == "" {
		o.json = base + ".json"
	}
	if o.csv == "" {
		o.csv = base + ".csv"
	}
	return nil
}

// write writes the three forms (a file each, or stdout for "-") and,
// unless one went to stdout, prints the headline and the files written.
func (o *reportOutputs) write(cmd string, stdout io.Writer, headline []string, writers ...func(io.Writer) error) error {
	var wrote []string
	toStdout := false
	for i, path := range []string{o.html, o.json, o.csv} {
		var buf bytes.Buffer
		if err := writers[i](&buf); err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
		if path == "-" {
			toStdout = true
			if _, err := stdout.Write(buf.Bytes()); err != nil {
				return fmt.Errorf("%s: %w", cmd, err)
			}
			continue
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("%s: %w", cmd, unwrapPath(err))
			}
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("%s: %s: %w", cmd, path, unwrapPath(err))
		}
		wrote = append(wrote, path)
	}
	if !toStdout {
		fmt.Fprintf(stdout, "%s\nwrote %s\n", strings.Join(headline, "\n"), strings.Join(wrote, ", "))
	}
	return nil
}
