package campaigns_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nextbest/campaigns"
	"nextbest/decide"
	"nextbest/experiment"
	"nextbest/internal/golden"
	"nextbest/internal/journaltest"
	"nextbest/journal"
	"nextbest/logs"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json")

// g0 is a Monday, so that weeks start on day 0 and day 7.
var g0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func day(d float64) time.Time { return g0.Add(time.Duration(d * 24 * float64(time.Hour))) }

const (
	fs = "free-shipping" // A below
	sg = "style-guide"   // B below
)

// dec is a decision of customer on channel at day d, the customer at
// stage (none if ""), in arm of the experiment "hold" (none if ""), with
// the eligible actions, showing shown.
func dec(id, customer, channel string, d float64, stage, arm string, eligible []string, shown ...string) journal.Decision {
	x := journal.Decision{DecisionID: id, CustomerID: customer, Channel: channel, Time: day(d), Policy: "p", Eligible: eligible}
	if stage != "" {
		x.Profile = map[string]any{"stage": stage}
	}
	if arm != "" {
		x.Experiment = &journal.ExperimentArm{Name: "hold", Arm: arm}
	}
	for i, a := range shown {
		x.Actions = append(x.Actions, journal.LoggedAction{ActionID: a, Slot: i, Propensity: 1})
	}
	return x
}

func out(decision, action, customer, typ string, reward, d float64) journal.Outcome {
	return journal.Outcome{DecisionID: decision, ActionID: action, CustomerID: customer, Type: typ, Reward: reward, Time: day(d)}
}

// holdout is the permanent holdout of goldenJournal: the programme and
// the held-out customers, who are shown nothing.
const holdout = `experiments:
  - name: hold
    holdout: true
    start: 2026-03-01T00:00:00Z
    control: programme
    arms:
      - {name: programme, policy: promoted, share: 0.9}
      - {name: held, policy: none, share: 0.1}
`

