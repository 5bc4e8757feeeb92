package eval

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"nextbest/decide"
	"nextbest/logs"
)

// ExperimentOptions tunes AnalyzeExperiment. The zero value means the
// defaults below.
type ExperimentOptions struct {
	// Level is the confidence level of every interval; 0 means 0.95. The
	// always-valid p-value is compared with α = 1 − Level.
	Level float64
	// TauRelative sets the mSPRT mixing standard deviation τ per metric as
	// this fraction of the metric's pooled mean (all arms, all days): the
	// relative effect size the test is tuned to. 0 means 0.1 (a 10% lift).
	// Where the pooled mean is not positive, τ is this fraction of the
	// pooled per-decision standard deviation instead.
	TauRelative float64
	// MinConversions is the number of converting decisions every arm needs
	// before a verdict is trusted; 0 means 100. MinDecisions likewise
	// counts decisions; 0 means 1,000.
	MinConversions int
	MinDecisions   int
	// SRMThreshold is the p-value of the sample-ratio-mismatch test below
	// which the split is flagged; 0 means 0.001.
	SRMThreshold float64
	// MDE and Power set the sample-size guidance: the decisions per arm a
	// fixed-horizon test needs to detect a relative lift of MDE with this
	// power. 0 means 0.1 and 0.8.
	MDE   float64
	Power float64
	// Location sets the day boundaries of the daily series; nil means UTC.
	Location *time.Location
}

