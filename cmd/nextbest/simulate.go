package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"nextbest/eval/sim"
	"nextbest/eval/sim/driver"
)

// runSimulate is "nextbest simulate": simulated customer journeys against
// a running service over HTTP, or, as "nextbest simulate learnbench", the
// in-process learning benchmark of the policies against the oracle.
func runSimulate(args []string) error {
	if len(args) > 0 && args[0] == "learnbench" {
		return runLearnBench(args[1:])
	}
	if len(args) > 0 && args[0] == "loop" {
		return runSimulateLoop(args[1:], os.Stdout)
	}
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: nextbest simulate [flags]
       nextbest simulate learnbench [flags]

Drives a running nextbest service with simulated customer journeys:
journey events, decisions on every channel and outcomes drawn from a known
true model, and reports throughput, latency and reward against the oracle.
It stops by itself after -duration or -decisions. "learnbench" runs the
policies against the oracle in process (see docs/simulator.md).

`)
		fs.PrintDefaults()
	}
	target := fs.String("target", "http://127.0.0.1:8080", "base URL of the service")
	allowRemote := fs.Bool("allow-remote", false, "allow a target that is not a loopback address")
	rate := fs.Float64("rate", 0, "decisions per second over all workers (0: as fast as possible)")
	customers := fs.Int("customers", 10000, "customers in the population (the first 200 are the retail demo profiles)")
	duration := fs.Duration("duration", 30*time.Second, "stop after this long (0: no time bound)")
	decisions := fs.Int("decisions", 0, "stop after this many decisions (0: no count bound)")
	concurrency := fs.Int("concurrency", 8, "workers, each with its own connection and customers")
	seed := fs.Uint64("seed", 1, "seed of the population and the journeys")
	limit := fs.Int("limit", 1, "actions asked per decision")
	jsonPath := fs.String("json", "", "write the summary as JSON to this file")
	wait := fs.Duration("wait", 10*time.Second, "wait this long for /readyz before starting")
	every := fs.Duration("progress", 0, "progress interval (default 250ms on a terminal, 10s otherwise; negative, e.g. -1s: none)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	d, err := driver.New(driver.Config{
		Target: *target, AllowRemote: *allowRemote, Rate: *rate, Duration: *duration, Decisions: *decisions,
		Concurrency: *concurrency, Limit: *limit, Population: sim.Config{Customers: *customers, Seed: *seed},
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, *wait)
		err := d.WaitReady(wctx)
		cancel()
		if err != nil {
			return err
		}
	}
	tty := simIsTerminal(os.Stderr)
	interval := *every
	if interval == 0 {
		interval = 10 * time.Second
		if tty {
			interval = 250 * time.Millisecond
		}
	}
	bound := []string{}
	if *duration > 0 {
		bound = append(bound, duration.String())
	}
	if *decisions > 0 {
		bound = append(bound, strconv.Itoa(*decisions)+" decisions")
	}
	fmt.Fprintf(os.Stderr, "simulating %d customers against %s, %d workers, rate %s, for %s\n",
		*customers, *target, *concurrency, simRateText(*rate), strings.Join(bound, " or "))

	done := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if interval < 0 {
			<-done
			return
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		var prev driver.Summary
		prevAt := time.Now()
		for {
			select {
			case <-done:
				if tty {
					fmt.Fprint(os.Stderr, "\r\033[K")
				}
				return
			case now := <-t.C:
				s := d.Snapshot()
				rate := float64(s.Decisions-prev.Decisions) / now.Sub(prevAt).Seconds()
				line := simProgressLine(&s, rate)
				if tty {
					fmt.Fprint(os.Stderr, "\r\033[K"+line)
				} else {
					fmt.Fprintln(os.Stderr, line)
				}
				prev, prevAt = s, now
			}
		}
	}()
	sum, runErr := d.Run(ctx)
	close(done)
	<-progressDone
	simPrintSummary(os.Stdout, sum)
	if *jsonPath != "" {
		if err := simWriteJSON(*jsonPath, sum); err != nil {
			return errors.Join(runErr, err)
		}
	}
	return runErr
}

func simRateText(r float64) string {
	if r <= 0 {
		return "unlimited"
	}
	return strconv.FormatFloat(r, 'g', -1, 64) + "/s"
}

func simProgressLine(s *driver.Summary, rate float64) string {
	return fmt.Sprintf("%6.1fs  decisions %d (%.0f/s)  reward %.1f  oracle share %.1f%%  p50 %.2fms p99 %.2fms  errors %d",
		s.Seconds, s.Decisions, rate, s.Reward, 100*s.OracleShare, s.Latency.P50, s.Latency.P99, s.Errors)
}

func simPrintSummary(w io.Writer, s *driver.Summary) {
	fmt.Fprintf(w, "simulate: %s in %.1fs\n", s.Target, s.Seconds)
	fmt.Fprintf(w, "  decisions   %d (%.0f/s), %d with no eligible action, %d fallback\n", s.Decisions, s.DecisionsPerSec, s.Empty, s.Fallback)
	fmt.Fprintf(w, "  requests    %d (%.0f/s): %d events, %d outcomes, %d errors\n", s.Requests, s.RequestsPerSec, s.Events, s.Outcomes, s.Errors)
	for k, n := range s.ErrorKinds {
		fmt.Fprintf(w, "    error %-20s %d\n", k, n)
	}
	fmt.Fprintf(w, "  reward      %.1f from %d conversions; expected %.1f, oracle %.1f: %.1f%% of the oracle\n",
		s.Reward, s.Conversions, s.ExpectedReward, s.OracleReward, 100*s.OracleShare)
	l := s.Latency
	fmt.Fprintf(w, "  decide      p50 %.3fms  p90 %.3fms  p99 %.3fms  p99.9 %.3fms  max %.3fms  mean %.3fms\n", l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean)
	for k, n := range s.Policies {
		fmt.Fprintf(w, "  policy      %s: %d decisions\n", k, n)
	}
}

func simWriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func simIsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// runLearnBench is "nextbest simulate learnbench".
func runLearnBench(args []string) error {
	fs := flag.NewFlagSet("simulate learnbench", flag.ContinueOnError)
	out := fs.String("out", "bin/learnbench", "directory for results.md, results.csv, results.json and regret.svg")
	horizon := fs.Int("horizon", 100000, "visits per run")
	seedList := fs.String("seeds", "1,2,3,4,5", "comma-separated seeds: one population and run per seed and policy")
	customers := fs.Int("customers", 1000, "customers in the population")
	only := fs.String("policies", "", "comma-separated policy names to run (default all: "+simPolicyNames()+")")
	chart := fs.String("chart", "svg", "chart format: svg, png or pdf")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	var seeds []uint64
	for _, s := range strings.Split(*seedList, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("learnbench: bad seed %q", s)
		}
		seeds = append(seeds, v)
	}
	pols := sim.DefaultPolicies()
	if *only != "" {
		var keep []sim.PolicySpec
		for _, name := range strings.Split(*only, ",") {
			found := false
			for _, p := range pols {
				if p.Name == strings.TrimSpace(name) {
					keep, found = append(keep, p), true
				}
			}
			if !found {
				return fmt.Errorf("learnbench: unknown policy %q (have %s)", name, simPolicyNames())
			}
		}
		pols = keep
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	fmt.Fprintf(os.Stderr, "learnbench: %d policies × %d seeds, horizon %d, %d customers\n", len(pols), len(seeds), *horizon, *customers)
	br, err := sim.Bench(ctx, sim.BenchConfig{
		Population: sim.Config{Customers: *customers}, Policies: pols, Seeds: seeds, Horizon: *horizon,
		Progress: func(done, total int, r *sim.RunResult) {
			fmt.Fprintf(os.Stderr, "  [%d/%d] %-22s seed %-3d share of oracle %.3f  (%.1fs)\n", done, total, r.Policy, r.Seed, r.Share, r.Elapsed.Seconds())
		},
	})
	if err != nil {
		return err
	}
	md, err := os.Create(filepath.Join(*out, "results.md"))
	if err != nil {
		return err
	}
	err = errors.Join(br.WriteMarkdown(io.MultiWriter(md, os.Stdout)), md.Close())
	if err != nil {
		return err
	}
	cf, err := os.Create(filepath.Join(*out, "results.csv"))
	if err != nil {
		return err
	}
	if err := errors.Join(br.WriteCSV(cf), cf.Close()); err != nil {
		return err
	}
	if err := simWriteJSON(filepath.Join(*out, "results.json"), br); err != nil {
		return err
	}
	chartPath := filepath.Join(*out, "regret."+*chart)
	if err := br.WriteRegretChart(chartPath); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "learnbench: wrote %s/results.{md,csv,json} and %s in %s\n", *out, chartPath, time.Since(start).Round(time.Second))
	return nil
}

func simPolicyNames() string {
	var names []string
	for _, p := range sim.DefaultPolicies() {
		names = append(names, p.Name)
	}
	return strings.Join(names, ",")
}
