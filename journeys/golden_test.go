package journeys_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nextbest/attribution"
	"nextbest/internal/golden"
	"nextbest/internal/journaltest"
	"nextbest/journal"
	"nextbest/journeys"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json")

var g0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func day(d float64) time.Time { return g0.Add(time.Duration(d * 24 * float64(time.Hour))) }

func ev(customer, typ, channel string, d float64, props ...any) journal.Event {
	e := journal.Event{CustomerID: customer, Type: typ, Channel: channel, Time: day(d)}
	if len(props) == 2 {
		e.Properties = map[string]any{props[0].(string): props[1]}
	}
	return e
}

// dec is a decision of customer on channel at day d that logged stage
// (none if ""), with eligible actions eligible of which it showed shown.
func dec(id, customer, channel string, d float64, stage string, eligible int, shown ...string) journal.Decision {
	x := journal.Decision{DecisionID: id, CustomerID: customer, Channel: channel, Time: day(d), Policy: "p"}
	if stage != "" {
		x.Profile = map[string]any{"stage": stage}
	}
	for i := range eligible {
		x.Eligible = append(x.Eligible, "a-"+string(rune('a'+i)))
	}
	for i, a := range shown {
		x.Actions = append(x.Actions, journal.LoggedAction{ActionID: a, Slot: i, Propensity: 1})
	}
	return x
}

