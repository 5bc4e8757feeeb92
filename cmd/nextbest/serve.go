package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/models"
	"nextbest/serve"
)

// runServe is "nextbest serve": read the configuration, open the
// service, serve until SIGINT or SIGTERM, close.
func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cf := addConfigFlags(fs, cfgAddr|cfgData|cfgCatalog|cfgFeatures|cfgProfiles|cfgLogLevel|cfgExperiments|cfgRegistry)
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
	fc := c.fileConfig
	fc.Addr = cmp.Or(fc.Addr, "127.0.0.1:8080")
	fc.DataDir = cmp.Or(fc.DataDir, "data")
	fc.LogLevel = cmp.Or(fc.LogLevel, "info")
	if fc.AdminToken == "" {
		fc.AdminToken = os.Getenv("NEXTBEST_ADMIN_TOKEN")
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(fc.LogLevel)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	// the explorer and the model come from the config file only: check
	// them here, by the rules serve.Open applies, so that the error names it
	if fc.Explorer != (decide.Explorer{}) {
		if _, err := decide.NewExplorer(fc.Explorer); err != nil {
			return fmt.Errorf("config %s: explorer: %w", c.path, err)
		}
	}
	if _, err := models.NewRidge(models.RidgeConfig{Dim: 1, Lambda: fc.Model.Lambda, Name: fc.Model.Name}); err != nil {
		return fmt.Errorf("config %s: model: %w", c.path, err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg := serve.Config{
		Addr: fc.Addr, DataDir: fc.DataDir, Explorer: fc.Explorer, Model: fc.Model,
		DefaultReward: fc.DefaultReward, AttributionWindow: fc.AttributionWindow.D(), DecisionRetention: fc.DecisionRetention.D(),
		DecisionTimeout: fc.DecisionTimeout.D(), MaxBodyBytes: fc.MaxBodyBytes, MaxInFlight: fc.MaxInFlight,
		CacheMaxCost: fc.CacheMaxCost, SnapshotEvery: fc.SnapshotEvery.D(), Seed: fc.Seed, Logger: log,
		Registry: fc.Registry, RegistryPoll: fc.RegistryPoll.D(), AdminToken: fc.AdminToken,
		JournalPreallocate: fc.JournalPreallocate == nil || *fc.JournalPreallocate,
		OutcomeTypes:       fc.OutcomeTypes,
	}
	cfg.AllowUndeclaredContext = fc.AllowUndeclaredContext
	if cfg.Catalog, err = readOr(serve.InputCatalog, fc.Catalog, retail.Catalog); err != nil {
		return err
	}
	if cfg.FeatureSpec, err = readOr(serve.InputFeatureSpec, fc.FeatureSpec, retail.FeatureSpec); err != nil {
		return err
	}
	switch {
	case strings.EqualFold(fc.Profiles, "none"):
	case fc.Profiles == "" && fc.Catalog == "":
		cfg.Profiles = retail.Profiles
	case fc.Profiles != "":
		if cfg.Profiles, err = readInput(serve.InputProfiles, fc.Profiles); err != nil {
			return err
		}
	}

	if fc.Experiments != "" {
		data, err := readInput(serve.InputExperiments, fc.Experiments)
		if err != nil {
			return err
		}
		if cfg.Experiments, err = decide.ParseExperiments(data); err != nil {
			return inputError(serve.InputExperiments, fc.Experiments, err)
		}
	}
	// listen before opening: a taken port fails at once, not after a replay
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	start := time.Now()
	svc, err := serve.Open(cfg)
	if ie := (*serve.InputError)(nil); errors.As(err, &ie) {
		paths := map[string]string{
			serve.InputCatalog: fc.Catalog, serve.InputFeatureSpec: fc.FeatureSpec,
			serve.InputProfiles: fc.Profiles, serve.InputExperiments: fc.Experiments,
		}
		return inputError(ie.Input, paths[ie.Input], ie.Err)
	}
	if err != nil {
		return err
	}
	log.Info("nextbest started", "version", version, "addr", ln.Addr().String(), "data", cfg.DataDir, "took", time.Since(start).Round(time.Millisecond))
	errc := make(chan error, 1)
	go func() { errc <- svc.Serve(ln) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		log.Info("shutting down", "signal", s.String())
	case err = <-errc:
		log.Error("server stopped", "err", err)
	}
	if cerr := svc.Close(); cerr != nil {
		return errors.Join(err, cerr)
	}
	log.Info("stopped")
	return err
}
