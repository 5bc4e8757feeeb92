package apptest

import (
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"nextbest/attribution"
	"nextbest/campaigns"
	"nextbest/clv"
	"nextbest/examples/retail"
	"nextbest/journeys"
	"nextbest/serve"
)

// reportAnswer is GET /v1/reports/{name}'s answer.
type reportAnswer struct {
	Name       string          `json:"name"`
	ComputedAt string          `json:"computed_at"`
	JournalLSN float64         `json:"journal_lsn"`
	Headline   []string        `json:"headline"`
	Report     json.RawMessage `json:"report"`
}

// clvReport is the report of GET /v1/reports/clv.
type clvReport struct {
	PurchaseHistories bool          `json:"purchase_histories"`
	Model             *serve.CLVDoc `json:"model"`
	Buyers            int           `json:"customers_with_purchases"`
	RepeatBuyers      int           `json:"repeat_buyers"`
	Base              *clv.Base     `json:"base"`
}

// TestDashboardReports runs the service with a permanent holdout, a
// feature spec that keeps purchase histories and a CLV model, sends it
// journeys (events over the past month, decisions on three channels,
// clicks, purchases), restarts it, and then: the reports of
// /v1/reports/{name} (computed again after the restart, from the journal)
// are the JSON that nextbest report writes for the same journal; and each
// dashboard page (Campaigns, Channels, Journeys, Customer value,
// Attribution), loaded in headless Chromium, shows the numbers of its
// report and its opening lines, and nothing the report does not have. A
// screenshot of each page goes to $NEXTBEST_SCREENSHOT_DIR when set.
func TestDashboardReports(t *testing.T) {
	browser := findChromium()
	if browser == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no chromium binary found; CI must install it (.ci/run does)")
		}
		t.Skip("no chromium binary found: skipping the dashboard browser test")
	}
	dir := t.TempDir()
	exps, spec, model, config := filepath.Join(dir, "experiments.yaml"), filepath.Join(dir, "features.yaml"),
		filepath.Join(dir, "clv.json"), filepath.Join(dir, "nextbest.yaml")
	write(t, exps, strings.Replace(`experiments:
  - name: hold
    holdout: true
    start: START
    control: programme
    arms:
      - {name: programme, policy: promoted, share: 0.8}
      - {name: held, policy: none, share: 0.2}
`, "START", time.Now().UTC().Add(-24*time.Hour).Truncate(time.Hour).Format(time.RFC3339), 1))
	write(t, spec, strings.Replace(string(retail.FeatureSpec), "  attribute_events: [profile_update]",
		"  attribute_events: [profile_update]\n  clv: {event: purchase, amount: amount}", 1))
	write(t, model, `{"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "gamma": 15.44}`)
	write(t, config, fmt.Sprintf("experiments: %s\nfeature_spec: %s\nclv_model: %s\nprofiles: none\nreports_every: 1h\n", exps, spec, model))
	data := filepath.Join(dir, "data")
	srv := startServing(t, data, "--config", config)
	reportsTraffic(t, srv.server)
	srv.stop()

	// after a restart: the first request starts the computation
	srv = startServing(t, data, "--config", config)
	answers := map[string]reportAnswer{}
	deadline := time.Now().Add(30 * time.Second)
	for _, path := range []string{"campaigns", "journeys", "attribution", "attribution?by=action", "clv"} {
		for {
			code, a := getReport(t, srv.base+"/v1/reports/"+path)
			if code == 200 {
				answers[path] = a
				break
			}
			if code != 503 || time.Now().After(deadline) {
				t.Fatalf("GET /v1/reports/%s: %d", path, code)
			}
			time.Sleep(100 * time.Millisecond) // polling a process we do not control
		}
	}

	// the reports are what nextbest report writes for the same journal
	journalDir, out := filepath.Join(data, "journal"), t.TempDir()
	cli := map[string][]string{
		"campaigns":             {"report", "campaigns", "--journal", journalDir, "--config", config, "--out", filepath.Join(out, "c.html"), "--json", "-"},
		"journeys":              {"report", "journeys", "--journal", journalDir, "--config", config, "--out", filepath.Join(out, "j.html"), "--json", "-"},
		"attribution":           {"report", "attribution", "--journal", journalDir, "--config", config, "--out", filepath.Join(out, "a.html"), "--json"},
		"attribution?by=action": {"report", "attribution", "--journal", journalDir, "--config", config, "--out", filepath.Join(out, "b.html"), "--json", "--by", "action"},
	}
	for path, args := range cli {
		stdout, _ := runCLISplit(t, args...)
		var want, got map[string]any
		if err := json.Unmarshal([]byte(stdout), &want); err != nil {
			t.Fatalf("nextbest %s: %v", strings.Join(args[:2], " "), err)
		}
		if err := json.Unmarshal(answers[path].Report, &got); err != nil || got == nil {
			t.Fatalf("/v1/reports/%s: %v %s", path, err, answers[path].Report)
		}
		if got["source"] != "journal" || want["source"] != journalDir {
			t.Errorf("/v1/reports/%s: source %v; the command's %v", path, got["source"], want["source"])
		}
		delete(got, "source")
		delete(want, "source")
		if !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Errorf("/v1/reports/%s differs from nextbest %s: %s", path, strings.Join(args[:2], " "), firstDifference(string(g), string(w)))
		}
	}

	// each page shows its report's numbers
	var camp campaigns.Report
	var jour journeys.Report
	var byChannel, byAction attribution.Report
	var cv clvReport
	for path, v := range map[string]any{"campaigns": &camp, "journeys": &jour, "attribution": &byChannel, "attribution?by=action": &byAction, "clv": &cv} {
		if err := json.Unmarshal(answers[path].Report, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if camp.Lift == nil || len(camp.Channels) < 3 || len(camp.ClickTypes) == 0 || jour.Stats.Customers != 60 || cv.Base == nil || cv.RepeatBuyers == 0 || len(byAction.Keys) < 3 {
		t.Fatalf("the traffic did not reach every report: lift %v, %d channels, clicks %v, %d customers, CLV %+v", camp.Lift, len(camp.Channels), camp.ClickTypes, jour.Stats.Customers, cv)
	}
	shots := os.Getenv("NEXTBEST_SCREENSHOT_DIR")
	for _, page := range []struct {
		name string
		want pageWant
	}{
		{"campaigns", campaignsWant(answers["campaigns"], &camp)},
		{"channels", channelsWant(t, answers["campaigns"], &camp)},
		{"journeys", journeysWant(answers["journeys"], &jour)},
		{"clv", clvWant(answers["clv"], &cv)},
		{"attribution", attributionWant(answers["attribution"], answers["attribution?by=action"], &byChannel, &byAction)},
	} {
		t.Run(page.name, func(t *testing.T) {
			url := srv.base + "/ui/#" + page.name
			dom := runChromium(t, browser, filepath.Join(dir, "chrome-"+page.name), "--window-size=1280,1600", "--dump-dom", url)
			if !strings.Contains(dom, `data-state="ready"`) || !strings.Contains(dom, `data-page="`+page.name+`"`) {
				t.Fatalf("the page did not finish loading; DOM:\n%.3000s", dom)
			}
			if !regexp.MustCompile(`<a href="#` + page.name + `" data-page="` + page.name + `" class="active" aria-current="page">`).MatchString(dom) {
				t.Errorf("the navigation does not mark %s as the page shown", page.name)
			}
			page.want.check(t, page.name, shownValues(dom))
			if shots != "" {
				screenshot(t, browser, dir, dom, url, filepath.Join(shots, "dashboard-"+page.name+".png"))
			}
		})
	}
}

// reportsTraffic sends 60 customers' journeys: customer i viewed a page
// (i mod 6) days ago on web and is asked for a decision now on web; every
// second one adds to cart and is asked again; every third one is asked
// on app and clicks what it shows; every fourth one buys now (a purchase
// outcome on what was shown and a purchase event) and bought 30 days
// ago, every eighth 15 days ago too; every fifth one is asked on email.
func reportsTraffic(t *testing.T, s *server) {
	t.Helper()
	now := time.Now().UTC()
	decide := func(c, ch string, ctx map[string]any) (string, string) {
		code, out, err := s.post("/v1/decide", map[string]any{"customer_id": c, "channel": ch, "limit": 2, "context": ctx})
		if err != nil || code != 200 {
			t.Fatalf("decide: %d %v %v", code, out, err)
		}
		if acts, _ := out["actions"].([]any); len(acts) > 0 {
			return out["decision_id"].(string), acts[0].(map[string]any)["action_id"].(string)
		}
		return "", ""
	}
	ts := func(daysAgo int) string {
		return now.Add(-time.Duration(daysAgo) * 24 * time.Hour).Format(time.RFC3339)
	}
	purchase := func(c string, daysAgo int, amount float64) {
		s.mustPost(t, "/v1/events", map[string]any{"customer_id": c, "type": "purchase", "channel": "web", "ts": ts(daysAgo), "properties": map[string]any{"amount": amount}})
	}
	for i := range 60 {
		c := fmt.Sprintf("c-%02d", i)
		if i%4 == 0 {
			purchase(c, 30, 20+float64(i))
			if i%8 == 0 {
				purchase(c, 15, 35)
			}
		}
		s.mustPost(t, "/v1/events", map[string]any{"customer_id": c, "type": "page_view", "channel": "web", "ts": ts(i % 6)})
		decide(c, "web", map[string]any{"page": "product", "device": "mobile"})
		if i%3 == 0 {
			s.mustPost(t, "/v1/events", map[string]any{"customer_id": c, "type": "app_open", "channel": "app"})
			if id, act := decide(c, "app", map[string]any{"page": "home"}); id != "" {
				s.mustPost(t, "/v1/outcomes", map[string]any{"decision_id": id, "action_id": act, "type": "click", "reward": 1})
			}
		}
		if i%2 == 0 {
			s.mustPost(t, "/v1/events", map[string]any{"customer_id": c, "type": "add_to_cart", "channel": "web"})
			id, act := decide(c, "web", map[string]any{"page": "cart", "cart_value": 80.0, "device": "mobile"})
			if i%4 == 0 {
				if id != "" {
					s.mustPost(t, "/v1/outcomes", map[string]any{"decision_id": id, "action_id": act, "type": "purchase", "reward": 40 + i})
				}
				purchase(c, 0, 40+float64(i))
			}
		}
		if i%5 == 0 {
			decide(c, "email", nil)
		}
	}
}

func getReport(t *testing.T, url string) (int, reportAnswer) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a reportAnswer
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode, a
}

