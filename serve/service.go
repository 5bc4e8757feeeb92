package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/cluster"
	"nextbest/cluster/rstore"
	"nextbest/cluster/stream"
	"nextbest/decide"
	"nextbest/features"
	"nextbest/internal/logthrottle"
	"nextbest/journal"
	"nextbest/logs"
	"nextbest/models"
	"nextbest/personalizer"
	"nextbest/state"
	"nextbest/training/online"
)

// Config configures a Service. Zero values take the documented defaults.
type Config struct {
	// Addr is the listen address of ListenAndServe (default 127.0.0.1:8080).
	Addr string
	// DataDir holds the journal, the Pebble state and the model snapshot.
	DataDir string
	// Catalog and FeatureSpec are the YAML documents of the action catalog
	// and the feature spec.
	Catalog     []byte
	FeatureSpec []byte
	// Profiles, if set, are JSON-lines customer profiles loaded into the
	// store at first start (the demo set, or a CRM import).
	Profiles []byte
	// ProfilesPath, if set, is a JSON-lines file of profiles loaded at
	// first start instead of Profiles: it is read as it is loaded, never
	// held in memory whole (a million profiles are half a gigabyte of
	// JSON), and not read at all once the store is seeded.
	ProfilesPath string
	// Explorer is how decisions explore the model's scores (default
	// DefaultExplorer).
	Explorer decide.Explorer
	// Model configures the online model.
	Model ModelConfig
	// Personalizer configures the model of the Personalizer-compatible
	// namespace (/personalizer/v1.0/).
	Personalizer PersonalizerConfig
	// DefaultReward is the reward of a shown action without an outcome in
	// the attribution window (default 0).
	DefaultReward float64
	// AttributionWindow is how long after a decision an outcome counts
	// towards online learning (default 7 days).
	AttributionWindow time.Duration
	// OutcomeTypes declare the outcome types POST /v1/outcomes accepts:
	// each one's reward mapping, whether it is a conversion and how its
	// repeats aggregate (see logs.OutcomeType). Default
	// logs.DefaultOutcomeTypes: conversion, purchase, click, revenue,
	// reject.
	OutcomeTypes []logs.OutcomeType
	// DecisionRetention is how long a decision accepts outcomes (its index
	// entry is kept): default the attribution window plus a day. Older
	// decisions stay in the journal; outcomes for them get 404.
	DecisionRetention time.Duration
	// DecisionTimeout bounds a decision from its start to its
	// acknowledgement, the journal's group commit included (default
	// 50ms). A decision that cannot be journaled within it answers 503
	// and is not acknowledged.
	DecisionTimeout time.Duration
	// MaxInFlight bounds the decisions being served at once, and
	// separately the outcomes and events (default DefaultMaxInFlight per
	// CPU); past it a request is refused at once with 503 and Retry-After
	// instead of queueing.
	MaxInFlight int
	// MaxBodyBytes caps request bodies (default 64 KiB); larger ones get 413.
	MaxBodyBytes int
	// AllowUndeclaredContext, for migrating clients, accepts /v1/decide
	// context keys the feature spec does not declare: they are dropped
	// before the decision and its journal record, with a throttled
	// warning. Off (the default), such a key is refused with 422.
	AllowUndeclaredContext bool
	// CacheMaxCost is the profile cache budget in bytes (default 64 MiB).
	CacheMaxCost int64
	// SnapshotEvery is how often the online model is snapshotted (default
	// 30s); it is also snapshotted at Close.
	SnapshotEvery time.Duration
	// PublishEvery is how often the online model's changes are published
	// to decisions (default 10ms): publishing copies every changed
	// posterior, so it is batched.
	PublishEvery time.Duration
	// Registry is a model registry directory (see models.Registry); if set,
	// its promoted model is served and watched for promotions every
	// RegistryPoll (default 5s), and POST /admin/models/reload reloads it
	// at once. Without one, or while nothing fits, the online model serves.
	Registry     string
	RegistryPoll time.Duration
	// AdminToken, if set, is the bearer token the /admin/ endpoints
	// require; without it they answer only callers on loopback.
	AdminToken string
	// Experiments split customers stickily across arms (see
	// decide.Experiment); arms with "model:N" policies need Registry.
	Experiments []*decide.Experiment
	// CLVModel, if set, is the CLV model at the first start (see CLVDoc);
	// one saved through PUT /admin/clv supersedes it.
	CLVModel *CLVDoc
	// CORSOrigins are the web origins (scheme://host[:port]) whose pages
	// may call the API from a browser (CORS); none: CORS is off, and no
	// other site's page can read an answer or send a JSON write.
	CORSOrigins []string
	// TLSCert and TLSKey, both set, make Serve speak HTTPS with this
	// certificate and key (PEM files).
	TLSCert, TLSKey string
	// Auth holds the API keys (see APIKey). Without keys the service is in
	// development mode: every endpoint is open (run it on loopback only,
	// CheckExposure).
	Auth AuthConfig
	// LearningMode is the learning mode at the first start (default
	// online; see LearningMode): one saved through PUT /admin/mode
	// supersedes it.
	LearningMode LearningMode
	// ExperimentsTTL is how long GET /v1/experiments reuses its analysis
	// (default 10s; negative: never cache).
	ExperimentsTTL time.Duration
	// ReportsEvery is how often the dashboard's reports (campaigns and
	// channels, journeys, attribution: from the journal; CLV: from the
	// profiles) are computed again in the background (default 5m; the
	// first computation starts with the first request for a report, or
	// after the first period). Negative: only when a request asks (GET
	// /v1/reports/{name}?refresh=1). See reports.go.
	ReportsEvery time.Duration
	// ReportsTimeout bounds one computation of the reports (default 2m);
	// a report that does not finish keeps its previous result.
	ReportsTimeout time.Duration
	// Seed fixes exploration randomness (0: random).
	Seed uint64
	// Cluster, if set, runs the service on the cluster path (package
	// cluster): the state in Redis, the journal on NATS JetStream, the
	// model registry in JetStream's object store (Registry is then
	// ignored). DataDir holds only this instance's model snapshot.
	Cluster *cluster.Config
	// JournalNoSync skips fsync: tests only.
	JournalNoSync bool
	// JournalPreallocate zero-fills journal segments ahead of use (see
	// journal.Config.Preallocate): steadier fsyncs, 64 MiB of disk per
	// segment up front. nextbest serve turns it on.
	JournalPreallocate bool
	// JournalRetention deletes old journal segments (embedded storage; on
	// the cluster, the stream's own limits apply): those older than
	// MaxAge, and the oldest while the journal is over MaxBytes, never
	// what the state store or the model snapshot still needs to recover.
	// Checked every hour. Zero: the journal keeps everything.
	JournalRetention JournalRetention
	// ErasureDelay bounds the time from a customer's erasure (DELETE
	// /v1/customers/{id}) to the moment no file of the journal or the
	// state (or, on the cluster, Redis and JetStream) holds their records
	// (default DefaultErasureDelay). Erasures are purged in groups, so a
	// longer delay rewrites the journal less often.
	ErasureDelay time.Duration
	// JournalSegmentBytes is the size past which the journal starts a new
	// segment file (default 64 MiB): retention deletes whole segments.
	JournalSegmentBytes int64
	Logger              *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultExplorer is the explorer when none is configured: LinUCB
// scores (posterior mean + 1 std) with 10% uniform exploration, so every
// eligible action keeps a logged propensity of at least 0.1/n.
func DefaultExplorer() decide.Explorer {
	return decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: 0.1, Alpha: 1}
}