// goldenJournal: five customers, actions A (free-shipping) and B
// (style-guide), the default outcome types (click; conversion and
// purchase convert; revenue and purchase are revenue), a 7-day window.
// Days from Monday 2026-03-02.
//
//	d1 u1 web   day 0 consideration programme  eligible A B, shows A B: a click on A, a purchase of 40 on A (day 0.1)
//	   u1 purchase event of 40 five minutes later (the same purchase: attribution merges it)
//	d2 u1 web   day 1 cart          programme  shows A: a conversion (1) on A at day 1.5
//	d3 u2 email day 1 consideration programme  shows B: a click on B
//	d4 u2 web   day 8 cart          programme  shows A: a conversion (1) and revenue of 25 on A at day 8.5
//	d5 u3 web   day 2 awareness     held       eligible A B, shows nothing
//	d6 u3 web   day 9 awareness     held       eligible A, shows nothing; u3 buys (event, 30) at day 10
//	d7 u4 email day 3 (no stage)    (none)     shows B: a purchase of 10 on B at day 11, after the window (late)
//	d8 u4 email day 9 (no stage)    (none)     shows B A: a click of reward 0 on A (no click), then a click of 1 (a duplicate)
//	d9 u5 web   day 4 awareness     held       eligible B, shows nothing
//
// Counted by hand. Impressions 8 (d1 2, d2 1, d3 1, d4 1, d7 1, d8 2),
// customers u1 u2 u4; clicks 2 (d1 A, d3 B); conversions 3 (d1 A, d2 A,
// d4 A); revenue 65 (40 purchase + 25 revenue). Decisions 9, 6 with an
// action.
//
//	A: 4 impressions (d1 d2 d4 d8), 3 customers, 1 click, 3 conversions, revenue 65
//	B: 4 impressions (d1 d3 d7 d8), 3 customers, 1 click, 0 conversions, revenue 0
//	web: 6 decisions (d1 d2 d4 d5 d6 d9), 3 with an action, 4 impressions, 1 click, 3 conversions, 65
//	email: 3 decisions, 3 with an action, 4 impressions, 1 click, 0 conversions, 0
//
// The intervals cluster each customer's impressions. All, conversions:
// (impressions, conversions) u1 (3, 2), u2 (2, 1), u4 (3, 0); p = 3/8;
// Σ(Yc − p·Nc)² = 0.875² + 0.25² + 1.125² = 2.09375; N̄ = 8/3;
// Var = 2.09375 / (3·2·(8/3)²) = 0.0490723; n_eff = p(1−p)/Var =
// 4.7761 (< 8 impressions: customers who convert convert again), x_eff
// = p·n_eff = 1.7910, and the Wilson interval is taken on those. A:
// u1 (2, 2), u2 (1, 1), u4 (1, 0); p = 3/4; Σ = 0.5² + 0.25² + 0.75² =
// 0.875; Var = 0.875 / (6·(4/3)²) = 0.0820313; n_eff = 2.2857. All,
// clicks: u1 (3, 1), u2 (2, 1), u4 (3, 0); p = 1/4; Σ = 0.875; Var =
// 0.0205078; n_eff = 9.14 > 8, so capped: Wilson on 2 of 8. B converts
// never: Wilson on 0 of 4.
//
// By stage (all decisions): awareness 3 decisions, 0 impressions; cart
// 2 (d2 d4), 2 impressions, 2 conversions, 25; consideration 2 (d1 d3),
// 3 impressions, 2 clicks, 1 conversion, 40; unknown 2 (d7 d8), 3
// impressions. By week: 2026-03-02 (d1 d2 d3 d5 d7 d9) 6 decisions, 4
// with an action, 5 impressions, 2 conversions, 40; 2026-03-09 (d4 d6
// d8) 3 decisions, 2 with an action, 3 impressions, 1 conversion, 25.
//
// Lift, the holdout "hold" (programme against held, customers as units;
// a conversion counts from a customer's first decision to 7 days after
// their last): the conversions are u1 day 0.1 (40, outcome and event
// merged) and day 1.5 (1), u2 day 8.5 (1), u3 day 10 (30, an event).
//
//	all    programme u1 [0, 8] yes (41), u2 [1, 15] yes (1): 2 of 2, revenue 42
//	       held      u3 [2, 16] yes (30), u5 [4, 11] no: 1 of 2, revenue 30
//	web    the same customers and windows (u2's web decision is day 8: [8, 15])
//	A      programme u1 [0, 8] yes, u2 [8, 15] yes: 2 of 2; held u3 [2, 16] yes: 1 of 1
//	B      programme u1 [0, 7] yes, u2 [1, 8] no (day 8.5): 1 of 2; held u3 [2, 9] no, u5 [4, 11] no: 0 of 2
//
// (email has no held-out customer: no comparison). All: difference
// +0.5, relative lift 1/0.5 − 1 = +100%; revenue per customer 21 against
// 15 (+6).
func goldenJournal(t *testing.T) string {
	ab, a, b := []string{fs, sg}, []string{fs}, []string{sg}
	return journaltest.Write(t,
		dec("d1", "u1", "web", 0, "consideration", "programme", ab, fs, sg),
		out("d1", fs, "u1", "click", 1, 0.05),
		out("d1", fs, "u1", "purchase", 40, 0.1),
		journal.Event{CustomerID: "u1", Type: "purchase", Channel: "web", Time: day(0.1).Add(5 * time.Minute), Properties: map[string]any{"amount": 40.0}},
		dec("d2", "u1", "web", 1, "cart", "programme", a, fs),
		dec("d3", "u2", "email", 1, "consideration", "programme", b, sg),
		out("d3", sg, "u2", "click", 1, 1.2),
		out("d2", fs, "u1", "conversion", 1, 1.5),
		dec("d5", "u3", "web", 2, "awareness", "held", ab),
		dec("d7", "u4", "email", 3, "", "", b, sg),
		dec("d9", "u5", "web", 4, "awareness", "held", b),
		dec("d4", "u2", "web", 8, "cart", "programme", a, fs),
		out("d4", fs, "u2", "conversion", 1, 8.5),
		out("d4", fs, "u2", "revenue", 25, 8.5),
		dec("d6", "u3", "web", 9, "awareness", "held", a),
		dec("d8", "u4", "email", 9, "", "", []string{sg, fs}, sg, fs),
		out("d8", fs, "u4", "click", 0, 9.1),
		out("d8", fs, "u4", "click", 1, 9.2),
		journal.Event{CustomerID: "u3", Type: "purchase", Channel: "web", Time: day(10), Properties: map[string]any{"amount": 30.0}},
		out("d7", sg, "u4", "purchase", 10, 11),
	)
}

