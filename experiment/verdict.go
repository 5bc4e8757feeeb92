package experiment

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"nextbest/decide"
	"nextbest/internal/numfmt"
)

// The verdict and the plain-language formatting of numbers that the
// verdict, the summaries and eval's report files share.

// comparisonSentence says a comparison in one sentence.
func comparisonSentence(c *Comparison) string {
	rel := ""
	if c.ControlMean != 0 {
		rel = fmt.Sprintf(" (%s, always-valid interval %s to %s)", FormatSignedPct(c.Relative.Estimate),
			FormatSignedPct(c.AlwaysValidRelative.Lo), FormatSignedPct(c.AlwaysValidRelative.Hi))
	}
	verb := map[string]string{"better": "is better than", "worse": "is worse than", "inconclusive": "is not distinguishable yet from"}[c.Direction]
	out := fmt.Sprintf("%s %s %s on %s: %s vs %s%s; always-valid p %s, %s chance to beat %s.",
		c.Arm, verb, c.Control, c.Label, FormatMetric(c.Metric, c.ArmMean), FormatMetric(c.Metric, c.ControlMean), rel,
		fmtPEq(c.AlwaysValidP), FormatProb(c.ProbBeatControl), c.Control)
	if cu := c.CUPED; cu != nil {
		out += fmt.Sprintf(" Adjusted for the customers' %s before the experiment (CUPED), the lift is %s (%s to %s), with %s less variance.",
			cu.Covariate, FormatMetric(c.Metric, cu.Absolute.Estimate), FormatMetric(c.Metric, cu.Absolute.Lo), FormatMetric(c.Metric, cu.Absolute.Hi),
			FormatPct(cu.VarianceReduction, 0))
	}
	return out
}

func verdict(res *Result, allWorse bool) Verdict {
	v := Verdict{Trusted: !res.SRM.Mismatch && res.SampleSize.Enough}
	label := metricInfos[metricIndex(res.PrimaryMetric)].Label

	var prim []*Comparison
	for i := range res.Comparisons {
		if res.Comparisons[i].Role == "primary" {
			prim = append(prim, &res.Comparisons[i])
		}
	}
	// The best challenger: the better one with the largest lift, else the
	// one with the largest point lift.
	var best *Comparison
	for _, c := range prim {
		if best == nil || (c.Direction == "better") != (best.Direction == "better") && c.Direction == "better" ||
			(c.Direction == "better") == (best.Direction == "better") && c.Relative.Estimate > best.Relative.Estimate {
			best = c
		}
	}
	harmed := func(arm string) []string {
		var out []string
		for _, c := range res.Comparisons {
			if c.Arm == arm && c.Role == "guardrail" && c.Direction == "worse" {
				out = append(out, c.Label)
			}
		}
		return out
	}

	var n int
	for _, a := range res.Arms {
		n += a.Decisions
	}
	if n == 0 {
		best = nil
	}
	switch {
	case n == 0:
		v.Status = VerdictNoWinnerYet
		v.Headline = "No winner yet: the experiment has no decisions yet."
	case res.SRM.Mismatch:
		v.Status = VerdictUntrustworthy
		v.Headline = "Do not act on these results yet: the traffic split does not match the configuration."
	case !res.SampleSize.Enough:
		v.Status = VerdictNoWinnerYet
		v.Headline = fmt.Sprintf("No winner yet: too early to call on %s.", label)
	case best.Direction == "better" && len(harmed(best.Arm)) == 0:
		v.Status, v.Winner = VerdictWinner, best.Arm
		v.Headline = fmt.Sprintf("Winner: %s. It raises %s by %s over %s.", best.Arm, label, FormatPct(best.Relative.Estimate, 1), res.Control)
	case best.Direction == "better":
		v.Status = VerdictNoWinnerYet
		v.Headline = fmt.Sprintf("No winner yet: %s raises %s but harms %s.", best.Arm, label, strings.Join(harmed(best.Arm), " and "))
	case allWorse:
		v.Status, v.Winner = VerdictControlWins, res.Control
		if len(prim) == 1 {
			v.Headline = fmt.Sprintf("Winner: %s. The %s arm lowers %s by %s.", res.Control, best.Arm, label, FormatPct(-best.Relative.Estimate, 1))
		} else {
			v.Headline = fmt.Sprintf("Winner: %s. Every challenger lowers %s.", res.Control, label)
		}
	default:
		v.Status = VerdictNoWinnerYet
		v.Headline = fmt.Sprintf("No winner yet: no arm differs from %s on %s beyond chance so far.", res.Control, label)
	}
	if best != nil {
		v.HowMuch = fmt.Sprintf("%s: %s for %s vs %s for %s, a relative lift of %s (%s always-valid interval %s to %s; fixed-horizon %s to %s).",
			strings.ToUpper(label[:1])+label[1:], FormatMetric(best.Metric, best.ArmMean), best.Arm, FormatMetric(best.Metric, best.ControlMean), res.Control,
			FormatSignedPct(best.Relative.Estimate), FormatPct(res.Level, 0), FormatSignedPct(best.AlwaysValidRelative.Lo), FormatSignedPct(best.AlwaysValidRelative.Hi),
			FormatSignedPct(best.Relative.Lo), FormatSignedPct(best.Relative.Hi))
		v.HowSure = fmt.Sprintf("Always-valid p %s (it stays valid however often the report is checked; below %s counts as a result); %s chance that %s beats %s.",
			fmtPEq(best.AlwaysValidP), FormatAlpha(res.Level), FormatProb(best.ProbBeatControl), best.Arm, res.Control)
	} else {
		v.HowMuch = "No decisions to compare yet."
		v.HowSure = "Nothing to be sure of yet."
	}
	switch {
	case res.SRM.Mismatch:
		v.Trust = "No. " + res.SRM.Summary
	case !res.SampleSize.Enough:
		v.Trust = "Not yet. " + res.SampleSize.Summary
	default:
		v.Trust = "Yes. " + res.SRM.Summary + " " + res.SampleSize.Summary
	}
	if v.Status == VerdictNoWinnerYet && res.SampleSize.Guidance != "" {
		v.Trust += " " + res.SampleSize.Guidance
	}
	return v
}

