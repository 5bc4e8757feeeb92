package eval

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"nextbest/experiment"
)

// Report file names written by WriteReport.
const (
	ReportHTML = "report.html"
	ReportJSON = "report.json"
	ReportCSV  = "report.csv"
)

// VerdictText returns the verdict as the four plain-language lines the
// report opens with: the headline, by how much, how sure, and whether the
// data can be trusted.
func VerdictText(r *ExperimentResult) string {
	v := r.Verdict
	return v.Headline + "\n" +
		"By how much: " + v.HowMuch + "\n" +
		"How sure: " + v.HowSure + "\n" +
		"Can the data be trusted: " + v.Trust + "\n"
}

// WriteReport writes report.html, report.json and report.csv of r into
// dir, creating it if needed.
func WriteReport(dir string, r *ExperimentResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create report directory %q: %w", dir, err)
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer, *ExperimentResult) error
	}{{ReportHTML, WriteReportHTML}, {ReportJSON, WriteReportJSON}, {ReportCSV, WriteReportCSV}} {
		path := filepath.Join(dir, f.name)
		if err := writeFileAtomic(path, func(w io.Writer) error { return f.write(w, r) }); err != nil {
			return fmt.Errorf("cannot write report %q: %w", path, err)
		}
	}
	return nil
}

