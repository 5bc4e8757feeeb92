package experiment

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"nextbest/decide"
)

// Analyze analyses experiment exp from its decisions' Aggregates: per-arm
// metrics, lifts against the control with fixed-horizon and always-valid
// inference, the probability to beat the control, the
// sample-ratio-mismatch check, sample-size guidance, channel and stage
// breakdowns, daily series with one sequential look per day, and a
// verdict. Arms of agg that exp does not configure are left out, with a
// warning. exp must be validated (decide.ParseExperiments does it). It is
// pure: the same input gives the same result, and it does not modify agg.
func Analyze(exp *decide.Experiment, agg *Aggregates, opts Options) (*Result, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if exp == nil || len(exp.Arms) < 2 {
		return nil, fmt.Errorf("%w: experiment needs at least two arms", ErrInvalidOptions)
	}
	if agg == nil {
		agg = &Aggregates{}
	}
	primary := exp.PrimaryMetric
	if primary == "" {
		primary = decide.MetricConversion
	}
	pi := metricIndex(primary)
	if pi < 0 {
		return nil, fmt.Errorf("%w: unknown primary metric %q", ErrInvalidOptions, primary)
	}
	control := exp.Control
	if control == "" {
		control = exp.Arms[0].Name
	}
	ci := slices.IndexFunc(exp.Arms, func(a decide.Arm) bool { return a.Name == control })
	if ci < 0 {
		return nil, fmt.Errorf("%w: no control arm %q", ErrInvalidOptions, control)
	}
	var guard []int
	for _, g := range exp.Guardrails {
		gi := metricIndex(g)
		if gi < 0 {
			return nil, fmt.Errorf("%w: unknown guardrail metric %q", ErrInvalidOptions, g)
		}
		if gi != pi && !slices.Contains(guard, gi) {
			guard = append(guard, gi)
		}
	}

	res := &Result{
		Experiment: exp.Name, Description: exp.Description, Start: exp.Start, End: exp.End,
		PrimaryMetric: primary, Guardrails: exp.Guardrails, Control: control, Level: o.Level,
		Metrics: slices.Clone(metricInfos),
	}

	// The configured arms' sums (empty for an arm without decisions); the
	// others are left out.
	nArms := len(exp.Arms)
	arms := make([]*ArmSums, nArms)
	for i, a := range exp.Arms {
		arms[i] = agg.Arms[a.Name]
		if arms[i] == nil {
			arms[i] = &ArmSums{}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(agg.Arms)) {
		if slices.ContainsFunc(exp.Arms, func(a decide.Arm) bool { return a.Name == name }) {
			continue
		}
		var n int64
		for _, d := range agg.Arms[name].Days {
			n += d.Decisions
		}
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d decisions name arm %q, which the experiment does not configure; left out", n, name))
	}
	for _, a := range arms {
		if a.From.IsZero() {
			continue
		}
		if res.From.IsZero() || a.From.Before(res.From) {
			res.From = a.From
		}
		if a.To.After(res.To) {
			res.To = a.To
		}
	}

	// Whole-experiment sums per arm.
	total := make([]Sums, nArms)
	for i, a := range arms {
		for _, date := range slices.Sorted(maps.Keys(a.Days)) { // one order: the same bits every time
			d := a.Days[date]
			total[i].Add(&d)
		}
	}
	var shareSum float64
	for _, a := range exp.Arms {
		shareSum += a.Share
	}
	z := zQuantile(o.Level)
	for i, a := range exp.Arms {
		ar := total[i].result(a.Name, z)
		ar.Policy = a.Policy
		if shareSum > 0 {
			ar.Share = a.Share / shareSum
		}
		res.Arms = append(res.Arms, ar)
	}

	// τ per metric from the pooled data: the arms' sums added (a customer
	// is one cluster per arm).
	var pooled Sums
	for i := range total {
		pooled.Add(&total[i])
	}
	var tau [NumMetrics]float64
	for m := range NumMetrics {
		s := pooled.summary(m)
		tau[m] = o.TauRelative * s.Mean
		if !(tau[m] > 0) {
			tau[m] = o.TauRelative * s.SE * math.Sqrt(float64(max(1, s.N)))
		}
	}

	metricsToTest := append([]int{pi}, guard...)
	alpha := 1 - o.Level
	type seqKey struct{ arm, metric int }
	abs := map[seqKey]*SequentialTest{}
	rel := map[seqKey]*SequentialTest{}
	for a := range nArms {
		if a == ci {
			continue
		}
		for _, m := range metricsToTest {
			abs[seqKey{a, m}] = &SequentialTest{Tau2: tau[m] * tau[m], Alpha: alpha}
			// relative lift: τ is TauRelative itself (a relative effect)
			rel[seqKey{a, m}] = &SequentialTest{Tau2: o.TauRelative * o.TauRelative, Alpha: alpha}
		}
	}
	res.Daily, res.Sequential = dailyPass(exp, arms, ci, pi, func(cum []Sums, date string) []SeqLook {
		var looks []SeqLook
		for a := range nArms {
			if a == ci {
				continue
			}
			for _, m := range metricsToTest {
				c, t := cum[ci].summary(m), cum[a].summary(m)
				if c.N < 2 || t.N < 2 {
					if m == pi {
						looks = append(looks, SeqLook{Date: date, P: 1})
					}
					continue
				}
				d, v := t.Mean-c.Mean, c.SE*c.SE+t.SE*t.SE
				if exp.Covariate != "" {
					if dc, vc, _, ok := cupedLift(&cum[ci], &cum[a], m); ok {
						d, v = dc, vc
					}
				}
				p, lo, hi := abs[seqKey{a, m}].Look(d, v)
				if c.Mean != 0 {
					se := relSE(c, t)
					rel[seqKey{a, m}].Look(t.Mean/c.Mean-1, se*se)
				}
				if m == pi {
					looks = append(looks, SeqLook{Date: date, Lift: d, P: p, Lo: finiteOr(lo, d), Hi: finiteOr(hi, d)})
				}
			}
		}
		return looks
	})

	// Comparisons.
	allWorse := true
	for a := range nArms {
		if a == ci {
			continue
		}
		for k, m := range metricsToTest {
			role := "primary"
			if k > 0 {
				role = "guardrail"
			}
			cmp := compare(&total[ci], &total[a], m, o.Level)
			cmp.Arm, cmp.Control, cmp.Role = exp.Arms[a].Name, control, role
			cmp.Tau = tau[m]
			cmp.CUPED = cupedOf(exp.Covariate, &total[ci], &total[a], m, o.Level)
			s, r := abs[seqKey{a, m}], rel[seqKey{a, m}]
			cmp.AlwaysValidP = 1
			est := cmp.Absolute.Estimate
			if cmp.CUPED != nil {
				est = cmp.CUPED.Absolute.Estimate
			}
			cmp.AlwaysValidAbsolute = Interval{Estimate: est, Lo: est, Hi: est, Level: o.Level,
				Method: "mSPRT confidence sequence (no look yet)"}
			cmp.AlwaysValidRelative = Interval{Estimate: cmp.Relative.Estimate, Lo: cmp.Relative.Estimate, Hi: cmp.Relative.Estimate, Level: o.Level,
				Method: "mSPRT confidence sequence (no look yet)"}
			if s.Looks() > 0 && !math.IsInf(s.lo, 0) {
				cmp.AlwaysValidP = s.p
				cmp.AlwaysValidAbsolute.Lo, cmp.AlwaysValidAbsolute.Hi = s.lo, s.hi
				cmp.AlwaysValidAbsolute.Method = "mSPRT confidence sequence, running intersection over daily looks"
				if cmp.CUPED != nil {
					cmp.AlwaysValidAbsolute.Method = "mSPRT confidence sequence on the CUPED-adjusted lift, running intersection over daily looks"
				}
			}
			if r.Looks() > 0 && !math.IsInf(r.lo, 0) {
				cmp.AlwaysValidRelative.Lo, cmp.AlwaysValidRelative.Hi = r.lo, r.hi
				if m == 0 { // a rate cannot fall by more than 100%
					cmp.AlwaysValidRelative.Lo = max(-1, cmp.AlwaysValidRelative.Lo)
				}
				cmp.AlwaysValidRelative.Method = "mSPRT confidence sequence on the delta-method relative lift, running intersection over daily looks"
			}
			switch {
			case cmp.AlwaysValidP < alpha && est > 0:
				cmp.Direction = "better"
			case cmp.AlwaysValidP < alpha && est < 0:
				cmp.Direction = "worse"
			default:
				cmp.Direction = "inconclusive"
			}
			cmp.Summary = comparisonSentence(&cmp)
			if k == 0 {
				allWorse = allWorse && cmp.Direction == "worse"
			}
			res.Comparisons = append(res.Comparisons, cmp)
		}
	}

	res.SRM = srmCheck(exp, total, o.SRMThreshold)
	res.SampleSize = sampleCheck(res, total, pi, o)
	res.Segments = segments(exp, arms, ci, pi, o.Level)
	res.Methods = methods(o, primary, tau, pi)
	if exp.Covariate != "" {
		res.Methods = append(res.Methods, fmt.Sprintf("CUPED (Deng et al. 2013): every comparison is also adjusted for the customers' %s at their first decision in the experiment (pre-period behaviour): Δ_cv = Δ − θ(X̄_arm − X̄_control) with θ pooled over the two arms, variance by the delta method on customer clusters; the always-valid test and the direction use the adjusted lift. variance_reduction is the share of the lift's variance removed.", exp.Covariate))
	}
	res.Verdict = verdict(res, allWorse)
	return res, nil
}

func finiteOr(x, def float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return def
	}
	return x
}