// fmtPEq formats a p-value with its relation: "= 0.012", "< 0.0001".
func fmtPEq(p float64) string {
	s := FormatP(p)
	if strings.HasPrefix(s, "<") {
		return s
	}
	return "= " + s
}

// FormatProb formats a probability as a percentage, never rounding to a
// certainty: "> 99.9%", "< 0.1%".
func FormatProb(p float64) string {
	switch {
	case p > 0.999:
		return "> 99.9%"
	case p < 0.001:
		return "< 0.1%"
	}
	return FormatPct(p, 1)
}

// FormatAlpha formats 1 − level ("0.05").
func FormatAlpha(level float64) string {
	return strconv.FormatFloat(math.Round((1-level)*1e6)/1e6, 'g', -1, 64)
}

// FormatP formats a p-value for readers: "< 0.0001" or 2 significant digits.
func FormatP(p float64) string {
	switch {
	case p < 0.0001:
		return "< 0.0001"
	case p >= 0.995:
		return "1"
	case p < 0.01:
		return fmt.Sprintf("%.4f", p)
	}
	return fmt.Sprintf("%.2f", p)
}

// FormatPct formats a fraction as a percentage with d decimals.
func FormatPct(x float64, d int) string { return fmt.Sprintf("%.*f%%", d, 100*x) }

// FormatSignedPct formats a relative change with its sign: "+12.3%".
func FormatSignedPct(x float64) string {
	s := fmt.Sprintf("%+.1f%%", 100*x)
	if s == "-0.0%" {
		s = "+0.0%"
	}
	return s
}

// FormatMetric formats a value of metric in its unit: a percentage with
// two decimals for the conversion rate, three decimals otherwise.
func FormatMetric(metric string, x float64) string {
	if metric == decide.MetricConversion {
		return FormatPct(x, 2)
	}
	return fmt.Sprintf("%.3f", x)
}

// FormatInt formats n with thousands separators.
func FormatInt(n int) string { return numfmt.Group(strconv.Itoa(n)) }
