package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"nextbest/loop/simloop"
)

// runSimulateLoop is "nextbest simulate loop": the retraining loop against
// the simulator in accelerated time (package loop/simloop), printing a
// JSON summary.
func runSimulateLoop(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("simulate loop", flag.ContinueOnError)
	scenario := fs.String("scenario", "better", "better, worse, broken or drift (see docs/loop.md)")
	seed := fs.Uint64("seed", 1, "seed of the population, the traffic and the service")
	days := fs.Int("days", 8, "simulated days")
	visits := fs.Int("visits", 4000, "visits per simulated day")
	share := fs.Float64("canary-share", 0.5, "the canary's share of customers")
	every := fs.Duration("turn-every", 24*time.Hour, "simulated time between loop turns")
	verbose := fs.Bool("v", false, "log every loop turn on stderr")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: nextbest simulate loop [flags]

Runs the retraining loop against simulated customers in accelerated time:
a real service in process on loopback, a clock the simulation advances,
a loop turn every -turn-every of simulated time. Prints a JSON summary:
promotions, rejections and rollbacks (with their reasons), the share of
the oracle before and after, and the registry's timeline.

Flags:
`)
		fs.PrintDefaults()
	}
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg := simloop.Config{Scenario: *scenario, Seed: *seed, Days: *days, VisitsPerDay: *visits, CanaryShare: *share, TurnEvery: *every}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := simloop.Run(ctx, cfg)
	if err != nil {
		return err
	}
	return writeJSON(w, sum)
}
