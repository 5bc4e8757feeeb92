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

	"nextbest/attribution"
	"nextbest/decide"
	"nextbest/logs"
)

const attributionUsage = `Usage:
  nextbest report attribution --journal DIR [--config FILE] [--lookback 30d] [--by channel|action]
                              [--out attribution.html] [--json | --csv]

Multi-touch attribution: shares each conversion, and its revenue, out
among the customer's touches (decisions that showed actions) in the
lookback before it, by channel or by action, under last touch, first
touch, linear, time decay, position-based (40/20/40) and the data-driven
Markov removal effect. A conversion is an outcome of a converting type
(the config's outcome_types; default: conversion, purchase) or a
purchase event (its amount is the revenue). Writes the HTML report to
--out and its JSON and CSV beside it; prints the headline, or with
--json or --csv the whole report in that form. See docs/attribution.md.
`

// reportAttribution is "nextbest report attribution".
func reportAttribution(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report attribution", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(stderr, attributionUsage+"\nFlags:\n"); fs.SetOutput(stderr); fs.PrintDefaults() }
	cf := addConfigFlags(fs, 0)
	var (
		journalDir = fs.String("journal", "", "journal `directory` (required)")
		lookback   = decide.Duration(attribution.DefaultLookback)
		halfLife   = decide.Duration(attribution.DefaultHalfLife)
		by         = fs.String("by", "channel", "credit `channel` or action")
		out        = fs.String("out", "attribution.html", "the HTML report to write; the .json and .csv go beside it")
		asJSON     = fs.Bool("json", false, "print the report as JSON instead of the headline")
		asCSV      = fs.Bool("csv", false, "print the credits as CSV (by,model,key,conversions,revenue,share) instead of the headline")
		sources    = fs.String("conversions", "both", "what converts: `outcomes`, events or both (an outcome and an event of one customer within --merge-within are one)")
		events     = fs.String("event", "purchase", "comma-separated event `types` that are conversions")
		amountKey  = fs.String("amount-key", "amount", "the conversion event's `property` holding its revenue")
		mergeIn    = decide.Duration(attribution.DefaultMergeWithin)
	)
	fs.Var((*durationFlag)(&lookback), "lookback", "how long before a conversion a touch still gets credit, a `duration` such as 30d or 72h")
	fs.Var((*durationFlag)(&halfLife), "half-life", "the time decay model's half-life, a `duration`")
	fs.Var((*durationFlag)(&mergeIn), "merge-within", "an outcome and a conversion event of one customer this close are one conversion, a `duration`")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *journalDir == "" {
		return usageErrorf(fs, "--journal is required")
	}
	if *asJSON && *asCSV {
		return usageErrorf(fs, "give at most one of --json and --csv")
	}
	if lookback <= 0 || halfLife <= 0 || mergeIn < 0 {
		return usageErrorf(fs, "--lookback and --half-life must be positive, --merge-within not negative")
	}
	dim, err := attribution.ParseDimension(*by)
	if err != nil {
		return usageErrorf(fs, "--by %q: want channel or action", *by)
	}
	src := attribution.Sources(*sources)
	if src != attribution.FromBoth && src != attribution.FromOutcomes && src != attribution.FromEvents {
		return usageErrorf(fs, "--conversions %q: want outcomes, events or both", *sources)
	}
	cfg, err := cf.load()
	if err != nil {
		return fmt.Errorf("report attribution: %w", err)
	}
	outcomes, err := logs.NewOutcomes(cfg.OutcomeTypes)
	if err != nil {
		return fmt.Errorf("report attribution: config %s: %w", cfg.path, err)
	}
	if st, err := os.Stat(*journalDir); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return fmt.Errorf("report attribution: journal %s: %w", *journalDir, unwrapPath(err))
	}
	bc := attribution.BuildConfig{Outcomes: outcomes, Events: strings.Split(*events, ","), AmountKey: *amountKey, Sources: src, MergeWithin: mergeIn.D(),
		Window: cfg.AttributionWindow.D()}
	if mergeIn == 0 {
		bc.MergeWithin = -1 // 0 given: merge nothing
	}
	journeys, st, err := attribution.Build(context.Background(), *journalDir, bc)
	if err != nil {
		return fmt.Errorf("report attribution: %w", err)
	}
	fmt.Fprintf(stderr, "journal: %d records, %d touches, %d converting outcomes, %d conversion events (%d merged), %d customers\n",
		st.Records, st.Touches, st.OutcomeConversions, st.EventConversions, st.Merged, len(journeys))
	res, err := attribution.Attribute(journeys, attribution.Options{By: dim, Lookback: lookback.D(), HalfLife: halfLife.D()})
	if err != nil {
		return fmt.Errorf("report attribution: journal %s: %w", *journalDir, err)
	}
	r := &attribution.Report{Source: *journalDir, Stats: st, Result: res}

	base := strings.TrimSuffix(*out, filepath.Ext(*out))
	if ext := filepath.Ext(*out); ext == ".json" || ext == ".csv" {
		return usageErrorf(fs, "--out %q: name the HTML page; the .json and .csv go beside it", *out)
	}
	files := []struct {
		path  string
		write func(io.Writer) error
	}{{*out, r.WriteHTML}, {base + ".json", r.WriteJSON}, {base + ".csv", r.WriteCSV}}
	if dir := filepath.Dir(*out); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("report attribution: %w", err)
		}
	}
	for _, f := range files {
		var buf bytes.Buffer
		if err := f.write(&buf); err != nil {
			return fmt.Errorf("report attribution: %w", err)
		}
		if err := os.WriteFile(f.path, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("report attribution: %w", unwrapPath(err))
		}
	}
	switch {
	case *asJSON:
		return r.WriteJSON(stdout)
	case *asCSV:
		return r.WriteCSV(stdout)
	}
	fmt.Fprintf(stdout, "%s\nwrote %s, %s and %s\n", strings.Join(r.Headline(), "\n"), files[0].path, files[1].path, files[2].path)
	return nil
}

// unwrapPath keeps an os.PathError's operation and cause, without the
// path the message names already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}
