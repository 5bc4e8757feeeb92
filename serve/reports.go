package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/attribution"
	"nextbest/campaigns"
	"nextbest/clv"
	"nextbest/decide"
	"nextbest/features"
	"nextbest/journeys"
	"nextbest/logs"
)

// The reports of the dashboard's pages: campaigns and channels, journeys,
// attribution and CLV (GET /v1/reports/{name}). The first three read the
// whole journal — the durable record, so they survive restarts, unlike
// counters kept in memory — through the packages `nextbest report`
// calls, with the service's own configuration (its outcome types,
// attribution window, feature spec and live experiments): each answers
// the JSON the command writes for the same journal. The CLV report reads
// every profile's purchase history in the state store and values it with
// the live CLV model, the figures decisions see (profile.clv.*).
//
// Reading the whole journal is too slow for a request, so one goroutine
// of the service computes the four, one after the other, every
// ReportsEvery, bounded by ReportsTimeout; a request gets the last
// result, with when it was computed and the journal LSN it covers. The
// first computation starts with the first request for a report (which
// gets 503 and Retry-After until it ends) or the first period, whichever
// comes first: a service whose reports nobody reads does not scan its
// journal at its start, when it has better things to do. ?refresh=1
// starts a computation at once, at most once a reportsRefreshMin. A
// report that fails keeps its previous result, and says so; its failure
// is logged once until it succeeds again.
//
// The cluster path answers 501: its journal is a JetStream stream, not a
// directory the report packages read (`nextbest journal pull` copies it
// into one, for `nextbest report`).

// The reports, as GET /v1/reports/{name} names them.
const (
	reportCampaigns   = "campaigns"
	reportJourneys    = "journeys"
	reportAttribution = "attribution"
	reportCLV         = "clv"
)

// reportNames are the reports in the order they are computed.
var reportNames = []string{reportCampaigns, reportJourneys, reportAttribution, reportCLV}

// reportsRefreshMin is how soon after a computation started ?refresh=1
// may start another.
const reportsRefreshMin = time.Minute

// byAction is the key of the attribution report by action (the plain
// "attribution" is by channel).
const byAction = reportAttribution + ":action"

// reportAnswer is the answer of GET /v1/reports/{name}.
type reportAnswer struct {
	Name string `json:"name"`
	// ComputedAt is when the computation started (the service's clock),
	// TookSeconds how long this report took.
	ComputedAt  time.Time `json:"computed_at"`
	TookSeconds float64   `json:"took_seconds"`
	// JournalLSN is the last journaled LSN when the computation started:
	// the report covers every record up to it (and may cover a few
	// after). The CLV report reads the profiles, which have applied it.
	JournalLSN uint64 `json:"journal_lsn"`
	// EverySeconds is how often the reports are computed again (0: only
	// when asked).
	EverySeconds float64 `json:"every_seconds"`
	// Headline is the report's opening lines in plain words.
	Headline []string `json:"headline"`
	// Report is the report itself: the JSON `nextbest report NAME
	// --json` writes for the same journal, but for its source, "journal"
	// rather than the server's path (for clv, clvReport); null when there
	// is nothing to report yet (the headline says why).
	Report json.RawMessage `json:"report"`
	// LastError is the last computation's failure, when it failed: the
	// answer is then the one before it.
	LastError *reportError `json:"last_error,omitempty"`
	// Refresh answers ?refresh=1: "started", "running" (a computation is
	// under way) or "too_soon" (the last one started less than a minute
	// ago).
	Refresh string `json:"refresh,omitempty"`
}

// reportError is a failed computation of a report.
type reportError struct {
	At      time.Time `json:"at"`
	Message string    `json:"message"`
}

// reports holds the computed reports and the state of their computation.
type reports struct {
	compute sync.Mutex // one computation at a time
	kick    chan struct{}

	mu        sync.Mutex // guards what follows
	answers   map[string]*reportAnswer
	failed    map[string]error // the last failure of each report, nil once it succeeds
	running   bool
	lastStart time.Time // of the last computation, on the service's clock
	// computed is closed (and replaced) when a computation ends
	computed chan struct{}
}

