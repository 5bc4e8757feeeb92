package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/features"
	"nextbest/logs"
	"nextbest/models"
	"nextbest/serve"
)

// fileConfig is the YAML configuration file of "nextbest serve". Every
// field is optional; flags override it. The offline commands (train,
// eval journal, report, models) read the same file with --config, so
// that they featurize, join and reward as the service does.
type fileConfig struct {
	Addr        string `yaml:"addr"`
	DataDir     string `yaml:"data_dir"`
	Catalog     string `yaml:"catalog"`
	FeatureSpec string `yaml:"feature_spec"`
	Profiles    string `yaml:"profiles"`
	// Explorer is how the service explores its model's scores
	// (decide.Explorer: kind, epsilon, alpha, temperature, v).
	Explorer decide.Explorer `yaml:"explorer"`
	// PolicyAlias is explorer's former key, policy, still read; giving
	// both is an error.
	PolicyAlias decide.Explorer   `yaml:"policy"`
	Model       serve.ModelConfig `yaml:"model"`
	// Personalizer configures the Personalizer-compatible namespace's
	// model (bits: its hashing dimension's log2; lambda).
	Personalizer      serve.PersonalizerConfig `yaml:"personalizer"`
	DefaultReward     float64                  `yaml:"default_reward"`
	AttributionWindow decide.Duration          `yaml:"attribution_window"`
	DecisionRetention decide.Duration          `yaml:"decision_retention"`
	DecisionTimeout   decide.Duration          `yaml:"decision_timeout"`
	MaxBodyBytes      int                      `yaml:"max_body_bytes"`
	MaxInFlight       int                      `yaml:"max_in_flight"`
	CacheMaxCost      int64                    `yaml:"cache_max_cost"`
	SnapshotEvery     decide.Duration          `yaml:"snapshot_every"`
	Registry          string                   `yaml:"registry"`
	Experiments       string                   `yaml:"experiments"`
	// LearningMode starts the service in apprentice mode (a baseline rule
	// serves while the models learn; see serve.LearningMode) until the
	// retraining loop ends it; a mode set through PUT /admin/mode wins.
	LearningMode serve.LearningMode `yaml:"learning_mode"`
	// Auth holds the API keys (auth.keys: name, sha256, scopes,
	// rate_per_second); reloaded on SIGHUP. Without keys the service
	// runs only on a loopback address (development mode).
	Auth serve.AuthConfig `yaml:"auth"`
	// TLSCert and TLSKey, both set, serve HTTPS (PEM files).
	TLSCert      string          `yaml:"tls_cert"`
	TLSKey       string          `yaml:"tls_key"`
	RegistryPoll decide.Duration `yaml:"registry_poll"`
	AdminToken   string          `yaml:"admin_token"`
	Seed         uint64          `yaml:"seed"`
	// JournalPreallocate defaults to true: zero-filled segments make each
	// group commit's fsync a data write only.
	JournalPreallocate *bool `yaml:"journal_preallocate"`
	// CLVModel is a file with the JSON of `nextbest clv fit --json` (with
	// optional horizon_weeks, step_weeks, annual_discount): the CLV model
	// at the first start (PUT /admin/clv replaces it).
	CLVModel string `yaml:"clv_model"`
	// CORSOrigins are the web origins whose pages may call the API (CORS
	// off without).
	CORSOrigins []string `yaml:"cors_origins"`
	// ErasureDelay bounds the time from a customer's erasure to the purge
	// of their records from the journal and the engines' files (default
	// 10m).
	ErasureDelay decide.Duration `yaml:"erasure_delay"`
	// JournalRetention deletes old journal segments (embedded storage):
	// max_age (≥ decision_retention) and max_bytes; 0 keeps everything.
	JournalRetention struct {
		MaxAge   decide.Duration `yaml:"max_age"`
		MaxBytes int64           `yaml:"max_bytes"`
	} `yaml:"journal_retention"`
	// ReportsEvery is how often the dashboard's reports are computed
	// again from the journal and the profiles: a duration (default 5m),
	// or "off" (only when GET /v1/reports/{name}?refresh=1 asks; see
	// reportsEvery). ReportsTimeout bounds one computation (default 2m).
	ReportsEvery   string          `yaml:"reports_every"`
	ReportsTimeout decide.Duration `yaml:"reports_timeout"`
	LogLevel       string          `yaml:"log_level"`

	// OutcomeTypes declare the outcome types (see logs.OutcomeType);
	// none: logs.DefaultOutcomeTypes.
	OutcomeTypes []logs.OutcomeType `yaml:"outcome_types"`

	// Storage is "embedded" (the default: the journal and state under
	// data_dir) or "cluster" (Cluster: Redis and NATS JetStream).
	Storage string        `yaml:"storage"`
	Cluster clusterConfig `yaml:"cluster"`

	// AllowUndeclaredContext drops /v1/decide context keys the feature
	// spec does not declare instead of refusing them (migration only).
	AllowUndeclaredContext bool `yaml:"allow_undeclared_context"`
}