// ModelConfig configures the online bandit model.
type ModelConfig struct {
	// Name is the policy name reported with decisions (default "linucb").
	Name string `yaml:"name"`
	// Shared fits one model over the whole vector (action features and
	// context×action crosses included) instead of one posterior per action
	// (LinUCB's "disjoint" model, the default). A shared model can score a
	// new action from its features; a per-action one learns each action's
	// own response to the context, which is what the retail sample's
	// 64-dimension spec needs (see docs/simulator.md).
	Shared bool `yaml:"shared"`
	// Lambda is the ridge prior precision (default 1).
	Lambda float64 `yaml:"lambda"`
	// Positions are the examination factors of the position model for
	// multi-slot decisions (logs.PositionModel; slot 0's is 1, later slots
	// take the last): the online model learns each shown action's row
	// scaled by its slot's factor, as `nextbest train --positions` does.
	// Estimate them with `nextbest train --positions estimate` (it prints
	// them). None: every slot learns as slot 0.
	Positions []float64 `yaml:"positions"`
}

// PersonalizerConfig configures the Personalizer-compatible namespace's
// model: a ridge regression over rows hashed into 2^Bits dimensions
// (package personalizer). The rest of the namespace's configuration is
// its API's (configurations/service and configurations/policy).
type PersonalizerConfig struct {
	// Bits is the hashing dimension's log2 (default
	// personalizer.DefaultBits, 9: 512 dimensions), in
	// [personalizer.MinBits, personalizer.MaxBits]. Changing it rebuilds
	// the model from the journal at the next start.
	Bits int `yaml:"bits"`
	// Lambda is the ridge prior precision (default 1).
	Lambda float64 `yaml:"lambda"`
}

