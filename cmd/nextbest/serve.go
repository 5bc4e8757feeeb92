package main

import (
	"cmp"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"nextbest/cluster"
	"nextbest/cluster/rstore"
	"nextbest/cluster/stream"
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
	if os.Getenv("NEXTBEST_PROFILE_CONTENTION") != "" {
		// sample blocking and lock contention for /debug/pprof/block and
		// /debug/pprof/mutex (off by default: sampling costs time on
		// every channel operation and contended lock)
		runtime.SetBlockProfileRate(10_000) // one blocking event per 10 µs blocked
		runtime.SetMutexProfileFraction(10)
	}

	cfg := serve.Config{
		Addr: fc.Addr, DataDir: fc.DataDir, Explorer: fc.Explorer, Model: fc.Model, Personalizer: fc.Personalizer,
		DefaultReward: fc.DefaultReward, AttributionWindow: fc.AttributionWindow.D(), DecisionRetention: fc.DecisionRetention.D(),
		DecisionTimeout: fc.DecisionTimeout.D(), MaxBodyBytes: fc.MaxBodyBytes, MaxInFlight: fc.MaxInFlight,
		CacheMaxCost: fc.CacheMaxCost, SnapshotEvery: fc.SnapshotEvery.D(), Seed: fc.Seed, Logger: log,
		Registry: fc.Registry, RegistryPoll: fc.RegistryPoll.D(), AdminToken: fc.AdminToken, LearningMode: fc.LearningMode,
		Auth: fc.Auth, TLSCert: fc.TLSCert, TLSKey: fc.TLSKey,
		JournalRetention:   serve.JournalRetention{MaxAge: fc.JournalRetention.MaxAge.D(), MaxBytes: fc.JournalRetention.MaxBytes},
		ErasureDelay:       fc.ErasureDelay.D(),
		ReportsTimeout:     fc.ReportsTimeout.D(),
		CORSOrigins:        fc.CORSOrigins,
		JournalPreallocate: fc.JournalPreallocate == nil || *fc.JournalPreallocate,
		OutcomeTypes:       fc.OutcomeTypes,
	}
	cfg.AllowUndeclaredContext = fc.AllowUndeclaredContext
	if cfg.ReportsEvery, err = reportsEvery(fc.ReportsEvery); err != nil {
		return fmt.Errorf("config %s: %w", c.path, err)
	}
	if cfg.Cluster, err = clusterOf(c.path, fc); err != nil {
		return err
	}
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
		// streamed at the first start only (serve.Config.ProfilesPath);
		// a file that cannot be read fails now, as the other inputs do
		if err := checkInput(serve.InputProfiles, fc.Profiles); err != nil {
			return err
		}
		cfg.ProfilesPath = fc.Profiles
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
	if fc.CLVModel != "" {
		data, err := readInput("CLV model", fc.CLVModel)
		if err != nil {
			return err
		}
		cfg.CLVModel = new(serve.CLVDoc)
		if err := json.Unmarshal(data, cfg.CLVModel); err != nil {
			return fmt.Errorf("CLV model %s: %w", fc.CLVModel, err)
		}
	}
	if err := serve.CheckExposure(cfg.Addr, fc.Auth.Keys); err != nil {
		return err
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
	// the signals are caught before the first request can be answered: a
	// SIGTERM sent as soon as /readyz says ready is a graceful shutdown,
	// not the default action's kill
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	errc := make(chan error, 1)
	go func() { errc <- svc.Serve(ln) }()
wait:
	for {
		select {
		case s := <-sig:
			if s == syscall.SIGHUP {
				// reload the configuration's API keys, without a restart
				nc, err := cf.load()
				if err == nil {
					err = svc.SetConfigKeys(nc.Auth.Keys, "config")
				}
				if err != nil {
					log.Error("configuration not reloaded: the keys stay as they were", "err", err)
				} else {
					log.Info("API keys reloaded from the configuration", "keys", len(nc.Auth.Keys))
				}
				continue
			}
			log.Info("shutting down", "signal", s.String())
			break wait
		case err = <-errc:
			log.Error("server stopped", "err", err)
			break wait
		}
	}
	if cerr := svc.Close(); cerr != nil {
		return errors.Join(err, cerr)
	}
	log.Info("stopped")
	return err
}

// clusterOf returns the cluster configuration of storage: cluster, nil
// for the embedded storage.
func clusterOf(path string, fc fileConfig) (*cluster.Config, error) {
	switch fc.Storage {
	case "", "embedded":
		if fc.Cluster != (clusterConfig{}) {
			return nil, fmt.Errorf("config %s: cluster: is set but storage is not \"cluster\"", path)
		}
		return nil, nil
	case "cluster":
	default:
		return nil, fmt.Errorf("config %s: storage: %q is neither \"embedded\" nor \"cluster\"", path, fc.Storage)
	}
	cc := fc.Cluster
	if cc.Redis == "" || cc.NATS == "" {
		return nil, fmt.Errorf("config %s: storage: cluster needs cluster.redis and cluster.nats", path)
	}
	if cc.Instance == "" {
		host, _ := os.Hostname()
		cc.Instance = host + "/" + fc.Addr
	}
	cfg := &cluster.Config{
		Instance: cc.Instance, LeaseTTL: cc.LeaseTTL.D(),
		Redis: rstore.Config{Addr: cc.Redis, Username: cc.RedisUser, Password: cc.RedisPassword, DB: cc.RedisDB},
		NATS: stream.Config{URL: cc.NATS, Stream: cc.Stream, Replicas: cc.Replicas, CredsFile: cc.NATSCreds,
			User: cc.NATSUser, Password: cc.NATSPassword, Token: cc.NATSToken,
			TLSCA: cc.NATSTLSCA, TLSCert: cc.NATSTLSCert, TLSKey: cc.NATSTLSKey},
	}
	if cc.RedisTLS {
		cfg.Redis.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return cfg, nil
}

// reportsEvery is the service's ReportsEvery for the config's
// reports_every: "" the default, "off" never on its own (negative), else
// a positive duration.
func reportsEvery(v string) (time.Duration, error) {
	switch strings.TrimSpace(v) {
	case "":
		return 0, nil
	case "off":
		return -1, nil
	}
	d, err := decide.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("reports_every %q: want a positive duration such as 5m, or off", v)
	}
	return d.D(), nil
}