// pageWant is what a page must show: each tagged value (data-k) as text
// (text) or as a number in the page's units (nums: a rate of 0.123 is
// 12.3, as "12.3%" shows it), and the headline lines under a prefix.
type pageWant struct {
	text      map[string]string
	nums      map[string]float64
	headlines map[string][]string
}

func newWant() pageWant {
	return pageWant{text: map[string]string{}, nums: map[string]float64{}, headlines: map[string][]string{}}
}

func (w pageWant) report(key string, a reportAnswer) {
	w.text[key+".computed_at"] = a.ComputedAt
	w.nums[key+".journal_lsn"] = a.JournalLSN
	w.headlines[key] = a.Headline
}

func (w pageWant) rate(key string, r campaigns.Rate) {
	w.nums[key] = 100 * r.Estimate
	w.nums[key+".lo"] = 100 * r.Lo
	w.nums[key+".hi"] = 100 * r.Hi
}

// row wants the figures rowCells shows of a campaigns.Row.
func (w pageWant) row(key string, r campaigns.Row, clicks bool) {
	w.nums[key+".impressions"] = float64(r.Impressions)
	w.nums[key+".customers"] = float64(r.Customers)
	w.nums[key+".conversions"] = float64(r.Conversions)
	w.rate(key+".conversion_rate", r.ConversionRate)
	w.nums[key+".revenue"] = r.Revenue
	w.nums[key+".revenue_per_impression"] = r.RevenuePerImpression
	if clicks {
		w.nums[key+".clicks"] = float64(r.Clicks)
		w.rate(key+".click_rate", r.ClickRate)
	}
}