// summary returns metric m's mean per decision, its clustered standard
// error (see Sums) and the number of customers.
func (s *Sums) summary(m int) Summary {
	if s.Decisions == 0 {
		return Summary{}
	}
	sn := float64(s.Decisions)
	mean := s.Y[m] / sn
	out := Summary{Mean: mean, N: int(s.Customers)}
	if s.Customers < 2 {
		return out
	}
	k := float64(s.Customers)
	ss := s.YY[m] - 2*mean*s.YN[m] + mean*mean*s.NN // Σ (Y_c − m N_c)²
	out.SE = math.Sqrt(max(0, ss)/(k-1)/k) / (sn / k)
	return out
}

// effective returns metric m as a binomial count with the clustered
// variance: n_eff = p(1−p)/SE², capped at the decisions (Kish's design
// effect), and x_eff = p·n_eff, for the score intervals.
func (s *Sums) effective(m int) (x, n float64) {
	sm := s.summary(m)
	n = float64(s.Decisions)
	if sm.SE > 0 && sm.Mean > 0 && sm.Mean < 1 {
		n = min(n, sm.Mean*(1-sm.Mean)/(sm.SE*sm.SE))
	}
	return sm.Mean * n, n
}

func (s *Sums) result(name string, z float64) ArmResult {
	r := ArmResult{Name: name, Customers: int(s.Customers), Decisions: int(s.Decisions), WithOutcomes: int(s.WithOutcomes),
		Conversions: int(math.Round(s.Y[0]))}
	for m, info := range metricInfos {
		sm := s.summary(m)
		ms := MetricStat{Metric: info.Name, Mean: sm.Mean, SE: sm.SE, Lo: sm.Mean - z*sm.SE, Hi: sm.Mean + z*sm.SE, Sum: s.Y[m]}
		if m == 0 && s.Decisions > 0 {
			x, n := s.effective(m)
			w := WilsonInterval(x, n, 1-2*normalSF(z))
			ms.Lo, ms.Hi = w.Lo, w.Hi
		}
		r.Metrics = append(r.Metrics, ms)
	}
	return r
}