// clusterConfig is the cluster: block, for storage: cluster.
type clusterConfig struct {
	// Redis is the Redis address (host:port); RedisUser, RedisPassword
	// authenticate; RedisTLS encrypts (with the system's CAs).
	Redis         string `yaml:"redis"`
	RedisUser     string `yaml:"redis_user"`
	RedisPassword string `yaml:"redis_password"`
	RedisTLS      bool   `yaml:"redis_tls"`
	RedisDB       int    `yaml:"redis_db"`
	// NATS is the NATS URL (nats://host:port, comma-separated for
	// several); NATSCreds, NATSUser/NATSPassword, NATSToken authenticate;
	// NATSTLSCA, NATSTLSCert/NATSTLSKey set TLS.
	NATS         string `yaml:"nats"`
	NATSCreds    string `yaml:"nats_creds"`
	NATSUser     string `yaml:"nats_user"`
	NATSPassword string `yaml:"nats_password"`
	NATSToken    string `yaml:"nats_token"`
	NATSTLSCA    string `yaml:"nats_tls_ca"`
	NATSTLSCert  string `yaml:"nats_tls_cert"`
	NATSTLSKey   string `yaml:"nats_tls_key"`
	// Stream is the JetStream stream (default NEXTBEST); Replicas its
	// replicas (default 1; 3 on a NATS cluster).
	Stream   string `yaml:"stream"`
	Replicas int    `yaml:"replicas"`
	// Instance names this instance uniquely (default: host name and
	// address).
	Instance string `yaml:"instance"`
	// LeaseTTL is how long the cluster waits for a dead applier (default 2s).
	LeaseTTL decide.Duration `yaml:"lease_ttl"`
}

// A configField is a field of the configuration file that commands also
// take as a flag. Each is declared once, in configFlagDefs; a command
// names the ones it takes.
type configField uint

// The configuration fields with a flag.
const (
	cfgAddr configField = 1 << iota
	cfgData
	cfgCatalog
	cfgFeatures
	cfgProfiles
	cfgLogLevel
	cfgExperiments
	cfgRegistry
	cfgWindow
	cfgDefaultReward
)