func (w pageWant) lift(key string, l *campaigns.Lift, dim string) {
	for _, r := range l.Rows {
		if r.By != "all" && r.By != dim {
			continue
		}
		k := key + ".lift." + r.By + "." + r.Key
		w.nums[k+".treated.customers"] = float64(r.Treated.Customers)
		w.rate(k+".treated.rate", r.Treated.ConversionRate)
		w.nums[k+".baseline.customers"] = float64(r.Baseline.Customers)
		w.rate(k+".baseline.rate", r.Baseline.ConversionRate)
		w.nums[k+".difference"] = 100 * r.Absolute.Estimate
		w.nums[k+".difference.lo"] = 100 * r.Absolute.Lo
		w.nums[k+".difference.hi"] = 100 * r.Absolute.Hi
		if !strings.HasPrefix(r.Relative.Method, "undefined") { // nobody converted in the baseline: "–"
			w.nums[k+".relative"] = 100 * r.Relative.Estimate
			w.nums[k+".relative.lo"] = 100 * r.Relative.Lo
			w.nums[k+".relative.hi"] = 100 * r.Relative.Hi
		}
	}
}

func campaignsWant(a reportAnswer, r *campaigns.Report) pageWant {
	w := newWant()
	w.report("campaigns", a)
	clicks := len(r.ClickTypes) > 0
	w.row("campaigns.total", r.Total, clicks)
	w.nums["campaigns.total.decisions"] = float64(r.Total.Decisions)
	for _, x := range r.Actions {
		w.row("campaigns.action."+x.Key, x, clicks)
	}
	w.lift("campaigns", r.Lift, campaigns.Action)
	for _, x := range r.Series {
		if x.By == campaigns.All {
			k := "campaigns.series." + x.Period
			w.nums[k+".decisions"] = float64(x.Decisions)
			w.nums[k+".impressions"] = float64(x.Impressions)
			w.nums[k+".customers"] = float64(x.Customers)
			w.nums[k+".conversions"] = float64(x.Conversions)
			w.rate(k+".conversion_rate", x.ConversionRate)
			w.nums[k+".revenue"] = x.Revenue
		}
	}
	return w
}