func (c *Config) setDefaults() error {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		return errors.New("serve: Config.DataDir is required")
	}
	if len(c.Catalog) == 0 || len(c.FeatureSpec) == 0 {
		return errors.New("serve: Config.Catalog and Config.FeatureSpec are required")
	}
	if c.AttributionWindow == 0 {
		c.AttributionWindow = 7 * 24 * time.Hour
	}
	if len(c.OutcomeTypes) == 0 {
		c.OutcomeTypes = logs.DefaultOutcomeTypes()
	}
	if c.DecisionRetention == 0 {
		c.DecisionRetention = c.AttributionWindow + 24*time.Hour
	}
	if r := c.JournalRetention; r.MaxAge < 0 || r.MaxBytes < 0 || (r.MaxAge > 0 && r.MaxAge < c.DecisionRetention) {
		return fmt.Errorf("serve: journal retention max_age %v must be 0 (keep everything) or at least the decision retention %v: outcomes for a decision still in the index must be joinable to it", r.MaxAge, c.DecisionRetention)
	}
	if c.DecisionTimeout == 0 {
		c.DecisionTimeout = 50 * time.Millisecond
		if c.Cluster != nil {
			// a decision waits for JetStream's ack and the applier's
			// commit, and through a lease handover (cluster.Config.LeaseTTL)
			c.DecisionTimeout = 3 * time.Second
		}
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = 30 * time.Second
	}
	if c.PublishEvery == 0 {
		c.PublishEvery = 10 * time.Millisecond
	}
	if c.Explorer == (decide.Explorer{}) {
		c.Explorer = DefaultExplorer()
	}
	if c.ErasureDelay < 0 {
		return fmt.Errorf("serve: erasure delay %v must not be negative", c.ErasureDelay)
	}
	if c.ErasureDelay == 0 {
		c.ErasureDelay = DefaultErasureDelay
	}
	if c.ExperimentsTTL == 0 {
		c.ExperimentsTTL = 10 * time.Second
	}
	if c.RegistryPoll == 0 {
		c.RegistryPoll = 5 * time.Second
	}
	if c.ReportsEvery == 0 {
		c.ReportsEvery = 5 * time.Minute
	}
	if c.ReportsTimeout <= 0 {
		c.ReportsTimeout = 2 * time.Minute
	}
	if c.Model.Name == "" {
		c.Model.Name = "linucb"
	}
	if c.Personalizer.Bits == 0 {
		c.Personalizer.Bits = personalizer.DefaultBits
	}
	if b := c.Personalizer.Bits; b < personalizer.MinBits || b > personalizer.MaxBits {
		return fmt.Errorf("serve: personalizer bits %d must be in [%d, %d]", b, personalizer.MinBits, personalizer.MaxBits)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Service is a running nextbest instance: the HTTP API over the decision
// engine, the profile store, the journal and the online learner.
type Service struct {
	cfg Config
	log *slog.Logger
	// the embedded parts Open wires and closeParts closes: the journal
	// feeds the applier (its subscriber), which feeds the learner
	state   *state.Store
	applier *state.Applier
	jrnl    *journal.Journal[state.Live] // embedded
	node    *cluster.Node                // cluster
	// clusterReg is the cluster's model registry (JetStream)
	clusterReg *stream.Registry
	learner    *online.Learner
	// what the handlers use, through the contracts of contracts.go
	profiles   Profiles
	index      DecisionIndex
	aggregates Aggregates
	journal    Journal
	registry   ModelSource // nil without a registry

	spec   *features.Spec
	cat    *decide.Catalog
	engine *decide.Engine
	model  *models.Ridge
	// outcomes are the declared outcome types; outcomesInFlight the
	// de-duplication keys of outcomes being journaled
	outcomes         *logs.Outcomes
	outcomesInFlight inFlight
	metrics          *metrics
	// undeclared counts the context keys AllowUndeclaredContext dropped
	undeclared undeclaredLog

	experiments atomic.Pointer[[]experimentRuntime] // liveExperiments
	expStore    liveDocStore
	shadow      atomic.Pointer[shadowRuntime] // nil: no shadow
	shadowStore liveDocStore
	mode        atomic.Pointer[modeRuntime]
	modeStore   liveDocStore
	clvDoc      atomic.Pointer[CLVDoc]
	clvStore    liveDocStore
	// the Personalizer-compatible namespace (personalizer.go): its live
	// configuration, where it is kept, its learner, its event index, and
	// the event ids being ranked
	pz        atomic.Pointer[pzResource]
	pzStore   liveDocStore
	pzMu      sync.Mutex // one configuration change at a time
	pzLearner *online.Personalizer
	pzEvents  PersonalizerEvents
	pzRanking inFlight
	stopPZ    context.CancelFunc
	pzDone    chan struct{}

	keys           atomic.Pointer[keyring]
	keysStore      liveDocStore
	keysMu         sync.Mutex // one change of the keys at a time; guards cfgKeys, apiKeys
	cfgKeys        []APIKey   // the configuration's
	apiKeys        []APIKey   // added through the admin API
	expAdminMu     sync.Mutex // one admin change of the experiments at a time
	expMu          sync.Mutex
	expCache       *experimentsAnswer
	expCachedAt    time.Time
	reports        *reports // the dashboard's reports (reports.go)
	swapMu         sync.Mutex
	servedVersion  int // promoted version being served; 0: the online model
	refusedVersion int // last promoted version that did not fit
	server         *fasthttp.Server

	actionsJSON []byte
	work        sync.Pool
	corsAllowed map[string]bool // nil: CORS off
	// positions is the position model of multi-slot decisions
	// (Config.Model.Positions): the online learner's, and the split of
	// slate outcomes; nil without
	positions *logs.PositionModel

	// contacts holds the contact reservations of decisions not yet
	// applied
	contacts Contacts
	*admission
	logLimit *logthrottle.Throttle // repeating ERROR lines, one per key every 10s

	// the eraser (erasure.go): what redacts the journal, one purge at a
	// time, and the kick an erasure gives it
	redactor  Redactor
	purgeMu   sync.Mutex
	eraseKick chan struct{}

	ready     atomic.Bool
	stopLearn context.CancelFunc
	learnDone chan struct{}
	// background stops the periodic tasks (registry polling, the sweep)
	background context.Context
	stopBg     context.CancelFunc
	bgTasks    sync.WaitGroup // the periodic tasks, waited for at close
	closeOnce  sync.Once
	closeErr   error
}

// Open opens (or creates) the service's state under cfg.DataDir, replays
// the journal past what the state has applied, and returns a Service ready
// to serve.
//
// Errors in an input document (the feature spec, the catalog, the
// profiles, the experiments) are *InputError; the others name the file or
// directory they concern. What Open had opened before an error is closed
// again.
func Open(cfg Config) (_ *Service, err error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	// s is local, not the named result: the result is nil on error, and
	// the cleanup below closes whatever part of s was opened.
	s := &Service{cfg: cfg, log: cfg.Logger, eraseKick: make(chan struct{}, 1), reports: newReports()}
	s.background, s.stopBg = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			if cerr := s.closeParts(false); cerr != nil {
				s.log.Warn("cannot close what was opened before the error", "err", cerr)
			}
		}
	}()
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "model"), 0o755); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", cfg.DataDir, err)
	}
	if s.spec, err = features.ParseSpec(cfg.FeatureSpec); err != nil {
		return nil, &InputError{Input: InputFeatureSpec, Err: err}
	}
	if s.cat, err = decide.ParseCatalog(cfg.Catalog, s.spec); err != nil {
		return nil, &InputError{Input: InputCatalog, Err: err}
	}
	if cfg.Cluster != nil {
		if err := s.openNode(); err != nil {
			return nil, err
		}
	} else if err := s.openState(); err != nil {
		return nil, err
	}
	if err := s.seedProfiles(); err != nil {
		return nil, err
	}

	// the online model: last snapshot, or a fresh one
	snapPath := filepath.Join(cfg.DataDir, "model", "online.state")
	if s.node != nil {
		// a cluster instance's snapshot is of the stream, not of a local journal
		snapPath = filepath.Join(cfg.DataDir, "model", "online-cluster.state")
	}
	if s.node != nil {
		if err := s.fetchSnapshot(snapPath, sharedSnapshot); err != nil {
			s.log.Warn("cannot fetch the cluster's model snapshot; replaying the stream", "err", err)
		}
	}
	var from uint64
	s.model, from, err = online.LoadSnapshot(snapPath, s.cat)
	fresh := false
	switch {
	case errors.Is(err, os.ErrNotExist):
		fresh = true
	case err == nil && s.node != nil && from > s.node.LastLSN():
		// the stream ends before the snapshot: it is not this stream's
		s.log.Warn("the model snapshot is ahead of the stream (another stream's?); rebuilding the model from the stream",
			"snapshot_lsn", from, "stream_last", s.node.LastLSN())
		fresh = true
	case errors.Is(err, online.ErrSnapshotCatalog):
		s.log.Warn("the catalog changed since the model snapshot; rebuilding the model from the journal")
		fresh = true
	case errors.Is(err, online.ErrSnapshotOverflow):
		s.log.Error("the model snapshot cannot serve; rebuilding the model from the journal", "err", err)
		fresh = true
	case err != nil:
		return nil, err
	default:
		if want := s.modelConfig(); s.model.Dim() != want.Dim || s.model.Actions() != want.Actions {
			s.log.Warn("model snapshot does not fit the feature spec or model config; rebuilding it from the journal",
				"snapshot_dim", s.model.Dim(), "spec_dim", want.Dim)
			fresh = true
		}
	}
	if fresh {
		if s.model, err = models.NewRidge(s.modelConfig()); err != nil {
			return nil, err
		}
		from = 0
	}
	s.metrics = newMetrics(s)
	if s.outcomes, err = logs.NewOutcomes(cfg.OutcomeTypes); err != nil {
		return nil, err
	}
	applyErrs := newApplyErrors(s.metrics.applyErrors, s.log)
	if len(cfg.Model.Positions) > 0 {
		if s.positions, err = logs.NewPositionModel(cfg.Model.Positions); err != nil {
			return nil, fmt.Errorf("model.positions: %w", err)
		}
	}
	if s.learner, err = online.New(online.Config{
		Model: s.model, Spec: s.spec, Catalog: s.cat, Decisions: s.index, Positions: s.positions,
		DefaultReward: cfg.DefaultReward, From: from,
		PublishEvery: cfg.PublishEvery, SnapshotPath: snapPath, SnapshotEvery: cfg.SnapshotEvery,
		Skips: applyErrs, OnUpdate: func(n int) { s.metrics.modelUpdates.Add(float64(n)) }, Logger: s.log,
	}); err != nil {
		return nil, err
	}
	pzFrom, pzPath, err := s.openPersonalizerLearner(applyErrs)
	if err != nil {
		return nil, err
	}
	acfg := state.ApplierConfig{
		Spec: s.spec, Catalog: s.cat, Outcomes: s.outcomes,
		Learner: s.learner, LearnFrom: from, Window: cfg.AttributionWindow, DefaultReward: cfg.DefaultReward,
		Personalizer: s.pzLearner, PersonalizerFrom: pzFrom,
		Skips: applyErrs, Logger: s.log,
	}
	reservationTTL := max(time.Minute, 10*cfg.DecisionTimeout)
	if s.node != nil {
		s.contacts = rstore.NewContacts(s.node.Redis(), s.spec, s.cat, reservationTTL)
		acfg.ReservationKeys = true
	} else {
		ledger := newContactLedger(s.profiles, s.spec, reservationTTL)
		s.contacts, acfg.Contacts = ledger, ledger
	}
	if s.applier, err = state.NewApplier(s.state, acfg); err != nil {
		return nil, err
	}
	s.admission = newAdmission(cfg.MaxInFlight, s.metrics.reg)
	s.logLimit = logthrottle.New(10 * time.Second)
	lctx, cancel := context.WithCancel(context.Background())
	s.stopLearn, s.learnDone = cancel, make(chan struct{})
	go func() { defer close(s.learnDone); s.learner.Run(lctx) }()
	pctx, pcancel := context.WithCancel(context.Background())
	s.stopPZ, s.pzDone = pcancel, make(chan struct{})
	go func() { defer close(s.pzDone); s.pzLearner.Run(pctx) }()

	if s.node != nil {
		// stream → applier (as lease holder) → learner, from the snapshot
		// serve once Redis holds what the stream held at the start (the
		// lease holder catches up, as the embedded path replays its
		// journal) and the model has learned it
		s.journal = s.node
		last := s.node.LastLSN()
		s.node.Start(s.applier, min(from, pzFrom))
		s.bgTasks.Go(func() { s.shareSnapshots(snapPath, sharedSnapshot) })
		s.bgTasks.Go(func() { s.shareSnapshots(pzPath, sharedPZSnapshot) })
		if err := s.node.WaitApplied(context.Background(), last); err != nil {
			return nil, err
		}
		if err := s.learner.WaitFor(context.Background(), last); err != nil {
			return nil, err
		}
		if err := s.pzLearner.WaitFor(context.Background(), last); err != nil {
			return nil, err
		}
	} else {
		// journal → applier (its one subscriber) → learner (the applier's)
		s.jrnl, err = journal.OpenWith[state.Live](journal.Config{
			Dir: s.journalDir(), NoSync: cfg.JournalNoSync, Preallocate: cfg.JournalPreallocate, Logger: s.log,
			SegmentBytes: cfg.JournalSegmentBytes,
			// the state store and the model snapshot are derived from the
			// journal: one that ends below them has lost records, and must
			// not hand their LSNs out again
			AppliedLSN: max(s.applier.Applied(), from, pzFrom),
		}, s.applier)
		if err != nil {
			return nil, err
		}
		s.journal = s.jrnl
		if err := s.recover(); err != nil {
			return nil, err
		}
	}
	s.model.Publish()

	s.engine, err = decide.New(decide.Config{Catalog: s.cat, Spec: s.spec, Explorer: cfg.Explorer, Seed: cfg.Seed, Logger: s.log}, s.model)
	if err != nil {
		return nil, err
	}
	if s.node != nil {
		if err := s.watchRegistry(); err != nil {
			return nil, err
		}
	} else if cfg.Registry != "" {
		reg, err := models.OpenRegistry(cfg.Registry)
		if err != nil {
			return nil, err
		}
		s.registry = reg
		if _, err := s.loadPromoted(false); err != nil {
			// a bad promotion must not keep the service down: serve the
			// online model and say why
			s.log.Error("not serving the promoted model", "err", err)
		}
		s.bgTasks.Go(func() {
			s.every(cfg.RegistryPoll, "model registry", func() error { _, err := s.loadPromoted(false); return err })
		})
	}
	if err := s.sweep(cfg.Now()); err != nil {
		return nil, err
	}
	s.bgTasks.Go(func() {
		s.every(time.Hour, "cannot sweep the decision index", func() error { return s.sweep(s.cfg.Now()) })
	})
	if s.jrnl != nil {
		s.redactor = embeddedRedactor{s.jrnl}
	} else if s.node != nil {
		s.redactor = s.node
	}
	s.bgTasks.Go(s.eraser)
	if r := cfg.JournalRetention; (r.MaxAge > 0 || r.MaxBytes > 0) && s.jrnl != nil {
		s.bgTasks.Go(func() {
			s.every(time.Hour, "journal retention", func() error { _, err := s.RetainJournal(); return err })
		})
	}
	if err := s.openExperiments(); err != nil {
		return nil, &InputError{Input: InputExperiments, Err: err}
	}
	if err := s.openShadow(); err != nil {
		return nil, err
	}
	if err := s.openMode(); err != nil {
		return nil, err
	}
	if err := s.openKeys(); err != nil {
		return nil, err
	}
	if err := s.openCLV(); err != nil {
		return nil, err
	}
	if err := s.openPersonalizer(); err != nil {
		return nil, err
	}
	if s.corsAllowed, err = corsOrigins(cfg.CORSOrigins); err != nil {
		return nil, err
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("tls_cert and tls_key go together: set both or neither")
	}
	if cfg.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, fmt.Errorf("TLS: %w", err)
		}
	}
	if s.actionsJSON, err = json.Marshal(map[string]any{"channels": s.cat.Channels, "actions": s.cat.Actions}); err != nil {
		return nil, err
	}
	s.work.New = func() any { return new(decideWork) }
	s.server = &fasthttp.Server{
		Handler:                       s.Handler(),
		Name:                          "nextbest",
		MaxRequestBodySize:            readLimit(cfg.MaxBodyBytes),
		ReadTimeout:                   10 * time.Second,
		WriteTimeout:                  10 * time.Second,
		IdleTimeout:                   60 * time.Second,
		ErrorHandler:                  s.serverError,
		Logger:                        fasthttpLogger{s.log},
		DisableHeaderNamesNormalizing: false,
		NoDefaultContentType:          true,
	}
	if s.jrnl != nil {
		s.bgTasks.Go(s.reportsLoop)
	}
	s.ready.Store(true)
	return s, nil
}