// configFlagDefs declares the flag of each configField: its name, its
// usage and the field of fileConfig it sets.
var configFlagDefs = []struct {
	field       configField
	name, usage string
	value       func(fc *fileConfig) flag.Value
}{
	{cfgAddr, "addr", "listen `address` (config: addr; default 127.0.0.1:8080)",
		func(fc *fileConfig) flag.Value { return (*stringFlag)(&fc.Addr) }},
	{cfgData, "data", "data `directory`: journal, state, model (config: data_dir; default ./data)",
		func(fc *fileConfig) flag.Value { return (*stringFlag)(&fc.DataDir) }},
	{cfgCatalog, "catalog", "action catalog YAML `file` (config: catalog; default: the embedded retail sample)",
		func(fc *fileConfig) flag.Value { return (*stringFlag)(&fc.Catalog) }},
	{cfgFeatures, "features", "feature spec YAML `file` (config: feature_spec; default: the embedded retail sample)",
		func(fc *fileConfig) flag.Value { return (*stringFlag)(&fc.FeatureSpec) }},
	{cfgProfiles, "profiles", "JSON-lines profiles `file` loaded at first start (config: profiles; default: the retail demo profiles; \"none\" for none)",
		func(fc *fileConfig) flag.Value { return (*stringFlag)(&fc.Profiles) }},
	{cfgLogLevel, "log-level", "log `level`: debug, info, warn or error (config: log_level; default info)",
		func(fc *fileConfig) flag.Value { return (*stringFlag)(&fc.LogLevel) }},
	{cfgExperiments, "experiments", "experiments YAML `file`: sticky splits of customers across policies (config: experiments)",
		func(fc *fileConfig) flag.Value { return (*stringFlag)(&fc.Experiments) }},
	{cfgRegistry, "registry", "model registry `directory` (config: registry)",
		func(fc *fileConfig) flag.Value { return (*stringFlag)(&fc.Registry) }},
	{cfgWindow, "window", "attribution window of outcomes, a `duration` such as 7d or 48h (config: attribution_window; default 7d)",
		func(fc *fileConfig) flag.Value { return (*durationFlag)(&fc.AttributionWindow) }},
	{cfgDefaultReward, "default-reward", "`reward` of a shown action without outcome (config: default_reward; default 0)",
		func(fc *fileConfig) flag.Value { return (*float64Flag)(&fc.DefaultReward) }},
}

// configFlags is a command's --config flag and the flags of the
// configuration fields it takes.
type configFlags struct {
	fs     *flag.FlagSet
	fields configField
	path   string
	flags  fileConfig // what the flags set
}

// addConfigFlags registers --config and the flags of fields on fs.
func addConfigFlags(fs *flag.FlagSet, fields configField) *configFlags {
	c := &configFlags{fs: fs, fields: fields}
	fs.StringVar(&c.path, "config", "", "nextbest serve's YAML configuration `file`: the flags marked (config: field) default to its fields, and outcomes are folded into rewards by its outcome_types")
	for _, d := range configFlagDefs {
		if fields&d.field != 0 {
			fs.Var(d.value(&c.flags), d.name, d.usage)
		}
	}
	return c
}

// config is a command's configuration: the file's fields, overridden by
// the flags given.
type config struct {
	fileConfig
	// path is the configuration file read, "" for none.
	path string
}

// load reads the configuration file, if --config named one, and lays the
// flags given on fs over it. Call it after fs.Parse. The file is decoded
// strictly (an unknown key is an error), as nextbest serve decodes it.
func (c *configFlags) load() (*config, error) {
	cfg := &config{path: c.path}
	if c.path != "" {
		data, err := readInput("config", c.path)
		if err != nil {
			return nil, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		// an empty file (or only comments) is an empty config
		if err := dec.Decode(&cfg.fileConfig); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config %s: %w", c.path, err)
		}
		if cfg.PolicyAlias != (decide.Explorer{}) {
			if cfg.Explorer != (decide.Explorer{}) {
				return nil, fmt.Errorf("config %s: explorer and policy (its former name) are both given", c.path)
			}
			cfg.Explorer, cfg.PolicyAlias = cfg.PolicyAlias, decide.Explorer{}
		}
	}
	given := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, d := range configFlagDefs {
		if c.fields&d.field != 0 && given[d.name] {
			if err := d.value(&cfg.fileConfig).Set(d.value(&c.flags).String()); err != nil {
				panic(fmt.Sprintf("BUG: --%s does not read back its own value: %v", d.name, err))
			}
		}
	}
	return cfg, nil
}

