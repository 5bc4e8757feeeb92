package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"nextbest/decide"
	"nextbest/eval"
	"nextbest/logs"
)

const reportUsage = `Usage:
  nextbest report --journal DIR --experiments FILE [--experiment NAME] [--out DIR] [flags]
  nextbest report attribution --journal DIR [flags]   multi-touch attribution (see nextbest report attribution -h)
  nextbest report journeys --journal DIR [flags]      journey analytics: stage funnel, journey map, touchpoint gaps (see -h)
  nextbest report campaigns --journal DIR [flags]     campaign and channel report: rates with intervals, revenue, lift (see -h)

Joins the journal's outcomes to its decisions with the service's
attribution window, default reward and outcome types (give its --config),
analyses each configured experiment (or only NAME) and writes
report.html, report.json and report.csv into --out (one sub-directory per
experiment when several are analysed). Prints each verdict. See
docs/reports.md.
`

// runReport is "nextbest report": experiment reports from the journal.
func runReport(args []string) error {
	return report(args, os.Stdout, os.Stderr)
}

func report(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "attribution":
			return reportAttribution(args[1:], stdout, stderr)
		case "journeys":
			return reportJourneys(args[1:], stdout, stderr)
		case "campaigns":
			return reportCampaigns(args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(stderr, reportUsage); fs.PrintDefaults() }
	cf := addConfigFlags(fs, cfgExperiments|cfgWindow|cfgDefaultReward)
	var (
		journalDir = fs.String("journal", "", "journal directory (required)")
		name       = fs.String("experiment", "", "analyse only this experiment (default: every one in the file)")
		out        = fs.String("out", "report", "output directory")
		dropOpen   = fs.Bool("drop-open", false, "leave out decisions whose attribution window is still open")
		o          eval.ExperimentOptions
	)
	fs.Float64Var(&o.Level, "level", 0.95, "confidence level; the always-valid p is compared with 1 − level")
	fs.Float64Var(&o.TauRelative, "tau", 0.1, "mSPRT mixing SD as a fraction of the pooled metric mean (the relative effect the test is tuned to)")
	fs.IntVar(&o.MinConversions, "min-conversions", 100, "conversions per arm before a verdict is trusted")
	fs.IntVar(&o.MinDecisions, "min-decisions", 1000, "decisions per arm before a verdict is trusted")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := cf.load()
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	expPath := cfg.Experiments
	if *journalDir == "" || expPath == "" {
		return usageErrorf(fs, "--journal and --experiments (or the config's experiments) are required")
	}
	exps, err := decide.LoadExperiments(expPath)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if *name != "" {
		var keep []*decide.Experiment
		for _, e := range exps {
			if e.Name == *name {
				keep = append(keep, e)
			}
		}
		if len(keep) == 0 {
			return fmt.Errorf("report: no experiment %q in %s", *name, expPath)
		}
		exps = keep
	}
	if len(exps) == 0 {
		return fmt.Errorf("report: %s configures no experiment", expPath)
	}
	start := time.Now()
	jc, err := cfg.joinConfig()
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	jc.DropOpen = *dropOpen
	joined, st, err := logs.Join(context.Background(), *journalDir, jc)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintf(stderr, "journal: %d decisions, %d outcomes joined (%d late, %d duplicate, %d unknown decision) in %v\n",
		st.Decisions, st.Joined, st.Late, st.Duplicate, st.Unknown, time.Since(start).Round(time.Millisecond))
	for _, e := range exps {
		res, err := eval.AnalyzeExperiment(e, joined, o)
		if err != nil {
			return fmt.Errorf("report: experiment %s: %w", e.Name, err)
		}
		dir := *out
		if len(exps) > 1 {
			dir = filepath.Join(*out, e.Name)
		}
		if err := eval.WriteReport(dir, res); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		fmt.Fprintf(stdout, "== %s: %s\n%s", e.Name, filepath.Join(dir, eval.ReportHTML), eval.VerdictText(res))
	}
	return nil
}