// goldenJournal is a journal of six customers under the retail feature
// spec (stages awareness, consideration, cart, purchase, retention;
// page_view, product_view and app_open move awareness to consideration,
// add_to_cart moves awareness or consideration to cart, purchase moves
// any stage to purchase and purchase to retention). Days from
// 2026-03-01; the last record is at day 30, the end of the data.
//
//	c1  d0 page_view web; d0 decision web shows free-shipping; d2 add_to_cart web;
//	    d2 decision web shows cart-reminder-10; d3 purchase web (amount 50)
//	c2  d1 decision email, nothing eligible; d4 page_view web; d4 decision web,
//	    2 eligible, none shown (a holdout); d10 product_view web; d10 decision web,
//	    nothing eligible
//	c3  d5 page_view app; d6 add_to_cart app; d6 decision app shows free-shipping
//	    (logged stage consideration: the replay says cart); d9 cart_abandoned email;
//	    d9 decision email shows cart-reminder-10; d25 page_view web
//	c4  d8 add_to_cart web; d8 decision web shows free-shipping; d9 purchase web (80);
//	    d12 wishlist_add web (not a type of the spec: refused); d20 purchase app (30);
//	    d20 decision app, nothing eligible; d30 page_view web
//	c5  d12 page_view web; d12 decision web shows free-shipping; d13 product_view (no channel)
//	c6  d14 page_view web; d14 decision web shows free-shipping; a click on it; d15 product_view web
//
// Counted by hand. Stays (days; E ended, O open at day 30):
//
//	c1 consideration 0–2 E, cart 2–3 E, purchase 3–30 O      (entered at consideration: its first event moves it)
//	c2 awareness 1–4 E, consideration 4–30 O                 (entered at awareness with a decision)
//	c3 consideration 5–6 E, cart 6–30 O
//	c4 cart 8–9 E, purchase 9–20 E, retention 20–30 O
//	c5 consideration 12–30 O;  c6 consideration 14–30 O
//
// Funnel (reached, went further, to the next, last stage of, inactive ≥ 14 days):
//
//	awareness      1 (c2), 1, 1, 0, 0                       conversion 1
//	consideration  5, 2 (c1 c3), 2, 3 (c2 c5 c6), 3 (last seen d10, d13, d15)   0.4
//	cart           3 (c1 c3 c4), 2 (c1 c4), 2, 1 (c3 active d25), 0             2/3
//	purchase       2 (c1 c4), 1 (c4), 1, 1 (c1, last seen d3), 1               0.5
//	retention      1 (c4), final, 1 (c4 active d30), 0
//
// Transitions: start → awareness 1, consideration 4, cart 1; awareness →
// consideration 1; consideration → cart 2, still there 3; cart → purchase
// 2, still there 1; purchase → retention 1, still there 1; retention
// still there 1.
//
// Time in stage, Kaplan–Meier: awareness {3E}: quartiles 3, 3, 3.
// consideration {1E, 2E, 16O, 18O, 26O}: Ŝ(1) = 4/5, Ŝ(2) = 4/5·3/4 = 0.6,
// so q1 = 2 and neither median nor q3 is reached. cart {1E, 1E, 24O}:
// Ŝ(1) = 1/3: q1 = median = 1, q3 not reached. purchase {11E, 27O}:
// Ŝ(11) = ½: q1 = median = 11, q3 not reached. retention {10O}: none.
//
// Paths (first 5 steps, repeats in a row merged):
//
//	c5, c6  page_view → shown free-shipping → product_view                                 2, none converted
//	c4      add_to_cart → shown free-shipping → purchase → wishlist_add → purchase          1, converted
//	c3      page_view → add_to_cart → shown free-shipping → cart_abandoned → shown cart-reminder-10
//	c1      page_view → shown free-shipping → add_to_cart → shown cart-reminder-10 → purchase   converted
//	c2      shown nothing → page_view → shown nothing → product_view → shown nothing
//
// Gaps (visits = stays × channel; an event's visit is in the stay it leads into):
//
//	awareness/email      1: none eligible (c2)                        gap 1 of 1
//	consideration/app    1: not asked (c3)                            gap 1 of 1
//	consideration/web    4: shown c1 c5 c6, eligible not shown c2     gap 0; 5 decisions, 1 with none eligible
//	cart/app, cart/email 1 each: shown (c3)
//	cart/web             3: shown c1 c4, not asked c3                 gap 1 of 3
//	purchase/web         2: not asked c1 c4                           gap 2 of 2 (the largest)
//	retention/app        1: none eligible (c4);  retention/web 1: not asked (c4)
func goldenJournal(t *testing.T) string {
	return journaltest.Write(t,
		ev("c1", "page_view", "web", 0),
		dec("d1", "c1", "web", 0, "consideration", 3, "free-shipping"),
		dec("d2", "c2", "email", 1, "awareness", 0),
		ev("c1", "add_to_cart", "web", 2),
		dec("d3", "c1", "web", 2, "cart", 2, "cart-reminder-10"),
		ev("c1", "purchase", "web", 3, "amount", 50.0),
		ev("c2", "page_view", "web", 4),
		dec("d4", "c2", "web", 4, "", 2),
		ev("c3", "page_view", "app", 5),
		ev("c3", "add_to_cart", "app", 6),
		dec("d5", "c3", "app", 6, "consideration", 1, "free-shipping"),
		ev("c4", "add_to_cart", "web", 8),
		dec("d6", "c4", "web", 8, "", 1, "free-shipping"),
		ev("c3", "cart_abandoned", "email", 9),
		dec("d7", "c3", "email", 9, "", 1, "cart-reminder-10"),
		ev("c4", "purchase", "web", 9, "amount", 80.0),
		ev("c2", "product_view", "web", 10),
		dec("d8", "c2", "web", 10, "consideration", 0),
		ev("c4", "wishlist_add", "web", 12),
		ev("c5", "page_view", "web", 12),
		dec("d9", "c5", "web", 12, "", 1, "free-shipping"),
		ev("c5", "product_view", "", 13),
		ev("c6", "page_view", "web", 14),
		dec("d10", "c6", "web", 14, "", 1, "free-shipping"),
		journal.Outcome{DecisionID: "d10", ActionID: "free-shipping", CustomerID: "c6", Type: "click", Reward: 1, Time: day(14.1)},
		ev("c6", "product_view", "web", 15),
		ev("c4", "purchase", "app", 20, "amount", 30.0),
		dec("d11", "c4", "app", 20, "", 0),
		ev("c3", "page_view", "web", 25),
		ev("c4", "page_view", "web", 30),
	)
}

