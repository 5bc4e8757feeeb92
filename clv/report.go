package clv

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"nextbest/internal/numfmt"
)

// ReportOptions says what a report values and how.
type ReportOptions struct {
	// Weeks is the horizon in weeks (52 when 0), StepWeeks its step
	// (monthly, 52/12, when 0) and AnnualDiscount the discount rate a
	// year (0 is no discounting). See AnnualHorizon.
	Weeks, StepWeeks, AnnualDiscount float64
	// Top is how many customers the page lists (20 when 0).
	Top int
	// Source names the data on the page (a file or journal path).
	Source string
	// Files names the per-customer files written beside the page, for
	// the page to link to; relative paths.
	Files []string
}

// CustomerValue is one customer's row of a report: the history and what
// the models expect of it, as of the end of the calibration period.
type CustomerValue struct {
	Customer
	Prediction
	// HoldoutExpected is E[Y(holdout length) | history]: the purchases the
	// model expected in the holdout period, to compare with HoldoutX; 0
	// without a holdout.
	HoldoutExpected float64 `json:"holdout_expected"`
}

// GroupCheck compares actual and expected holdout purchases of the
// customers with the same calibration x (FHL 2005, Fig. 5).
type GroupCheck struct {
	X         string  `json:"x"` // "0" … "6", "7+"
	Customers int     `json:"customers"`
	Actual    float64 `json:"actual_mean"`
	Expected  float64 `json:"expected_mean"`
}

// Report is everything the CLV report shows: the fits, the headline
// figures, the tracking and holdout checks and every customer's value.
type Report struct {
	Source         string         `json:"source,omitempty"`
	Start          Date           `json:"start"`
	End            Date           `json:"end"`
	HoldoutEnd     Date           `json:"holdout_end,omitempty"`
	UnitDays       float64        `json:"unit_days"`
	Late           int            `json:"late_customers"`
	BGNBD          *BGNBDFit      `json:"bgnbd"`
	GammaGamma     *GammaGammaFit `json:"gamma_gamma"`
	Horizon        Horizon        `json:"horizon"`
	AnnualDiscount float64        `json:"annual_discount"`

	Customers    int     `json:"customers"`
	RepeatBuyers int     `json:"repeat_buyers"`
	TotalCLV     float64 `json:"total_clv"`
	MeanPAlive   float64 `json:"mean_p_alive"`
	// LikelyAlive counts customers with P(alive) ≥ 0.5, all and among
	// the repeat buyers (x > 0).
	LikelyAlive       int `json:"likely_alive"`
	LikelyAliveRepeat int `json:"likely_alive_repeat_buyers"`
	// TopDecileShare is the share of TotalCLV held by the most valuable
	// tenth of the customers.
	TopDecileShare float64 `json:"top_decile_share"`
	// SpendFrequencyCorr is the correlation of mean spend with x among
	// repeat buyers: Gamma-Gamma assumes none.
	SpendFrequencyCorr float64 `json:"spend_frequency_correlation"`

	// Actual and Expected are the cumulative repeat purchases of the
	// cohort at the end of each week (period) from Start.
	Actual   []float64 `json:"actual_cumulative"`
	Expected []float64 `json:"expected_cumulative"`
	// CalibrationPeriods is how many periods of Actual are calibration.
	CalibrationPeriods int `json:"calibration_periods"`
	// HoldoutActual and HoldoutExpected total the repeat purchases in the
	// holdout period, made and expected (Σ E[Y(t) | history]).
	HoldoutActual   float64      `json:"holdout_actual,omitempty"`
	HoldoutExpected float64      `json:"holdout_expected,omitempty"`
	ByX             []GroupCheck `json:"holdout_by_x,omitempty"`
	// HoldoutCorr is the correlation, over customers, of the expected
	// and the actual holdout purchases.
	HoldoutCorr float64 `json:"holdout_correlation,omitempty"`

	Values []CustomerValue `json:"values"` // by CLV, highest first
	top    int
	files  []string
}