func newReports() *reports {
	return &reports{kick: make(chan struct{}, 1), answers: map[string]*reportAnswer{}, failed: map[string]error{},
		computed: make(chan struct{})}
}

// errReportsCluster is ComputeReports' error on the cluster path.
var errReportsCluster = errors.New("serve: the reports read the embedded journal; the cluster path does not compute them")

// ComputeReports computes the dashboard's reports now and returns when
// they are stored (the background computation does the same every
// ReportsEvery). It returns the failures of the reports that failed;
// those keep their previous result.
func (s *Service) ComputeReports(ctx context.Context) error {
	if s.jrnl == nil {
		return errReportsCluster
	}
	r := s.reports
	r.compute.Lock()
	defer r.compute.Unlock()
	lsn, at := s.journal.LastLSN(), s.cfg.Now().UTC()
	r.mu.Lock()
	r.running, r.lastStart = true, at
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running = false
		close(r.computed)
		r.computed = make(chan struct{})
		r.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReportsTimeout)
	defer cancel()
	var errs []error
	for _, name := range reportNames {
		start := time.Now()
		outs, err := s.computeReport(ctx, name)
		took := time.Since(start).Seconds()
		r.mu.Lock()
		prev := r.failed[name]
		if err != nil {
			err = fmt.Errorf("the %s report: %w", name, err)
			errs = append(errs, err)
			r.failed[name] = err
			keys := []string{name}
			if name == reportAttribution {
				keys = append(keys, byAction)
			}
			for _, key := range keys {
				if a := r.answers[key]; a != nil {
					kept := *a
					kept.LastError = &reportError{At: at, Message: s.publicError(err)}
					r.answers[key] = &kept
				}
			}
		} else {
			delete(r.failed, name)
			for key, o := range outs {
				r.answers[key] = &reportAnswer{Name: name, ComputedAt: at, TookSeconds: took, JournalLSN: lsn,
					EverySeconds: max(0, s.cfg.ReportsEvery.Seconds()), Headline: o.headline, Report: o.body}
			}
		}
		r.mu.Unlock()
		switch {
		case err != nil && prev == nil && s.background.Err() == nil:
			// once per failing streak (not for a service closing); the
			// answers show it meanwhile
			s.log.Error("cannot compute a report; keeping its previous result", "report", name, "err", err)
		case err == nil && prev != nil:
			s.log.Info("the report is computed again", "report", name)
		}
	}
	return errors.Join(errs...)
}

// reportOut is one computed report: its opening lines and its JSON.
type reportOut struct {
	headline []string
	body     json.RawMessage
}

// computeReport computes the report name, by the key it is served under
// (the attribution report has two: by channel and by action).
func (s *Service) computeReport(ctx context.Context, name string) (map[string]reportOut, error) {
	dir := s.journalDir()
	var (
		headline []string
		body     any
		err      error
	)
	switch name {
	case reportCampaigns:
		var r *campaigns.Report
		r, err = campaigns.FromJournal(ctx, dir, campaigns.Config{Join: s.joinConfig(), Options: campaigns.Options{
			Segments: slices.Clone(campaigns.Segments), Lift: s.liftExperiment()}})
		switch {
		case errors.Is(err, campaigns.ErrNoDecisions):
			headline, err = []string{"No decision in the journal yet: the campaign and channel report starts with the first decision."}, nil
		case err == nil:
			r.Source = "journal"
			headline, body = r.Headline, r
		}
	case reportJourneys:
		var r *journeys.Report
		r, err = journeys.FromJournal(ctx, dir, journeys.Config{Spec: s.spec, Outcomes: s.outcomes})
		switch {
		case errors.Is(err, journeys.ErrNoCustomers):
			headline, err = []string{"No customer in the journal yet: journeys start with a customer's first event or decision."}, nil
		case err == nil:
			r.Source = "journal"
			headline, body = r.Headline, r
		}
	case reportAttribution:
		return s.attributionReports(ctx, dir)
	case reportCLV:
		var r *clvReport
		if r, err = s.clvBase(ctx); err == nil {
			headline, body = r.headline(), r
		}
	default:
		panic("BUG: serve: no report " + name)
	}
	if err != nil {
		return nil, err
	}
	out, err := reportJSON(headline, body)
	return map[string]reportOut{name: out}, err
}