func TestGolden(t *testing.T) {
	spec, _ := journaltest.Retail(t)
	dir := goldenJournal(t)
	r, err := journeys.FromJournal(context.Background(), dir, journeys.Config{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if !r.End.Equal(day(30)) {
		t.Errorf("end %v, want day 30", r.End)
	}
	wantStats := journeys.Stats{Customers: 6, Events: 18, Refused: 1, NoChannel: 1, Decisions: 11, Shown: 7, StageMismatch: 1, Converted: 2,
		Journal: &attribution.BuildStats{Records: 30, Decisions: 11, Touches: 7, NoActions: 4, Outcomes: 1, Events: 18, EventConversions: 3}}
	gotStats := r.Stats
	if gotStats.Journal == nil || *gotStats.Journal != *wantStats.Journal {
		t.Errorf("journal stats %+v\nwant %+v", gotStats.Journal, wantStats.Journal)
	}
	gotStats.Journal, wantStats.Journal = nil, nil
	if gotStats != wantStats {
		t.Errorf("stats %+v\nwant  %+v", gotStats, wantStats)
	}

	// the funnel: reached, went on, next, current, dropped off, conversion
	type fs struct {
		reached, wentOn, next, current, dropped int
		conv                                    float64 // -1: none
	}
	wantFunnel := map[string]fs{
		"awareness":     {1, 1, 1, 0, 0, 1},
		"consideration": {5, 2, 2, 3, 3, 0.4},
		"cart":          {3, 2, 2, 1, 0, 2.0 / 3},
		"purchase":      {2, 1, 1, 1, 1, 0.5},
		"retention":     {1, 0, 0, 1, 0, -1},
	}
	if len(r.Funnel) != 5 {
		t.Fatalf("funnel %+v", r.Funnel)
	}
	for i, f := range r.Funnel {
		if f.Stage != r.Stages[i] {
			t.Errorf("funnel stage %d is %s, want %s (the spec's order)", i, f.Stage, r.Stages[i])
		}
		w := wantFunnel[f.Stage]
		got := fs{f.Reached, f.WentOn, f.Next, f.Current, f.DroppedOff, -1}
		if f.Conversion != nil {
			got.conv = *f.Conversion
		}
		if got.reached != w.reached || got.wentOn != w.wentOn || got.next != w.next || got.current != w.current || got.dropped != w.dropped ||
			math.Abs(got.conv-w.conv) > 1e-12 {
			t.Errorf("funnel %s: %+v, by hand %+v", f.Stage, got, w)
		}
	}

	// the transition matrix
	wantMoves := map[[2]string]int{
		{journeys.Start, "awareness"}: 1, {journeys.Start, "consideration"}: 4, {journeys.Start, "cart"}: 1,
		{"awareness", "consideration"}: 1, {"consideration", "cart"}: 2, {"consideration", journeys.Stay}: 3,
		{"cart", "purchase"}: 2, {"cart", journeys.Stay}: 1, {"purchase", "retention"}: 1, {"purchase", journeys.Stay}: 1,
		{"retention", journeys.Stay}: 1,
	}
	for ri, from := range r.Transitions.Rows {
		for ci, to := range r.Transitions.Columns {
			if got := r.Transitions.Counts[ri][ci]; got != wantMoves[[2]string{from, to}] {
				t.Errorf("transitions %s → %s: %d, by hand %d", from, to, got, wantMoves[[2]string{from, to}])
			}
		}
	}

	// time in stage: stays, left, open, quartiles (-1: not reached)
	wantTime := map[string][6]float64{
		"awareness":     {1, 1, 0, 3, 3, 3},
		"consideration": {5, 2, 3, 2, -1, -1},
		"cart":          {3, 2, 1, 1, 1, -1},
		"purchase":      {2, 1, 1, 11, 11, -1},
		"retention":     {1, 0, 1, -1, -1, -1},
	}
	q := func(v *float64) float64 {
		if v == nil {
			return -1
		}
		return *v
	}
	for _, st := range r.TimeInStage {
		got := [6]float64{float64(st.Stays), float64(st.Left), float64(st.Open), q(st.Q1Days), q(st.MedianDays), q(st.Q3Days)}
		w := wantTime[st.Stage]
		for k := range got {
			if math.Abs(got[k]-w[k]) > 1e-9 {
				t.Errorf("time in %s: %v, by hand %v", st.Stage, got, w)
				break
			}
		}
	}

	// the paths
	wantPaths := []struct {
		steps        string
		n, converted int
	}{
		{"page_view > shown free-shipping > product_view", 2, 0},
		{"add_to_cart > shown free-shipping > purchase > wishlist_add > purchase", 1, 1},
		{"page_view > add_to_cart > shown free-shipping > cart_abandoned > shown cart-reminder-10", 1, 0},
		{"page_view > shown free-shipping > add_to_cart > shown cart-reminder-10 > purchase", 1, 1},
		{"shown nothing > page_view > shown nothing > product_view > shown nothing", 1, 0},
	}
	if len(r.Paths) != len(wantPaths) {
		t.Fatalf("%d paths, want %d: %+v", len(r.Paths), len(wantPaths), r.Paths)
	}
	for i, w := range wantPaths {
		p := r.Paths[i]
		if strings.Join(p.Steps, " > ") != w.steps || p.Customers != w.n || p.Converted != w.converted || math.Abs(p.Share-float64(w.n)/6) > 1e-12 {
			t.Errorf("path %d: %+v, by hand %+v", i+1, p, w)
		}
	}
	var flowOK bool
	for _, l := range r.Flow.Links {
		if l.Step == 0 && l.From == "page_view" && l.To == "shown free-shipping" {
			flowOK = l.Customers == 3 // c1, c5, c6
		}
	}
	if !flowOK {
		t.Errorf("flow: page_view → shown free-shipping at step 1 is not 3 customers: %+v", r.Flow.Links)
	}

	// the gaps: visits, shown, eligible not shown, none eligible, not asked, decisions, none eligible decisions
	wantGaps := map[[2]string][7]int{
		{"awareness", "email"}:   {1, 0, 0, 1, 0, 1, 1},
		{"consideration", "app"}: {1, 0, 0, 0, 1, 0, 0},
		{"consideration", "web"}: {4, 3, 1, 0, 0, 5, 1},
		{"cart", "app"}:          {1, 1, 0, 0, 0, 1, 0},
		{"cart", "email"}:        {1, 1, 0, 0, 0, 1, 0},
		{"cart", "web"}:          {3, 2, 0, 0, 1, 2, 0},
		{"purchase", "web"}:      {2, 0, 0, 0, 2, 0, 0},
		{"retention", "app"}:     {1, 0, 0, 1, 0, 1, 1},
		{"retention", "web"}:     {1, 0, 0, 0, 1, 0, 0},
	}
	if len(r.Gaps.Cells) != len(wantGaps) || strings.Join(r.Gaps.Channels, " ") != "app email web" {
		t.Errorf("gap cells %+v, channels %v", r.Gaps.Cells, r.Gaps.Channels)
	}
	for _, c := range r.Gaps.Cells {
		got := [7]int{c.Visits, c.Shown, c.EligibleNotShown, c.NoneEligible, c.NotAsked, c.Decisions, c.Empty}
		if w := wantGaps[[2]string{c.Stage, c.Channel}]; got != w || c.Gap != w[3]+w[4] || math.Abs(c.GapShare-float64(w[3]+w[4])/float64(w[0])) > 1e-12 ||
			c.Unserved != w[0]-w[1] {
			t.Errorf("gap %s/%s: %v (gap %d, %v), by hand %v", c.Stage, c.Channel, got, c.Gap, c.GapShare, w)
		}
	}

	// the opening lines say it in words
	wantHead := []string{
		"Most customers stall at 'consideration': 60.0% of the 5 who reach it never go further; 3 whose last stage it is have been inactive for 14 days or more.",
		"Largest touchpoint gap: the web channel has no action for 100.0% of 'purchase'-stage visits (2 of 2): no decision was asked in 2.",
		"Most frequent path: page_view → shown free-shipping → product_view — 2 customers (33.3%); 0 of them converted.",
		"Time in 'consideration': more than half of the 5 stays are still open, so the median stay is not known yet.",
	}
	if strings.Join(r.Headline, "\n") != strings.Join(wantHead, "\n") {
		t.Errorf("headline:\n%s\nwant:\n%s", strings.Join(r.Headline, "\n"), strings.Join(wantHead, "\n"))
	}

	r.Source = "" // a temporary directory
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.JSON(t, filepath.Join("testdata", "golden.json"), append(data, '\n'), *update)
}

// TestCohort: --from day 5 --to day 13 follows c3, c4 and c5 (first seen
// on days 5, 8 and 12; c1, c2 and c6 are left out) and reads nothing at
// or after day 13, the end of the data. Stays: c3 consideration 5–6 E,
// cart 6–13 O; c4 cart 8–9 E, purchase 9–13 O (its day-12 wishlist_add
// refused); c5 consideration 12–13 O (its day-13 product_view is cut).
// Funnel: consideration 2 reached (c3 c5), 1 went on; cart 2 (c3 c4), 1
// (c4); purchase 1, 0. c4 converted (day 9). Nobody has been inactive
// 14 days by day 13.
func TestCohort(t *testing.T) {
	spec, _ := journaltest.Retail(t)
	r, err := journeys.FromJournal(context.Background(), goldenJournal(t), journeys.Config{Spec: spec, Options: journeys.Options{From: day(5), To: day(13)}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Stats.Customers != 3 || r.Stats.LeftOut != 3 || r.Stats.Converted != 1 || !r.End.Equal(day(13)) || r.Stats.NoChannel != 0 {
		t.Errorf("stats %+v, end %v", r.Stats, r.End)
	}
	want := map[string][3]int{"awareness": {0, 0, 0}, "consideration": {2, 1, 0}, "cart": {2, 1, 0}, "purchase": {1, 0, 0}, "retention": {0, 0, 0}}
	for _, f := range r.Funnel {
		if got := [3]int{f.Reached, f.WentOn, f.DroppedOff}; got != want[f.Stage] {
			t.Errorf("%s: reached, went on, dropped off %v; by hand %v", f.Stage, got, want[f.Stage])
		}
	}
	for _, st := range r.TimeInStage {
		if st.Stage == "cart" && (st.Stays != 2 || st.Left != 1 || st.Q1Days == nil || *st.Q1Days != 1 || st.MedianDays == nil || *st.MedianDays != 1) {
			t.Errorf("cart: %+v (by hand: stays 1E and 7O, Ŝ(1) = ½)", st)
		}
	}

	if _, err := journeys.FromJournal(context.Background(), goldenJournal(t), journeys.Config{Spec: spec, Options: journeys.Options{From: day(40)}}); !errors.Is(err, journeys.ErrNoCustomers) {
		t.Errorf("nobody first seen after day 40: %v", err)
	}
	if _, err := journeys.Analyze(nil, spec, journeys.Options{From: day(5), To: day(5)}); !errors.Is(err, journeys.ErrInvalidOptions) {
		t.Errorf("from = to: %v", err)
	}
}

// TestKaplanMeier against quartiles worked by hand: {1E, 2C, 3E, 4E,
// 5C} (E ended, C censored): Ŝ(1) = 4/5 (5 at risk); the censored 2
// leaves 3 at risk at 3, Ŝ(3) = 4/5·2/3 = 8/15; Ŝ(4) = 8/15·1/2 = 4/15.
// q1: the first Ŝ ≤ 0.75 is at 3; median: Ŝ(4) = 0.267 ≤ 0.5, at 4; q3:
// 0.267 > 0.25, not reached. Without censoring {1, 2, 3, 4} the
// quartiles are 1, 2, 3 (Ŝ = 0.75, 0.5, 0.25 exactly).
func TestKaplanMeier(t *testing.T) {
	s := func(d float64, ended bool) journeys.Survival { return journeys.Survival{Days: d, Ended: ended} }
	q := journeys.KaplanMeierQuantiles([]journeys.Survival{s(5, false), s(1, true), s(4, true), s(2, false), s(3, true)}, 0.25, 0.5, 0.75)
	if q[0] == nil || *q[0] != 3 || q[1] == nil || *q[1] != 4 || q[2] != nil {
		t.Errorf("censored: %v", deref(q))
	}
	q = journeys.KaplanMeierQuantiles([]journeys.Survival{s(4, true), s(3, true), s(2, true), s(1, true)}, 0.25, 0.5, 0.75)
	if q[0] == nil || *q[0] != 1 || q[1] == nil || *q[1] != 2 || q[2] == nil || *q[2] != 3 {
		t.Errorf("uncensored: %v", deref(q))
	}
}

func deref(q []*float64) []any {
	var out []any
	for _, v := range q {
		if v == nil {
			out = append(out, nil)
		} else {
			out = append(out, *v)
		}
	}
	return out
}

// TestReportFiles: the page loads nothing, has its charts and opens with
// the headline; the CSV is rectangular and holds the funnel.
func TestReportFiles(t *testing.T) {
	spec, _ := journaltest.Retail(t)
	r, err := journeys.FromJournal(context.Background(), goldenJournal(t), journeys.Config{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
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
	if strings.Count(html, "<svg") != 3 || !strings.Contains(html, "Most customers stall at &#39;consideration&#39;") {
		t.Errorf("the page lacks its three charts or its headline")
	}
	var c bytes.Buffer
	if err := r.WriteCSV(&c); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&c).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, row := range rows {
		if strings.Join(row, ",") == "funnel,consideration,,conversion,0.4" {
			found = true
		}
	}
	if !found || strings.Join(rows[0], ",") != "section,row,column,metric,value" {
		t.Errorf("csv:\n%v", rows[:min(5, len(rows))])
	}
}