// openPersonalizerLearner starts the Personalizer namespace's model from
// its last snapshot (a new cluster instance: the cluster's shared one), or
// a fresh one (rebuilt from the journal), and returns the LSN it reflects
// and its snapshot's path.
func (s *Service) openPersonalizerLearner(skips state.Skips) (uint64, string, error) {
	path := filepath.Join(s.cfg.DataDir, "model", "personalizer.state")
	if s.node != nil {
		path = filepath.Join(s.cfg.DataDir, "model", "personalizer-cluster.state")
		if err := s.fetchSnapshot(path, sharedPZSnapshot); err != nil {
			s.log.Warn("cannot fetch the cluster's personalizer model snapshot; replaying the stream", "err", err)
		}
	}
	bits := s.cfg.Personalizer.Bits
	m, from, err := online.LoadPersonalizerSnapshot(path, bits)
	switch {
	case errors.Is(err, os.ErrNotExist):
		m, from = nil, 0
	case errors.Is(err, online.ErrSnapshotFeaturization):
		s.log.Warn("the personalizer model snapshot is of another featurization or dimension; rebuilding it from the journal", "bits", bits)
		m, from = nil, 0
	case err != nil:
		s.log.Error("the personalizer model snapshot cannot serve; rebuilding it from the journal", "err", err)
		m, from = nil, 0
	case s.node != nil && from > s.node.LastLSN():
		s.log.Warn("the personalizer model snapshot is ahead of the stream; rebuilding it from the stream")
		m, from = nil, 0
	}
	if s.node != nil {
		// the stream's limits may have removed records the model lacks:
		// it goes on from the first the stream holds
		first, err := s.node.Stream().FirstSeq(context.Background())
		if err != nil {
			return 0, "", err
		}
		if first > from+1 {
			s.log.Warn("the stream no longer holds records the personalizer model lacks; it learns from the first it holds",
				"model_lsn", from, "stream_first", first)
			from = first - 1
		}
	}
	if m == nil && from > 0 {
		// a snapshot of the prior (the namespace had learned nothing): the
		// prior again, from its LSN
		if m, err = online.NewPersonalizerModel(bits, s.cfg.Personalizer.Lambda); err != nil {
			return 0, "", err
		}
	}
	s.pzLearner, err = online.NewPersonalizer(online.PersonalizerConfig{
		Bits: bits, Lambda: s.cfg.Personalizer.Lambda, Model: m, From: from, ModelUpdate: s.pzModelUpdate,
		SnapshotPath: path, SnapshotEvery: s.cfg.SnapshotEvery, Skips: skips,
		OnUpdate: func(n int) { s.metrics.pzUpdates.Add(float64(n)) }, Logger: s.log,
	})
	return from, path, err
}

