package campaigns

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"nextbest/experiment"
	h "nextbest/internal/htmlreport"
)

// headline returns the opening lines in plain words: the campaign that
// converts best and the weakest (ranked by the bounds of their
// intervals, so that a handful of lucky impressions does not win), the
// channels, and the lift against the holdout.
func headline(r *Report) []string {
	var lines []string
	lvl := levelText(r.Level)
	iv := func(x Rate) string { return fmt.Sprintf("%s interval %s to %s", lvl, h.Pct(x.Lo), h.Pct(x.Hi)) }
	acts := slices.DeleteFunc(slices.Clone(r.Actions), func(x Row) bool { return x.Impressions == 0 })
	if len(acts) > 0 {
		best := slices.MaxFunc(acts, func(a, b Row) int {
			return cmp.Or(cmp.Compare(a.ConversionRate.Lo, b.ConversionRate.Lo), cmp.Compare(b.Key, a.Key))
		})
		head := "Best converting campaign"
		if len(acts) == 1 {
			head = "The one campaign"
		}
		l := fmt.Sprintf("%s: %s converts %s of its %s impressions (%s), against %s across all campaigns",
			head, best.Key, h.Pct(best.ConversionRate.Estimate), h.Count(best.Impressions), iv(best.ConversionRate), h.Pct(r.Total.ConversionRate.Estimate))
		if len(r.RevenueTypes) > 0 && r.Total.Revenue > 0 {
			l += fmt.Sprintf("; it brought %s of the %s revenue (%s)", h.Num(best.Revenue), h.Num(r.Total.Revenue), h.Pct(best.Revenue/r.Total.Revenue))
		}
		lines = append(lines, l+".")
		if len(acts) > 1 {
			worst := slices.MinFunc(acts, func(a, b Row) int {
				return cmp.Or(cmp.Compare(a.ConversionRate.Hi, b.ConversionRate.Hi), cmp.Compare(a.Key, b.Key))
			})
			if worst.Key != best.Key {
				lines = append(lines, fmt.Sprintf("Weakest campaign: %s converts %s of its %s impressions (%s).",
					worst.Key, h.Pct(worst.ConversionRate.Estimate), h.Count(worst.Impressions), iv(worst.ConversionRate)))
			}
		}
	} else {
		lines = append(lines, fmt.Sprintf("No impressions: none of the %s decisions showed an action.", h.Count(r.Total.Decisions)))
	}

	if len(r.Channels) == 1 {
		c := r.Channels[0]
		lines = append(lines, fmt.Sprintf("Channels: every decision is on %s; it shows an action in %s of its %s decisions and converts %s of its impressions.",
			c.Key, h.Pct(c.FillRate()), h.Count(c.Decisions), h.Pct(c.ConversionRate.Estimate)))
	} else if len(r.Channels) > 1 {
		shown := slices.DeleteFunc(slices.Clone(r.Channels), func(x Row) bool { return x.Impressions == 0 })
		var parts []string
		if len(shown) > 0 {
			best := slices.MaxFunc(shown, func(a, b Row) int {
				return cmp.Or(cmp.Compare(a.ConversionRate.Lo, b.ConversionRate.Lo), cmp.Compare(b.Key, a.Key))
			})
			parts = append(parts, fmt.Sprintf("%s converts best, %s of %s impressions (%s)", best.Key, h.Pct(best.ConversionRate.Estimate), h.Count(best.Impressions), iv(best.ConversionRate)))
		}
		least := slices.MinFunc(r.Channels, func(a, b Row) int { return cmp.Or(cmp.Compare(a.FillRate(), b.FillRate()), cmp.Compare(a.Key, b.Key)) })
		parts = append(parts, fmt.Sprintf("%s shows an action in the fewest of its decisions, %s of %s", least.Key, h.Pct(least.FillRate()), h.Count(least.Decisions)))
		lines = append(lines, "Channels: "+strings.Join(parts, "; ")+".")
	}

	lines = append(lines, liftLine(r))
	return lines
}