func channelsWant(t *testing.T, a reportAnswer, r *campaigns.Report) pageWant {
	w := newWant()
	w.report("channels", a)
	// the opening lines about channels and the lift
	var lines []string
	for _, l := range a.Headline {
		if strings.HasPrefix(l, "Channels") || strings.HasPrefix(l, "Lift against") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("the campaign report's opening lines name no channel or no lift: %q", a.Headline)
	}
	w.headlines["channels"] = lines
	clicks := len(r.ClickTypes) > 0
	for _, x := range append([]campaigns.Row{r.Total}, r.Channels...) {
		k := "channels." + x.Key
		if x.By == campaigns.All {
			k = "channels.total"
		}
		w.row(k, x, clicks)
		delete(w.nums, k+".revenue_per_impression") // not on this page
		w.nums[k+".decisions"] = float64(x.Decisions)
		w.nums[k+".filled"] = float64(x.Filled)
		w.nums[k+".fill_rate"] = 100 * x.FillRate()
	}
	for _, x := range r.Breakdowns {
		if x.By == campaigns.Channel && x.Segment == campaigns.ByStage {
			k := "channels." + x.Key + ".stage." + x.Value
			w.nums[k+".conversions"] = float64(x.Conversions)
			w.nums[k+".impressions"] = float64(x.Impressions)
		}
	}
	w.lift("channels", r.Lift, campaigns.Channel)
	return w
}