// openState opens the embedded state store under DataDir.
func (s *Service) openState() error {
	statePath := filepath.Join(s.cfg.DataDir, "state")
	if err := os.MkdirAll(statePath, 0o755); err != nil {
		return fmt.Errorf("data dir %s: %w", s.cfg.DataDir, err)
	}
	var err error
	if s.state, err = state.Open(state.Config{Dir: statePath, CacheMaxCost: s.cfg.CacheMaxCost, Logger: s.log}); err != nil {
		if le := (*state.LockedError)(nil); errors.As(err, &le) {
			return fmt.Errorf("data dir %s is in use by another instance: %w", s.cfg.DataDir, err)
		}
		return err
	}
	s.profiles, s.index, s.aggregates = s.state.Profiles(), s.state, s.state
	s.pzEvents = s.state
	return nil
}

// Inputs of Open, as InputError.Input names them.
const (
	InputFeatureSpec = "feature spec"
	InputCatalog     = "catalog"
	InputProfiles    = "profiles"
	InputExperiments = "experiments"
)

// InputError is returned by Open for a bad input document: Input says
// which one (InputCatalog, ...), so that a caller that read it from a file
// can name the file.
type InputError struct {
	Input string
	Err   error
}

func (e *InputError) Error() string { return e.Input + ": " + e.Err.Error() }