// BuildReport values every customer of s with the fitted models over the
// options' horizon and gathers the checks: the cohort's cumulative repeat
// purchases, actual against expected, and, with a holdout, each x group's
// holdout purchases against the conditional expectation.
func BuildReport(s *Summary, bg *BGNBDFit, gg *GammaGammaFit, opt ReportOptions) (*Report, error) {
	// the horizon in weeks, then in the model's unit
	hz := AnnualHorizon(cmp.Or(opt.Weeks, 52), cmp.Or(opt.StepWeeks, 52.0/12), opt.AnnualDiscount)
	hz.Length, hz.Step = hz.Length*7/s.UnitDays, hz.Step*7/s.UnitDays
	m := Model{BGNBD: bg.Params, Spend: gg.Params}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := hz.Validate(); err != nil {
		return nil, err
	}
	r := &Report{
		Source: opt.Source, Start: s.Start, End: s.End, HoldoutEnd: s.HoldoutEnd, UnitDays: s.UnitDays, Late: s.Late,
		BGNBD: bg, GammaGamma: gg, Horizon: hz, AnnualDiscount: opt.AnnualDiscount,
		Customers: len(s.Customers), top: cmp.Or(opt.Top, 20), files: opt.Files,
	}
	hl := s.HoldoutLength()
	var groups [8]GroupCheck
	var sx, sz, sxx, szz, sxz float64
	var ha, he, haa, hee, hae float64
	for _, c := range s.Customers {
		p, err := Predict(m, c.History, hz)
		if err != nil {
			return nil, err
		}
		v := CustomerValue{Customer: c, Prediction: p}
		if hl > 0 {
			v.HoldoutExpected = bg.Params.ConditionalExpectedPurchases(hl, c.History)
			g := &groups[min(c.X, 7)]
			g.Customers++
			g.Actual += float64(c.HoldoutX)
			g.Expected += v.HoldoutExpected
			r.HoldoutActual += float64(c.HoldoutX)
			r.HoldoutExpected += v.HoldoutExpected
			a, e := float64(c.HoldoutX), v.HoldoutExpected
			ha, he, haa, hee, hae = ha+a, he+e, haa+a*a, hee+e*e, hae+a*e
		}
		r.Values = append(r.Values, v)
		r.TotalCLV += p.CLV
		r.MeanPAlive += p.PAlive / float64(len(s.Customers))
		if p.PAlive >= 0.5 {
			r.LikelyAlive++
			if c.X > 0 {
				r.LikelyAliveRepeat++
			}
		}
		if c.X > 0 {
			r.RepeatBuyers++
			x, z := float64(c.X), c.MeanSpend
			sx, sz, sxx, szz, sxz = sx+x, sz+z, sxx+x*x, szz+z*z, sxz+x*z
		}
	}
	r.SpendFrequencyCorr = corr(float64(r.RepeatBuyers), sx, sz, sxx, szz, sxz)
	if hl > 0 {
		r.HoldoutCorr = corr(float64(len(s.Customers)), ha, he, haa, hee, hae)
	}
	slices.SortStableFunc(r.Values, func(a, b CustomerValue) int {
		if c := cmp.Compare(b.CLV, a.CLV); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if r.TotalCLV > 0 {
		k := max(1, len(r.Values)/10)
		for _, v := range r.Values[:k] {
			r.TopDecileShare += v.CLV / r.TotalCLV
		}
	}
	if hl > 0 {
		for k := range groups {
			g := groups[k]
			if g.Customers == 0 {
				continue
			}
			label := strconv.Itoa(k)
			if k == 7 {
				label = "7+"
			}
			r.ByX = append(r.ByX, GroupCheck{X: label, Customers: g.Customers, Actual: g.Actual / float64(g.Customers), Expected: g.Expected / float64(g.Customers)})
		}
	}
	periods := len(s.Repeats)
	r.CalibrationPeriods = s.Periods(s.End)
	r.Expected = ExpectedRepeats(bg.Params, s, periods)
	cum := 0
	for _, n := range s.Repeats {
		cum += n
		r.Actual = append(r.Actual, float64(cum))
	}
	return r, nil
}

// corr returns the correlation from the sums of n pairs (x, y); 0 when
// undefined.
func corr(n, sx, sy, sxx, syy, sxy float64) float64 {
	if n < 2 {
		return 0
	}
	v := (sxx/n - sx*sx/n/n) * (syy/n - sy*sy/n/n)
	if !(v > 0) {
		return 0
	}
	return (sxy/n - sx/n*sy/n) / math.Sqrt(v)
}

// Headline returns the report's opening lines in plain words: the value
// of the customer base, how many are likely still active, who the top
// customers are and, with a holdout, how well the model forecast it.
func (r *Report) Headline() []string {
	n := r.Customers
	lines := []string{
		fmt.Sprintf("Expected value of the customer base: %s over the next %s weeks from %s (%s customers, %s each on average; discounted at %g%% a year).",
			money(r.TotalCLV), num(r.Horizon.Length*r.UnitDays/7), r.End, count(n), money(r.TotalCLV/float64(n)), 100*r.AnnualDiscount),
		fmt.Sprintf("Likely still active: %s of %s customers (%s) have P(alive) ≥ 0.5; among the %s who bought again, %s (%s). One-time buyers always count as active in this model (it lets customers drop out only after a repeat purchase); their low expected purchases carry that doubt.",
			count(r.LikelyAlive), count(n), pct(float64(r.LikelyAlive)/float64(n)), count(r.RepeatBuyers), count(r.LikelyAliveRepeat), pct(float64(r.LikelyAliveRepeat)/float64(max(1, r.RepeatBuyers)))),
	}
	var tops []string
	for _, v := range r.Values[:min(3, len(r.Values))] {
		tops = append(tops, fmt.Sprintf("%s (%s, P(alive) %.2f)", v.ID, money(v.CLV), v.PAlive))
	}
	lines = append(lines, fmt.Sprintf("Top customers: the most valuable tenth hold %s of the expected value; the top three are %s.", pct(r.TopDecileShare), strings.Join(tops, ", ")))
	if r.HoldoutEnd != 0 && r.HoldoutActual > 0 {
		lines = append(lines, fmt.Sprintf("Holdout check: from %s to %s the model expected %s repeat purchases from these customers; they made %s (%+.1f%%).",
			r.End+1, r.HoldoutEnd, num(r.HoldoutExpected), count(int(r.HoldoutActual)), 100*(r.HoldoutExpected/r.HoldoutActual-1)))
	}
	return lines
}

func money(v float64) string {
	if math.Abs(v) >= 100 {
		return numfmt.Group(strconv.FormatFloat(v, 'f', 0, 64))
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func count(n int) string { return numfmt.Group(strconv.Itoa(n)) }

func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return numfmt.Group(strconv.FormatFloat(v, 'f', 0, 64))
	}
	return numfmt.Group(strconv.FormatFloat(v, 'f', 1, 64))
}

func pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }

// customerHeader is the per-customer CSV's header.
var customerHeader = []string{"customer_id", "first", "x", "t_x", "T", "mean_spend", "p_alive", "expected_purchases", "expected_spend", "clv", "holdout_x", "holdout_expected"}

// WriteCustomersCSV writes one row per customer, highest CLV first:
// customer_id, first (purchase day), x, t_x, T, mean_spend, p_alive,
// expected_purchases, expected_spend, clv, holdout_x, holdout_expected.
// Numbers have the fewest digits that read back to the same float64.
func (r *Report) WriteCustomersCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(customerHeader)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, v := range r.Values {
		cw.Write([]string{v.ID, v.First.String(), strconv.Itoa(v.X), f(v.TX), f(v.T), f(v.MeanSpend),
			f(v.PAlive), f(v.ExpectedPurchases), f(v.ExpectedSpend), f(v.CLV), strconv.Itoa(v.HoldoutX), f(v.HoldoutExpected)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the whole report, every customer's value included, as
// indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteHTML writes the report as one self-contained page: the headline in
// plain words first, then the tracking chart (inline SVG), the holdout
// check, the top customers, the fitted parameters and the method. The page
// loads no script, font, style sheet or image from anywhere.
func (r *Report) WriteHTML(w io.Writer) error {
	var b strings.Builder
	e := html.EscapeString
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	p("<title>Customer lifetime value</title>\n<style>%s</style>\n</head>\n<body>\n<h1>Customer lifetime value</h1>\n", reportCSS)
	p("<section class=\"verdict\" id=\"headline\">\n<ul>\n")
	for _, l := range r.Headline() {
		head, rest, _ := strings.Cut(l, ": ")
		p("<li><b>%s:</b> %s</li>\n", e(head), e(rest))
	}
	p("</ul>\n</section>\n")
	p("<p class=\"meta\">Data: %s. Calibration %s to %s", e(cmp.Or(r.Source, "transactions")), r.Start, r.End)
	if r.HoldoutEnd != 0 {
		p(", holdout to %s", r.HoldoutEnd)
	}
	p("; time unit %s days. %s customers (%s with a repeat purchase)", num(r.UnitDays), count(r.Customers), count(r.RepeatBuyers))
	if r.Late > 0 {
		p("; %s whose first purchase is after %s are left out", count(r.Late), r.End)
	}
	p(". Values are as of %s.", r.End)
	if len(r.files) > 0 {
		p(" Every customer's value: ")
		for i, f := range r.files {
			if i > 0 {
				p(", ")
			}
			p("<a href=\"%s\">%s</a>", e(f), e(f))
		}
		p(".")
	}
	p("</p>\n")

	// tracking chart
	p("<h2>Repeat purchases, actual and expected</h2>\n")
	x := make([]string, len(r.Actual))
	for i := range x {
		x[i] = strconv.Itoa(i + 1)
	}
	trackingSVG(&b, "Cumulative repeat purchases by week", x, []series{{"actual", r.Actual}, {"BG/NBD expected", r.Expected}}, r.CalibrationPeriods)
	p("<p class=\"note\">The cohort's repeat purchases (purchase days after each customer's first) summed week by week from %s, against the BG/NBD expectation Σ E[X(t − first purchase)] with the fitted parameters. The dashed line ends the calibration period: to its right the model forecasts data it was not fitted on.", r.Start)
	if n := len(r.Actual); n > 0 && r.Actual[n-1] > 0 {
		p(" At week %d: actual %s, expected %s (%+.1f%%).", n, num(r.Actual[n-1]), num(r.Expected[n-1]), 100*(r.Expected[n-1]/r.Actual[n-1]-1))
	}
	p("</p>\n")
	if len(r.ByX) > 0 {
		p("<h2>Holdout purchases by calibration frequency</h2>\n<table>\n<tr><th>repeat purchases in calibration (x)</th><th>customers</th><th>actual mean in holdout</th><th>expected mean E[Y | x, t<sub>x</sub>, T]</th></tr>\n")
		for _, g := range r.ByX {
			p("<tr><td>%s</td><td>%s</td><td>%.3f</td><td>%.3f</td></tr>\n", g.X, count(g.Customers), g.Actual, g.Expected)
		}
		p("<tr><th>all</th><th>%s</th><th>%s</th><th>%s</th></tr>\n</table>\n", count(r.Customers), num(r.HoldoutActual), num(r.HoldoutExpected))
		p("<p class=\"note\">Each customer's expected holdout purchases, given the calibration history, against what the customer bought (FHL 2005, Fig. 5). Correlation over customers: %.3f.</p>\n", r.HoldoutCorr)
	}

	// top customers
	p("<h2>Top %d customers</h2>\n<table>\n<tr><th>customer</th><th>first purchase</th><th>x</th><th>t<sub>x</sub></th><th>T</th><th>mean spend</th><th>P(alive)</th><th>expected purchases</th><th>expected spend</th><th>CLV</th></tr>\n", min(r.top, len(r.Values)))
	for _, v := range r.Values[:min(r.top, len(r.Values))] {
		p("<tr><td>%s</td><td>%s</td><td>%d</td><td>%.1f</td><td>%.1f</td><td>%.2f</td><td>%.3f</td><td>%.2f</td><td>%.2f</td><td>%s</td></tr>\n",
			e(v.ID), v.First, v.X, v.TX, v.T, v.MeanSpend, v.PAlive, v.ExpectedPurchases, v.ExpectedSpend, money(v.CLV))
	}
	p("</table>\n")

	// parameters
	p("<h2>Fitted models</h2>\n<table>\n<tr><th>model</th><th>parameter</th><th>estimate</th><th>standard error</th><th>95%% interval</th></tr>\n")
	row := func(model, name string, est, se float64) {
		p("<tr><td>%s</td><td>%s</td><td>%.4f</td><td>%.4f</td><td class=\"ci\">%.4f to %.4f</td></tr>\n", model, name, est, se, est-1.96*se, est+1.96*se)
	}
	bg, gg := r.BGNBD, r.GammaGamma
	row("BG/NBD", "r", bg.Params.R, bg.SE.R)
	row("BG/NBD", "α", bg.Params.Alpha, bg.SE.Alpha)
	row("BG/NBD", "a", bg.Params.A, bg.SE.A)
	row("BG/NBD", "b", bg.Params.B, bg.SE.B)
	row("Gamma-Gamma", "p", gg.Params.P, gg.SE.P)
	row("Gamma-Gamma", "q", gg.Params.Q, gg.SE.Q)
	row("Gamma-Gamma", "γ", gg.Params.Gamma, gg.SE.Gamma)
	p("</table>\n<p class=\"note\">BG/NBD log-likelihood %.2f on %s customers; Gamma-Gamma %.2f on %s repeat buyers. ", bg.LogLikelihood, count(bg.Customers), gg.LogLikelihood, count(gg.Customers))
	p("Mean purchase rate while active r/α = %.3f a week; mean drop-out probability after a purchase a/(a+b) = %.3f; population mean spend pγ/(q−1) = %.2f. ",
		bg.Params.R/bg.Params.Alpha*7/r.UnitDays, bg.Params.A/(bg.Params.A+bg.Params.B), gg.Params.MeanSpend())
	p("Gamma-Gamma assumes spend does not depend on frequency: the correlation of mean spend with x among repeat buyers is %.3f%s.</p>\n",
		r.SpendFrequencyCorr, map[bool]string{true: " (weak: the assumption is reasonable)", false: " (not weak: treat spend forecasts with care)"}[math.Abs(r.SpendFrequencyCorr) < 0.3])

	p("<h2>Method</h2>\n<ul>\n")
	p("<li><b>BG/NBD</b> (Fader, Hardie &amp; Lee 2005): while active a customer buys at a Poisson rate λ ~ Gamma(r, α); after each repeat purchase the customer leaves for good with probability p ~ Beta(a, b). P(alive) and E[Y(t) | x, t<sub>x</sub>, T] follow from a customer's number of repeat purchases x, the time of the last one t<sub>x</sub> and the customer's age T, all measured from the first purchase.</li>\n")
	p("<li><b>Gamma-Gamma</b> (Fader &amp; Hardie 2013): purchase amounts are Gamma(p, ν), ν ~ Gamma(q, γ); a customer's expected spend is a weighted mean of the population mean and the customer's own mean repeat spend, E[Z] = p(γ + x z̄)/(px + q − 1).</li>\n")
	p("<li><b>CLV</b> = Σ<sub>k</sub> (E[Y(t<sub>k</sub>)] − E[Y(t<sub>k−1</sub>)]) · E[Z] / (1 + d)<sup>k</sup> over steps of %s weeks up to %s weeks, d = %.5f a step (%g%% a year). It is revenue, not margin.</li>\n",
		num2(r.Horizon.Step*r.UnitDays/7), num(r.Horizon.Length*r.UnitDays/7), r.Horizon.Discount, 100*r.AnnualDiscount)
	p("<li>Both models are fitted by maximum likelihood; standard errors come from the inverse of the numerical Hessian of the log-likelihood. Several purchases on one day count as one. See docs/clv.md.</li>\n</ul>\n")
	p("</body>\n</html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func num2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

const reportCSS = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.3em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.verdict{border-left:6px solid #2a9d5c;background:#eef8f1;padding:.6em 1em;margin:1em 0}
.meta,.note{color:#555;font-size:.92em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}.ci{color:#777;font-size:.9em}`

type series struct {
	Name string
	Y    []float64
}

// trackingSVG draws the series over the x labels, y from 0, with a dashed
// vertical line after period split (the end of calibration) when
// 0 < split < len(x).
func trackingSVG(b *strings.Builder, title string, x []string, ss []series, split int) {
	const W, H, L, R, T, B = 760, 300, 70, 150, 28, 44
	colors := []string{"#0072B2", "#E69F00"}
	n := len(x)
	hi := 1.0
	for _, s := range ss {
		for _, y := range s.Y {
			if !math.IsNaN(y) && !math.IsInf(y, 0) {
				hi = max(hi, y)
			}
		}
	}
	// a round tick step (1, 2 or 5 × 10^k) with four or five ticks
	tick := math.Pow(10, math.Floor(math.Log10(hi/4)))
	for _, m := range []float64{1, 2, 5, 10} {
		if hi/(m*tick) <= 5 {
			tick *= m
			break
		}
	}
	hi = tick * math.Ceil(hi/tick)
	pw, ph := float64(W-L-R), float64(H-T-B)
	xp := func(i int) float64 {
		if n <= 1 {
			return L + pw/2
		}
		return L + pw*float64(i)/float64(n-1)
	}
	yp := func(y float64) float64 { return T + ph*(1-y/hi) }
	fmt.Fprintf(b, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"%s\">\n", W, H, W, H, html.EscapeString(title))
	fmt.Fprintf(b, "<text x=\"%d\" y=\"18\" font-size=\"14\" font-weight=\"600\">%s</text>\n", L, html.EscapeString(title))
	for y := 0.0; y <= hi+tick/2; y += tick {
		fmt.Fprintf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/><text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" fill=\"#555\">%s</text>\n",
			L, W-R, yp(y), yp(y), L-6, yp(y)+4, num(math.Round(y)))
	}
	step := max(1, (n+12)/13)
	for i := 0; i < n; i += step {
		fmt.Fprintf(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">%s</text>", xp(i), H-B+16, html.EscapeString(x[i]))
	}
	fmt.Fprintf(b, "\n<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">week</text>\n", L+pw/2, H-8)
	fmt.Fprintf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n", L, W-R, H-B, H-B)
	if split > 0 && split < n {
		sx := xp(split-1) + (xp(split)-xp(split-1))/2
		fmt.Fprintf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#c0392b\" stroke-dasharray=\"5 4\"/><text x=\"%.1f\" y=\"%d\" font-size=\"11\" fill=\"#c0392b\">holdout →</text>\n",
			sx, sx, T, H-B, sx+4, T+12)
	}
	for si, s := range ss {
		col := colors[si%len(colors)]
		var pts []string
		for i, y := range s.Y {
			if i < n && !math.IsNaN(y) && !math.IsInf(y, 0) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", xp(i), yp(y)))
			}
		}
		dash := ""
		if si > 0 {
			dash = " stroke-dasharray=\"7 3\""
		}
		fmt.Fprintf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"%s\"/>\n", col, dash, strings.Join(pts, " "))
		fmt.Fprintf(b, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>\n",
			W-R+14, T+18*si, col, W-R+32, T+18*si+10, html.EscapeString(s.Name))
	}
	b.WriteString("</svg>\n")
}