// compare returns the fixed-horizon part of a comparison of t against c
// on metric m.
func compare(c, t *Sums, m int, level float64) Comparison {
	info := metricInfos[m]
	sc, st := c.summary(m), t.summary(m)
	out := Comparison{Metric: info.Name, Label: info.Label, ControlMean: sc.Mean, ArmMean: st.Mean}
	if m == 0 && c.Decisions > 0 && t.Decisions > 0 {
		xc, nc := c.effective(m)
		xt, nt := t.effective(m)
		out.Absolute = NewcombeDiff(xc, nc, xt, nt, level)
	} else {
		out.Absolute = WelchDiff(sc, st, level)
	}
	out.Relative = RelativeLift(sc, st, level)
	if m == 0 {
		out.Relative.Lo = max(-1, out.Relative.Lo)
	}
	se := math.Hypot(sc.SE, st.SE)
	out.FixedHorizonP = 1
	if se > 0 {
		out.FixedHorizonP = 2 * normalSF(math.Abs(st.Mean-sc.Mean)/se)
	}
	if m == 0 {
		xc, nc := c.effective(m)
		xt, nt := t.effective(m)
		out.ProbBeatControl = ProbBeatBeta(xc+1, nc-xc+1, xt+1, nt-xt+1)
		out.ProbBeatMethod = "Beta-Binomial posteriors, uniform Beta(1,1) priors; exact sum (integer counts) or numerical integration"
	} else {
		out.ProbBeatControl = ProbBeatNormal(sc, st)
		out.ProbBeatMethod = "normal approximation to the posteriors of the means (flat priors)"
	}
	return out
}