func journeysWant(a reportAnswer, r *journeys.Report) pageWant {
	w := newWant()
	w.report("journeys", a)
	st := r.Stats
	for k, v := range map[string]int{"customers": st.Customers, "converted": st.Converted, "events": st.Events, "decisions": st.Decisions, "decisions_shown": st.Shown} {
		w.nums["journeys."+k] = float64(v)
	}
	for _, f := range r.Funnel {
		k := "journeys.funnel." + f.Stage
		w.nums[k+".reached"] = float64(f.Reached)
		w.nums[k+".current"] = float64(f.Current)
		w.nums[k+".dropped_off"] = float64(f.DroppedOff)
		if !f.Final {
			w.nums[k+".went_on"] = float64(f.WentOn)
			w.nums[k+".next"] = float64(f.Next)
		}
		if f.Conversion != nil {
			w.nums[k+".conversion"] = 100 * *f.Conversion
		}
	}
	for _, x := range r.TimeInStage {
		k := "journeys.time." + x.Stage
		w.nums[k+".stays"] = float64(x.Stays)
		w.nums[k+".open"] = float64(x.Open)
		for name, v := range map[string]*float64{"q1": x.Q1Days, "median": x.MedianDays, "q3": x.Q3Days} {
			if v == nil {
				w.text[k+"."+name] = "not yet"
			} else {
				w.nums[k+"."+name] = *v
			}
		}
	}
	for i, p := range r.Paths {
		k := "journeys.path." + strconv.Itoa(i)
		w.nums[k+".customers"] = float64(p.Customers)
		w.nums[k+".share"] = 100 * p.Share
		w.nums[k+".converted"] = float64(p.Converted)
	}
	for _, c := range r.Gaps.Cells {
		if c.Visits == 0 {
			continue
		}
		k := "journeys.gap." + c.Stage + "." + c.Channel
		for name, v := range map[string]int{"visits": c.Visits, "shown": c.Shown, "eligible_not_shown": c.EligibleNotShown,
			"none_eligible": c.NoneEligible, "not_asked": c.NotAsked, "gap": c.Gap} {
			w.nums[k+"."+name] = float64(v)
		}
		w.nums[k+".gap_share"] = 100 * c.GapShare
	}
	for i, row := range r.Transitions.Rows {
		for j, col := range r.Transitions.Columns {
			w.nums["journeys.transition."+row+"."+col] = float64(r.Transitions.Counts[i][j])
		}
	}
	return w
}

func clvWant(a reportAnswer, r *clvReport) pageWant {
	w := newWant()
	w.report("clv", a)
	b, m := r.Base, r.Model
	w.nums["clv.buyers"] = float64(r.Buyers)
	w.nums["clv.repeat_buyers"] = float64(r.RepeatBuyers)
	w.nums["clv.total_clv"] = b.TotalCLV
	w.nums["clv.mean_clv"] = b.MeanCLV
	w.nums["clv.likely_alive"] = float64(b.LikelyAlive)
	w.nums["clv.top_decile_share"] = 100 * b.TopDecileShare
	w.nums["clv.mean_p_alive"] = b.MeanPAlive
	for k, v := range map[string]float64{"r": m.R, "alpha": m.Alpha, "a": m.A, "b": m.B, "p": m.P, "q": m.Q, "gamma": m.Gamma,
		"horizon_weeks": m.HorizonWeeks, "step_weeks": m.StepWeeks, "annual_discount": 100 * *m.AnnualDiscount} {
		w.nums["clv.model."+k] = v
	}
	w.text["clv.model.version"] = m.Version
	for name, d := range map[string]clv.Distribution{"clv": b.CLV, "p_alive": b.PAlive} {
		for k, v := range map[string]float64{"p10": d.P10, "q1": d.Q1, "median": d.Median, "q3": d.Q3, "p90": d.P90, "max": d.Max} {
			w.nums["clv."+name+"."+k] = v
		}
	}
	for i, x := range b.CLV.Bins {
		k := "clv.bin." + strconv.Itoa(i)
		w.nums[k+".customers"] = float64(x.Customers)
		w.nums[k+".clv"] = x.CLV
		w.nums[k+".share"] = 100 * x.CLV / b.TotalCLV
	}
	return w
}

