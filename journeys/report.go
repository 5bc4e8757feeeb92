package journeys

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

	h "nextbest/internal/htmlreport"
)

// headline returns the report's opening lines in plain words: where
// customers stall, the largest touchpoint gap, the most frequent path,
// and how long customers stay where they stall.
func headline(r *Report) []string {
	var lines []string
	// where most customers stall: the stage (not the last) whose reachers
	// most often went no further
	stall := -1
	for i, f := range r.Funnel {
		if f.Final || f.Reached == 0 {
			continue
		}
		// the most stalled; on a tie, the stage more customers reached
		if stall < 0 || cmp.Or(cmp.Compare(f.Reached-f.WentOn, r.Funnel[stall].Reached-r.Funnel[stall].WentOn), cmp.Compare(f.Reached, r.Funnel[stall].Reached)) > 0 {
			stall = i
		}
	}
	if stall < 0 {
		lines = append(lines, fmt.Sprintf("Funnel: all %s customers are in the last stage, '%s'.", h.Count(r.Stats.Customers), r.Stages[len(r.Stages)-1]))
	} else {
		f := r.Funnel[stall]
		n := f.Reached - f.WentOn
		l := fmt.Sprintf("Most customers stall at '%s': %s of the %s who reach it never go further", f.Stage, h.Pct(float64(n)/float64(f.Reached)), h.Count(f.Reached))
		if f.DroppedOff > 0 {
			l += fmt.Sprintf("; %s whose last stage it is have been inactive for %s or more", h.Count(f.DroppedOff), h.Days(r.InactiveDays))
		}
		lines = append(lines, l+".")
	}

	// the largest gap: most visits that got no eligible action or no
	// decision at all
	var gap *GapCell
	for i := range r.Gaps.Cells {
		c := &r.Gaps.Cells[i]
		if c.Gap > 0 && (gap == nil || c.Gap > gap.Gap || (c.Gap == gap.Gap && c.GapShare > gap.GapShare)) {
			gap = c
		}
	}
	if gap == nil {
		lines = append(lines, "Touchpoint gaps: none. Every visit on every channel got a decision with an eligible action.")
	} else {
		var why []string
		if gap.NoneEligible > 0 {
			why = append(why, fmt.Sprintf("no action was eligible in %s", h.Count(gap.NoneEligible)))
		}
		if gap.NotAsked > 0 {
			why = append(why, fmt.Sprintf("no decision was asked in %s", h.Count(gap.NotAsked)))
		}
		lines = append(lines, fmt.Sprintf("Largest touchpoint gap: the %s channel has no action for %s of '%s'-stage visits (%s of %s): %s.",
			gap.Channel, h.Pct(gap.GapShare), gap.Stage, h.Count(gap.Gap), h.Count(gap.Visits), strings.Join(why, ", ")))
	}

	if len(r.Paths) > 0 {
		p := r.Paths[0]
		lines = append(lines, fmt.Sprintf("Most frequent path: %s — %s customers (%s); %s of them converted.",
			strings.Join(p.Steps, " → "), h.Count(p.Customers), h.Pct(p.Share), h.Count(p.Converted)))
	}

	if stall >= 0 {
		t := r.TimeInStage[stall]
		switch {
		case t.MedianDays != nil:
			l := fmt.Sprintf("Time in '%s': half of the stays end within %s", t.Stage, h.Days(*t.MedianDays))
			if t.Q1Days != nil && t.Q3Days != nil {
				l += fmt.Sprintf(" (quartiles %s and %s)", h.Days(*t.Q1Days), h.Days(*t.Q3Days))
			}
			lines = append(lines, l+fmt.Sprintf("; %s of %s stays are still open.", h.Count(t.Open), h.Count(t.Stays)))
		case t.Stays > 0:
			lines = append(lines, fmt.Sprintf("Time in '%s': more than half of the %s stays are still open, so the median stay is not known yet.", t.Stage, h.Count(t.Stays)))
		}
	}
	return lines
}

// WriteJSON writes the whole report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// CSVHeader is the header of the CSV: the report in long form, one
// number per row.
var CSVHeader = []string{"section", "row", "column", "metric", "value"}