func (e *InputError) Unwrap() error { return e.Err }

func (s *Service) journalDir() string { return filepath.Join(s.cfg.DataDir, "journal") }

func (s *Service) modelConfig() models.RidgeConfig {
	c := models.RidgeConfig{Dim: s.spec.Dim(), Lambda: s.cfg.Model.Lambda, Name: s.cfg.Model.Name}
	if !s.cfg.Model.Shared {
		c.Actions = len(s.cat.Actions)
	}
	return c
}

// recover replays the journal past the applied state and the model
// snapshot through the same applier as live commits, and waits for the
// learner to take it in.
func (s *Service) recover() error {
	if err := s.applier.CatchUp(s.jrnl); err != nil {
		return err
	}
	if err := s.pzLearner.WaitFor(context.Background(), s.jrnl.LastLSN()); err != nil {
		return err
	}
	return s.learner.WaitFor(context.Background(), s.jrnl.LastLSN())
}

// largeSeed is the number of profiles past which seedProfiles returns the
// memory of the load to the OS at once.
const largeSeed = 100_000

// seedProfiles loads cfg.Profiles into the profile store at the state
// store's first start.
func (s *Service) seedProfiles() error {
	if len(s.cfg.Profiles) == 0 && s.cfg.ProfilesPath == "" {
		return nil
	}
	if seeded, err := s.state.Seeded(); err != nil || seeded {
		return err
	}
	var r io.Reader = bytes.NewReader(s.cfg.Profiles)
	if s.cfg.ProfilesPath != "" {
		f, err := os.Open(s.cfg.ProfilesPath)
		if err != nil {
			return &InputError{Input: InputProfiles, Err: err}
		}
		defer f.Close()
		r = f
	}
	n, err := s.state.Profiles().Load(context.Background(), r)
	if err != nil {
		return &InputError{Input: InputProfiles, Err: err}
	}
	s.log.Debug("seeded customer profiles", "count", n)
	if n >= largeSeed {
		// the load's garbage (decoded profiles, encoded batches) is
		// gone: give its pages back now rather than over minutes
		debug.FreeOSMemory()
	}
	return s.state.MarkSeeded()
}