func liftLine(r *Report) string {
	l := r.Lift
	if l == nil {
		return "Lift: no holdout experiment runs (an experiment with holdout: true in the config), so the programme's lift is not measured; --lift NAME compares the arms of another experiment with its control."
	}
	var parts []string
	for i := range l.Rows {
		row := &l.Rows[i]
		if row.By != All {
			continue
		}
		diff := fmt.Sprintf("%s points (%s interval %s to %s)", points(row.Absolute.Estimate), levelText(row.Absolute.Level), points(row.Absolute.Lo), points(row.Absolute.Hi))
		if !strings.HasPrefix(row.Relative.Method, "undefined") {
			diff += fmt.Sprintf(", %s relative", h.SignedPct(row.Relative.Estimate))
		}
		verdict := "not a clear difference"
		if row.Absolute.Excludes0() {
			verdict = "a clear difference"
			if row.Absolute.Estimate < 0 {
				verdict += ", the wrong way"
			}
		}
		parts = append(parts, fmt.Sprintf("'%s' converts %s of %s customers against %s of %s in '%s', a difference of %s: %s",
			row.Arm, h.Pct(row.Treated.ConversionRate.Estimate), h.Count(row.Treated.Customers), h.Pct(row.Baseline.ConversionRate.Estimate), h.Count(row.Baseline.Customers), l.Baseline, diff, verdict))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("Lift: experiment '%s' has no customers in both '%s' and another arm in this period.", l.Experiment, l.Baseline)
	}
	head := fmt.Sprintf("Lift against control '%s' of '%s'", l.Baseline, l.Experiment)
	if l.Holdout {
		head = fmt.Sprintf("Lift against the holdout '%s'", l.Experiment)
	}
	return head + ": " + strings.Join(parts, ". ") + "."
}

// WriteJSON writes the whole report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// CSVHeader is the header of the CSV: the report in long form.
var CSVHeader = []string{"section", "by", "key", "segment", "segment_value", "period", "metric", "value"}