func srmCheck(exp *decide.Experiment, total []Sums, threshold float64) SRMCheck {
	s := SRMCheck{Threshold: threshold, P: 1}
	shares := make([]float64, len(exp.Arms))
	var sum float64
	for i, a := range exp.Arms {
		s.Arms = append(s.Arms, a.Name)
		s.Observed = append(s.Observed, int(total[i].Customers))
		shares[i] = a.Share
		sum += a.Share
	}
	var n int
	for _, o := range s.Observed {
		n += o
	}
	for _, sh := range shares {
		s.Expected = append(s.Expected, float64(n)*sh/sum)
	}
	chi2, df, p, err := ChiSquareGOF(s.Observed, shares)
	if err != nil {
		s.Summary = "The split could not be checked: " + err.Error()
		return s
	}
	s.ChiSquare, s.DF, s.P = chi2, df, p
	s.Mismatch = p < threshold
	parts := make([]string, len(s.Arms))
	for i := range s.Arms {
		parts[i] = fmt.Sprintf("%s %s (expected %s)", s.Arms[i], FormatInt(s.Observed[i]), FormatInt(int(math.Round(s.Expected[i]))))
	}
	if s.Mismatch {
		s.Summary = fmt.Sprintf("Sample-ratio mismatch: customers per arm are %s; a split this far from the configured shares happens by chance with p %s (threshold %g). Assignment or logging is broken; do not trust the results until it is fixed.",
			strings.Join(parts, ", "), fmtPEq(p), threshold)
	} else {
		s.Summary = fmt.Sprintf("The traffic split matches the configured shares (customers: %s; chi-square p %s).", strings.Join(parts, ", "), fmtPEq(p))
	}
	return s
}