// sweep drops the decision index entries of decisions past the retention.
func (s *Service) sweep(now time.Time) error {
	return s.state.Sweep(now, s.cfg.DecisionRetention)
}

// ListenAndServe serves on cfg.Addr until Close.
func (s *Service) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve serves HTTP on ln until Close.
func (s *Service) Serve(ln net.Listener) error {
	s.log.Info("serving", "addr", ln.Addr().String(), "actions", len(s.cat.Actions), "dim", s.spec.Dim(), "tls", s.cfg.TLSCert != "")
	if s.cfg.TLSCert != "" {
		return s.server.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey)
	}
	return s.server.Serve(ln)
}

// Model returns the online model.
func (s *Service) Model() *models.Ridge { return s.model }

// PersonalizerModel returns the Personalizer-compatible namespace's model
// (as of its last publish: read it after WaitLearned).
func (s *Service) PersonalizerModel() *models.Ridge { return s.pzLearner.Model() }

// WaitLearned blocks until the online model, and the Personalizer
// namespace's (as of its model update frequency), have learned from every
// record journaled so far.
func (s *Service) WaitLearned(ctx context.Context) error {
	last := s.journal.LastLSN()
	if err := s.pzLearner.WaitFor(ctx, last); err != nil {
		return err
	}
	return s.learner.WaitFor(ctx, last)
}

