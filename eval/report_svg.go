package eval

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// The report's charts: inline SVG, drawn here, with no script, font or
// external reference.

var nan = math.NaN()

// palette holds the series colours (colour-blind safe, Okabe & Ito 2008).
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}

type lineSeries struct {
	Name string
	Y    []float64 // NaN: no point
}

type forestRow struct {
	Label       string
	Est, Lo, Hi float64
	Lo2, Hi2    float64 // outer interval, drawn thin, when Outer
	Outer       bool
	Color       string
}

// lineSVG draws series over the x labels with a y axis fitted to the data.
func lineSVG(b *strings.Builder, title string, x []string, series []lineSeries, yf func(float64) string) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, y := range s.Y {
			if !math.IsNaN(y) && !math.IsInf(y, 0) {
				lo, hi = min(lo, y), max(hi, y)
			}
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	if lo > 0 && lo < 0.5*hi {
		lo = 0
	}
	if hi == lo {
		hi = lo + 1
	}
	pad := 0.05 * (hi - lo)
	lineSVGRange(b, title, x, series, yf, lo-pad*boolf(lo != 0), hi+pad, nan)
}

func boolf(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

// lineSVGRange draws series with the y axis [ylo, yhi] and, when ref is
// not NaN, a dashed horizontal line at ref.
func lineSVGRange(b *strings.Builder, title string, x []string, series []lineSeries, yf func(float64) string, ylo, yhi, ref float64) {
	const W, H, L, R, T, B = 760, 280, 80, 150, 28, 44
	pw, ph := float64(W-L-R), float64(H-T-B)
	n := len(x)
	xp := func(i int) float64 {
		if n <= 1 {
			return L + pw/2
		}
		return L + pw*float64(i)/float64(n-1)
	}
	yp := func(y float64) float64 { return T + ph*(1-(y-ylo)/(yhi-ylo)) }
	fmt.Fprintf(b, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"%s\">\n", W, H, W, H, html.EscapeString(title))
	fmt.Fprintf(b, "<text x=\"%d\" y=\"18\" font-size=\"14\" font-weight=\"600\">%s</text>\n", L, html.EscapeString(title))
	// axes and grid
	for k := 0; k <= 4; k++ {
		y := ylo + (yhi-ylo)*float64(k)/4
		fmt.Fprintf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>", L, W-R, yp(y), yp(y))
		fmt.Fprintf(b, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" fill=\"#555\">%s</text>\n", L-6, yp(y)+4, html.EscapeString(yf(y)))
	}
	step := max(1, (n+7)/8)
	for i := 0; i < n; i += step {
		fmt.Fprintf(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">%s</text>", xp(i), H-B+18, html.EscapeString(x[i]))
	}
	fmt.Fprintf(b, "\n<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n", L, W-R, H-B, H-B)
	if !math.IsNaN(ref) && ref >= ylo && ref <= yhi {
		fmt.Fprintf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#c0392b\" stroke-dasharray=\"5 4\"/>\n", L, W-R, yp(ref), yp(ref))
	}
	for si, s := range series {
		col := palette[si%len(palette)]
		var pts []string
		flush := func() {
			if len(pts) > 1 {
				fmt.Fprintf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>\n", col, strings.Join(pts, " "))
			}
			pts = pts[:0]
		}
		for i, y := range s.Y {
			if i >= n || math.IsNaN(y) || math.IsInf(y, 0) {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xp(i), yp(min(yhi, max(ylo, y)))))
			if n <= 40 {
				fmt.Fprintf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>", xp(i), yp(min(yhi, max(ylo, y))), col)
			}
		}
		flush()
		fmt.Fprintf(b, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>\n",
			W-R+14, T+18*si, col, W-R+32, T+18*si+10, html.EscapeString(s.Name))
	}
	b.WriteString("</svg>\n")
}

// forestSVG draws one row per estimate: a point, a thick bar for [Lo, Hi]
// and, for Outer rows, a thin line for [Lo2, Hi2]; a dashed vertical line
// at ref when drawRef.
func forestSVG(b *strings.Builder, title string, rows []forestRow, xf func(float64) string, ref float64, drawRef bool) {
	if len(rows) == 0 {
		return
	}
	const W, L, R, T, rowH = 760, 290, 30, 30, 26
	H := T + rowH*len(rows) + 34
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		for _, v := range []float64{r.Est, r.Lo, r.Hi} {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		if r.Outer {
			for _, v := range []float64{r.Lo2, r.Hi2} {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					lo, hi = min(lo, v), max(hi, v)
				}
			}
		}
	}
	if drawRef {
		lo, hi = min(lo, ref), max(hi, ref)
	}
	if math.IsInf(lo, 0) {
		lo, hi = -1, 1
	}
	if hi == lo {
		lo, hi = lo-1, hi+1
	}
	pad := 0.06 * (hi - lo)
	lo, hi = lo-pad, hi+pad
	pw := float64(W - L - R)
	xp := func(x float64) float64 { return L + pw*(min(hi, max(lo, x))-lo)/(hi-lo) }
	fmt.Fprintf(b, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"%s\">\n", W, H, W, H, html.EscapeString(title))
	fmt.Fprintf(b, "<text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"600\">%s</text>\n", html.EscapeString(title))
	for k := 0; k <= 4; k++ {
		x := lo + (hi-lo)*float64(k)/4
		fmt.Fprintf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#eee\"/>", xp(x), xp(x), T-4, H-30)
		fmt.Fprintf(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">%s</text>\n", xp(x), H-12, html.EscapeString(xf(x)))
	}
	if drawRef {
		fmt.Fprintf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#c0392b\" stroke-dasharray=\"5 4\"/>\n", xp(ref), xp(ref), T-4, H-30)
	}
	for i, r := range rows {
		y := float64(T + rowH*i + rowH/2)
		col := r.Color
		if col == "" {
			col = palette[0]
		}
		fmt.Fprintf(b, "<text x=\"%d\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\">%s</text>", L-10, y+4, html.EscapeString(r.Label))
		if r.Outer && !math.IsNaN(r.Lo2) && !math.IsNaN(r.Hi2) {
			fmt.Fprintf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.5\"/>", xp(r.Lo2), xp(r.Hi2), y, y, col)
			fmt.Fprintf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.5\"/>", xp(r.Lo2), xp(r.Lo2), y-5, y+5, col)
			fmt.Fprintf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.5\"/>", xp(r.Hi2), xp(r.Hi2), y-5, y+5, col)
		}
		if !math.IsNaN(r.Lo) && !math.IsNaN(r.Hi) {
			fmt.Fprintf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"6\" stroke-opacity=\"0.55\"/>", xp(r.Lo), xp(r.Hi), y, y, col)
		}
		fmt.Fprintf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\" fill=\"#333\">%s</text>\n",
			xp(r.Est), y, col, xp(r.Est), y-7, html.EscapeString(xf(r.Est)))
	}
	b.WriteString("</svg>\n")
}