func (o ExperimentOptions) withDefaults() (ExperimentOptions, error) {
	if o.Level == 0 {
		o.Level = 0.95
	}
	if o.TauRelative == 0 {
		o.TauRelative = 0.1
	}
	if o.MinConversions == 0 {
		o.MinConversions = 100
	}
	if o.MinDecisions == 0 {
		o.MinDecisions = 1000
	}
	if o.SRMThreshold == 0 {
		o.SRMThreshold = 0.001
	}
	if o.MDE == 0 {
		o.MDE = 0.1
	}
	if o.Power == 0 {
		o.Power = 0.8
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	switch {
	case !(o.Level > 0 && o.Level < 1):
		return o, fmt.Errorf("%w: level %v not in (0, 1)", ErrInvalidOptions, o.Level)
	case !(o.TauRelative > 0), !(o.MDE > 0), !(o.Power > 0 && o.Power < 1):
		return o, fmt.Errorf("%w: tau %v, MDE %v, power %v", ErrInvalidOptions, o.TauRelative, o.MDE, o.Power)
	case o.MinConversions < 0 || o.MinDecisions < 0 || !(o.SRMThreshold > 0 && o.SRMThreshold < 1):
		return o, fmt.Errorf("%w: minimum counts %d/%d, SRM threshold %v", ErrInvalidOptions, o.MinConversions, o.MinDecisions, o.SRMThreshold)
	}
	return o, nil
}

// ExperimentResult is the analysis of one experiment: what
// AnalyzeExperiment returns, what the report files and the service's
// GET /v1/experiments carry, and what the dashboard renders. Every number
// has a name, a unit (MetricInfo) and, where it matters, a sentence that
// says what it means; the JSON is self-describing.
type ExperimentResult struct {
	Experiment  string    `json:"experiment"`
	Description string    `json:"description,omitempty"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end,omitzero"`
	// From and To bound the analysed decisions' times (first and last).
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// PrimaryMetric decides the experiment; Guardrails are watched for harm.
	PrimaryMetric string   `json:"primary_metric"`
	Guardrails    []string `json:"guardrails,omitempty"`
	Control       string   `json:"control"`
	Level         float64  `json:"level"`
	// Verdict says in plain words who wins, by how much, how sure we are
	// and whether the data can be trusted.
	Verdict Verdict `json:"verdict"`
	// Metrics is the glossary: each metric's name, label, unit and
	// definition.
	Metrics []MetricInfo `json:"metrics"`
	// Arms holds each arm's counts and metrics, in configuration order.
	Arms []ArmResult `json:"arms"`
	// Comparisons holds, per challenger, the primary metric then each
	// guardrail against the control.
	Comparisons []Comparison `json:"comparisons"`
	SRM         SRMCheck     `json:"srm"`
	SampleSize  SampleCheck  `json:"sample_size"`
	// Segments breaks the arms' metrics and the primary lift down by
	// channel and by journey stage.
	Segments []Segment `json:"segments"`
	// Daily is each arm's series per calendar day (every day from the
	// first to the last decision, empty days included).
	Daily []ArmSeries `json:"daily"`
	// Sequential is the path of the always-valid tests of the primary
	// metric over the daily looks, per challenger.
	Sequential []SequentialPath `json:"sequential"`
	// OffPolicy holds the off-policy estimates from each arm's logs.
	OffPolicy []OffPolicyArm `json:"off_policy"`
	// Methods states how every interval, p-value and probability was
	// computed.
	Methods []string `json:"methods"`
	// Warnings say what in the data looked wrong (decisions of unknown
	// arms, missing propensities, ...).
	Warnings []string `json:"warnings,omitempty"`
}

// Verdict is the plain-language summary a marketer reads first.
type Verdict struct {
	// Status is "winner" (a challenger beats the control on the primary
	// metric), "control_wins" (every challenger is worse), "no_winner_yet"
	// or "untrustworthy" (the split is broken: do not act on the numbers).
	Status string `json:"status"`
	// Winner names the winning arm (the control for "control_wins").
	Winner string `json:"winner,omitempty"`
	// Headline, HowMuch, HowSure and Trust are sentences in that order.
	Headline string `json:"headline"`
	HowMuch  string `json:"how_much"`
	HowSure  string `json:"how_sure"`
	Trust    string `json:"trust"`
	// Trusted is false when the SRM check failed or an arm has too little
	// data; no winner is declared then.
	Trusted bool `json:"trusted"`
}

// Verdict statuses.
const (
	VerdictWinner        = "winner"
	VerdictControlWins   = "control_wins"
	VerdictNoWinnerYet   = "no_winner_yet"
	VerdictUntrustworthy = "untrustworthy"
)

// MetricInfo describes a metric for readers of the result.
type MetricInfo struct {
	Name       string `json:"name"`
	Label      string `json:"label"`
	Unit       string `json:"unit"`
	Definition string `json:"definition"`
}

// metricInfos are the three experiment metrics, in report order.
var metricInfos = []MetricInfo{
	{decide.MetricConversion, "conversion rate", "share of decisions",
		`1 if any returned action got an outcome of a type declared a conversion (by default "conversion" and "purchase") with a positive reward, joined within the attribution window, else 0; averaged over decisions`},
	{decide.MetricRevenue, "revenue per decision", "currency units per decision",
		`sum of the joined rewards of outcomes of type "revenue" over the returned actions; averaged over decisions`},
	{decide.MetricReward, "reward per decision", "reward units per decision",
		`sum of all joined outcome rewards over the returned actions (the learning reward, default rewards excluded); averaged over decisions`},
}

const nMetrics = 3

func metricIndex(name string) int {
	for i, m := range metricInfos {
		if m.Name == name {
			return i
		}
	}
	return -1
}

// MetricStat is one metric of one arm (or segment): the mean per
// decision, its standard error and interval, and the sum.
type MetricStat struct {
	Metric string  `json:"metric"`
	Mean   float64 `json:"mean"`
	SE     float64 `json:"se"`
	Lo     float64 `json:"ci_lo"`
	Hi     float64 `json:"ci_hi"`
	Sum    float64 `json:"sum"`
}

// ArmResult is one arm's counts and metrics.
type ArmResult struct {
	Name   string `json:"name"`
	Policy string `json:"policy,omitempty"`
	// Share is the configured share of customers, normalised to sum to 1.
	Share float64 `json:"share,omitempty"`
	// Customers is the number of distinct customers (the randomisation
	// unit), Decisions the decisions logged for them, WithOutcomes those
	// with at least one joined outcome, Conversions those that converted.
	Customers    int          `json:"customers"`
	Decisions    int          `json:"decisions"`
	WithOutcomes int          `json:"decisions_with_outcomes"`
	Conversions  int          `json:"conversions"`
	Metrics      []MetricStat `json:"metrics"`
}

// Metric returns the arm's stat for metric name (zero if absent).
func (a *ArmResult) Metric(name string) MetricStat {
	for _, m := range a.Metrics {
		if m.Metric == name {
			return m
		}
	}
	return MetricStat{}
}

// Comparison is one challenger against the control on one metric.
type Comparison struct {
	Arm     string `json:"arm"`
	Control string `json:"control"`
	Metric  string `json:"metric"`
	Label   string `json:"label"`
	// Role is "primary" or "guardrail".
	Role        string  `json:"role"`
	ControlMean float64 `json:"control_mean"`
	ArmMean     float64 `json:"arm_mean"`
	// Absolute and Relative are the fixed-horizon lifts, arm − control and
	// arm/control − 1, with their intervals at Level (valid for one look).
	Absolute Interval `json:"absolute_lift"`
	Relative Interval `json:"relative_lift"`
	// FixedHorizonP is the two-sided z-test p-value of one look, shown for
	// reference only: it is not valid when results are checked repeatedly.
	FixedHorizonP float64 `json:"fixed_horizon_p"`
	// AlwaysValidP is the mSPRT p-value over the daily looks: it stays
	// valid however often, and whenever, someone looks.
	AlwaysValidP float64 `json:"always_valid_p"`
	// AlwaysValidAbsolute and AlwaysValidRelative are the confidence
	// sequences (always-valid intervals) of the lifts.
	AlwaysValidAbsolute Interval `json:"always_valid_absolute"`
	AlwaysValidRelative Interval `json:"always_valid_relative"`
	// Tau is the mSPRT mixing standard deviation in the metric's units.
	Tau float64 `json:"tau"`
	// ProbBeatControl is the posterior probability that the arm's true
	// metric exceeds the control's.
	ProbBeatControl float64 `json:"prob_beat_control"`
	ProbBeatMethod  string  `json:"prob_beat_method"`
	// Direction is "better", "worse" (always-valid p < α, by the sign of
	// the lift) or "inconclusive".
	Direction string `json:"direction"`
	// Summary says the above in one sentence.
	Summary string `json:"summary"`
}

// SRMCheck is the sample-ratio-mismatch test: are the customers split
// across arms as configured?
type SRMCheck struct {
	Arms      []string  `json:"arms"`
	Observed  []int     `json:"observed_customers"`
	Expected  []float64 `json:"expected_customers"`
	ChiSquare float64   `json:"chi_square"`
	DF        int       `json:"df"`
	P         float64   `json:"p"`
	Threshold float64   `json:"threshold"`
	Mismatch  bool      `json:"mismatch"`
	Summary   string    `json:"summary"`
}

// SampleCheck is the minimum-sample guidance.
type SampleCheck struct {
	MinConversions int  `json:"min_conversions_per_arm"`
	MinDecisions   int  `json:"min_decisions_per_arm"`
	Enough         bool `json:"enough"`
	// FewestConversions and FewestDecisions are the smallest counts over
	// the arms.
	FewestConversions int `json:"fewest_conversions"`
	FewestDecisions   int `json:"fewest_decisions"`
	// NeededPerArm is the decisions per arm that a fixed-horizon test
	// needs to detect a relative lift of MDE on the primary metric with
	// Power (0 when it cannot be computed yet).
	NeededPerArm int     `json:"needed_decisions_per_arm"`
	MDE          float64 `json:"mde"`
	Power        float64 `json:"power"`
	Summary      string  `json:"summary"`
	// Guidance says how many decisions per arm NeededPerArm is, in words.
	Guidance string `json:"guidance,omitempty"`
}

// Segment is one value of a breakdown dimension ("channel" or "stage").
type Segment struct {
	Dimension string      `json:"dimension"`
	Value     string      `json:"value"`
	Arms      []ArmResult `json:"arms"`
	// Lifts are the challengers' fixed-horizon lifts on the primary metric
	// in this segment: descriptive, not corrected for looking at many
	// segments.
	Lifts []SegmentLift `json:"primary_lifts"`
}

// SegmentLift is a challenger's primary-metric lift within a segment.
type SegmentLift struct {
	Arm      string   `json:"arm"`
	Absolute Interval `json:"absolute_lift"`
	Relative Interval `json:"relative_lift"`
}

// ArmSeries is an arm's daily series.
type ArmSeries struct {
	Arm    string     `json:"arm"`
	Points []DayPoint `json:"points"`
}

// DayPoint is one arm's numbers for one day: that day's decisions and
// metric means, and the cumulative totals up to the end of the day.
type DayPoint struct {
	Date           string  `json:"date"`
	Decisions      int     `json:"decisions"`
	ConversionRate float64 `json:"conversion_rate"`
	Revenue        float64 `json:"revenue_per_decision"`
	Reward         float64 `json:"reward_per_decision"`
	CumDecisions   int     `json:"cum_decisions"`
	CumReward      float64 `json:"cum_reward"`
	// CumPrimary is the cumulative mean of the primary metric.
	CumPrimary float64 `json:"cum_primary"`
}

// SequentialPath is a challenger's always-valid test of the primary
// metric, look by look (one look per day).
type SequentialPath struct {
	Arm    string    `json:"arm"`
	Metric string    `json:"metric"`
	Points []SeqLook `json:"points"`
}

// SeqLook is the state of an always-valid test after a day's data.
type SeqLook struct {
	Date string  `json:"date"`
	Lift float64 `json:"absolute_lift"`
	P    float64 `json:"always_valid_p"`
	Lo   float64 `json:"lo"`
	Hi   float64 `json:"hi"`
}

// OffPolicyArm holds the off-policy estimates from one arm's logs, slot 0
// of each decision, the learning reward of the slot-0 action as reward.
type OffPolicyArm struct {
	Arm    string `json:"arm"`
	Policy string `json:"policy,omitempty"`
	Rounds int    `json:"rounds"`
	// OnPolicy is the observed mean slot-0 reward with a t interval.
	OnPolicy Interval `json:"on_policy"`
	// Self estimates the arm's own logging policy (target probability of
	// the logged action = its logged propensity): every weight is 1, so
	// IPS equals OnPolicy exactly; a gap means mis-built rounds.
	Self []Estimate `json:"self"`
	// Uniform estimates a uniform-random policy over each decision's
	// eligible actions. Every arm estimates the same quantity, so the
	// arms' intervals should overlap, and cover the on-policy mean of an
	// arm whose policy is "random".
	Uniform  []Estimate `json:"uniform"`
	Warnings []string   `json:"warnings,omitempty"`
}

// obs is one analysed decision.
type obs struct {
	arm      int
	customer string
	t        time.Time
	channel  string
	stage    string
	y        [nMetrics]float64
	outcome  bool
	j        *logs.Joined
}

// DecisionMetrics returns a joined decision's three metric values in the
// order conversion, revenue, reward (see MetricInfo definitions), and
// whether any outcome was joined. Conversions are the join's
// (logs.Joined.Converted: the declared conversion types).
func DecisionMetrics(j *logs.Joined) (conversion, revenue, reward float64, outcome bool) {
	for i, n := range j.Outcomes {
		if n == 0 {
			continue
		}
		outcome = true
		reward += j.Rewards[i]
		if i < len(j.Converted) && j.Converted[i] {
			conversion = 1
		}
		if i < len(j.TypeRewards) {
			revenue += j.TypeRewards[i]["revenue"]
		}
	}
	return conversion, revenue, reward, outcome
}

// AnalyzeExperiment analyses the decisions of experiment exp in joined
// (logs.Join's output; decisions of other experiments and outside
// experiments are skipped): per-arm metrics, lifts against the control
// with fixed-horizon and always-valid inference, the probability to beat
// the control, the sample-ratio-mismatch check, sample-size guidance,
// channel and stage breakdowns, daily series with one sequential look per
// day, off-policy estimates from each arm's logs, and a verdict. exp must
// be validated (decide.ParseExperiments does it). It is pure: the same
// input gives the same result.
func AnalyzeExperiment(exp *decide.Experiment, joined []logs.Joined, opts ExperimentOptions) (*ExperimentResult, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if exp == nil || len(exp.Arms) < 2 {
		return nil, fmt.Errorf("%w: experiment needs at least two arms", ErrInvalidOptions)
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

	res := &ExperimentResult{
		Experiment: exp.Name, Description: exp.Description, Start: exp.Start, End: exp.End,
		PrimaryMetric: primary, Guardrails: exp.Guardrails, Control: control, Level: o.Level,
		Metrics: slices.Clone(metricInfos),
	}

	// Select and sort the experiment's decisions.
	armIdx := make(map[string]int, len(exp.Arms))
	for i, a := range exp.Arms {
		armIdx[a.Name] = i
	}
	unknown := map[string]int{}
	var obsv []obs
	for k := range joined {
		j := &joined[k]
		e := j.Decision.Experiment
		if e == nil || e.Name != exp.Name {
			continue
		}
		ai, ok := armIdx[e.Arm]
		if !ok {
			unknown[e.Arm]++
			continue
		}
		c, r, w, out := DecisionMetrics(j)
		stage, _ := j.Decision.Profile["stage"].(string)
		if stage == "" {
			stage = "unknown"
		}
		ch := j.Decision.Channel
		if ch == "" {
			ch = "unknown"
		}
		obsv = append(obsv, obs{arm: ai, customer: j.Decision.CustomerID, t: j.Decision.Time, channel: ch, stage: stage,
			y: [nMetrics]float64{c, r, w}, outcome: out, j: j})
	}
	for _, a := range slices.Sorted(maps.Keys(unknown)) {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d decisions name arm %q, which the experiment does not configure; left out", unknown[a], a))
	}
	slices.SortStableFunc(obsv, func(a, b obs) int { return a.t.Compare(b.t) })
	if len(obsv) > 0 {
		res.From, res.To = obsv[0].t, obsv[len(obsv)-1].t
	}

	// Whole-experiment accumulators per arm, and the daily pass.
	nArms := len(exp.Arms)
	total := newAccs(nArms)
	for i := range obsv {
		total[obsv[i].arm].add(&obsv[i])
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

	// τ per metric from the pooled data.
	var pooled acc
	pooled.init()
	for i := range obsv {
		pooled.add(&obsv[i])
	}
	var tau [nMetrics]float64
	for m := range nMetrics {
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
	res.Daily, res.Sequential = dailyPass(exp, obsv, o.Location, ci, pi, func(cum []*acc, date string) []SeqLook {
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
				d := t.Mean - c.Mean
				p, lo, hi := abs[seqKey{a, m}].Look(d, c.SE*c.SE+t.SE*t.SE)
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
			cmp := compare(total[ci], total[a], m, o.Level)
			cmp.Arm, cmp.Control, cmp.Role = exp.Arms[a].Name, control, role
			cmp.Tau = tau[m]
			s, r := abs[seqKey{a, m}], rel[seqKey{a, m}]
			cmp.AlwaysValidP = 1
			cmp.AlwaysValidAbsolute = Interval{Estimate: cmp.Absolute.Estimate, Lo: cmp.Absolute.Estimate, Hi: cmp.Absolute.Estimate, Level: o.Level,
				Method: "mSPRT confidence sequence (no look yet)"}
			cmp.AlwaysValidRelative = Interval{Estimate: cmp.Relative.Estimate, Lo: cmp.Relative.Estimate, Hi: cmp.Relative.Estimate, Level: o.Level,
				Method: "mSPRT confidence sequence (no look yet)"}
			if s.Looks() > 0 && !math.IsInf(s.lo, 0) {
				cmp.AlwaysValidP = s.p
				cmp.AlwaysValidAbsolute.Lo, cmp.AlwaysValidAbsolute.Hi = s.lo, s.hi
				cmp.AlwaysValidAbsolute.Method = "mSPRT confidence sequence, running intersection over daily looks"
			}
			if r.Looks() > 0 && !math.IsInf(r.lo, 0) {
				cmp.AlwaysValidRelative.Lo, cmp.AlwaysValidRelative.Hi = r.lo, r.hi
				if m == 0 { // a rate cannot fall by more than 100%
					cmp.AlwaysValidRelative.Lo = max(-1, cmp.AlwaysValidRelative.Lo)
				}
				cmp.AlwaysValidRelative.Method = "mSPRT confidence sequence on the delta-method relative lift, running intersection over daily looks"
			}
			switch {
			case cmp.AlwaysValidP < alpha && cmp.Absolute.Estimate > 0:
				cmp.Direction = "better"
			case cmp.AlwaysValidP < alpha && cmp.Absolute.Estimate < 0:
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
	res.Segments = segments(exp, obsv, ci, pi, o.Level)
	res.OffPolicy = offPolicy(exp, obsv, o.Level)
	res.Methods = methods(o, primary, tau, pi)
	res.Verdict = verdict(res, allWorse)
	return res, nil
}

func finiteOr(x, def float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return def
	}
	return x
}

// acc accumulates per-decision metrics clustered by customer, the unit of
// randomisation: a metric's mean is the ratio ΣY/ΣN of per-customer sums,
// and its variance comes from the delta method for ratio metrics (Deng,
// Knoblich & Lu 2018, "Applying the delta method in metric analytics"):
//
//	Var(m) ≈ Σ_c (Y_c − m·N_c)² / (K(K−1)·N̄²),
//
// which reduces to s²/n when each customer has one decision. The sums of
// squares are kept incrementally so daily cumulative snapshots cost O(1).
type acc struct {
	cust                map[string]*custSum
	k                   int
	decisions, outcomes int
	sn, snn             float64
	sy, syy, syn        [nMetrics]float64
	dayN                int // decisions since the day started
	daySum              [nMetrics]float64
}

type custSum struct {
	n float64
	y [nMetrics]float64
}

func (a *acc) init() { a.cust = make(map[string]*custSum) }

func newAccs(n int) []*acc {
	out := make([]*acc, n)
	for i := range out {
		out[i] = &acc{}
		out[i].init()
	}
	return out
}

func (a *acc) add(o *obs) {
	c := a.cust[o.customer]
	if c == nil {
		c = &custSum{}
		a.cust[o.customer] = c
		a.k++
	}
	a.snn -= c.n * c.n
	for m := range nMetrics {
		a.syy[m] -= c.y[m] * c.y[m]
		a.syn[m] -= c.y[m] * c.n
	}
	c.n++
	a.sn++
	a.snn += c.n * c.n
	for m := range nMetrics {
		c.y[m] += o.y[m]
		a.sy[m] += o.y[m]
		a.syy[m] += c.y[m] * c.y[m]
		a.syn[m] += c.y[m] * c.n
		a.daySum[m] += o.y[m]
	}
	a.decisions++
	a.dayN++
	if o.outcome {
		a.outcomes++
	}
}

// summary returns metric m's mean per decision, its clustered standard
// error and the number of customers.
func (a *acc) summary(m int) Summary {
	if a.sn == 0 {
		return Summary{}
	}
	mean := a.sy[m] / a.sn
	s := Summary{Mean: mean, N: a.k}
	if a.k < 2 {
		return s
	}
	ss := a.syy[m] - 2*mean*a.syn[m] + mean*mean*a.snn // Σ (Y_c − m N_c)²
	nbar := a.sn / float64(a.k)
	s.SE = math.Sqrt(max(0, ss)/float64(a.k-1)/float64(a.k)) / nbar
	return s
}

// effective returns metric m as a binomial count with the clustered
// variance: n_eff = p(1−p)/SE², capped at the decisions (Kish's design
// effect), and x_eff = p·n_eff, for the score intervals.
func (a *acc) effective(m int) (x, n float64) {
	s := a.summary(m)
	n = a.sn
	if s.SE > 0 && s.Mean > 0 && s.Mean < 1 {
		n = min(n, s.Mean*(1-s.Mean)/(s.SE*s.SE))
	}
	return s.Mean * n, n
}

func (a *acc) result(name string, z float64) ArmResult {
	r := ArmResult{Name: name, Customers: a.k, Decisions: a.decisions, WithOutcomes: a.outcomes,
		Conversions: int(math.Round(a.sy[0]))}
	for m, info := range metricInfos {
		s := a.summary(m)
		ms := MetricStat{Metric: info.Name, Mean: s.Mean, SE: s.SE, Lo: s.Mean - z*s.SE, Hi: s.Mean + z*s.SE, Sum: a.sy[m]}
		if m == 0 && a.sn > 0 {
			x, n := a.effective(m)
			w := WilsonInterval(x, n, 1-2*normalSF(z))
			ms.Lo, ms.Hi = w.Lo, w.Hi
		}
		r.Metrics = append(r.Metrics, ms)
	}
	return r
}

// compare returns the fixed-horizon part of a comparison of t against c
// on metric m.
func compare(c, t *acc, m int, level float64) Comparison {
	info := metricInfos[m]
	sc, st := c.summary(m), t.summary(m)
	out := Comparison{Metric: info.Name, Label: info.Label, ControlMean: sc.Mean, ArmMean: st.Mean}
	if m == 0 && c.sn > 0 && t.sn > 0 {
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

func srmCheck(exp *decide.Experiment, total []*acc, threshold float64) SRMCheck {
	s := SRMCheck{Threshold: threshold, P: 1}
	shares := make([]float64, len(exp.Arms))
	var sum float64
	for i, a := range exp.Arms {
		s.Arms = append(s.Arms, a.Name)
		s.Observed = append(s.Observed, total[i].k)
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
		parts[i] = fmt.Sprintf("%s %s (expected %s)", s.Arms[i], fmtInt(s.Observed[i]), fmtInt(int(math.Round(s.Expected[i]))))
	}
	if s.Mismatch {
		s.Summary = fmt.Sprintf("Sample-ratio mismatch: customers per arm are %s; a split this far from the configured shares happens by chance with p %s (threshold %g). Assignment or logging is broken; do not trust the results until it is fixed.",
			strings.Join(parts, ", "), fmtPEq(p), threshold)
	} else {
		s.Summary = fmt.Sprintf("The traffic split matches the configured shares (customers: %s; chi-square p %s).", strings.Join(parts, ", "), fmtPEq(p))
	}
	return s
}

func sampleCheck(res *ExperimentResult, total []*acc, pi int, o ExperimentOptions) SampleCheck {
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
	var c *acc
	for i, a := range res.Arms {
		if a.Name == res.Control {
			c = total[i]
		}
	}
	if c != nil && c.sn > 1 {
		sm := c.summary(pi)
		sd := sm.SE * math.Sqrt(c.sn)
		if sm.Mean != 0 && sd > 0 {
			n := SampleSizePerArm(sd, sd, o.MDE*math.Abs(sm.Mean), res.Level, o.Power)
			if n < 1e12 {
				s.NeededPerArm = int(math.Ceil(n))
			}
		}
	}
	if s.NeededPerArm > 0 {
		s.Guidance = fmt.Sprintf("Detecting a %s change in %s with %s power needs about %s decisions per arm.",
			fmtPct(o.MDE, 0), metricInfos[pi].Label, fmtPct(o.Power, 0), fmtInt(s.NeededPerArm))
	}
	switch {
	case len(res.Arms) == 0 || s.FewestDecisions == 0:
		s.FewestConversions, s.FewestDecisions = 0, 0
		s.Summary = "No decisions in the experiment yet."
	case s.Enough && convNeeded:
		s.Summary = fmt.Sprintf("Every arm has at least %s decisions and %s conversions (fewest: %s and %s).",
			fmtInt(o.MinDecisions), fmtInt(o.MinConversions), fmtInt(s.FewestDecisions), fmtInt(s.FewestConversions))
	case s.Enough:
		s.Summary = fmt.Sprintf("Every arm has at least %s decisions (fewest: %s).", fmtInt(o.MinDecisions), fmtInt(s.FewestDecisions))
	case convNeeded:
		s.Summary = fmt.Sprintf("Too early: an arm has only %s decisions and %s conversions; wait for at least %s decisions and %s conversions per arm.",
			fmtInt(s.FewestDecisions), fmtInt(s.FewestConversions), fmtInt(o.MinDecisions), fmtInt(o.MinConversions))
	default:
		s.Summary = fmt.Sprintf("Too early: an arm has only %s decisions; wait for at least %s per arm.", fmtInt(s.FewestDecisions), fmtInt(o.MinDecisions))
	}
	return s
}

// dailyPass walks the sorted decisions day by day, calling look with the
// cumulative accumulators at the end of each day that has data.
func dailyPass(exp *decide.Experiment, obsv []obs, loc *time.Location, ci, pi int, look func(cum []*acc, date string) []SeqLook) ([]ArmSeries, []SequentialPath) {
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
	if len(obsv) == 0 {
		return series, seq
	}
	cum := newAccs(n)
	day := func(t time.Time) time.Time {
		y, m, d := t.In(loc).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, loc)
	}
	cur := day(obsv[0].t)
	last := day(obsv[len(obsv)-1].t)
	i := 0
	for !cur.After(last) {
		next := cur.AddDate(0, 0, 1)
		for _, a := range cum {
			a.dayN, a.daySum = 0, [nMetrics]float64{}
		}
		had := false
		for ; i < len(obsv) && obsv[i].t.Before(next); i++ {
			cum[obsv[i].arm].add(&obsv[i])
			had = true
		}
		date := cur.Format("2006-01-02")
		for a, c := range cum {
			p := DayPoint{Date: date, Decisions: c.dayN, CumDecisions: c.decisions, CumReward: c.sy[2]}
			if c.dayN > 0 {
				p.ConversionRate = c.daySum[0] / float64(c.dayN)
				p.Revenue = c.daySum[1] / float64(c.dayN)
				p.Reward = c.daySum[2] / float64(c.dayN)
			}
			if c.sn > 0 {
				p.CumPrimary = c.sy[pi] / c.sn
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
		cur = next
	}
	return series, seq
}

func segments(exp *decide.Experiment, obsv []obs, ci, pi int, level float64) []Segment {
	z := zQuantile(level)
	var out []Segment
	for _, dim := range []string{"channel", "stage"} {
		byVal := map[string][]*acc{}
		for i := range obsv {
			v := obsv[i].channel
			if dim == "stage" {
				v = obsv[i].stage
			}
			a := byVal[v]
			if a == nil {
				a = newAccs(len(exp.Arms))
				byVal[v] = a
			}
			a[obsv[i].arm].add(&obsv[i])
		}
		for _, v := range slices.Sorted(maps.Keys(byVal)) {
			accs := byVal[v]
			s := Segment{Dimension: dim, Value: v}
			for i, a := range exp.Arms {
				ar := accs[i].result(a.Name, z)
				ar.Policy = a.Policy
				s.Arms = append(s.Arms, ar)
			}
			for i, a := range exp.Arms {
				if i == ci || accs[i].k < 2 || accs[ci].k < 2 {
					continue
				}
				c := compare(accs[ci], accs[i], pi, level)
				s.Lifts = append(s.Lifts, SegmentLift{Arm: a.Name, Absolute: c.Absolute, Relative: c.Relative})
			}
			out = append(out, s)
		}
	}
	return out
}

func offPolicy(exp *decide.Experiment, obsv []obs, level float64) []OffPolicyArm {
	var out []OffPolicyArm
	for ai, arm := range exp.Arms {
		op := OffPolicyArm{Arm: arm.Name, Policy: arm.Policy}
		var self, uni []Round
		var rewards []float64
		skipped := 0
		for i := range obsv {
			if obsv[i].arm != ai {
				continue
			}
			d := &obsv[i].j.Decision
			if len(d.Actions) == 0 || len(d.Eligible) == 0 {
				skipped++
				continue
			}
			a0 := d.Actions[0]
			li := slices.Index(d.Eligible, a0.ActionID)
			p := a0.Propensity
			if li < 0 || !(p > 0 && p <= 1) {
				skipped++
				continue
			}
			k := len(d.Eligible)
			r := obsv[i].j.Rewards[0]
			rewards = append(rewards, r)
			st := make([]float64, k)
			ut := make([]float64, k)
			for a := range st {
				ut[a] = 1 / float64(k)
				if a == li {
					st[a] = p
				} else {
					st[a] = (1 - p) / float64(k-1)
				}
			}
			if k == 1 {
				st[0] = 1
			}
			self = append(self, Round{Logged: li, Propensity: p, Reward: r, Target: st})
			uni = append(uni, Round{Logged: li, Propensity: p, Reward: r, Target: ut})
		}
		op.Rounds = len(self)
		if skipped > 0 {
			op.Warnings = append(op.Warnings, fmt.Sprintf("%d decisions without a usable slot-0 action, eligible set or propensity were left out", skipped))
		}
		if len(rewards) >= 2 {
			m, se := meanSE(rewards)
			q := zQuantile(level)
			op.OnPolicy = Interval{Estimate: m, Lo: m - q*se, Hi: m + q*se, Level: level, Method: "mean ± z·SE of the slot-0 rewards"}
			o := Options{Level: level}
			for _, e := range []Estimator{IPS, SNIPS} {
				if est, err := Evaluate(self, e, o); err == nil {
					op.Self = append(op.Self, est)
				} else {
					op.Warnings = append(op.Warnings, fmt.Sprintf("self %s: %v", e, err))
				}
				if est, err := Evaluate(uni, e, o); err == nil {
					op.Uniform = append(op.Uniform, est)
				} else {
					op.Warnings = append(op.Warnings, fmt.Sprintf("uniform %s: %v", e, err))
				}
			}
		} else {
			op.Warnings = append(op.Warnings, "fewer than two usable decisions: no estimates")
		}
		out = append(out, op)
	}
	return out
}

func meanSE(x []float64) (mean, se float64) {
	n := float64(len(x))
	for _, v := range x {
		mean += v
	}
	mean /= n
	var ss float64
	for _, v := range x {
		ss += sq(v - mean)
	}
	return mean, math.Sqrt(ss / (n - 1) / n)
}

func methods(o ExperimentOptions, primary string, tau [nMetrics]float64, pi int) []string {
	lvl := fmtPct(o.Level, 0)
	return []string{
		"Unit: customers are randomised (sticky hash of customer id and experiment name); metrics are means per decision, and their standard errors treat each customer's decisions as one cluster (delta method for ratio metrics, Deng et al. 2018). The SRM check counts customers.",
		fmt.Sprintf("Per-arm intervals (%s): Wilson score for the conversion rate (on the design-effect-adjusted count), mean ± z·SE for revenue and reward.", lvl),
		fmt.Sprintf("Fixed-horizon lift intervals (%s, valid for a single look): Newcombe hybrid score (method 10) for the difference of conversion rates, Welch t with Welch–Satterthwaite degrees of freedom for revenue and reward; relative lift arm/control − 1 by the delta method, SE² = SEt²/mc² + mt²·SEc²/mc⁴, normal quantile.", lvl),
		fmt.Sprintf("Always-valid p-value: mixture sequential probability ratio test (Johari, Koomen, Pekelis & Walsh 2017) on the difference of means with a normal mixing distribution N(0, τ²), the arms' variances plugged in, one look per day, p = min over looks of 1/Λ. τ = %g × the pooled mean of the metric (τ² = %.4g for %s); the test is valid for any fixed τ, which only tunes its power to effects of that size. A challenger is called better or worse when p < %s.",
			o.TauRelative, tau[pi]*tau[pi], primary, fmtAlpha(o.Level)),
		fmt.Sprintf("Always-valid intervals: the confidence sequence the mSPRT implies, d ± √(2v(v+τ²)/τ² · (log(1/α) + ½ log((v+τ²)/v))), intersected over the daily looks; the relative one applies the same formula to the delta-method relative lift with τ = %g (a relative effect).", o.TauRelative),
		"Probability to beat control: Beta-Binomial posteriors with uniform Beta(1,1) priors for conversion (exact finite sum; numerical integration for non-integer design-adjusted counts), normal approximation with flat priors for revenue and reward.",
		fmt.Sprintf("Sample-ratio mismatch: Pearson chi-square goodness of fit of customers per arm against the configured shares; flagged when p < %g.", o.SRMThreshold),
		fmt.Sprintf("Sample-size guidance: at least %d decisions and %d conversions per arm before a verdict; the fixed-horizon size for a %s relative lift at %s power is (z₁₋α/₂ + z_power)²·2σ²/δ² with the control's σ.", o.MinDecisions, o.MinConversions, fmtPct(o.MDE, 0), fmtPct(o.Power, 0)),
		"Segment lifts (channel, journey stage) are fixed-horizon and uncorrected for multiplicity: descriptive only.",
		"Off-policy: slot 0 of each decision, its logged propensity and the joined learning reward of that action. 'Self' evaluates the arm's own logging policy (weights all 1: IPS equals the on-policy mean by construction, a check that the rounds are built right); 'uniform' estimates a uniform-random policy over the eligible actions from each arm's logs with IPS and SNIPS (analytic t intervals): every arm estimates the same value, so their intervals should overlap, and cover a 'random' arm's on-policy mean.",
	}
}