func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WriteReportJSON writes r as indented JSON (the shape of
// ExperimentResult's JSON tags).
func WriteReportJSON(w io.Writer, r *ExperimentResult) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteReportCSV writes the numbers of r in long form, one number per
// row: section, dimension, segment, arm, metric, statistic, value.
// Sections: verdict, arm, comparison, srm, sample_size, segment,
// segment_lift, daily, sequential, off_policy. Numbers are written with
// the fewest digits that read back to the same float64.
func WriteReportCSV(w io.Writer, r *ExperimentResult) error {
	cw := csv.NewWriter(w)
	row := func(section, dim, seg, arm, metric, stat, value string) {
		cw.Write([]string{section, dim, seg, arm, metric, stat, value})
	}
	num := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	row("section", "dimension", "segment", "arm", "metric", "statistic", "value")
	row("verdict", "", "", r.Verdict.Winner, r.PrimaryMetric, "status", r.Verdict.Status)
	row("verdict", "", "", "", "", "trusted", strconv.FormatBool(r.Verdict.Trusted))
	armRows := func(section, dim, seg string, arms []experiment.ArmResult) {
		for _, a := range arms {
			row(section, dim, seg, a.Name, "", "customers", strconv.Itoa(a.Customers))
			row(section, dim, seg, a.Name, "", "decisions", strconv.Itoa(a.Decisions))
			row(section, dim, seg, a.Name, "", "decisions_with_outcomes", strconv.Itoa(a.WithOutcomes))
			row(section, dim, seg, a.Name, "", "conversions", strconv.Itoa(a.Conversions))
			if section == "arm" {
				row(section, dim, seg, a.Name, "", "share", num(a.Share))
			}
			for _, m := range a.Metrics {
				row(section, dim, seg, a.Name, m.Metric, "mean", num(m.Mean))
				row(section, dim, seg, a.Name, m.Metric, "se", num(m.SE))
				row(section, dim, seg, a.Name, m.Metric, "ci_lo", num(m.Lo))
				row(section, dim, seg, a.Name, m.Metric, "ci_hi", num(m.Hi))
				row(section, dim, seg, a.Name, m.Metric, "sum", num(m.Sum))
			}
		}
	}
	armRows("arm", "", "", r.Arms)
	for _, c := range r.Comparisons {
		for _, kv := range []struct {
			k string
			v float64
		}{
			{"control_mean", c.ControlMean}, {"arm_mean", c.ArmMean},
			{"absolute_lift", c.Absolute.Estimate}, {"absolute_lo", c.Absolute.Lo}, {"absolute_hi", c.Absolute.Hi},
			{"relative_lift", c.Relative.Estimate}, {"relative_lo", c.Relative.Lo}, {"relative_hi", c.Relative.Hi},
			{"fixed_horizon_p", c.FixedHorizonP}, {"always_valid_p", c.AlwaysValidP},
			{"always_valid_absolute_lo", c.AlwaysValidAbsolute.Lo}, {"always_valid_absolute_hi", c.AlwaysValidAbsolute.Hi},
			{"always_valid_relative_lo", c.AlwaysValidRelative.Lo}, {"always_valid_relative_hi", c.AlwaysValidRelative.Hi},
			{"prob_beat_control", c.ProbBeatControl}, {"tau", c.Tau},
		} {
			row("comparison", c.Role, "", c.Arm, c.Metric, kv.k, num(kv.v))
		}
		if cu := c.CUPED; cu != nil {
			row("comparison", c.Role, "", c.Arm, c.Metric, "cuped_lift", num(cu.Absolute.Estimate))
			row("comparison", c.Role, "", c.Arm, c.Metric, "cuped_lo", num(cu.Absolute.Lo))
			row("comparison", c.Role, "", c.Arm, c.Metric, "cuped_hi", num(cu.Absolute.Hi))
			row("comparison", c.Role, "", c.Arm, c.Metric, "cuped_theta", num(cu.Theta))
			row("comparison", c.Role, "", c.Arm, c.Metric, "cuped_variance_reduction", num(cu.VarianceReduction))
		}
		row("comparison", c.Role, "", c.Arm, c.Metric, "direction", c.Direction)
	}
	for i, a := range r.SRM.Arms {
		row("srm", "", "", a, "", "observed_customers", strconv.Itoa(r.SRM.Observed[i]))
		row("srm", "", "", a, "", "expected_customers", num(r.SRM.Expected[i]))
	}
	row("srm", "", "", "", "", "chi_square", num(r.SRM.ChiSquare))
	row("srm", "", "", "", "", "p", num(r.SRM.P))
	row("srm", "", "", "", "", "mismatch", strconv.FormatBool(r.SRM.Mismatch))
	row("sample_size", "", "", "", "", "fewest_decisions", strconv.Itoa(r.SampleSize.FewestDecisions))
	row("sample_size", "", "", "", "", "fewest_conversions", strconv.Itoa(r.SampleSize.FewestConversions))
	row("sample_size", "", "", "", r.PrimaryMetric, "needed_decisions_per_arm", strconv.Itoa(r.SampleSize.NeededPerArm))
	row("sample_size", "", "", "", "", "enough", strconv.FormatBool(r.SampleSize.Enough))
	for _, s := range r.Segments {
		armRows("segment", s.Dimension, s.Value, s.Arms)
		for _, l := range s.Lifts {
			row("segment_lift", s.Dimension, s.Value, l.Arm, r.PrimaryMetric, "absolute_lift", num(l.Absolute.Estimate))
			row("segment_lift", s.Dimension, s.Value, l.Arm, r.PrimaryMetric, "absolute_lo", num(l.Absolute.Lo))
			row("segment_lift", s.Dimension, s.Value, l.Arm, r.PrimaryMetric, "absolute_hi", num(l.Absolute.Hi))
			row("segment_lift", s.Dimension, s.Value, l.Arm, r.PrimaryMetric, "relative_lift", num(l.Relative.Estimate))
			row("segment_lift", s.Dimension, s.Value, l.Arm, r.PrimaryMetric, "relative_lo", num(l.Relative.Lo))
			row("segment_lift", s.Dimension, s.Value, l.Arm, r.PrimaryMetric, "relative_hi", num(l.Relative.Hi))
		}
	}
	for _, s := range r.Daily {
		for _, p := range s.Points {
			row("daily", "date", p.Date, s.Arm, "", "decisions", strconv.Itoa(p.Decisions))
			row("daily", "date", p.Date, s.Arm, "conversion", "mean", num(p.ConversionRate))
			row("daily", "date", p.Date, s.Arm, "revenue", "mean", num(p.Revenue))
			row("daily", "date", p.Date, s.Arm, "reward", "mean", num(p.Reward))
			row("daily", "date", p.Date, s.Arm, "", "cum_decisions", strconv.Itoa(p.CumDecisions))
			row("daily", "date", p.Date, s.Arm, "reward", "cum_sum", num(p.CumReward))
			row("daily", "date", p.Date, s.Arm, r.PrimaryMetric, "cum_mean", num(p.CumPrimary))
		}
	}
	for _, s := range r.Sequential {
		for _, p := range s.Points {
			row("sequential", "date", p.Date, s.Arm, s.Metric, "absolute_lift", num(p.Lift))
			row("sequential", "date", p.Date, s.Arm, s.Metric, "always_valid_p", num(p.P))
			row("sequential", "date", p.Date, s.Arm, s.Metric, "lo", num(p.Lo))
			row("sequential", "date", p.Date, s.Arm, s.Metric, "hi", num(p.Hi))
		}
	}
	for _, op := range r.OffPolicy {
		row("off_policy", "target", "on_policy", op.Arm, "reward_slot0", "value", num(op.OnPolicy.Estimate))
		row("off_policy", "target", "on_policy", op.Arm, "reward_slot0", "ci_lo", num(op.OnPolicy.Lo))
		row("off_policy", "target", "on_policy", op.Arm, "reward_slot0", "ci_hi", num(op.OnPolicy.Hi))
		for _, g := range []struct {
			target string
			ests   []Estimate
		}{{"self", op.Self}, {"uniform", op.Uniform}} {
			for _, e := range g.ests {
				row("off_policy", "target", g.target, op.Arm, e.Estimator, "value", num(e.Value))
				row("off_policy", "target", g.target, op.Arm, e.Estimator, "ci_lo", num(e.Lo))
				row("off_policy", "target", g.target, op.Arm, e.Estimator, "ci_hi", num(e.Hi))
				row("off_policy", "target", g.target, op.Arm, e.Estimator, "ess", num(e.ESS))
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteReportHTML writes r as one self-contained HTML page: the verdict
// first, in plain words, then the tables and charts. Charts are inline
// SVG; the page loads no script, font, style sheet or image from
// anywhere.
func WriteReportHTML(w io.Writer, r *ExperimentResult) error {
	var b strings.Builder
	e := html.EscapeString
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	p("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	p("<title>Experiment %s: report</title>\n<style>%s</style>\n</head>\n<body>\n", e(r.Experiment), reportCSS)
	p("<h1>Experiment %s</h1>\n", e(r.Experiment))
	p("<section class=\"verdict %s\" id=\"verdict\">\n<p class=\"headline\">%s</p>\n<ul>\n", e(r.Verdict.Status), e(r.Verdict.Headline))
	p("<li><b>By how much:</b> %s</li>\n", e(r.Verdict.HowMuch))
	p("<li><b>How sure:</b> %s</li>\n", e(r.Verdict.HowSure))
	p("<li><b>Can the data be trusted:</b> %s</li>\n</ul>\n</section>\n", e(r.Verdict.Trust))

	p("<p class=\"meta\">")
	if r.Description != "" {
		p("%s<br>", e(r.Description))
	}
	p("Primary metric: <b>%s</b>", e(experiment.MetricLabel(r.PrimaryMetric)))
	if len(r.Guardrails) > 0 {
		gs := make([]string, len(r.Guardrails))
		for i, g := range r.Guardrails {
			gs[i] = experiment.MetricLabel(g)
		}
		p("; guardrails: %s", e(strings.Join(gs, ", ")))
	}
	p("; control arm: <b>%s</b>.", e(r.Control))
	if !r.From.IsZero() {
		p(" Decisions from %s to %s (UTC).", r.From.UTC().Format("2006-01-02 15:04"), r.To.UTC().Format("2006-01-02 15:04"))
	}
	p("</p>\n")

	// Arms.
	p("<h2>Arms</h2>\n<table>\n<tr><th>arm</th><th>policy</th><th>share</th><th>customers</th><th>decisions</th><th>with outcomes</th>")
	for _, m := range r.Metrics {
		p("<th>%s (%s CI)</th>", e(m.Label), experiment.FormatPct(r.Level, 0))
	}
	p("</tr>\n")
	for _, a := range r.Arms {
		ctl := ""
		if a.Name == r.Control {
			ctl = " (control)"
		}
		p("<tr><td>%s%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>", e(a.Name), ctl, e(a.Policy), experiment.FormatPct(a.Share, 0),
			experiment.FormatInt(a.Customers), experiment.FormatInt(a.Decisions), experiment.FormatInt(a.WithOutcomes))
		for _, m := range a.Metrics {
			p("<td>%s <span class=\"ci\">[%s, %s]</span></td>", experiment.FormatMetric(m.Metric, m.Mean), experiment.FormatMetric(m.Metric, m.Lo), experiment.FormatMetric(m.Metric, m.Hi))
		}
		p("</tr>\n")
	}
	p("</table>\n")

	// Lifts.
	p("<h2>Lift against %s</h2>\n", e(r.Control))
	var rows []forestRow
	for _, c := range r.Comparisons {
		rows = append(rows, forestRow{Label: c.Arm + ": " + c.Label + " (" + c.Role + ")", Est: c.Relative.Estimate,
			Lo: c.Relative.Lo, Hi: c.Relative.Hi, Lo2: c.AlwaysValidRelative.Lo, Hi2: c.AlwaysValidRelative.Hi, Outer: true})
	}
	p("<p class=\"note\">Relative lift with its intervals: the thick bar is the fixed-horizon %s interval (valid for one look), the thin line the always-valid interval (valid however often you look).</p>\n", experiment.FormatPct(r.Level, 0))
	forestSVG(&b, "Relative lift against "+r.Control, rows, func(x float64) string { return experiment.FormatSignedPct(x) }, 0, true)
	p("<table>\n<tr><th>arm</th><th>metric</th><th>role</th><th>arm</th><th>control</th><th>relative lift</th><th>%s CI</th><th>always-valid CI</th><th>always-valid p</th><th>chance to beat control</th><th>result</th></tr>\n", experiment.FormatPct(r.Level, 0))
	for _, c := range r.Comparisons {
		p("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s to %s</td><td>%s to %s</td><td>%s</td><td>%s</td><td class=\"%s\">%s</td></tr>\n",
			e(c.Arm), e(c.Label), c.Role, experiment.FormatMetric(c.Metric, c.ArmMean), experiment.FormatMetric(c.Metric, c.ControlMean), experiment.FormatSignedPct(c.Relative.Estimate),
			experiment.FormatSignedPct(c.Relative.Lo), experiment.FormatSignedPct(c.Relative.Hi), experiment.FormatSignedPct(c.AlwaysValidRelative.Lo), experiment.FormatSignedPct(c.AlwaysValidRelative.Hi),
			experiment.FormatP(c.AlwaysValidP), experiment.FormatProb(c.ProbBeatControl), c.Direction, c.Direction)
	}
	p("</table>\n")

	// Cumulative reward and daily trend.
	var dates []string
	if len(r.Daily) > 0 {
		for _, pt := range r.Daily[0].Points {
			dates = append(dates, pt.Date)
		}
	}
	if len(dates) > 0 {
		p("<h2>Cumulative reward per arm</h2>\n<p class=\"note\">Sum of all joined outcome rewards of each arm's decisions up to each day. Arms with larger traffic shares collect more: compare slopes with the shares in mind.</p>\n")
		var cum, daily, cumMean []lineSeries
		for _, s := range r.Daily {
			cs := lineSeries{Name: s.Arm}
			ds := lineSeries{Name: s.Arm}
			ms := lineSeries{Name: s.Arm}
			for _, pt := range s.Points {
				cs.Y = append(cs.Y, pt.CumReward)
				ms.Y = append(ms.Y, pt.CumPrimary)
				v := pt.ConversionRate
				switch r.PrimaryMetric {
				case "revenue":
					v = pt.Revenue
				case "reward":
					v = pt.Reward
				}
				if pt.Decisions == 0 {
					v = nan
				}
				ds.Y = append(ds.Y, v)
			}
			cum, daily, cumMean = append(cum, cs), append(daily, ds), append(cumMean, ms)
		}
		lineSVG(&b, "Cumulative reward", dates, cum, fmtAxis)
		yf := func(x float64) string { return experiment.FormatMetric(r.PrimaryMetric, x) }
		p("<h2>Daily trend: %s</h2>\n<p class=\"note\">Each day's %s per arm (noisy day to day), then the cumulative %s up to each day.</p>\n",
			e(experiment.MetricLabel(r.PrimaryMetric)), e(experiment.MetricLabel(r.PrimaryMetric)), e(experiment.MetricLabel(r.PrimaryMetric)))
		lineSVG(&b, "Daily "+experiment.MetricLabel(r.PrimaryMetric), dates, daily, yf)
		lineSVG(&b, "Cumulative "+experiment.MetricLabel(r.PrimaryMetric), dates, cumMean, yf)
	}
	if len(r.Sequential) > 0 && len(r.Sequential[0].Points) > 0 {
		p("<h2>Always-valid p-value over time</h2>\n<p class=\"note\">The p-value after each day's data. It only ever goes down, and stays valid however often it is looked at; a result is called when it falls below %s.</p>\n", experiment.FormatAlpha(r.Level))
		var ps []lineSeries
		var sd []string
		for _, s := range r.Sequential {
			ls := lineSeries{Name: s.Arm}
			for _, pt := range s.Points {
				ls.Y = append(ls.Y, pt.P)
			}
			ps = append(ps, ls)
		}
		for _, pt := range r.Sequential[0].Points {
			sd = append(sd, pt.Date)
		}
		lineSVGRange(&b, "Always-valid p", sd, ps, func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }, 0, 1, 1-r.Level)
	}

	// Off-policy.
	if len(r.OffPolicy) > 0 {
		p("<h2>Off-policy estimates</h2>\n<p class=\"note\">From each arm's own logs (slot 0, logged propensities, learning reward). <i>Self</i> re-estimates the arm's own policy: it must equal the on-policy mean (a check of the logging). <i>Uniform</i> estimates what serving uniformly at random would earn: every arm estimates the same thing, so the bars should overlap.</p>\n")
		var rows []forestRow
		for i, op := range r.OffPolicy {
			col := palette[i%len(palette)]
			rows = append(rows, forestRow{Label: op.Arm + ": on-policy mean", Est: op.OnPolicy.Estimate, Lo: op.OnPolicy.Lo, Hi: op.OnPolicy.Hi, Color: col})
			for _, g := range []struct {
				name string
				ests []Estimate
			}{{"self", op.Self}, {"uniform", op.Uniform}} {
				for _, est := range g.ests {
					rows = append(rows, forestRow{Label: op.Arm + ": " + g.name + " " + est.Estimator, Est: est.Value, Lo: est.Lo, Hi: est.Hi, Color: col})
				}
			}
		}
		forestSVG(&b, "Value per decision (slot 0)", rows, fmtAxis, 0, false)
		p("<table>\n<tr><th>arm</th><th>target</th><th>estimator</th><th>value</th><th>%s CI</th><th>ESS</th><th>warnings</th></tr>\n", experiment.FormatPct(r.Level, 0))
		for _, op := range r.OffPolicy {
			p("<tr><td>%s</td><td>on-policy</td><td>mean</td><td>%.4g</td><td>%.4g to %.4g</td><td>%d</td><td>%s</td></tr>\n",
				e(op.Arm), op.OnPolicy.Estimate, op.OnPolicy.Lo, op.OnPolicy.Hi, op.Rounds, e(strings.Join(op.Warnings, "; ")))
			for _, g := range []struct {
				name string
				ests []Estimate
			}{{"self", op.Self}, {"uniform random", op.Uniform}} {
				for _, est := range g.ests {
					p("<tr><td>%s</td><td>%s</td><td>%s</td><td>%.4g</td><td>%.4g to %.4g</td><td>%.0f</td><td>%s</td></tr>\n",
						e(op.Arm), g.name, e(est.Estimator), est.Value, est.Lo, est.Hi, est.ESS, e(strings.Join(est.Warnings, "; ")))
				}
			}
		}
		p("</table>\n")
	}

	// Segments.
	for _, dim := range []string{"channel", "stage"} {
		first := true
		for _, s := range r.Segments {
			if s.Dimension != dim {
				continue
			}
			if first {
				title := "channel"
				if dim == "stage" {
					title = "journey stage"
				}
				p("<h2>By %s</h2>\n<p class=\"note\">Descriptive: fixed-horizon intervals, not corrected for looking at many segments.</p>\n<table>\n<tr><th>%s</th><th>arm</th><th>decisions</th><th>%s</th><th>relative lift (%s CI)</th></tr>\n",
					title, title, e(experiment.MetricLabel(r.PrimaryMetric)), experiment.FormatPct(r.Level, 0))
				first = false
			}
			for _, a := range s.Arms {
				lift := ""
				if a.Name == r.Control {
					lift = "control"
				}
				for _, l := range s.Lifts {
					if l.Arm == a.Name {
						lift = fmt.Sprintf("%s (%s to %s)", experiment.FormatSignedPct(l.Relative.Estimate), experiment.FormatSignedPct(l.Relative.Lo), experiment.FormatSignedPct(l.Relative.Hi))
					}
				}
				m := a.Metric(r.PrimaryMetric)
				p("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", e(s.Value), e(a.Name), experiment.FormatInt(a.Decisions), experiment.FormatMetric(r.PrimaryMetric, m.Mean), lift)
			}
		}
		if !first {
			p("</table>\n")
		}
	}

	// Data quality, glossary, methods.
	p("<h2>Can the data be trusted?</h2>\n<ul>\n<li>%s</li>\n<li>%s %s</li>\n", e(r.SRM.Summary), e(r.SampleSize.Summary), e(r.SampleSize.Guidance))
	for _, w := range r.Warnings {
		p("<li>%s</li>\n", e(w))
	}
	p("</ul>\n<h2>Glossary</h2>\n<dl>\n")
	for _, m := range r.Metrics {
		p("<dt>%s (%s)</dt><dd>%s. Unit: %s.</dd>\n", e(m.Label), e(m.Name), e(m.Definition), e(m.Unit))
	}
	for _, g := range glossary {
		p("<dt>%s</dt><dd>%s</dd>\n", e(g[0]), e(g[1]))
	}
	p("</dl>\n<h2>Methods</h2>\n<ul>\n")
	for _, m := range r.Methods {
		p("<li>%s</li>\n", e(m))
	}
	p("</ul>\n</body>\n</html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

var glossary = [][2]string{
	{"relative lift", "How much higher (or lower) the arm's metric is than the control's, as a percentage of the control's."},
	{"interval", "The range of lifts the data are consistent with. The fixed-horizon interval is valid for one look at a pre-planned time; the always-valid interval stays valid however often the report is checked."},
	{"always-valid p-value", "How surprising the difference would be if the arms were truly the same, computed so that checking every day does not inflate false alarms. Below 0.05 counts as a result."},
	{"chance to beat control", "The Bayesian probability that the arm's true metric is higher than the control's, given the data."},
	{"sample-ratio mismatch (SRM)", "Customers not split across arms in the configured shares. It means assignment or logging is broken, and the comparison may be biased."},
	{"off-policy estimate", "An estimate, from logged decisions and their recorded probabilities, of what another policy would have earned."},
}

const reportCSS = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.3em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.verdict{border-left:6px solid #888;background:#f6f6f6;padding:.6em 1em;margin:1em 0}
.verdict.winner{border-color:#2a9d5c;background:#eef8f1}.verdict.control_wins{border-color:#c77d18;background:#fbf4e8}
.verdict.untrustworthy{border-color:#c0392b;background:#fbeceb}.verdict.no_winner_yet{border-color:#7a8a99}
.headline{font-size:1.3em;font-weight:600;margin:.2em 0}.meta,.note{color:#555;font-size:.92em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}.ci{color:#777;font-size:.9em}
td.better{color:#1e7d46;font-weight:600}td.worse{color:#b03a2e;font-weight:600}
svg{display:block;margin:.6em 0;max-width:100%;height:auto}dt{font-weight:600;margin-top:.4em}`

// fmtAxis formats an axis or point label: thousands separators for large
// values, three significant digits otherwise.
func fmtAxis(x float64) string {
	if math.Abs(x) >= 1000 {
		return experiment.FormatInt(int(math.Round(x)))
	}
	return strconv.FormatFloat(x, 'g', 3, 64)
}