// attributionReports credits the journal's conversions by channel and by
// action, as `nextbest report attribution` does with its defaults.
func (s *Service) attributionReports(ctx context.Context, dir string) (map[string]reportOut, error) {
	js, st, err := attribution.Build(ctx, dir, attribution.BuildConfig{Outcomes: s.outcomes, Window: s.cfg.AttributionWindow})
	if err != nil {
		return nil, err
	}
	outs := map[string]reportOut{}
	for key, by := range map[string]attribution.Dimension{reportAttribution: attribution.ByChannel, byAction: attribution.ByAction} {
		var headline []string
		var body any
		res, err := attribution.Attribute(js, attribution.Options{By: by})
		switch {
		case errors.Is(err, attribution.ErrNoConversions):
			headline = []string{"No conversion with a touch before it yet: there is nothing to credit. A touch is a decision that showed actions; a conversion a converting outcome or a purchase event."}
		case err != nil:
			return nil, err
		default:
			r := &attribution.Report{Source: "journal", Stats: st, Result: res}
			headline, body = r.Headline(), r
		}
		if outs[key], err = reportJSON(headline, body); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

// publicError is err's message for the API's clients: it names the
// journal, not the server's path to it.
func (s *Service) publicError(err error) string {
	return strings.ReplaceAll(err.Error(), s.journalDir(), "journal")
}

func reportJSON(headline []string, body any) (reportOut, error) {
	if body == nil {
		return reportOut{headline: headline, body: json.RawMessage("null")}, nil
	}
	b, err := json.Marshal(body)
	return reportOut{headline: headline, body: b}, err
}

// joinConfig is the service's join: its attribution window, default
// reward and outcome types (what nextbest report reads from its config).
func (s *Service) joinConfig() logs.JoinConfig {
	return logs.JoinConfig{Window: s.cfg.AttributionWindow, DefaultReward: s.cfg.DefaultReward, Outcomes: s.outcomes}
}

// liftExperiment is the live permanent holdout, nil when none runs.
func (s *Service) liftExperiment() *decide.Experiment {
	var exps []*decide.Experiment
	for _, rt := range s.liveExperiments() {
		exps = append(exps, rt.exp)
	}
	e, _ := campaigns.LiftExperiment(exps, "") // without a name it never fails
	return e
}

// clvReport is the CLV report's JSON: the live model and what it says of
// every customer with a purchase history in the profiles.
type clvReport struct {
	// At is the moment the figures are for (the service's clock).
	At time.Time `json:"at"`
	// PurchaseHistories says whether the feature spec keeps purchase
	// histories (profile.clv); without, there is nothing to value.
	PurchaseHistories bool `json:"purchase_histories"`
	// Model is the live CLV model (GET /admin/clv's), null without one.
	Model *CLVDoc `json:"model"`
	// Profiles counts the profiles read, Buyers those with a purchase,
	// RepeatBuyers those with a repeat purchase.
	Profiles     int `json:"profiles"`
	Buyers       int `json:"customers_with_purchases"`
	RepeatBuyers int `json:"repeat_buyers"`
	// Base is the model's figures of the buyers (no customer is listed:
	// a customer's figures are in their profile); null without a model.
	Base *clv.Base `json:"base"`
}

func (r *clvReport) headline() []string {
	switch {
	case !r.PurchaseHistories:
		return []string{"The feature spec keeps no purchase histories (profile.clv names none): there is no lifetime value to show."}
	case r.Base == nil:
		return []string{fmt.Sprintf("No CLV model is loaded: %s customers have a purchase history (%s bought again). Fit one with nextbest clv fit --journal DIR --apply URL.",
			groupInt(r.Buyers), groupInt(r.RepeatBuyers))}
	}
	return r.Base.Headline()
}

func groupInt(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// clvBase values every profile's purchase history with the live CLV
// model at the service's now, as features.Spec.CLV does for a decision.
func (s *Service) clvBase(ctx context.Context) (*clvReport, error) {
	now := s.cfg.Now().UTC()
	r := &clvReport{At: now, PurchaseHistories: s.spec.HasCLV()}
	var (
		m  *features.CLVModel
		bb *clv.BaseBuilder
	)
	if d := s.clvDoc.Load(); d != nil {
		doc := *d
		var err error
		if m, err = doc.clvModel(); err != nil {
			return nil, err // validated when it was set: not reached
		}
		r.Model = &doc
		bb = clv.NewBaseBuilder(clv.BaseOptions{HorizonWeeks: doc.HorizonWeeks, AnnualDiscount: *doc.AnnualDiscount, Top: -1})
	}
	err := s.state.EachProfile(func(p *features.Profile) error {
		r.Profiles++
		if r.Profiles%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if p.Purchases == nil {
			return nil
		}
		h := p.Purchases.History(now)
		r.Buyers++
		if h.X > 0 {
			r.RepeatBuyers++
		}
		if bb == nil {
			return nil
		}
		pr, err := clv.Predict(m.Model, h, m.Horizon)
		if err != nil {
			return err
		}
		bb.Add(p.CustomerID, h, pr)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if bb != nil {
		r.Base = bb.Base()
	}
	return r, nil
}

// reportsLoop computes the reports every ReportsEvery, and when a
// request asks (the first one, or ?refresh=1), until Close.
func (s *Service) reportsLoop() {
	var tick <-chan time.Time
	if every := s.cfg.ReportsEvery; every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-s.background.Done():
			return
		case <-tick:
		case <-s.reports.kick:
		}
		s.ComputeReports(s.background) // its failures are logged and kept in the answers
	}
}

// start starts a computation unless one is running or has been asked for.
func (r *reports) start() {
	select {
	case r.kick <- struct{}{}:
	default: // kicked already: the loop has not taken it yet
	}
}

// refresh starts a computation unless one is running or the last one
// started less than reportsRefreshMin before now, and says which.
func (r *reports) refresh(now time.Time) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.running:
		return "running"
	case !r.lastStart.IsZero() && now.Sub(r.lastStart) < reportsRefreshMin:
		return "too_soon"
	}
	r.start()
	return "started"
}

// handleReport answers GET /v1/reports/{name}: the last computed report.
// Query: refresh=1 starts a new computation (see reports.refresh); by=
// channel|action picks the attribution report's dimension.
func (s *Service) handleReport(ctx *fasthttp.RequestCtx, name string) {
	if !slices.Contains(reportNames, name) {
		writeError(ctx, 404, "not_found", "", "no such report: "+name+" (campaigns, journeys, attribution, clv)")
		return
	}
	if s.jrnl == nil {
		writeError(ctx, fasthttp.StatusNotImplemented, "not_implemented", "",
			"the reports read the embedded journal; on the cluster path copy the stream with nextbest journal pull and run nextbest report on it")
		return
	}
	args := ctx.QueryArgs()
	refresh := false
	if v := args.Peek("refresh"); v != nil {
		switch string(v) {
		case "1", "true":
			refresh = true
		case "0", "false", "":
		default:
			writeErr(ctx, badField("refresh", "want 1 or 0"))
			return
		}
	}
	key := name
	if v := args.Peek("by"); v != nil {
		switch {
		case name != reportAttribution:
			writeErr(ctx, badField("by", "only the attribution report takes by"))
			return
		case string(v) == "action":
			key = byAction
		case string(v) != "channel":
			writeErr(ctx, badField("by", "want channel or action"))
			return
		}
	}
	var status string
	if refresh {
		status = s.reports.refresh(s.cfg.Now())
	}
	r := s.reports
	r.mu.Lock()
	a, failed := r.answers[key], r.failed[name]
	r.mu.Unlock()
	if a == nil {
		switch {
		case failed != nil:
			writeUnavailable(ctx, s.publicError(failed)+"; it is tried again at the next computation")
		case s.cfg.ReportsEvery < 0 && status == "":
			writeUnavailable(ctx, "the reports are computed only when asked (reports_every is off): add ?refresh=1")
		default:
			if status == "" {
				r.start() // the first request for a report: compute them now
			}
			writeUnavailable(ctx, "the "+name+" report is being computed; retry in a few seconds")
		}
		return
	}
	ans := *a
	ans.Refresh = status
	writeJSON(ctx, 200, &ans)
}
