package serve

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"nextbest/journal"
)

// DefaultMaxInFlight is the default bound on requests of one kind
// (decisions; outcomes and events) being served at once, per CPU. A
// decision costs tens of microseconds of CPU and then waits for the
// journal's group commit; on 2 cores, 64 per CPU keeps the queue (and so
// the latency of what is admitted) short while the group commit still
// batches well. Past it, requests are shed at once.
const DefaultMaxInFlight = 64

// retryAfterSeconds is the Retry-After a shed or unavailable answer
// carries.
const retryAfterSeconds = 1

// gate bounds the requests of one kind in flight: admit fails at once
// when the bound is reached, so overload is shed instead of queued.
type gate struct {
	max      int64
	inflight atomic.Int64
	shed     prometheus.Counter
}

func newGate(max int, shed prometheus.Counter) *gate {
	return &gate{max: int64(max), shed: shed}
}

// admit takes a slot, or reports false when none is free.
func (g *gate) admit() bool {
	if g.inflight.Add(1) > g.max {
		g.inflight.Add(-1)
		g.shed.Inc()
		return false
	}
	return true
}

// done frees the slot admit took.
func (g *gate) done() { g.inflight.Add(-1) }

// admission holds the service's gates and their metrics.
type admission struct {
	decisions, ingest *gate
}

func newAdmission(max int, reg prometheus.Registerer) *admission {
	if max <= 0 {
		max = DefaultMaxInFlight * runtime.GOMAXPROCS(0)
	}
	shed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nextbest_shed_total", Help: "Requests refused at once with 503 because too many of their kind were in flight, by kind.",
	}, []string{"kind"})
	a := &admission{
		decisions: newGate(max, shed.WithLabelValues("decide")),
		ingest:    newGate(max, shed.WithLabelValues("ingest")),
	}
	inflight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "nextbest_decisions_in_flight", Help: "Decisions being served now.",
	}, func() float64 { return float64(a.decisions.inflight.Load()) })
	reg.MustRegister(shed, inflight)
	return a
}

// admitDecision admits a decision or answers 503 at once.
func (s *Service) admitDecision(ctx *fasthttp.RequestCtx) bool {
	if s.decisions.admit() {
		return true
	}
	writeUnavailable(ctx, "overloaded: too many decisions in flight; retry shortly")
	return false
}

// admitIngest admits an outcome or event or answers 503 at once.
func (s *Service) admitIngest(ctx *fasthttp.RequestCtx) bool {
	if s.ingest.admit() {
		return true
	}
	writeUnavailable(ctx, "overloaded: too many writes in flight; retry shortly")
	return false
}

func writeUnavailable(ctx *fasthttp.RequestCtx, msg string) {
	ctx.Response.Header.Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	writeError(ctx, fasthttp.StatusServiceUnavailable, "unavailable", "", msg)
}

// journalError answers a write the journal did not acknowledge: 503 with
// Retry-After and a message for clients (no file paths); the cause goes
// to the log.
func (s *Service) journalError(ctx *fasthttp.RequestCtx, err error) {
	var msg string
	switch {
	case errors.Is(err, journal.ErrPending), errors.Is(err, context.DeadlineExceeded):
		msg = "decision deadline exceeded while journaling; not recorded, retry"
	case errors.Is(err, journal.ErrClosed):
		msg = "shutting down; retry on another instance"
	case errors.Is(err, journal.ErrNoSpace):
		msg = "the journal is out of disk space; not recorded, retry later"
		s.logThrottled("journal-nospace", "journal write failed: out of disk space", err)
	default:
		msg = "the journal cannot write; not recorded, retry later"
		s.logThrottled("journal-failed", "journal write failed", err)
	}
	writeUnavailable(ctx, msg)
}

// logThrottled logs err at ERROR under msg, at most once per key every
// ten seconds, with the count of those held back.
func (s *Service) logThrottled(key, msg string, err error) {
	if ok, held := s.logLimit.Allow(key); ok {
		s.log.Error(msg, "err", err, "suppressed_since_last", held)
	}
}