// WriteCSV writes every number of the report in long form: section
// (stats, funnel, transitions, time_in_stage, paths, flow_nodes,
// flow_links, gaps), row, column, metric, value. A quartile the estimate
// does not reach is an empty value. Numbers have the fewest digits that
// read back to the same float64.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(CSVHeader)
	row := func(section, rw, col, metric, value string) { cw.Write([]string{section, rw, col, metric, value}) }
	i := strconv.Itoa
	s := r.Stats
	for _, kv := range []struct {
		k string
		v int
	}{{"customers", s.Customers}, {"left_out", s.LeftOut}, {"events", s.Events}, {"events_refused", s.Refused},
		{"events_without_channel", s.NoChannel}, {"decisions", s.Decisions}, {"decisions_shown", s.Shown},
		{"stage_mismatch", s.StageMismatch}, {"converted", s.Converted}} {
		row("stats", "", "", kv.k, i(kv.v))
	}
	for _, f := range r.Funnel {
		row("funnel", f.Stage, "", "reached", i(f.Reached))
		row("funnel", f.Stage, "", "went_on", i(f.WentOn))
		row("funnel", f.Stage, "", "next", i(f.Next))
		row("funnel", f.Stage, "", "conversion", opt(f.Conversion))
		row("funnel", f.Stage, "", "current", i(f.Current))
		row("funnel", f.Stage, "", "dropped_off", i(f.DroppedOff))
	}
	for ri, from := range r.Transitions.Rows {
		for ci, to := range r.Transitions.Columns {
			row("transitions", from, to, "customers", i(r.Transitions.Counts[ri][ci]))
		}
	}
	for _, t := range r.TimeInStage {
		row("time_in_stage", t.Stage, "", "stays", i(t.Stays))
		row("time_in_stage", t.Stage, "", "left", i(t.Left))
		row("time_in_stage", t.Stage, "", "open", i(t.Open))
		row("time_in_stage", t.Stage, "", "q1_days", opt(t.Q1Days))
		row("time_in_stage", t.Stage, "", "median_days", opt(t.MedianDays))
		row("time_in_stage", t.Stage, "", "q3_days", opt(t.Q3Days))
	}
	for k, p := range r.Paths {
		path := strings.Join(p.Steps, " > ")
		row("paths", i(k+1), path, "customers", i(p.Customers))
		row("paths", i(k+1), path, "share", h.F(p.Share))
		row("paths", i(k+1), path, "converted", i(p.Converted))
	}
	for _, n := range r.Flow.Nodes {
		row("flow_nodes", i(n.Step), n.Label, "customers", i(n.Customers))
	}
	for _, l := range r.Flow.Links {
		row("flow_links", i(l.Step), l.From+" > "+l.To, "customers", i(l.Customers))
	}
	for _, c := range r.Gaps.Cells {
		for _, kv := range []struct {
			k string
			v int
		}{{"visits", c.Visits}, {"shown", c.Shown}, {"eligible_not_shown", c.EligibleNotShown}, {"none_eligible", c.NoneEligible},
			{"not_asked", c.NotAsked}, {"gap", c.Gap}, {"unserved", c.Unserved}, {"decisions", c.Decisions}, {"decisions_none_eligible", c.Empty}} {
			row("gaps", c.Stage, c.Channel, kv.k, i(kv.v))
		}
		row("gaps", c.Stage, c.Channel, "gap_share", h.F(c.GapShare))
	}
	cw.Flush()
	return cw.Error()
}

func opt(v *float64) string {
	if v == nil {
		return ""
	}
	return h.F(*v)
}