// specAndCatalog parses the feature spec and the catalog against it (the
// embedded retail sample for either when not configured). Errors name the
// file.
func (c *config) specAndCatalog() (*features.Spec, *decide.Catalog, error) {
	spec, err := c.spec()
	if err != nil {
		return nil, nil, err
	}
	catData, err := readOr(serve.InputCatalog, c.Catalog, retail.Catalog)
	if err != nil {
		return nil, nil, err
	}
	cat, err := decide.ParseCatalog(catData, spec)
	if err != nil {
		return nil, nil, inputError(serve.InputCatalog, c.Catalog, err)
	}
	return spec, cat, nil
}

// spec parses the feature spec (the embedded retail sample when not
// configured). Errors name the file.
func (c *config) spec() (*features.Spec, error) {
	specData, err := readOr(serve.InputFeatureSpec, c.FeatureSpec, retail.FeatureSpec)
	if err != nil {
		return nil, err
	}
	spec, err := features.ParseSpec(specData)
	if err != nil {
		return nil, inputError(serve.InputFeatureSpec, c.FeatureSpec, err)
	}
	return spec, nil
}

// joinConfig is the journal join the service applies: its attribution
// window, default reward and outcome types.
func (c *config) joinConfig() (logs.JoinConfig, error) {
	o, err := logs.NewOutcomes(c.OutcomeTypes)
	if err != nil {
		return logs.JoinConfig{}, fmt.Errorf("config %s: %w", c.path, err)
	}
	return logs.JoinConfig{Window: c.AttributionWindow.D(), DefaultReward: c.DefaultReward, Outcomes: o}, nil
}

// registry opens the configured model registry; nil when none is.
func (c *config) registry() (*models.Registry, error) {
	if c.Registry == "" {
		return nil, nil
	}
	return models.OpenRegistry(c.Registry)
}

// parseFlags parses a command's args. A bad flag is one line of error
// ("train: flag provided but not defined: -x (see nextbest train -h)"),
// not the flag list; help is true when -h was asked for and the usage
// printed on stderr.
func parseFlags(fs *flag.FlagSet, args []string) (help bool, err error) {
	usage := fs.Usage
	fs.Usage = func() {} // the flag package calls it on every error
	fs.SetOutput(io.Discard)
	err = fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return true, nil
	}
	if err != nil {
		return false, usageErrorf(fs, "%v", err)
	}
	return false, nil
}

// usageErrorf is a command's error about its flags or arguments, pointing
// at its -h.
func usageErrorf(fs *flag.FlagSet, format string, args ...any) error {
	return fmt.Errorf("%s: %s (see nextbest %s -h)", fs.Name(), fmt.Sprintf(format, args...), fs.Name())
}

// noArgs refuses positional arguments after the flags.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected argument %q", fs.Arg(0))
	}
	return nil
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

// checkInput reports, as readInput would, a file that cannot be read.
func checkInput(input, path string) error {
	f, err := os.Open(path)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		err = fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", input, path, err)
	}
	return f.Close()
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

// stringFlag, durationFlag and float64Flag are flag.Values over the
// fields of fileConfig. String is exact (load sets a given flag's value
// on the file's configuration through it); the zero value prints as no
// default in the usage.
type (
	stringFlag   string
	durationFlag decide.Duration
	float64Flag  float64
)

func (s *stringFlag) String() string     { return string(*s) }
func (s *stringFlag) Set(v string) error { *s = stringFlag(v); return nil }

func (d *durationFlag) String() string {
	b, _ := decide.Duration(*d).MarshalText()
	return string(b)
}

func (d *durationFlag) Set(v string) error {
	x, err := decide.ParseDuration(v)
	*d = durationFlag(x)
	return err
}

func (f *float64Flag) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 64) }

func (f *float64Flag) Set(v string) error {
	x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return errors.New("not a number")
	}
	*f = float64Flag(x)
	return nil
}
