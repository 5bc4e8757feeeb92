package serve

import (
	"bytes"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
	"github.com/valyala/fasthttp"

	"nextbest/journal"
)

// metrics are the service's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg          *prometheus.Registry
	log          *slog.Logger
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	decisions    *prometheus.CounterVec
	served       *prometheus.CounterVec
	outcomes     *prometheus.CounterVec
	applyErrors  *prometheus.CounterVec
	events       prometheus.Counter
	activations  prometheus.Counter
	modelUpdates prometheus.Counter
	modelSwaps   prometheus.Counter
	experiment   *prometheus.CounterVec
	// the Personalizer-compatible namespace's calls and model
	pzRanks     *prometheus.CounterVec
	pzEvents    *prometheus.CounterVec
	pzUpdates   prometheus.Counter
	decideStage *prometheus.HistogramVec
	// armCompute is the compute stage of experiment decisions by
	// experiment and arm: how the retraining loop tells a canary whose
	// model is slow
	armCompute *prometheus.HistogramVec
	// the two stages' observers, resolved once: the decide path observes
	// them on every decision
	decideCompute, decideJournal prometheus.Observer
}

func newMetrics(s *Service) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), log: s.log}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nextbest_http_requests_total", Help: "HTTP requests by endpoint and status code.",
	}, []string{"endpoint", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "nextbest_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by endpoint (includes the journal fsync wait).",
		Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1},
	}, []string{"endpoint"})
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nextbest_decisions_total", Help: "Decisions answered, by channel and whether the fallback served them.",
	}, []string{"channel", "fallback"})
	m.served = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nextbest_decision_actions_total", Help: "Actions returned by decisions, by action and channel.",
	}, []string{"action", "channel"})
	m.outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nextbest_outcomes_total", Help: "Outcomes accepted, by declared type (a duplicate is not counted again).",
	}, []string{"type"})
	m.applyErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nextbest_apply_errors_total",
		Help: "Journal records skipped by the state applier or the online learner because they cannot be applied, by kind: decode, type (undeclared outcome type), reward (not finite or out of range), event (refused by the profile), model (refused by the online model), state (the state store failed).",
	}, []string{"kind"})
	m.events = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "nextbest_events_total", Help: "Journey events accepted.",
	})
	m.activations = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "nextbest_activations_total", Help: "Activations journaled: calls that showed slots of a deferred decision for the first time.",
	})
	m.modelUpdates = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "nextbest_model_updates_total", Help: "Observations and reward corrections applied to the online model.",
	})
	m.modelSwaps = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "nextbest_model_swaps_total", Help: "Times the served model was swapped for a promoted one.",
	})
	m.experiment = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nextbest_experiment_decisions_total", Help: "Decisions made inside an experiment, by experiment and arm.",
	}, []string{"experiment", "arm"})
	m.pzRanks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nextbest_personalizer_ranks_total", Help: "Personalizer-compatible rank calls answered (a replay of an event id is not counted again), by learning mode.",
	}, []string{"mode"})
	m.pzEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nextbest_personalizer_events_total", Help: "Personalizer-compatible reward and activate calls recorded, by operation.",
	}, []string{"operation"})
	m.pzUpdates = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "nextbest_personalizer_model_updates_total", Help: "Observations and reward corrections applied to the Personalizer-compatible namespace's model.",
	})
	m.decideStage = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "nextbest_decide_stage_seconds",
		Help:    "Where a decision's time goes: compute (decode, profile, funnel, scoring, exploration, encoding: the service's own time) and journal (waiting for the group commit's fsync and the state update).",
		Buckets: []float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3},
	}, []string{"stage"})
	m.armCompute = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "nextbest_experiment_decide_compute_seconds",
		Help:    "The compute stage of decisions made inside an experiment (decode, profile, funnel, scoring, exploration, encoding), by experiment and arm.",
		Buckets: []float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3},
	}, []string{"experiment", "arm"})
	m.decideCompute = m.decideStage.WithLabelValues("compute")
	m.decideJournal = m.decideStage.WithLabelValues("journal")
	cacheHits := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "nextbest_profile_cache_hits_total", Help: "Profile reads answered by the cache.",
	}, func() float64 { h, _ := s.state.Profiles().Stats(); return float64(h) })
	cacheMisses := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "nextbest_profile_cache_misses_total", Help: "Profile reads that went to the store.",
	}, func() float64 { _, mi := s.state.Profiles().Stats(); return float64(mi) })
	hitRatio := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "nextbest_profile_cache_hit_ratio", Help: "Profile cache hits / reads since start.",
	}, func() float64 {
		h, mi := s.state.Profiles().Stats()
		if h+mi == 0 {
			return 0
		}
		return float64(h) / float64(h+mi)
	})
	lastLSN := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "nextbest_journal_last_lsn", Help: "Sequence number of the last durable journal record.",
	}, func() float64 {
		if s.journal == nil {
			return 0
		}
		return float64(s.journal.LastLSN())
	})
	m.reg.MustRegister(m.requests, m.latency, m.decisions, m.served, m.outcomes, m.applyErrors, m.events, m.activations, m.modelUpdates, m.modelSwaps, m.experiment, m.decideStage, m.armCompute,
		m.pzRanks, m.pzEvents, m.pzUpdates,
		cacheHits, cacheMisses, hitRatio, lastLSN,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

var statusText [600]string

func init() {
	for i := range statusText {
		statusText[i] = strconv.Itoa(i)
	}
}

// observe counts an answered request. Every request passes here, so this
// is also where a 500 is logged at ERROR: whatever answered it (writeErr's
// default branch, a response that cannot be encoded, a panic, which is
// also logged with its stack where it is recovered), the operator hears of
// it; the error body the client got says what failed.
func (m *metrics) observe(route string, status int, d time.Duration) {
	if status == 500 && m.log != nil {
		m.log.Error("answered 500 internal error", "endpoint", route)
	}
	code := "0"
	if status >= 0 && status < len(statusText) {
		code = statusText[status]
	}
	m.requests.WithLabelValues(route, code).Inc()
	if d > 0 {
		m.latency.WithLabelValues(route).Observe(d.Seconds())
	}
}

func (m *metrics) decided(d *journal.Decision) {
	fb := "false"
	if d.Fallback {
		fb = "true"
	}
	m.decisions.WithLabelValues(d.Channel, fb).Inc()
	if d.Experiment != nil {
		m.experiment.WithLabelValues(d.Experiment.Name, d.Experiment.Arm).Inc()
	}
	for _, a := range d.Actions {
		m.served.WithLabelValues(a.ActionID, d.Channel).Inc()
	}
}

// stats is the answer of GET /v1/stats: what the applied journal holds,
// counted by the state applier as it applies it (state.Volume): kept with
// the state, the counts survive restarts. /metrics exports the process's
// own counters, which start at zero with the process.
type stats struct {
	// Since is the time of the first record counted (absent before any).
	Since     time.Time                   `json:"since,omitzero"`
	Decisions map[string]int64            `json:"decisions_by_channel"`
	Actions   map[string]map[string]int64 `json:"actions_by_channel"` // action → channel → impressions
	// Deferred counts the decisions made with defer_activation, Activated
	// those of them activated since, by channel
	Deferred   map[string]int64            `json:"deferred_by_channel,omitempty"`
	Activated  map[string]int64            `json:"activated_by_channel,omitempty"`
	Outcomes   map[string]int64            `json:"outcomes_by_type"`
	Events     int64                       `json:"events"`
	Experiment map[string]map[string]int64 `json:"experiment_decisions"` // experiment → arm → count
	// Fallbacks counts the experiment decisions that fell back to the
	// value ranking (a failing model, a timeout, a store outage)
	Fallbacks map[string]map[string]int64 `json:"experiment_fallbacks,omitempty"` // experiment → arm → count
	// Degenerate counts the experiment decisions whose model scored every
	// eligible action the same (a constant model)
	Degenerate map[string]map[string]int64 `json:"experiment_degenerate,omitempty"` // experiment → arm → count
	LastLSN    uint64                      `json:"journal_last_lsn"`
}

func (s *Service) stats() (*stats, error) {
	v, err := s.aggregates.Volume()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnavailable, err)
	}
	return &stats{Since: v.Since, Decisions: v.Decisions, Actions: v.Actions, Deferred: v.Deferred, Activated: v.Activated, Outcomes: v.Outcomes,
		Events: v.Events, Experiment: v.Experiments, Fallbacks: v.Fallbacks, Degenerate: v.Degenerate, LastLSN: s.journal.LastLSN()}, nil
}

func (m *metrics) write(ctx *fasthttp.RequestCtx) {
	mfs, err := m.reg.Gather()
	if err != nil {
		writeError(ctx, 500, "internal", "", err.Error())
		return
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			writeError(ctx, 500, "internal", "", err.Error())
			return
		}
	}
	ctx.SetStatusCode(200)
	ctx.SetContentType(string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	ctx.SetBody(buf.Bytes())
}
