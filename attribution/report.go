package attribution

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"

	"nextbest/internal/numfmt"
)

// Report is what nextbest report attribution writes: where the journeys
// came from, what was read, and every model's credits.
type Report struct {
	// Source names the data on the page (a journal directory).
	Source string     `json:"source,omitempty"`
	Stats  BuildStats `json:"stats"`
	*Result
}

// Headline returns the report's opening lines in plain words: which key
// the data-driven model credits most, how last touch differs, and how
// many conversions were credited at all.
func (r *Report) Headline() []string {
	mk, lt := r.Model(Markov), r.Model(LastTouch)
	what := string(r.By)
	top := mk.Credits[0]
	lines := []string{fmt.Sprintf("Most conversions by the data-driven model: %s %s drives %s of the %s conversions with a touch (%s conversions, %s revenue), by its Markov removal effect.",
		what, top.Key, pct(top.Share), count(r.Attributed), num(top.Conversions), num(top.Revenue))}

	// last touch's leader, and the largest differences
	ltTop := lt.Credits[0]
	for _, c := range lt.Credits[1:] {
		if c.Conversions > ltTop.Conversions {
			ltTop = c
		}
	}
	var diffs []string
	type d struct {
		key   string
		delta float64
	}
	var ds []d
	for i, c := range mk.Credits {
		ds = append(ds, d{c.Key, c.Share - lt.Credits[i].Share})
	}
	for range min(2, len(ds)) {
		bi := 0
		for i := range ds {
			if math.Abs(ds[i].delta) > math.Abs(ds[bi].delta) {
				bi = i
			}
		}
		if math.Abs(ds[bi].delta) < 0.005 {
			break
		}
		var lts float64
		for _, c := range lt.Credits {
			if c.Key == ds[bi].key {
				lts = c.Share
			}
		}
		diffs = append(diffs, fmt.Sprintf("%s %s by Markov against %s by last touch", ds[bi].key, pct(lts+ds[bi].delta), pct(lts)))
		ds[bi].delta = 0
	}
	same := "the same " + what
	if ltTop.Key != top.Key {
		same = fmt.Sprintf("%s %s instead (%s)", what, ltTop.Key, pct(ltTop.Share))
	} else {
		same += fmt.Sprintf(" (%s)", pct(ltTop.Share))
	}
	l := "Against last touch: last touch credits " + same + " most."
	if len(diffs) > 0 {
		l += " The largest differences: " + strings.Join(diffs, "; ") + "."
	} else {
		l += " The two agree within half a point on every " + what + "."
	}
	lines = append(lines, l)

	l = fmt.Sprintf("Coverage: %s conversions (%s revenue) from %s journeys; %s had a touch in the %s days before them and are credited",
		count(r.Conversions), num(r.Revenue), count(r.Journeys), count(r.Attributed), num(r.LookbackDays))
	if n := r.Conversions - r.Attributed; n > 0 {
		l += fmt.Sprintf(", %s had none and are not", count(n))
	}
	lines = append(lines, l+".")
	return lines
}

// csvHeader is the CSV's header.
var csvHeader = []string{"by", "model", "key", "conversions", "revenue", "share"}

