package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/serve"
)

// fileConfig is the YAML configuration file of "nextbest serve". Every
// field is optional; flags override it.
type fileConfig struct {
	Addr              string            `yaml:"addr"`
	DataDir           string            `yaml:"data_dir"`
	Catalog           string            `yaml:"catalog"`
	FeatureSpec       string            `yaml:"feature_spec"`
	Profiles          string            `yaml:"profiles"`
	Policy            decide.Policy     `yaml:"policy"`
	Model             serve.ModelConfig `yaml:"model"`
	DefaultReward     float64           `yaml:"default_reward"`
	AttributionWindow decide.Duration   `yaml:"attribution_window"`
	DecisionRetention decide.Duration   `yaml:"decision_retention"`
	DecisionTimeout   decide.Duration   `yaml:"decision_timeout"`
	MaxBodyBytes      int               `yaml:"max_body_bytes"`
	CacheMaxCost      int64             `yaml:"cache_max_cost"`
	SnapshotEvery     decide.Duration   `yaml:"snapshot_every"`
	Registry          string            `yaml:"registry"`
	Experiments       string            `yaml:"experiments"`
	RegistryPoll      decide.Duration   `yaml:"registry_poll"`
	AdminToken        string            `yaml:"admin_token"`
	Seed              uint64            `yaml:"seed"`
	// JournalPreallocate defaults to true: zero-filled segments make each
	// group commit's fsync a data write only.
	JournalPreallocate *bool  `yaml:"journal_preallocate"`
	LogLevel           string `yaml:"log_level"`
}

func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML configuration file (optional; see README)")
	addr := fs.String("addr", "", "listen address (default 127.0.0.1:8080)")
	dataDir := fs.String("data", "", "data directory: journal, state, model (default ./data)")
	catalog := fs.String("catalog", "", "action catalog YAML (default: the embedded retail sample)")
	spec := fs.String("features", "", "feature spec YAML (default: the embedded retail sample)")
	profiles := fs.String("profiles", "", `JSON-lines profiles loaded at first start (default: the retail demo profiles; "none" for none)`)
	logLevel := fs.String("log-level", "", "debug, info, warn or error (default info)")
	experiments := fs.String("experiments", "", "experiments YAML (see README): sticky splits of customers across policies")
	registry := fs.String("registry", "", "model registry directory: serve its promoted model and watch it (default: the online model only)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var fc fileConfig
	if *configPath != "" {
		data, err := os.ReadFile(*configPath)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&fc); err != nil {
			return fmt.Errorf("config %s: %w", *configPath, err)
		}
	}
	override := func(dst *string, flagVal, def string) {
		if flagVal != "" {
			*dst = flagVal
		}
		if *dst == "" {
			*dst = def
		}
	}
	override(&fc.Addr, *addr, "127.0.0.1:8080")
	override(&fc.DataDir, *dataDir, "data")
	override(&fc.Catalog, *catalog, "")
	override(&fc.FeatureSpec, *spec, "")
	override(&fc.Profiles, *profiles, "")
	override(&fc.LogLevel, *logLevel, "info")
	override(&fc.Registry, *registry, "")
	override(&fc.Experiments, *experiments, "")
	if fc.AdminToken == "" {
		fc.AdminToken = os.Getenv("NEXTBEST_ADMIN_TOKEN")
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(fc.LogLevel)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg := serve.Config{
		Addr: fc.Addr, DataDir: fc.DataDir, Policy: fc.Policy, Model: fc.Model,
		DefaultReward: fc.DefaultReward, AttributionWindow: fc.AttributionWindow.D(), DecisionRetention: fc.DecisionRetention.D(),
		DecisionTimeout: fc.DecisionTimeout.D(), MaxBodyBytes: fc.MaxBodyBytes,
		CacheMaxCost: fc.CacheMaxCost, SnapshotEvery: fc.SnapshotEvery.D(), Seed: fc.Seed, Logger: log,
		Registry: fc.Registry, RegistryPoll: fc.RegistryPoll.D(), AdminToken: fc.AdminToken,
		JournalPreallocate: fc.JournalPreallocate == nil || *fc.JournalPreallocate,
	}
	var err error
	if cfg.Catalog, err = readOr(fc.Catalog, retail.Catalog); err != nil {
		return err
	}
	if cfg.FeatureSpec, err = readOr(fc.FeatureSpec, retail.FeatureSpec); err != nil {
		return err
	}
	switch {
	case strings.EqualFold(fc.Profiles, "none"):
	case fc.Profiles == "" && fc.Catalog == "":
		cfg.Profiles = retail.Profiles
	case fc.Profiles != "":
		if cfg.Profiles, err = os.ReadFile(fc.Profiles); err != nil {
			return err
		}
	}

	if fc.Experiments != "" {
		if cfg.Experiments, err = decide.LoadExperiments(fc.Experiments); err != nil {
			return err
		}
	}
	start := time.Now()
	svc, err := serve.Open(cfg)
	if err != nil {
		return err
	}
	log.Info("nextbest started", "version", version, "addr", cfg.Addr, "data", cfg.DataDir, "took", time.Since(start).Round(time.Millisecond))
	errc := make(chan error, 1)
	go func() { errc <- svc.ListenAndServe() }()
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

func readOr(path string, def []byte) ([]byte, error) {
	if path == "" {
		return def, nil
	}
	return os.ReadFile(path)
}