func sampleCheck(res *Result, total []Sums, pi int, o Options) SampleCheck {
	s := SampleCheck{MinConversions: o.MinConversions, MinDecisions: o.MinDecisions, MDE: o.MDE, Power: o.Power,
		FewestConversions: math.MaxInt, FewestDecisions: math.MaxInt}
	for _, a := range res.Arms {
		s.FewestConversions = min(s.FewestConversions, a.Conversions)
		s.FewestDecisions = min(s.FewestDecisions, a.Decisions)
	}
	convNeeded := res.PrimaryMetric == decide.MetricConversion || slices.Contains(res.Guardrails, decide.MetricConversion)
	s.Enough = s.FewestDecisions >= o.MinDecisions && (!convNeeded || s.FewestConversions >= o.MinConversions)
	// Guidance: per-decision standard deviation of the primary metric in
	// the control, from its standard error (decision-weighted).
	var c *Sums
	for i, a := range res.Arms {
		if a.Name == res.Control {
			c = &total[i]
		}
	}
	if c != nil && c.Decisions > 1 {
		sm := c.summary(pi)
		sd := sm.SE * math.Sqrt(float64(c.Decisions))
		if sm.Mean != 0 && sd > 0 {
			n := SampleSizePerArm(sd, sd, o.MDE*math.Abs(sm.Mean), res.Level, o.Power)
			if n < 1e12 {
				s.NeededPerArm = int(math.Ceil(n))
			}
		}
	}
	if s.NeededPerArm > 0 {
		s.Guidance = fmt.Sprintf("Detecting a %s change in %s with %s power needs about %s decisions per arm.",
			FormatPct(o.MDE, 0), metricInfos[pi].Label, FormatPct(o.Power, 0), FormatInt(s.NeededPerArm))
	}
	switch {
	case len(res.Arms) == 0 || s.FewestDecisions == 0:
		s.FewestConversions, s.FewestDecisions = 0, 0
		s.Summary = "No decisions in the experiment yet."
	case s.Enough && convNeeded:
		s.Summary = fmt.Sprintf("Every arm has at least %s decisions and %s conversions (fewest: %s and %s).",
			FormatInt(o.MinDecisions), FormatInt(o.MinConversions), FormatInt(s.FewestDecisions), FormatInt(s.FewestConversions))
	case s.Enough:
		s.Summary = fmt.Sprintf("Every arm has at least %s decisions (fewest: %s).", FormatInt(o.MinDecisions), FormatInt(s.FewestDecisions))
	case convNeeded:
		s.Summary = fmt.Sprintf("Too early: an arm has only %s decisions and %s conversions; wait for at least %s decisions and %s conversions per arm.",
			FormatInt(s.FewestDecisions), FormatInt(s.FewestConversions), FormatInt(o.MinDecisions), FormatInt(o.MinConversions))
	default:
		s.Summary = fmt.Sprintf("Too early: an arm has only %s decisions; wait for at least %s per arm.", FormatInt(s.FewestDecisions), FormatInt(o.MinDecisions))
	}
	return s
}

// dailyPass walks the arms' days from the first to the last with
// decisions (empty days included), calling look with the cumulative sums
// at the end of each day that has decisions.
func dailyPass(exp *decide.Experiment, arms []*ArmSums, ci, pi int, look func(cum []Sums, date string) []SeqLook) ([]ArmSeries, []SequentialPath) {
	n := len(exp.Arms)
	series := make([]ArmSeries, n)
	for i, a := range exp.Arms {
		series[i].Arm = a.Name
	}
	var seq []SequentialPath
	for i, a := range exp.Arms {
		if i != ci {
			seq = append(seq, SequentialPath{Arm: a.Name, Metric: metricInfos[pi].Name})
		}
	}
	var first, last string
	for _, a := range arms {
		for date, d := range a.Days {
			if d.Decisions == 0 {
				continue
			}
			if first == "" || date < first {
				first = date
			}
			last = max(last, date)
		}
	}
	if first == "" {
		return series, seq
	}
	cur, err := time.Parse(time.DateOnly, first)
	if err != nil {
		panic("BUG: experiment: a day group's value is not a date: " + first)
	}
	cum := make([]Sums, n)
	for date := first; date <= last; date = cur.Format(time.DateOnly) {
		had := false
		for a, arm := range arms {
			day := arm.Days[date]
			cum[a].Add(&day)
			had = had || day.Decisions > 0
			c := &cum[a]
			p := DayPoint{Date: date, Decisions: int(day.Decisions), CumDecisions: int(c.Decisions), CumReward: c.Y[2]}
			if day.Decisions > 0 {
				p.ConversionRate = day.Y[0] / float64(day.Decisions)
				p.Revenue = day.Y[1] / float64(day.Decisions)
				p.Reward = day.Y[2] / float64(day.Decisions)
			}
			if c.Decisions > 0 {
				p.CumPrimary = c.Y[pi] / float64(c.Decisions)
			}
			series[a].Points = append(series[a].Points, p)
		}
		if had {
			looks := look(cum, date)
			for k := range seq {
				if k < len(looks) {
					seq[k].Points = append(seq[k].Points, looks[k])
				}
			}
		}
		cur = cur.AddDate(0, 0, 1)
	}
	return series, seq
}

