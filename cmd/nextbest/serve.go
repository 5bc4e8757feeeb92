package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/logs"
	"nextbest/models"
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
	MaxInFlight       int               `yaml:"max_in_flight"`
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

	// OutcomeTypes declare the outcome types (see logs.OutcomeType);
	// none: logs.DefaultOutcomeTypes.
	OutcomeTypes []logs.OutcomeType `yaml:"outcome_types"`

	// AllowUndeclaredContext drops /v1/decide context keys the feature
	// spec does not declare instead of refusing them (migration only).
	AllowUndeclaredContext bool `yaml:"allow_undeclared_context"`
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
	// a bad flag is one line of error, not the flag list: -h prints that
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fs.Usage()
			return nil
		}
		return fmt.Errorf("serve: %w (see nextbest serve -h)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q (see nextbest serve -h)", fs.Arg(0))
	}
	var fc fileConfig
	if *configPath != "" {
		data, err := readInput("config", *configPath)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		// an empty file (or only comments) is an empty config
		if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
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
	// the policy and the model come from the config file only: check them
	// here, by the rules serve.Open applies, so that the error names it
	if fc.Policy != (decide.Policy{}) {
		if _, err := decide.NewPolicy(fc.Policy); err != nil {
			return fmt.Errorf("config %s: policy: %w", *configPath, err)
		}
	}
	if _, err := models.NewRidge(models.RidgeConfig{Dim: 1, Lambda: fc.Model.Lambda, Name: fc.Model.Name}); err != nil {
		return fmt.Errorf("config %s: model: %w", *configPath, err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg := serve.Config{
		Addr: fc.Addr, DataDir: fc.DataDir, Policy: fc.Policy, Model: fc.Model,
		DefaultReward: fc.DefaultReward, AttributionWindow: fc.AttributionWindow.D(), DecisionRetention: fc.DecisionRetention.D(),
		DecisionTimeout: fc.DecisionTimeout.D(), MaxBodyBytes: fc.MaxBodyBytes, MaxInFlight: fc.MaxInFlight,
		CacheMaxCost: fc.CacheMaxCost, SnapshotEvery: fc.SnapshotEvery.D(), Seed: fc.Seed, Logger: log,
		Registry: fc.Registry, RegistryPoll: fc.RegistryPoll.D(), AdminToken: fc.AdminToken,
		JournalPreallocate: fc.JournalPreallocate == nil || *fc.JournalPreallocate,
		OutcomeTypes:       fc.OutcomeTypes,
	}
	cfg.AllowUndeclaredContext = fc.AllowUndeclaredContext
	var err error
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

// readOr reads the input file at path, or returns def if path is empty.
func readOr(input, path string, def []byte) ([]byte, error) {
	if path == "" {
		return def, nil
	}
	data, err := readInput(input, path)
	if err == nil && len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s %s: the file is empty", input, path)
	}
	return data, err
}

// readInput reads the input file at path; its error names the input and
// the path once ("catalog x.yaml: open: no such file or directory").
func readInput(input, path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		err = fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", input, path, err)
	}
	return data, nil
}

// inputError names the file an input came from in an error about it, and
// drops what the file's name makes redundant: the "decide: catalog:"
// prefix of a catalog error.
func inputError(input, path string, err error) error {
	if path == "" {
		path = "(embedded retail sample)"
	}
	if ce := (*decide.CatalogError)(nil); errors.As(err, &ce) {
		return fmt.Errorf("%s %s: %s: %s", input, path, ce.Field, ce.Reason)
	}
	return fmt.Errorf("%s %s: %w", input, path, err)
}