// WriteCSV writes every number of the report in long form, one number a
// row: section (total, actions, channels, breakdowns, series, lift), by,
// key, segment, segment_value, period, metric, value. Activations are
// written only when the journal records them. In the lift section,
// segment is "arm" and segment_value the arm compared with the baseline.
// Numbers have the fewest digits that read back to the same float64.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(CSVHeader)
	i := strconv.Itoa
	rows := func(section string, rs ...Row) {
		for _, x := range rs {
			put := func(metric, v string) {
				cw.Write([]string{section, x.By, x.Key, string(x.Segment), x.Value, x.Period, metric, v})
			}
			put("decisions", i(x.Decisions))
			put("filled", i(x.Filled))
			put("impressions", i(x.Impressions))
			put("customers", i(x.Customers))
			if x.Activations != nil {
				put("activations", i(*x.Activations))
			}
			if len(r.ClickTypes) > 0 {
				put("clicks", i(x.Clicks))
				put("click_rate", h.F(x.ClickRate.Estimate))
				put("click_rate_lo", h.F(x.ClickRate.Lo))
				put("click_rate_hi", h.F(x.ClickRate.Hi))
			}
			put("conversions", i(x.Conversions))
			put("conversion_rate", h.F(x.ConversionRate.Estimate))
			put("conversion_rate_lo", h.F(x.ConversionRate.Lo))
			put("conversion_rate_hi", h.F(x.ConversionRate.Hi))
			put("revenue", h.F(x.Revenue))
			put("revenue_per_impression", h.F(x.RevenuePerImpression))
		}
	}
	rows("total", r.Total)
	rows("actions", r.Actions...)
	rows("channels", r.Channels...)
	rows("breakdowns", r.Breakdowns...)
	rows("series", r.Series...)
	if l := r.Lift; l != nil {
		for _, x := range l.Rows {
			put := func(metric, v string) { cw.Write([]string{"lift", x.By, x.Key, "arm", x.Arm, "", metric, v}) }
			for _, a := range []struct {
				name string
				arm  LiftArm
			}{{"treated", x.Treated}, {"baseline", x.Baseline}} {
				put(a.name+"_customers", i(a.arm.Customers))
				put(a.name+"_converted", i(a.arm.Converted))
				put(a.name+"_conversion_rate", h.F(a.arm.ConversionRate.Estimate))
				put(a.name+"_conversion_rate_lo", h.F(a.arm.ConversionRate.Lo))
				put(a.name+"_conversion_rate_hi", h.F(a.arm.ConversionRate.Hi))
				put(a.name+"_revenue_per_customer", h.F(a.arm.RevenuePerCustomer))
			}
			for _, c := range []struct {
				name string
				iv   experiment.Interval
			}{{"absolute", x.Absolute}, {"relative", x.Relative}, {"revenue_difference", x.RevenueDifference}} {
				put(c.name, h.F(c.iv.Estimate))
				put(c.name+"_lo", h.F(c.iv.Lo))
				put(c.name+"_hi", h.F(c.iv.Hi))
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// chartActions is how many actions the per-period chart draws, and
// forestActions how many the interval chart does.
const (
	chartActions  = 5
	forestActions = 15
)

// WriteHTML writes the report as one self-contained page: the opening
// lines, the charts (conversion rate per campaign with intervals,
// impressions and conversion rate per period, the lift), the tables of
// campaigns, channels, breakdowns, periods and lift, and the method. It
// loads no script, font, style sheet or image.
func (r *Report) WriteHTML(w io.Writer) error {
	var b strings.Builder
	e := h.E
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	h.Head(&b, "Campaigns and channels")
	h.Headline(&b, r.Headline)
	p("<p class=\"meta\">")
	if r.Source != "" {
		p("Data: %s. ", e(r.Source))
	}
	p("Decisions from %s to %s (%s in all, %s impressions). Periods: %ss (UTC). Clicks: outcomes of type %s. Revenue: the joined rewards of %s.",
		r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), h.Count(r.Total.Decisions), h.Count(r.Total.Impressions),
		e(string(r.Period)), e(orNone(r.ClickTypes)), e(orNone(r.RevenueTypes)))
	if !r.ActivationsRecorded {
		p(" The journal records no activations: every returned action counts as an impression.")
	}
	if s := r.Stats; s.Outcomes > 0 {
		p(" Outcomes: %s read, %s joined, %s late, %s duplicates, %s of undeclared types, %s of unknown decisions.",
			h.Count(s.Outcomes), h.Count(s.Joined), h.Count(s.Late), h.Count(s.Duplicate), h.Count(s.UnknownType), h.Count(s.Unknown))
	}
	p("</p>\n")

	lvl := levelText(r.Level)
	if len(r.Actions) > 0 {
		p("<h2 id=\"campaigns\">Conversion rate per campaign</h2>\n")
		var fr []forestRow
		for _, a := range r.Actions[:min(forestActions, len(r.Actions))] {
			if a.Impressions > 0 {
				fr = append(fr, forestRow{label: fmt.Sprintf("%s (%s)", a.Key, h.Count(a.Impressions)), est: a.ConversionRate.Estimate, lo: a.ConversionRate.Lo, hi: a.ConversionRate.Hi})
			}
		}
		forestSVG(&b, "Conversion rate per campaign", fr, h.Pct, r.Total.ConversionRate.Estimate, 0)
		p("<p class=\"note\">Dots: conversions per impression; bars: %s intervals; the line: all campaigns. The %d campaigns with the most impressions, impressions in brackets.</p>\n", lvl, forestActions)
	}
	p("<h2 id=\"campaign-table\">Campaigns</h2>\n")
	r.table(&b, r.Actions, "campaign", false)
	p("<h2 id=\"channels\">Channels</h2>\n")
	r.table(&b, append([]Row{r.Total}, r.Channels...), "channel", true)

	// over time
	var periods []string
	for _, s := range r.Series {
		if s.By == All {
			periods = append(periods, s.Period)
		}
	}
	if len(periods) > 1 {
		p("<h2 id=\"time\">Over time</h2>\n")
		var imp []lineSeries
		for _, c := range r.Channels {
			imp = append(imp, r.series(Channel, c.Key, periods, func(x Row) float64 { return float64(x.Impressions) }))
		}
		lineSVG(&b, "Impressions per "+string(r.Period)+" and channel", periods, imp, func(v float64) string { return h.Num(math.Round(v)) })
		var conv []lineSeries
		conv = append(conv, r.series(All, All, periods, func(x Row) float64 { return x.ConversionRate.Estimate }))
		conv[0].name = "all campaigns"
		for _, a := range r.Actions[:min(chartActions, len(r.Actions))] {
			conv = append(conv, r.series(Action, a.Key, periods, func(x Row) float64 { return x.ConversionRate.Estimate }))
		}
		lineSVG(&b, "Conversion rate per "+string(r.Period)+": all and the top campaigns", periods, conv, h.Pct)
		p("<p class=\"note\">The %d campaigns with the most impressions; a gap is a %s without impressions. The table has every decision per %s; the rates of each campaign and channel per %s, with intervals, are in the JSON and CSV.</p>\n", chartActions, e(string(r.Period)), e(string(r.Period)), e(string(r.Period)))
		var rows []Row
		for _, s := range r.Series {
			if s.By == All {
				rows = append(rows, s)
			}
		}
		r.table(&b, rows, string(r.Period), true)
	}

	// breakdowns
	for _, seg := range r.Segments {
		var rows []Row
		for _, x := range r.Breakdowns {
			if x.Segment == seg {
				rows = append(rows, x)
			}
		}
		if len(rows) == 0 {
			continue
		}
		p("<h2 id=\"by-%s\">By %s</h2>\n", e(string(seg)), e(segTitle(seg)))
		r.table(&b, rows, string(seg), false)
	}

	// lift
	p("<h2 id=\"lift\">Lift</h2>\n")
	if l := r.Lift; l != nil && len(l.Rows) > 0 {
		var fr []forestRow
		for _, x := range l.Rows {
			fr = append(fr, forestRow{label: short(liftLabel(x, multiArm(l)), 32), est: x.Absolute.Estimate, lo: x.Absolute.Lo, hi: x.Absolute.Hi})
		}
		forestSVG(&b, "Difference in conversion rate against "+l.Baseline, fr, func(v float64) string { return h.SignedPct(v) }, 0, 1)
		arms := map[string]bool{}
		for _, x := range l.Rows {
			arms[x.Arm] = true
		}
		p("<table>\n<tr><th>group</th><th>customers, arm / '%s'</th><th>converted</th><th>'%s'</th><th>difference (points)</th><th>relative</th><th>revenue per customer</th><th>difference</th></tr>\n", e(l.Baseline), e(l.Baseline))
		for _, x := range l.Rows {
			rel := "—"
			if !strings.HasPrefix(x.Relative.Method, "undefined") {
				rel = fmt.Sprintf("%s <span class=\"ci\">%s to %s</span>", h.SignedPct(x.Relative.Estimate), h.SignedPct(x.Relative.Lo), h.SignedPct(x.Relative.Hi))
			}
			p("<tr><td>%s</td><td>%s / %s</td><td>%s <span class=\"ci\">%s–%s</span></td><td>%s</td><td>%s <span class=\"ci\">%s to %s</span></td><td>%s</td><td>%s <span class=\"ci\">vs %s</span></td><td>%s <span class=\"ci\">%s to %s</span></td></tr>\n",
				e(liftLabel(x, len(arms) > 1)), h.Count(x.Treated.Customers), h.Count(x.Baseline.Customers),
				h.Pct(x.Treated.ConversionRate.Estimate), h.Pct(x.Treated.ConversionRate.Lo), h.Pct(x.Treated.ConversionRate.Hi),
				h.Pct(x.Baseline.ConversionRate.Estimate),
				points(x.Absolute.Estimate), points(x.Absolute.Lo), points(x.Absolute.Hi), rel,
				h.Num(x.Treated.RevenuePerCustomer), h.Num(x.Baseline.RevenuePerCustomer),
				signedNum(x.RevenueDifference.Estimate), signedNum(x.RevenueDifference.Lo), signedNum(x.RevenueDifference.Hi))
		}
		p("</table>\n<p class=\"note\">Customers are the units (they were randomised). A customer converts when they have a conversion (a converting outcome or a purchase event) from their first decision in the experiment to %s after their last. By channel: customers with a decision there; by action: customers for whom the action was eligible, shown or not. %s intervals: Newcombe for the difference, the delta method for the relative lift, Welch for revenue.", e(h.Days(l.WindowDays)), lvl)
		if l.Conflicts > 0 {
			p(" %s customers were logged in two arms; their decisions after the first arm are left out.", h.Count(l.Conflicts))
		}
		p("</p>\n")
	} else {
		p("<p>%s</p>\n", e(liftLine(r)))
	}

	p("<h2>Method</h2>\n<ul>\n")
	p("<li><b>Impressions.</b> A returned action of a logged decision. Clicks and conversions are impressions with a joined outcome of a click type (a positive reward) or a converting one (the outcome types' declaration), within the service's attribution window; revenue sums the joined rewards of the revenue types.</li>\n")
	p("<li><b>Intervals.</b> %s, %s: each customer's impressions are one cluster, the rate is Σ conversions / Σ impressions with the delta-method variance Σ(Y<sub>c</sub> − p·N<sub>c</sub>)² / (K(K−1)·N̄²), and the Wilson score interval is taken on the effective count n<sub>eff</sub> = p(1−p)/SE² (at most the impressions), as the experiment report does. A customer who sees a campaign ten times does not count as ten independent trials.</li>\n", e(r.Interval), lvl)
	p("<li><b>Not causal.</b> Campaigns are shown to different customers at different moments; their rates describe, they do not compare. Only the lift compares randomised groups.</li>\n</ul>\n")
	h.Foot(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// points formats a difference of two rates in percentage points: "+3.9".
func points(v float64) string {
	s := strconv.FormatFloat(100*v, 'f', 1, 64)
	if v >= 0 {
		return "+" + s
	}
	return s
}

// liftLabel names a lift row: "all customers", "channel web", "action
// x", after the arm when withArm.
func liftLabel(x LiftRow, withArm bool) string {
	l := x.By + " " + x.Key
	if x.By == All {
		l = "all customers"
	}
	if withArm {
		l = x.Arm + ": " + l
	}
	return l
}

// multiArm reports whether l compares more than one arm with the
// baseline.
func multiArm(l *Lift) bool {
	for _, x := range l.Rows {
		if x.Arm != l.Rows[0].Arm {
			return true
		}
	}
	return false
}

// levelText is a confidence level as people write it: "95%".
func levelText(v float64) string { return strconv.FormatFloat(100*v, 'g', 4, 64) + "%" }

func orNone(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}

func segTitle(s Segment) string {
	switch s {
	case ByStage:
		return "journey stage at the decision"
	case ByArm:
		return "experiment arm"
	}
	return string(s)
}

func signedNum(v float64) string {
	if v >= 0 {
		return "+" + h.Num(v)
	}
	return h.Num(v)
}

// table writes rows as a table whose first column is what.
func (r *Report) table(b *strings.Builder, rows []Row, what string, decisions bool) {
	e := h.E
	clicks := len(r.ClickTypes) > 0
	fmt.Fprintf(b, "<table>\n<tr><th>%s</th>", e(what))
	if decisions {
		b.WriteString("<th>decisions</th><th>with an action</th>")
	}
	b.WriteString("<th>impressions</th><th>customers</th>")
	if r.ActivationsRecorded {
		b.WriteString("<th>activations</th>")
	}
	if clicks {
		b.WriteString("<th>clicks</th><th>click rate</th>")
	}
	b.WriteString("<th>conversions</th><th>conversion rate</th><th>revenue</th><th>per impression</th></tr>\n")
	for _, x := range rows {
		label := x.Key
		switch {
		case x.Period != "" && x.By == All:
			label = x.Period
		case x.Period != "":
			label = x.Period + " · " + x.Key
		case x.Segment != "":
			label = x.Key + " · " + x.Value
		}
		fmt.Fprintf(b, "<tr><td>%s</td>", e(label))
		if decisions {
			fmt.Fprintf(b, "<td>%s</td><td>%s</td>", h.Count(x.Decisions), h.Pct(x.FillRate()))
		}
		fmt.Fprintf(b, "<td>%s</td><td>%s</td>", h.Count(x.Impressions), h.Count(x.Customers))
		if r.ActivationsRecorded {
			a := "—"
			if x.Activations != nil {
				a = h.Count(*x.Activations)
			}
			fmt.Fprintf(b, "<td>%s</td>", a)
		}
		if clicks {
			fmt.Fprintf(b, "<td>%s</td><td>%s</td>", h.Count(x.Clicks), rateCell(x.ClickRate, x.Impressions))
		}
		fmt.Fprintf(b, "<td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", h.Count(x.Conversions), rateCell(x.ConversionRate, x.Impressions), h.Num(x.Revenue), h.Num(x.RevenuePerImpression))
	}
	b.WriteString("</table>\n")
}

func rateCell(x Rate, n int) string {
	if n == 0 {
		return "—"
	}
	return fmt.Sprintf("%s <span class=\"ci\">%s–%s</span>", h.Pct(x.Estimate), h.Pct(x.Lo), h.Pct(x.Hi))
}

// series returns the values of the rows by/key per period (NaN for a
// period without the row or without impressions).
func (r *Report) series(by, key string, periods []string, f func(Row) float64) lineSeries {
	s := lineSeries{name: key, y: make([]float64, len(periods))}
	at := map[string]int{}
	for i, p := range periods {
		at[p] = i
		s.y[i] = math.NaN()
	}
	for _, x := range r.Series {
		if x.By == by && x.Key == key && x.Impressions > 0 {
			s.y[at[x.Period]] = f(x)
		}
	}
	return s
}

type lineSeries struct {
	name string
	y    []float64
}

// lineSVG draws series over the x labels, the y axis from 0 to the
// largest value.
func lineSVG(b *strings.Builder, title string, x []string, series []lineSeries, yf func(float64) string) {
	const W, H, L, R, T, B = 900, 300, 70, 160, 30, 40
	hi := 0.0
	for _, s := range series {
		for _, y := range s.y {
			if !math.IsNaN(y) {
				hi = max(hi, y)
			}
		}
	}
	if hi == 0 {
		hi = 1
	}
	hi *= 1.05
	pw, ph := float64(W-L-R), float64(H-T-B)
	xp := func(i int) float64 {
		if len(x) == 1 {
			return L + pw/2
		}
		return L + pw*float64(i)/float64(len(x)-1)
	}
	yp := func(v float64) float64 { return T + ph*(1-v/hi) }
	fmt.Fprintf(b, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"%s\">\n", W, H, W, H, h.E(title))
	fmt.Fprintf(b, "<text x=\"%d\" y=\"16\" font-size=\"13\" font-weight=\"bold\">%s</text>\n", L, h.E(title))
	for k := 0; k <= 4; k++ {
		v := hi * float64(k) / 4
		fmt.Fprintf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/><text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" fill=\"#555\">%s</text>\n",
			L, W-R, yp(v), yp(v), L-6, yp(v)+4, h.E(yf(v)))
	}
	every := max(1, len(x)/8)
	for i, lbl := range x {
		if i%every == 0 || i == len(x)-1 {
			fmt.Fprintf(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">%s</text>\n", xp(i), H-B+16, h.E(lbl))
		}
	}
	for si, s := range series {
		col := h.Palette[si%len(h.Palette)]
		var d strings.Builder
		pen := false
		for i, y := range s.y {
			if math.IsNaN(y) {
				pen = false
				continue
			}
			if pen {
				fmt.Fprintf(&d, "L%.1f %.1f", xp(i), yp(y))
			} else {
				fmt.Fprintf(&d, "M%.1f %.1f", xp(i), yp(y))
				pen = true
			}
			fmt.Fprintf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"><title>%s %s: %s</title></circle>", xp(i), yp(y), col, h.E(s.name), h.E(x[i]), h.E(yf(y)))
		}
		if d.Len() > 0 {
			fmt.Fprintf(b, "<path d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>\n", d.String(), col)
		}
		fmt.Fprintf(b, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>\n",
			W-R+12, T+si*18, col, W-R+30, T+si*18+11, h.E(short(s.name, 20)))
	}
	b.WriteString("</svg>\n")
}

type forestRow struct {
	label       string
	est, lo, hi float64
}

// forestSVG draws one row per estimate: a dot and its interval, with a
// reference line at ref (drawn when drawRef is 1, or when ref > 0).
func forestSVG(b *strings.Builder, title string, rows []forestRow, xf func(float64) string, ref float64, drawRef int) {
	if len(rows) == 0 {
		return
	}
	const W, L, R, T, rowH = 900, 240, 40, 34, 22
	H := T + len(rows)*rowH + 30
	lo, hi := math.Min(0, ref), ref
	for _, x := range rows {
		lo, hi = math.Min(lo, x.lo), math.Max(hi, x.hi)
	}
	if hi == lo {
		hi = lo + 0.01
	}
	pad := 0.04 * (hi - lo)
	if lo < 0 {
		lo -= pad
	}
	hi += pad
	pw := float64(W - L - R)
	xp := func(v float64) float64 { return L + pw*(v-lo)/(hi-lo) }
	fmt.Fprintf(b, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"%s\">\n", W, H, W, H, h.E(title))
	fmt.Fprintf(b, "<text x=\"%d\" y=\"16\" font-size=\"13\" font-weight=\"bold\">%s</text>\n", L, h.E(title))
	step := niceStep((hi - lo) / 5)
	for v := math.Ceil(lo/step) * step; v <= hi+1e-12; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		fmt.Fprintf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#e4e4e4\"/><text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">%s</text>\n",
			xp(v), xp(v), T-6, H-24, xp(v), H-8, h.E(xf(v)))
	}
	if drawRef == 1 || ref > 0 {
		fmt.Fprintf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#D55E00\" stroke-dasharray=\"4 3\"/>\n", xp(ref), xp(ref), T-6, H-24)
	}
	for i, x := range rows {
		y := T + i*rowH + rowH/2
		fmt.Fprintf(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"end\">%s</text>", L-8, y+4, h.E(x.label))
		fmt.Fprintf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#0072B2\" stroke-width=\"2\"/>", xp(x.lo), xp(x.hi), y, y)
		fmt.Fprintf(b, "<circle cx=\"%.1f\" cy=\"%d\" r=\"4\" fill=\"#0072B2\"><title>%s: %s (%s to %s)</title></circle>\n", xp(x.est), y, h.E(x.label), h.E(xf(x.est)), h.E(xf(x.lo)), h.E(xf(x.hi)))
	}
	b.WriteString("</svg>\n")
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if !(v > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// short cuts s to n runes with an ellipsis.
func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