func goldenReport(t *testing.T, o campaigns.Options) *campaigns.Report {
	t.Helper()
	exps, err := decide.ParseExperiments([]byte(holdout))
	if err != nil {
		t.Fatal(err)
	}
	if o.Lift, err = campaigns.LiftExperiment(exps, ""); err != nil || o.Lift == nil {
		t.Fatalf("the holdout: %v %v", o.Lift, err)
	}
	r, err := campaigns.FromJournal(context.Background(), goldenJournal(t), campaigns.Config{Options: o})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// clustered is the Wilson interval on the effective count worked by hand.
func clustered(p, nEff float64) campaigns.Rate {
	iv := experiment.WilsonInterval(p*nEff, nEff, 0.95)
	return campaigns.Rate{Estimate: p, Lo: iv.Lo, Hi: iv.Hi}
}

func TestGolden(t *testing.T) {
	r := goldenReport(t, campaigns.Options{Period: campaigns.Week, Segments: campaigns.Segments})
	wantStats := campaigns.Stats{Decisions: 9, Outcomes: 9, Joined: 7, Late: 1, Duplicate: 1}
	if r.Stats != wantStats {
		t.Errorf("stats %+v\nwant  %+v", r.Stats, wantStats)
	}
	if r.ActivationsRecorded || r.Total.Activations != nil {
		t.Errorf("activations: recorded %v, total %v; the journal has none", r.ActivationsRecorded, r.Total.Activations)
	}

	type counts struct{ decisions, filled, impressions, customers, clicks, conversions int }
	check := func(name string, row campaigns.Row, c counts, revenue float64) {
		t.Helper()
		got := counts{row.Decisions, row.Filled, row.Impressions, row.Customers, row.Clicks, row.Conversions}
		if got != c || math.Abs(row.Revenue-revenue) > 1e-9 {
			t.Errorf("%s: %+v, revenue %v; by hand %+v, %v", name, got, row.Revenue, c, revenue)
		}
		if row.Impressions > 0 && math.Abs(row.RevenuePerImpression-revenue/float64(row.Impressions)) > 1e-12 {
			t.Errorf("%s: revenue per impression %v", name, row.RevenuePerImpression)
		}
	}
	check("total", r.Total, counts{9, 6, 8, 3, 2, 3}, 65)
	if len(r.Actions) != 2 || r.Actions[0].Key != fs || r.Actions[1].Key != sg {
		t.Fatalf("actions %+v", r.Actions)
	}
	check("A", r.Actions[0], counts{4, 4, 4, 3, 1, 3}, 65)
	check("B", r.Actions[1], counts{4, 4, 4, 3, 1, 0}, 0)
	if len(r.Channels) != 2 || r.Channels[0].Key != "web" || r.Channels[1].Key != "email" {
		t.Fatalf("channels %+v", r.Channels)
	}
	check("web", r.Channels[0], counts{6, 3, 4, 2, 1, 3}, 65)
	check("email", r.Channels[1], counts{3, 3, 4, 2, 1, 0}, 0)

	// the intervals of the comment
	rates := []struct {
		name      string
		got, want campaigns.Rate
	}{
		{"all conversions", r.Total.ConversionRate, clustered(3.0/8, (3.0/8)*(5.0/8)/(2.09375/(6*64.0/9)))},
		{"A conversions", r.Actions[0].ConversionRate, clustered(0.75, 0.1875/(0.875/(6*16.0/9)))},
		{"all clicks (capped)", r.Total.ClickRate, clustered(0.25, 8)},
		{"B conversions", r.Actions[1].ConversionRate, clustered(0, 4)},
	}
	for _, c := range rates {
		if math.Abs(c.got.Estimate-c.want.Estimate) > 1e-12 || math.Abs(c.got.Lo-c.want.Lo) > 1e-9 || math.Abs(c.got.Hi-c.want.Hi) > 1e-9 {
			t.Errorf("%s: %+v, by hand %+v", c.name, c.got, c.want)
		}
	}
	if n := (3.0 / 8) * (5.0 / 8) / (2.09375 / (6 * 64.0 / 9)); math.Abs(n-4.7761194) > 1e-6 {
		t.Errorf("n_eff %v: the comment's 4.7761 is wrong", n)
	}

	// breakdowns and series of all decisions
	find := func(rows []campaigns.Row, by, seg, value, period string) *campaigns.Row {
		for i := range rows {
			x := &rows[i]
			if x.By == by && string(x.Segment) == seg && x.Value == value && x.Period == period {
				return x
			}
		}
		t.Errorf("no row %s %s=%s %s", by, seg, value, period)
		return &campaigns.Row{}
	}
	check("awareness", *find(r.Breakdowns, campaigns.All, "stage", "awareness", ""), counts{3, 0, 0, 0, 0, 0}, 0)
	check("cart", *find(r.Breakdowns, campaigns.All, "stage", "cart", ""), counts{2, 2, 2, 2, 0, 2}, 25)
	check("consideration", *find(r.Breakdowns, campaigns.All, "stage", "consideration", ""), counts{2, 2, 3, 2, 2, 1}, 40)
	check("unknown stage", *find(r.Breakdowns, campaigns.All, "stage", campaigns.Unknown, ""), counts{2, 2, 3, 1, 0, 0}, 0)
	check("programme", *find(r.Breakdowns, campaigns.All, "experiment-arm", "hold/programme", ""), counts{4, 4, 5, 2, 2, 3}, 65)
	check("held", *find(r.Breakdowns, campaigns.All, "experiment-arm", "hold/held", ""), counts{3, 0, 0, 0, 0, 0}, 0)
	check("week 1", *find(r.Series, campaigns.All, "", "", "2026-03-02"), counts{6, 4, 5, 3, 2, 2}, 40)
	check("week 2", *find(r.Series, campaigns.All, "", "", "2026-03-09"), counts{3, 2, 3, 2, 0, 1}, 25)

	// the lift: treated and baseline (customers, converted), revenue
	l := r.Lift
	if l == nil || !l.Holdout || l.Baseline != "held" || l.Experiment != "hold" || l.WindowDays != 7 {
		t.Fatalf("lift %+v", l)
	}
	wantLift := map[string][5]float64{
		"all/all":      {2, 2, 2, 1, 42},
		"channel/web":  {2, 2, 2, 1, 42},
		"action/" + fs: {2, 2, 1, 1, 42},
		"action/" + sg: {2, 1, 2, 0, 41},
	}
	if len(l.Rows) != len(wantLift) {
		t.Errorf("lift rows %+v", l.Rows)
	}
	for _, x := range l.Rows {
		w, ok := wantLift[x.By+"/"+x.Key]
		got := [5]float64{float64(x.Treated.Customers), float64(x.Treated.Converted), float64(x.Baseline.Customers), float64(x.Baseline.Converted), x.Treated.Revenue}
		if !ok || got != w || x.Arm != "programme" {
			t.Errorf("lift %s %s %s: %v, by hand %v", x.Arm, x.By, x.Key, got, w)
		}
	}
	all := l.Overall("programme")
	if all == nil || math.Abs(all.Absolute.Estimate-0.5) > 1e-12 || math.Abs(all.Relative.Estimate-1) > 1e-12 ||
		math.Abs(all.RevenueDifference.Estimate-6) > 1e-12 || math.Abs(all.Baseline.Revenue-30) > 1e-12 {
		t.Errorf("overall lift %+v", all)
	}
	if want := experiment.NewcombeDiff(1, 2, 2, 2, 0.95); all.Absolute.Lo != want.Lo || all.Absolute.Hi != want.Hi {
		t.Errorf("absolute %+v, want Newcombe %+v", all.Absolute, want)
	}

	wantHead := []string{
		"Best converting campaign: free-shipping converts 75.0% of its 4 impressions (95% interval " + pct(rates[1].want.Lo) + " to " + pct(rates[1].want.Hi) + "), against 37.5% across all campaigns; it brought 65 of the 65 revenue (100.0%).",
		"Weakest campaign: style-guide converts 0.0% of its 4 impressions (95% interval 0.0% to 49.0%).",
		"Channels: web converts best, 75.0% of 4 impressions (95% interval ",
		"Lift against the holdout 'hold': 'programme' converts 100.0% of 2 customers against 50.0% of 2 in 'held', a difference of +50.0 points (95% interval -27.3 to +90.5), +100.0% relative: not a clear difference.",
	}
	if len(r.Headline) != 4 {
		t.Fatalf("headline:\n%s", strings.Join(r.Headline, "\n"))
	}
	for i, w := range wantHead {
		if !strings.HasPrefix(r.Headline[i], w) {
			t.Errorf("headline line %d:\n%s\nwant (prefix):\n%s", i+1, r.Headline[i], w)
		}
	}
	if !strings.HasSuffix(r.Headline[2], "; web shows an action in the fewest of its decisions, 50.0% of 6.") {
		t.Errorf("headline line 3: %s", r.Headline[2])
	}

	r.Source = ""
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.JSON(t, filepath.Join("testdata", "golden.json"), append(data, '\n'), *update)
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }

// TestNoLift: without a holdout the report says the lift is not
// measured; a named experiment that is not configured is an error, and
// so is an undeclared click type.
func TestNoLift(t *testing.T) {
	r, err := campaigns.FromJournal(context.Background(), goldenJournal(t), campaigns.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Lift != nil || !strings.HasPrefix(r.Headline[len(r.Headline)-1], "Lift: no holdout experiment runs") {
		t.Errorf("lift %+v, headline %q", r.Lift, r.Headline)
	}
	if len(r.Breakdowns) != 0 {
		t.Errorf("no segments asked for, %d breakdown rows", len(r.Breakdowns))
	}
	if _, err := campaigns.LiftExperiment(nil, "nope"); !errors.Is(err, campaigns.ErrInvalidOptions) {
		t.Errorf("unknown experiment: %v", err)
	}
	if _, err := campaigns.Analyze([]logs.Joined{{}}, nil, campaigns.Options{ClickTypes: []string{"tap"}}); !errors.Is(err, campaigns.ErrInvalidOptions) || !strings.Contains(err.Error(), `"tap"`) {
		t.Errorf("undeclared click type: %v", err)
	}
	if _, err := campaigns.Analyze(nil, nil, campaigns.Options{}); !errors.Is(err, campaigns.ErrNoDecisions) {
		t.Errorf("no decisions: %v", err)
	}
}

// TestReportFiles: the page loads nothing and has its charts and the
// headline; the CSV holds the hand counts.
func TestReportFiles(t *testing.T) {
	r := goldenReport(t, campaigns.Options{Segments: campaigns.Segments})
	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	for _, bad := range []string{"http://", "https://", "src=", "href=", "<script", "url(", "@import", "style=\""} {
		if strings.Contains(html, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	// the campaigns' intervals, impressions and conversion rate per day, the lift
	if n := strings.Count(html, "<svg"); n != 4 || !strings.Contains(html, "Best converting campaign:") {
		t.Errorf("%d charts; headline present: %v", n, strings.Contains(html, "Best converting campaign:"))
	}
	var c bytes.Buffer
	if err := r.WriteCSV(&c); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&c).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"actions,action,free-shipping,,,,impressions,4": false,
		"channels,channel,web,,,,decisions,6":           false,
		"total,all,all,,,,revenue,65":                   false,
		"lift,all,all,arm,programme,,absolute,0.5":      false,
	}
	for _, row := range rows {
		if _, ok := want[strings.Join(row, ",")]; ok {
			want[strings.Join(row, ",")] = true
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("the CSV has no row %s", k)
		}
	}
}
