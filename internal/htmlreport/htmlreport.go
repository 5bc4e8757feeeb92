// Package htmlreport holds the plumbing the journey and campaign reports
// share: the page's head and style sheet, the opening lines in plain
// words, number formatting for sentences and tables, and the colours of
// the charts. Pages written with it are one self-contained file: no
// script, font, style sheet or image is loaded from anywhere, and the
// only style is the one <style> element of the head (no style
// attributes), so a strict Content-Security-Policy can serve them.
//
// It is not a template engine or a chart library: each report draws its
// own charts as inline SVG.
package htmlreport

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"

	"nextbest/internal/numfmt"
)

// E escapes s for HTML text and attribute values.
func E(s string) string { return html.EscapeString(s) }

// Head writes the start of a page titled title, up to and including its
// <h1>.
func Head(b *strings.Builder, title string) {
	fmt.Fprintf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	fmt.Fprintf(b, "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n<h1>%s</h1>\n", E(title), CSS, E(title))
}

// Foot writes the end of a page.
func Foot(b *strings.Builder) { b.WriteString("</body>\n</html>\n") }

// Headline writes the opening lines, each "Head: rest" with its head in
// bold, as the verdict section the other reports open with.
func Headline(b *strings.Builder, lines []string) {
	b.WriteString("<section class=\"verdict\" id=\"headline\">\n<ul>\n")
	for _, l := range lines {
		head, rest, ok := strings.Cut(l, ": ")
		if !ok {
			fmt.Fprintf(b, "<li>%s</li>\n", E(l))
			continue
		}
		fmt.Fprintf(b, "<li><b>%s:</b> %s</li>\n", E(head), E(rest))
	}
	b.WriteString("</ul>\n</section>\n")
}

// CSS is the pages' one style sheet. Heat classes h0 (none) to h5
// (most) colour table cells by a share.
const CSS = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.3em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.verdict{border-left:6px solid #2a9d5c;background:#eef8f1;padding:.6em 1em;margin:1em 0}
.meta,.note{color:#555;font-size:.92em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}td{white-space:nowrap}td.l{white-space:normal}.ci{color:#777;font-size:.85em}.l{text-align:left}
.h0{background:#fff}.h1{background:#fdeee6}.h2{background:#fbd5c2}.h3{background:#f7b08f}.h4{background:#f08a5d;color:#fff}.h5{background:#d9542b;color:#fff}
.h4 .ci,.h5 .ci{color:#fde}
svg{max-width:100%;height:auto}`

// Heat returns the heat class of share v in [0, 1]: h0 for 0, then h1
// to h5 by fifths.
func Heat(v float64) string {
	if !(v > 0) {
		return "h0"
	}
	return "h" + strconv.Itoa(min(5, 1+int(v*5)))
}

// Palette holds series colours (colour-blind safe, Okabe & Ito 2008).
var Palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}

// Pct formats a share as a percentage with one decimal: 0.1234 is
// "12.3%".
func Pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }

// SignedPct is Pct with a sign: "+12.3%", "-4.0%".
func SignedPct(v float64) string {
	s := Pct(v)
	if v >= 0 {
		return "+" + s
	}
	return s
}

// Count formats n with thousands separators.
func Count(n int) string { return numfmt.Group(strconv.Itoa(n)) }

// Num formats an amount: whole numbers as they are, others with two
// decimals, with thousands separators.
func Num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return numfmt.Group(strconv.FormatFloat(v, 'f', 0, 64))
	}
	return numfmt.Group(strconv.FormatFloat(v, 'f', 2, 64))
}

// Days formats a duration in days for people: "3.2 days", "14 days",
// "1 day"; "5 hours" below a day, "12 minutes" below an hour.
func Days(d float64) string {
	unit := func(v float64, one, many string) string {
		s := strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0")
		if s == "1" {
			return s + " " + one
		}
		return s + " " + many
	}
	switch h := d * 24; {
	case d >= 1:
		return unit(d, "day", "days")
	case h >= 1:
		return unit(h, "hour", "hours")
	default:
		return unit(math.Round(h*60), "minute", "minutes")
	}
}

// F formats a number for CSV: the fewest digits that read back to the
// same float64.
func F(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
