package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"nextbest/cluster"
	"nextbest/cluster/rstore"
	"nextbest/cluster/stream"
	"nextbest/decide"
	"nextbest/loop"
	"nextbest/models"
	"nextbest/training"
)

// runLoop is "nextbest loop": the retraining loop next to a running
// service. One runs at a time: a lock file in the registry directory
// (embedded), the "loop" lease in Redis (cluster).
func runLoop(args []string, w io.Writer) error {
	if len(args) > 0 && (args[0] == "pause" || args[0] == "resume" || args[0] == "approve") {
		return loopStep(args[0], args[1:], w)
	}
	fs := flag.NewFlagSet("loop", flag.ContinueOnError)
	cf := addConfigFlags(fs, cfgCatalog|cfgFeatures|cfgWindow|cfgDefaultReward|cfgRegistry|cfgData)
	target := fs.String("target", "http://127.0.0.1:8080", "base URL of the service (any instance of a cluster)")
	token := fs.String("token", os.Getenv("NEXTBEST_ADMIN_TOKEN"), "admin token (default $NEXTBEST_ADMIN_TOKEN)")
	journalDir := fs.String("journal", "", "journal directory (default DATA/journal; cluster: where the stream is pulled, default ./loop-journal)")
	every := fs.Duration("every", time.Hour, "time between turns")
	afterOutcomes := fs.Int64("after-outcomes", 0, "also turn as soon as this many new outcomes are recorded since the last turn (0: only --every)")
	once := fs.Bool("once", false, "run one turn and exit")
	candidates := fs.String("candidates", "linucb", "models trained each turn, comma-separated: linucb, lints (per-action ridge), logistic, mlp")
	trainWindow := fs.Duration("train-window", 7*24*time.Hour, "candidates train on this much journal before the evaluation window")
	evalWindow := fs.Duration("eval-window", 24*time.Hour, "candidates are evaluated on the last this much of the journal")
	minRounds := fs.Int("min-rounds", 500, "the gate's fewest evaluation rounds")
	minESS := fs.Float64("min-ess", 100, "the gate's smallest effective sample size")
	share := fs.Float64("canary-share", 0.1, "share of customers the canary serves")
	maxCanary := fs.Duration("canary-max", 7*24*time.Hour, "a canary without a verdict after this long ends without a promotion")
	noGate := fs.Bool("no-gate", false, "let every candidate through the off-policy gate (the canary alone guards)")
	noShadow := fs.Bool("no-shadow", false, "skip the shadow stage: a candidate that passes the gate goes to the canary")
	lambda := fs.Float64("lambda", 0, "ridge prior precision of the linucb/lints candidates (0: the default, 1)")
	covariate := fs.String("covariate", "", `the canary's CUPED covariate: a numeric profile input of the feature spec, e.g. "counters.purchases_30d" (empty: no adjustment)`)
	margin := fs.Float64("apprentice-margin", 0.05, "in apprentice mode, how far below the baseline's value (a share of it) a candidate may be and still match it")
	approve := fs.Bool("approve", false, "hold a winning canary's promotion until a person approves it (nextbest loop approve VERSION)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: nextbest loop --config FILE [--target URL] [flags]

The retraining loop, beside a running service: every --every (or after
--after-outcomes new outcomes, whichever comes first) it trains the
candidates on the journal, compares each off-policy with the serving
policy on the latest --eval-window, lets through only one whose estimate
and lower bound beat the serving policy's, serves it to --canary-share of
customers as an experiment, and promotes it when the canary is better with
no guardrail worse, or rolls it back. Every step is recorded in the model
registry's history (nextbest models history).

A person steers it with "nextbest loop pause", "nextbest loop resume" and
"nextbest loop approve VERSION" (with --approve), recorded in the history.

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
	c, err := cf.load()
	if err != nil {
		return err
	}
	spec, cat, err := c.specAndCatalog()
	if err != nil {
		return err
	}
	jc, err := c.joinConfig()
	if err != nil {
		return err
	}
	cc, err := clusterOf(c.path, c.fileConfig)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := loop.Config{
		Spec: spec, Catalog: cat, Join: jc, Explorer: c.Explorer,
		TrainWindow: *trainWindow, EvalWindow: *evalWindow,
		Gate:       loop.Gate{MinRounds: *minRounds, MinESS: *minESS, Off: *noGate},
		Shadow:     loop.Shadow{Off: *noShadow},
		Canary:     loop.Canary{Share: *share, MaxDuration: *maxCanary, Approve: *approve, Covariate: *covariate},
		Apprentice: loop.Apprentice{Margin: *margin},
		Service:    &loop.HTTPService{Target: *target, Token: *token},
		Logger:     log,
	}
	for _, m := range strings.Split(*candidates, ",") {
		m = strings.TrimSpace(m)
		cfg.Candidates = append(cfg.Candidates, training.TrainConfig{Model: m, PerAction: m == "linucb" || m == "lints" || m == "logistic", Lambda: *lambda, HoldOut: -1})
	}
	var pull func() error
	if cc != nil {
		st, err := stream.Open(ctx, cc.NATS)
		if err != nil {
			return err
		}
		defer st.Close()
		reg, err := st.Registry(ctx)
		if err != nil {
			return err
		}
		cfg.Registry = reg
		cfg.Journal = *journalDir
		if cfg.Journal == "" {
			cfg.Journal = "loop-journal"
		}
		pull = func() error { return journalPull([]string{"--config", c.path, "--dir", cfg.Journal}, io.Discard) }
		// one loop in the cluster: the "loop" lease
		rs, err := rstore.Open(cc.Redis)
		if err != nil {
			return err
		}
		defer rs.Close()
		lease := cluster.NewLease(rs, "loop", cc.Instance+"/loop", time.Minute)
		if ok, err := lease.Try(ctx); err != nil || !ok {
			holder, _ := lease.Holder(ctx)
			return errors.Join(fmt.Errorf("another loop runs (lease held by %q)", holder), err)
		}
		defer lease.Release()
		go func() {
			t := time.NewTicker(15 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if ok, _ := lease.Try(ctx); !ok {
						log.Error("lost the loop lease; stopping")
						stop()
						return
					}
				}
			}
		}()
	} else {
		reg, err := models.OpenRegistry(cmpOr(c.Registry, "models"))
		if err != nil {
			return err
		}
		cfg.Registry = reg
		cfg.Journal = cmpOr(*journalDir, filepath.Join(cmpOr(c.DataDir, "data"), "journal"))
		unlock, err := lockFile(filepath.Join(reg.Dir(), "LOOP.lock"))
		if err != nil {
			return err
		}
		defer unlock()
	}
	if _, err := decide.NewExplorer(cfg.Explorer); err != nil {
		return fmt.Errorf("config %s: explorer: %w", c.path, err)
	}
	svc := cfg.Service.(*loop.HTTPService)
	var seen int64
	if *afterOutcomes > 0 {
		if seen, err = svc.Outcomes(ctx); err != nil {
			log.Error("cannot count the service's outcomes", "err", err)
		}
	}
	for {
		if pull != nil {
			if err := pull(); err != nil {
				log.Error("cannot pull the stream", "err", err)
			}
		}
		turn, err := loop.Step(ctx, cfg)
		switch {
		case err != nil && *once:
			return err
		case err != nil:
			log.Error("loop turn failed", "err", err)
		default:
			b, _ := json.Marshal(turn)
			fmt.Fprintln(w, string(b))
		}
		if *once {
			return nil
		}
		if seen, err = loop.Wait(ctx, *every, *afterOutcomes, min(*every, 10*time.Second), svc, seen); err != nil {
			return nil // stopped
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// lockFile takes an exclusive lock on path, failing at once if another
// process holds it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another loop runs on this registry (%s is locked)", path)
	}
	return func() { f.Close() }, nil
}

// loopStep records a person's step: pause, resume, or approve VERSION.
func loopStep(cmd string, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("loop "+cmd, flag.ContinueOnError)
	cf := addConfigFlags(fs, cfgRegistry)
	reason := fs.String("reason", "", "why: recorded in the registry's history")
	var pos []string
	for len(args) > 0 {
		if help, err := parseFlags(fs, args); help || err != nil {
			return err
		}
		args = fs.Args()
		if len(args) > 0 {
			pos, args = append(pos, args[0]), args[1:]
		}
	}
	v := 0
	switch {
	case cmd == "approve" && len(pos) == 1:
		n, err := fmt.Sscan(pos[0], &v)
		if err != nil || n != 1 || v < 1 {
			return usageErrorf(fs, "version %q is not a number ≥ 1", pos[0])
		}
	case cmd == "approve":
		return usageErrorf(fs, "want one VERSION")
	case len(pos) > 0:
		return usageErrorf(fs, "unexpected argument %q", pos[0])
	}
	c, err := cf.load()
	if err != nil {
		return err
	}
	reg, done, err := openLoopRegistry(c)
	if err != nil {
		return err
	}
	defer done()
	who := "cli"
	switch cmd {
	case "pause":
		err = loop.Pause(reg, who, *reason)
	case "resume":
		err = loop.Resume(reg, who, *reason)
	default:
		err = loop.Approve(reg, v, who, *reason)
	}
	if err == nil {
		fmt.Fprintf(w, "loop %s recorded\n", cmd)
	}
	return err
}

// openLoopRegistry opens the registry the loop keeps its history in: the
// cluster's with storage: cluster, else the config's directory (default
// ./models).
func openLoopRegistry(c *config) (loop.Registry, func(), error) {
	cc, err := clusterOf(c.path, c.fileConfig)
	if err != nil {
		return nil, nil, err
	}
	if cc == nil {
		reg, err := models.OpenRegistry(cmpOr(c.Registry, "models"))
		return reg, func() {}, err
	}
	st, err := stream.Open(context.Background(), cc.NATS)
	if err != nil {
		return nil, nil, err
	}
	reg, err := st.Registry(context.Background())
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return reg, func() { st.Close() }, nil
}