// WriteCSV writes one row per model and key: by, model, key,
// conversions, revenue, share. Numbers have the fewest digits that read
// back to the same float64.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(csvHeader)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, m := range r.Models {
		for _, c := range m.Credits {
			cw.Write([]string{string(r.By), string(m.Model), c.Key, f(c.Conversions), f(c.Revenue), f(c.Share)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the whole report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// chartKeys is how many keys the chart shows (the table shows all).
const chartKeys = 12

// WriteHTML writes the report as one self-contained page: the headline
// in plain words, the chart of every model's share per key (inline SVG),
// the table of credits, the Markov chain's figures and the method. It
// loads no script, font, style sheet or image.
func (r *Report) WriteHTML(w io.Writer) error {
	var b strings.Builder
	e := html.EscapeString
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	title := "Attribution by " + string(r.By)
	p("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	p("<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n<h1>%s</h1>\n", e(title), reportCSS, e(title))
	p("<section class=\"verdict\" id=\"headline\">\n<ul>\n")
	for _, l := range r.Headline() {
		head, rest, _ := strings.Cut(l, ": ")
		p("<li><b>%s:</b> %s</li>\n", e(head), e(rest))
	}
	p("</ul>\n</section>\n")
	p("<p class=\"meta\">Data: %s. %s journeys, %s touches, %s paths (%s did not convert). Lookback %s days; time-decay half-life %s days.",
		e(cmp.Or(r.Source, "journeys")), count(r.Journeys), count(r.Touches), count(r.Paths), count(r.NonConvertingPaths), num(r.LookbackDays), num(r.HalfLifeDays))
	if s := r.Stats; s.Records > 0 {
		p(" Journal: %s records, %s decisions that showed actions, %s converting outcomes, %s conversion events (%s merged with an outcome), %s duplicate outcomes and %s records skipped.",
			count(s.Records), count(s.Touches), count(s.OutcomeConversions), count(s.EventConversions), count(s.Merged), count(s.Duplicate), count(s.Skipped))
	}
	p("</p>\n")

	p("<h2>Share of conversions per %s and model</h2>\n", e(string(r.By)))
	barsSVG(&b, r, min(chartKeys, len(r.Keys)))
	if len(r.Keys) > chartKeys {
		p("<p class=\"note\">The chart shows the %d %ss the Markov model credits most; the table has all %d.</p>\n", chartKeys, e(string(r.By)), len(r.Keys))
	}

	p("<h2>Credits</h2>\n<table>\n<tr><th>%s</th>", e(string(r.By)))
	for _, m := range r.Models {
		p("<th>%s</th>", e(m.Model.Title()))
	}
	p("</tr>\n")
	for i, k := range r.Keys {
		p("<tr><td>%s</td>", e(k))
		for _, m := range r.Models {
			c := m.Credits[i]
			p("<td>%s <span class=\"ci\">%s · %s</span></td>", pct(c.Share), num(c.Conversions), num(c.Revenue))
		}
		p("</tr>\n")
	}
	p("</table>\n<p class=\"note\">Each cell: the share of the %s conversions with a touch, then the conversions and the revenue credited.</p>\n", count(r.Attributed))

	p("<h2>The Markov chain</h2>\n<p>%s paths; P(conversion | start) = %.4f.</p>\n<table>\n<tr><th>%s</th><th>removal effect</th><th>P(conversion) without it</th></tr>\n",
		count(r.Markov.Paths), r.Markov.Conversion, e(string(r.By)))
	for _, k := range r.Keys {
		re := r.Markov.Removal[k]
		p("<tr><td>%s</td><td>%.4f</td><td>%.4f</td></tr>\n", e(k), re, r.Markov.Conversion*(1-re))
	}
	p("</table>\n")

	p("<h2>Method</h2>\n<ul>\n")
	p("<li><b>Paths.</b> A touch is a decision that showed actions. Each conversion (a converting outcome or a purchase event) is credited to the customer's touches since the previous conversion and at most %s days before it; touches no conversion claims form paths that did not convert.</li>\n", num(r.LookbackDays))
	p("<li><b>Rules.</b> Last and first touch give the conversion to one touch; linear shares it equally; time decay weighs a touch 2<sup>−age/%s days</sup>; position-based gives 40%% to the first and the last touch and 20%% to those between. By action, a touch's credit is split among the actions it showed. Revenue follows the conversions.</li>\n", num(r.HalfLifeDays))
	p("<li><b>Markov.</b> A first-order chain over start, the %ss, conversion and null, counted from every path, the ones that did not convert included. A %s's removal effect is the share of P(conversion) lost when it leads to null; the attributed conversions and revenue are shared in proportion. The chain is solved exactly (a linear system), not simulated.</li>\n", e(string(r.By)), e(string(r.By)))
	p("<li><b>Not incrementality.</b> Every model here shares conversions out by where touches sit on paths; none knows what would have happened without a touch. A channel on most paths, or one triggered by a decision already made, gets credit it did not earn. Measure incrementality with a holdout experiment. See docs/attribution.md.</li>\n</ul>\n")
	p("</body>\n</html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

const reportCSS = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.3em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.verdict{border-left:6px solid #2a9d5c;background:#eef8f1;padding:.6em 1em;margin:1em 0}
.meta,.note{color:#555;font-size:.92em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}.ci{color:#777;font-size:.85em}`

// palette holds the models' colours (colour-blind safe, Okabe & Ito
// 2008); Markov, the last model, is drawn in black.
var palette = []string{"#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#000000"}

// barsSVG draws, for each of the first n keys, one horizontal bar per
// model: its share of the attributed conversions.
func barsSVG(b *strings.Builder, r *Report, n int) {
	const W, L, R, T, barH, gap = 900, 170, 60, 52, 9, 12
	models := len(r.Models)
	groupH := barH*models + gap
	H := T + groupH*n + 30
	hi := 0.0
	for _, m := range r.Models {
		for _, c := range m.Credits[:n] {
			hi = max(hi, c.Share)
		}
	}
	hi = math.Min(1, math.Ceil(max(hi, 0.05)*10)/10)
	pw := float64(W - L - R)
	xp := func(v float64) float64 { return L + pw*v/hi }
	title := "Share of conversions by " + string(r.By)
	fmt.Fprintf(b, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"%s\">\n", W, H, W, H, html.EscapeString(title))
	// legend
	x := 8
	for i, m := range r.Models {
		fmt.Fprintf(b, "<rect x=\"%d\" y=\"8\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"18\" font-size=\"12\">%s</text>",
			x, palette[i%len(palette)], x+16, html.EscapeString(m.Model.Title()))
		x += 24 + 7*len(m.Model.Title())
	}
	b.WriteString("\n")
	for k := 0; k <= 4; k++ {
		v := hi * float64(k) / 4
		fmt.Fprintf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#e4e4e4\"/><text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">%s</text>\n",
			xp(v), xp(v), T-6, H-24, xp(v), H-8, pct(v))
	}
	for i := range n {
		y0 := T + groupH*i
		fmt.Fprintf(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"end\">%s</text>\n", L-8, y0+barH*models/2+4, html.EscapeString(r.Keys[i]))
		for mi, m := range r.Models {
			c := m.Credits[i]
			y := y0 + barH*mi
			fmt.Fprintf(b, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>%s: %s</title></rect>",
				L, y, xp(c.Share)-L, barH-1, palette[mi%len(palette)], html.EscapeString(m.Model.Title()), pct(c.Share))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n", L, L, T-6, H-24)
	b.WriteString("</svg>\n")
}

func pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }

func count(n int) string { return numfmt.Group(strconv.Itoa(n)) }

// num formats a count or an amount: whole numbers as they are, others
// with two decimals.
func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return numfmt.Group(strconv.FormatFloat(v, 'f', 0, 64))
	}
	return numfmt.Group(strconv.FormatFloat(v, 'f', 2, 64))
}