func segments(exp *decide.Experiment, arms []*ArmSums, ci, pi int, level float64) []Segment {
	z := zQuantile(level)
	var out []Segment
	for _, dim := range []string{DimChannel, DimStage} {
		of := func(a *ArmSums) map[string]Sums {
			if dim == DimStage {
				return a.Stages
			}
			return a.Channels
		}
		var values []string
		for _, a := range arms {
			for v := range of(a) {
				if !slices.Contains(values, v) {
					values = append(values, v)
				}
			}
		}
		slices.Sort(values)
		for _, v := range values {
			sums := make([]Sums, len(arms))
			for i, a := range arms {
				sums[i] = of(a)[v]
			}
			s := Segment{Dimension: dim, Value: v}
			for i, a := range exp.Arms {
				ar := sums[i].result(a.Name, z)
				ar.Policy = a.Policy
				s.Arms = append(s.Arms, ar)
			}
			for i, a := range exp.Arms {
				if i == ci || sums[i].Customers < 2 || sums[ci].Customers < 2 {
					continue
				}
				c := compare(&sums[ci], &sums[i], pi, level)
				s.Lifts = append(s.Lifts, SegmentLift{Arm: a.Name, Absolute: c.Absolute, Relative: c.Relative})
			}
			out = append(out, s)
		}
	}
	return out
}

// methods says how every number of the result was computed.
func methods(o Options, primary string, tau [NumMetrics]float64, pi int) []string {
	lvl := FormatPct(o.Level, 0)
	return []string{
		"Unit: customers are randomised (sticky hash of customer id and experiment name); metrics are means per decision, and their standard errors treat each customer's decisions as one cluster (delta method for ratio metrics, Deng et al. 2018). The SRM check counts customers. Every number is a function of per-arm sums (customers, decisions, Σ N_c², and per metric Σ Y_c, Σ Y_c², Σ Y_c N_c) per day, channel and stage.",
		fmt.Sprintf("Per-arm intervals (%s): Wilson score for the conversion rate (on the design-effect-adjusted count), mean ± z·SE for revenue and reward.", lvl),
		fmt.Sprintf("Fixed-horizon lift intervals (%s, valid for a single look): Newcombe hybrid score (method 10) for the difference of conversion rates, Welch t with Welch–Satterthwaite degrees of freedom for revenue and reward; relative lift arm/control − 1 by the delta method, SE² = SEt²/mc² + mt²·SEc²/mc⁴, normal quantile.", lvl),
		fmt.Sprintf("Always-valid p-value: mixture sequential probability ratio test (Johari, Koomen, Pekelis & Walsh 2017) on the difference of means with a normal mixing distribution N(0, τ²), the arms' variances plugged in, one look per day, p = min over looks of 1/Λ. τ = %g × the pooled mean of the metric (τ² = %.4g for %s); the test is valid for any fixed τ, which only tunes its power to effects of that size. A challenger is called better or worse when p < %s.",
			o.TauRelative, tau[pi]*tau[pi], primary, FormatAlpha(o.Level)),
		fmt.Sprintf("Always-valid intervals: the confidence sequence the mSPRT implies, d ± √(2v(v+τ²)/τ² · (log(1/α) + ½ log((v+τ²)/v))), intersected over the daily looks; the relative one applies the same formula to the delta-method relative lift with τ = %g (a relative effect).", o.TauRelative),
		"Probability to beat control: Beta-Binomial posteriors with uniform Beta(1,1) priors for conversion (exact finite sum; numerical integration for non-integer design-adjusted counts), normal approximation with flat priors for revenue and reward.",
		fmt.Sprintf("Sample-ratio mismatch: Pearson chi-square goodness of fit of customers per arm against the configured shares; flagged when p < %g.", o.SRMThreshold),
		fmt.Sprintf("Sample-size guidance: at least %d decisions and %d conversions per arm before a verdict; the fixed-horizon size for a %s relative lift at %s power is (z₁₋α/₂ + z_power)²·2σ²/δ² with the control's σ.", o.MinDecisions, o.MinConversions, FormatPct(o.MDE, 0), FormatPct(o.Power, 0)),
		"Segment lifts (channel, journey stage) are fixed-horizon and uncorrected for multiplicity: descriptive only.",
	}
}