// Close stops the service gracefully, in reverse order of Open: stop
// taking requests and finish those in flight, flush the journal, let the
// learner drain and snapshot the model, then close the stores.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.ready.Store(false)
		if s.server != nil {
			if err := s.server.ShutdownWithContext(context.Background()); err != nil {
				s.closeErr = err
			}
		}
		s.closeErr = errors.Join(s.closeErr, s.closeParts(true))
	})
	return s.closeErr
}

// closeParts closes the parts of s that are open, in reverse order of
// Open; any of them may be missing (Open failed before it). With persist
// (Close) it snapshots the model and flushes the state store first; after
// a failed Open it does not: what the learner and the state store hold is
// all in the journal, and a full disk (one way Open fails) would only fail
// again.
func (s *Service) closeParts(persist bool) error {
	var errs []error
	if s.stopBg != nil {
		s.stopBg()
		s.bgTasks.Wait() // a task in flight uses the stores closed below
	}
	if s.jrnl != nil {
		errs = append(errs, s.jrnl.Close())
	}
	if s.node != nil {
		errs = append(errs, s.node.Close())
	}
	if s.stopLearn != nil {
		s.stopLearn()
		<-s.learnDone
		if persist {
			errs = append(errs, s.learner.Snapshot())
		}
	}
	if s.stopPZ != nil {
		s.stopPZ()
		<-s.pzDone
		if persist {
			errs = append(errs, s.pzLearner.Snapshot())
		}
	}
	if s.state != nil {
		if persist {
			errs = append(errs, s.state.Flush()) // spares the next start a replay
		}
		errs = append(errs, s.state.Close())
	}
	return errors.Join(errs...)
}

// every runs task each interval until Close, logging its errors with msg.
func (s *Service) every(interval time.Duration, msg string, task func() error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.background.Done():
			return
		case <-t.C:
			if err := task(); err != nil {
				s.log.Error(msg, "err", err)
			}
		}
	}
}

type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Warn(fmt.Sprintf(format, args...), "component", "http")
}