func attributionWant(ch, act reportAnswer, byChannel, byAction *attribution.Report) pageWant {
	w := newWant()
	w.report("attribution", ch)
	w.headlines["attribution.action"] = act.Headline
	r := byChannel
	w.nums["attribution.conversions"] = float64(r.Conversions)
	w.nums["attribution.attributed"] = float64(r.Attributed)
	w.nums["attribution.attributed_revenue"] = r.AttributedRevenue
	w.nums["attribution.journeys"] = float64(r.Journeys)
	w.nums["attribution.touches"] = float64(r.Touches)
	for dim, r := range map[string]*attribution.Report{"channel": byChannel, "action": byAction} {
		key := "attribution." + dim
		w.nums[key+".markov.conversion"] = r.Markov.Conversion
		for i, k := range r.Keys {
			for _, m := range r.Models {
				c := m.Credits[i]
				kk := key + "." + k + "." + string(m.Model)
				w.nums[kk+".share"] = 100 * c.Share
				w.nums[kk+".conversions"] = c.Conversions
				w.nums[kk+".revenue"] = c.Revenue
			}
			re := r.Markov.Removal[k]
			w.nums[key+"."+k+".removal"] = re
			w.nums[key+"."+k+".without"] = r.Markov.Conversion * (1 - re)
		}
	}
	return w
}

// shownNumber reads a number as the dashboard writes it ("1,234",
// "−3.5", "+12.3%", "4.0 d") and the half-unit of its last digit.
func shownNumber(s string) (v, halfUnit float64, ok bool) {
	s = strings.NewReplacer(",", "", "\u2212", "-", "%", "", " d", "").Replace(strings.TrimPrefix(s, "+"))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, 0, false
	}
	decimals := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		decimals = len(s) - i - 1
	}
	return v, 0.5 * math.Pow(10, -float64(decimals)), true
}

// check compares the page's tagged values with w: text exactly, numbers
// to the digits shown; every headline line; and no number under the
// page's prefix that w lacks.
func (w pageWant) check(t *testing.T, page string, shown map[string]string) {
	t.Helper()
	for k, want := range w.text {
		if got, ok := shown[k]; !ok || got != want {
			t.Errorf("%s shows %s = %q (present %v), the API says %q", page, k, got, ok, want)
		}
	}
	for k, want := range w.nums {
		got, ok := shown[k]
		if !ok {
			t.Errorf("%s shows no %s (API: %v)", page, k, want)
			continue
		}
		v, half, ok := shownNumber(got)
		if !ok || math.Abs(v-want) > half*(1+1e-9)+1e-9*math.Abs(want) {
			t.Errorf("%s shows %s = %q, the API says %v", page, k, got, want)
		}
	}
	for key, lines := range w.headlines {
		for i, line := range lines {
			k := key + ".headline." + strconv.Itoa(i)
			got := shown[k+".text"]
			if head, ok := shown[k+".head"]; ok {
				got = head + " " + got
			}
			if got != line {
				t.Errorf("%s headline %d: %q, the API says %q", key, i, got, line)
			}
		}
		if _, extra := shown[key+".headline."+strconv.Itoa(len(lines))+".text"]; extra || len(lines) == 0 {
			t.Errorf("%s: the page shows another headline line than the API's %d", key, len(lines))
		}
	}
	n := 0
	for k := range shown {
		if !strings.HasPrefix(k, page+".") || strings.Contains(k, ".headline.") {
			continue
		}
		n++
		if _, ok := w.nums[k]; !ok {
			if _, ok := w.text[k]; !ok {
				t.Errorf("%s shows %s = %q, which the test does not know from the API", page, k, shown[k])
			}
		}
	}
	if n < 20 {
		t.Errorf("%s: only %d tagged values", page, n)
	}
	t.Logf("%s shows the API's %d values and %d headline lines", page, len(w.nums)+len(w.text), len(w.headlines[page]))
}

// screenshot writes a screenshot of url as tall as the page says it is
// (dom's data-height) to path, and checks that it decodes.
func screenshot(t *testing.T, browser, dir, dom, url, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	height := 2000
	if m := pageHeight.FindStringSubmatch(dom); m != nil {
		if h, err := strconv.Atoi(m[1]); err == nil && h > 600 && h < 16000 {
			height = h
		}
	}
	os.Remove(path)
	runChromium(t, browser, filepath.Join(dir, "chrome-shot"), fmt.Sprintf("--window-size=1280,%d", height), "--screenshot="+path, "--hide-scrollbars", url)
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	t.Logf("screenshot: %s", path)
}

// firstDifference shows where two texts part.
func firstDifference(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-120)
	return fmt.Sprintf("at byte %d:\n got …%.300s\nwant …%.300s", i, got[from:], want[from:])
}