// WriteHTML writes the report as one self-contained page: the opening
// lines, the funnel (chart and table, with drop-off), the transition
// matrix, the time in stage, the journey map (a flow chart and the most
// frequent paths), the touchpoint gaps (a heat map) and the method. It
// loads no script, font, style sheet or image.
func (r *Report) WriteHTML(w io.Writer) error {
	var b strings.Builder
	e := h.E
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	h.Head(&b, "Customer journeys")
	h.Headline(&b, r.Headline)
	p("<p class=\"meta\">Data: %s, up to %s. %s customers", e(cmp.Or(r.Source, "journeys")), r.End.Format(time.RFC3339), h.Count(r.Stats.Customers))
	if !r.From.IsZero() || !r.To.IsZero() {
		p(" first seen in [%s, %s)", when(r.From, "the start"), when(r.To, "the end"))
	}
	s := r.Stats
	p(" (%s left out), %s events (%s the feature spec refused, %s without a channel), %s decisions (%s showed an action), %s customers converted. Stages from the feature spec: %s.",
		h.Count(s.LeftOut), h.Count(s.Events), h.Count(s.Refused), h.Count(s.NoChannel), h.Count(s.Decisions), h.Count(s.Shown), h.Count(s.Converted), e(strings.Join(r.Stages, " → ")))
	if s.StageMismatch > 0 {
		p(" %s decisions logged a stage other than the one replayed here (late events or imported profiles).", h.Count(s.StageMismatch))
	}
	p("</p>\n")

	// funnel
	p("<h2 id=\"funnel\">Stage funnel</h2>\n")
	funnelSVG(&b, r)
	p("<table>\n<tr><th>stage</th><th>reached</th><th>went further</th><th>conversion</th><th>to the next stage</th><th>last stage of</th><th>of whom inactive ≥ %s</th></tr>\n", e(h.Days(r.InactiveDays)))
	for _, f := range r.Funnel {
		conv := "—"
		if f.Conversion != nil {
			conv = h.Pct(*f.Conversion)
		}
		p("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			e(f.Stage), h.Count(f.Reached), h.Count(f.WentOn), conv, h.Count(f.Next), h.Count(f.Current), h.Count(f.DroppedOff))
	}
	p("</table>\n<p class=\"note\">Reached: customers ever in the stage. Went further: of those, who later reached a stage further in the spec's order (skipping counts); conversion is their share. Last stage of: customers in it at the end of the data; the inactive ones (no event or decision for %s or more) have dropped off there.</p>\n", e(h.Days(r.InactiveDays)))

	// transitions
	t := r.Transitions
	p("<h2 id=\"transitions\">Moves between stages</h2>\n<table>\n<tr><th>from \\ to</th>")
	for _, c := range t.Columns {
		p("<th>%s</th>", e(c))
	}
	p("</tr>\n")
	for ri, rw := range t.Rows {
		total := 0
		for _, n := range t.Counts[ri] {
			total += n
		}
		p("<tr><td>%s</td>", e(rw))
		for ci := range t.Columns {
			n := t.Counts[ri][ci]
			share := 0.0
			if total > 0 {
				share = float64(n) / float64(total)
			}
			if n == 0 {
				p("<td class=\"h0\"></td>")
				continue
			}
			p("<td class=\"%s\">%s <span class=\"ci\">%s</span></td>", h.Heat(share), h.Count(n), h.Pct(share))
		}
		p("</tr>\n")
	}
	p("</table>\n<p class=\"note\">Each cell: customers who moved from the row's stage to the column's (a customer who moves twice counts twice), and the share of the row. %s: the stage customers entered at. %s: customers in the row's stage at the end of the data.</p>\n", e(Start), e(Stay))

	// time in stage
	p("<h2 id=\"time\">Time in stage</h2>\n")
	timeSVG(&b, r)
	p("<table>\n<tr><th>stage</th><th>stays</th><th>ended</th><th>still open</th><th>25%% leave within</th><th>median</th><th>75%% leave within</th></tr>\n")
	for _, t := range r.TimeInStage {
		p("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", e(t.Stage), h.Count(t.Stays), h.Count(t.Left), h.Count(t.Open), dayCell(t.Q1Days), dayCell(t.MedianDays), dayCell(t.Q3Days))
	}
	p("</table>\n<p class=\"note\">Kaplan–Meier estimate of the time to leave a stage: stays still open at the end of the data count as lasting at least until then (censored) instead of being dropped or counted as ended. “not yet”: too many stays are still open for the estimate to reach that share.</p>\n")

	// journey map
	p("<h2 id=\"map\">Journey map</h2>\n<p class=\"note\">The first %d steps of every journey: events by type, decisions by what they showed (“shown ACTION”: the action in the first slot). A step repeated in a row is one step. Widths are customers; the %d most frequent labels of a step are drawn, the rest as “%s”.</p>\n", r.Steps, FlowNodes, Other)
	flowSVG(&b, r)
	p("<table>\n<tr><th>#</th><th class=\"l\">path</th><th>customers</th><th>share</th><th>converted</th></tr>\n")
	for k, pc := range r.Paths {
		p("<tr><td>%d</td><td class=\"l\">%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", k+1, e(strings.Join(pc.Steps, " → ")), h.Count(pc.Customers), h.Pct(pc.Share), h.Count(pc.Converted))
	}
	p("</table>\n")

	// gaps
	g := r.Gaps
	p("<h2 id=\"gaps\">Touchpoint gaps</h2>\n<table>\n<tr><th>stage \\ channel</th>")
	for _, ch := range g.Channels {
		p("<th>%s</th>", e(ch))
	}
	p("</tr>\n")
	for _, st := range r.Stages {
		p("<tr><td>%s</td>", e(st))
		for _, ch := range g.Channels {
			c := g.Cell(st, ch)
			if c == nil {
				p("<td class=\"h0\"></td>")
				continue
			}
			p("<td class=\"%s\">%s <span class=\"ci\">%s/%s</span></td>", h.Heat(c.GapShare), h.Pct(c.GapShare), h.Count(c.Gap), h.Count(c.Visits))
		}
		p("</tr>\n")
	}
	p("</table>\n<p class=\"note\">Each cell: the share of visits (a customer's stay in the stage during which they came on the channel: an event there or a decision asked there) that got no action because none was eligible or no decision was asked; then gap visits / visits.</p>\n")
	p("<table>\n<tr><th>stage</th><th>channel</th><th>visits</th><th>shown</th><th>eligible, not shown</th><th>none eligible</th><th>no decision asked</th><th>nothing shown</th><th>decisions</th><th>with none eligible</th></tr>\n")
	for _, c := range g.Cells {
		p("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s <span class=\"ci\">%s</span></td><td>%s</td><td>%s</td></tr>\n", e(c.Stage), e(c.Channel),
			h.Count(c.Visits), h.Count(c.Shown), h.Count(c.EligibleNotShown), h.Count(c.NoneEligible), h.Count(c.NotAsked),
			h.Count(c.Unserved), h.Pct(float64(c.Unserved)/float64(c.Visits)), h.Count(c.Decisions), h.Count(c.Empty))
	}
	p("</table>\n<p class=\"note\">A visit counts once, as the best it got: shown, else eligible but not shown (a holdout arm, limits), else none eligible, else no decision asked. The gap leaves out the eligible-but-not-shown visits (a holdout shows nothing by design); nothing shown counts every visit without an action.</p>\n")

	p("<h2>Method</h2>\n<ul>\n")
	p("<li><b>Stages.</b> Each customer's events are replayed in time order through the feature spec's transitions (the service's own rule, features.Spec.ApplyEvent) on a new profile. A customer enters at the default stage (%s) with their first event or decision, unless that first event moves them on at once. An event's visit belongs to the stage it leads into.</li>\n", e(r.DefaultStage))
	p("<li><b>Funnel.</b> Conversion of a stage = customers who later reached any stage further in the spec's order / customers who reached it. Drop-off: customers whose last stage it is and who have had no event or decision for %s before the end of the data.</li>\n", e(h.Days(r.InactiveDays)))
	p("<li><b>Time in stage.</b> Kaplan–Meier: Ŝ(t) = Π (1 − dᵢ/nᵢ) over the durations tᵢ ≤ t at which dᵢ stays ended, nᵢ stays still running just before; a quartile q is the first tᵢ with Ŝ ≤ 1 − q.</li>\n")
	p("<li><b>Journey map.</b> Paths are counted on the first %d steps; customers with shorter journeys have shorter paths. Converted: the customer had a conversion (a converting outcome or a purchase event).</li>\n", r.Steps)
	p("<li><b>Gaps.</b> Events without a channel are left out of the gap view. See docs/reports.md.</li>\n</ul>\n")
	h.Foot(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

func when(t time.Time, def string) string {
	if t.IsZero() {
		return def
	}
	return t.UTC().Format(time.RFC3339)
}

func dayCell(v *float64) string {
	if v == nil {
		return "not yet"
	}
	return h.Days(*v)
}

// funnelSVG draws one bar per stage: the customers who reached it, and
// inside it those who went further.
func funnelSVG(b *strings.Builder, r *Report) {
	const W, L, R, T, barH, gap = 900, 150, 230, 10, 22, 10
	n := len(r.Funnel)
	H := T + n*(barH+gap) + 10
	hi := 1
	for _, f := range r.Funnel {
		hi = max(hi, f.Reached)
	}
	pw := float64(W - L - R)
	fmt.Fprintf(b, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"Stage funnel\">\n", W, H, W, H)
	for i, f := range r.Funnel {
		y := T + i*(barH+gap)
		wr := pw * float64(f.Reached) / float64(hi)
		wo := pw * float64(f.WentOn) / float64(hi)
		fmt.Fprintf(b, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"end\">%s</text>", L-8, y+barH/2+5, h.E(f.Stage))
		fmt.Fprintf(b, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#9ecae1\"><title>%s reached</title></rect>", L, y, wr, barH, h.Count(f.Reached))
		fmt.Fprintf(b, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#0072B2\"><title>%s went further</title></rect>", L, y, wo, barH, h.Count(f.WentOn))
		label := h.Count(f.Reached) + " reached"
		if f.Conversion != nil {
			label += " · " + h.Pct(*f.Conversion) + " went further"
		}
		fmt.Fprintf(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" fill=\"#333\">%s</text>\n", float64(L)+wr+6, y+barH/2+4, h.E(label))
	}
	b.WriteString("</svg>\n")
}

// timeSVG draws, per stage, the interquartile range of the time in
// stage as a box and the median as a tick; a quartile not reached runs
// the box to the right edge, lighter.
func timeSVG(b *strings.Builder, r *Report) {
	const W, L, R, T, rowH = 900, 150, 40, 10, 28
	hi := 0.0
	for _, t := range r.TimeInStage {
		for _, v := range []*float64{t.Q1Days, t.MedianDays, t.Q3Days} {
			if v != nil {
				hi = max(hi, *v)
			}
		}
	}
	if hi == 0 {
		return
	}
	hi = niceCeil(hi * 1.1)
	n := len(r.TimeInStage)
	H := T + n*rowH + 30
	pw := float64(W - L - R)
	x := func(v float64) float64 { return L + pw*v/hi }
	fmt.Fprintf(b, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"Time in stage, days\">\n", W, H, W, H)
	for k := 0; k <= 4; k++ {
		v := hi * float64(k) / 4
		fmt.Fprintf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#e4e4e4\"/><text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">%s d</text>\n",
			x(v), x(v), T, H-24, x(v), H-8, strconv.FormatFloat(v, 'g', 3, 64))
	}
	for i, t := range r.TimeInStage {
		y := T + i*rowH
		fmt.Fprintf(b, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"end\">%s</text>", L-8, y+rowH/2+4, h.E(t.Stage))
		if t.Q1Days == nil {
			fmt.Fprintf(b, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#777\">%s stays, too many still open</text>\n", L+4, y+rowH/2+4, h.Count(t.Stays))
			continue
		}
		lo, fill := *t.Q1Days, "#56B4E9"
		hiV := hi
		if t.Q3Days != nil {
			hiV = *t.Q3Days
		} else {
			fill = "#cfe8f7"
		}
		fmt.Fprintf(b, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>quartiles %s to %s</title></rect>",
			x(lo), y+5, max(1, x(hiV)-x(lo)), rowH-10, fill, h.E(h.Days(lo)), h.E(dayCell(t.Q3Days)))
		if t.MedianDays != nil {
			fmt.Fprintf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#000\" stroke-width=\"2\"><title>median %s</title></line>", x(*t.MedianDays), x(*t.MedianDays), y+3, y+rowH-3, h.E(h.Days(*t.MedianDays)))
		}
		b.WriteString("\n")
	}
	b.WriteString("</svg>\n")
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// flowSVG draws the journey map as a flow: a column of nodes per step,
// node heights and link widths proportional to customers.
func flowSVG(b *strings.Builder, r *Report) {
	f := r.Flow
	if len(f.Nodes) == 0 {
		return
	}
	steps := 0
	for _, n := range f.Nodes {
		steps = max(steps, n.Step+1)
	}
	const W, L, R, T, nodeW, vgap, avail = 1000, 10, 170, 24, 12, 10, 420
	cols := make([][]FlowNode, steps)
	for _, n := range f.Nodes {
		cols[n.Step] = append(cols[n.Step], n)
	}
	most, mostN := 0, 0
	for _, c := range cols {
		t := 0
		for _, n := range c {
			t += n.Customers
		}
		most = max(most, t)
		mostN = max(mostN, len(c))
	}
	scale := float64(avail-vgap*(mostN-1)) / float64(most)
	H := T + avail + 20
	colX := func(i int) float64 {
		if steps == 1 {
			return L
		}
		return L + float64(i)*float64(W-L-R-nodeW)/float64(steps-1)
	}
	type pos struct{ y, in, out float64 }
	at := map[[2]string]*pos{}
	key := func(step int, label string) [2]string { return [2]string{strconv.Itoa(step), label} }
	fmt.Fprintf(b, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"Journey map\">\n", W, H, W, H)
	color := map[string]string{}
	ci := 0
	var labels strings.Builder // drawn last, over the links
	for i, c := range cols {
		fmt.Fprintf(b, "<text x=\"%.1f\" y=\"14\" font-size=\"12\" fill=\"#555\">step %d</text>\n", colX(i), i+1)
		y := float64(T)
		for _, n := range c {
			if _, ok := color[n.Label]; !ok {
				color[n.Label] = h.Palette[ci%len(h.Palette)]
				ci++
				if n.Label == Other {
					color[n.Label] = "#999999"
				}
			}
			at[key(i, n.Label)] = &pos{y: y}
			hgt := max(1, float64(n.Customers)*scale)
			fmt.Fprintf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"><title>step %d: %s, %s customers</title></rect>",
				colX(i), y, nodeW, hgt, color[n.Label], i+1, h.E(n.Label), h.Count(n.Customers))
			fmt.Fprintf(&labels, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\">%s (%s)</text>\n", colX(i)+nodeW+3, y+min(hgt/2, 10)+4, h.E(short(n.Label, 24)), h.Count(n.Customers))
			y += hgt + vgap
		}
	}
	// links in the order of their targets' and sources' positions, so that
	// they do not cross inside a node
	links := slices.Clone(f.Links)
	slices.SortStableFunc(links, func(a, b FlowLink) int {
		return cmp.Or(cmp.Compare(a.Step, b.Step), cmp.Compare(at[key(a.Step, a.From)].y, at[key(b.Step, b.From)].y),
			cmp.Compare(at[key(a.Step+1, a.To)].y, at[key(b.Step+1, b.To)].y))
	})
	for _, l := range links {
		src, dst := at[key(l.Step, l.From)], at[key(l.Step+1, l.To)]
		if src == nil || dst == nil {
			continue
		}
		w := float64(l.Customers) * scale
		y0, y1 := src.y+src.out+w/2, dst.y+dst.in+w/2
		src.out += w
		dst.in += w
		x0, x1 := colX(l.Step)+nodeW, colX(l.Step+1)
		xm := (x0 + x1) / 2
		fmt.Fprintf(b, "<path d=\"M%.1f %.1fC%.1f %.1f %.1f %.1f %.1f %.1f\" fill=\"none\" stroke=\"%s\" stroke-opacity=\"0.35\" stroke-width=\"%.1f\"><title>%s → %s: %s customers</title></path>\n",
			x0, y0, xm, y0, xm, y1, x1, y1, color[l.From], max(0.5, w), h.E(l.From), h.E(l.To), h.Count(l.Customers))
	}
	b.WriteString(labels.String())
	b.WriteString("</svg>\n")
}

// short cuts s to n runes with an ellipsis.
func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
