package experiment

import (
	"fmt"
	"time"

	"nextbest/decide"
)

// Options tunes Analyze. The zero value means the defaults below.
type Options struct {
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
}

func (o Options) withDefaults() (Options, error) {
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

// Result is the analysis of one experiment: what Analyze returns, what
// the service's GET /v1/experiments carries and the dashboard renders,
// and (with the off-policy estimates, eval.ExperimentResult) what the
// report files hold. Every number has a name, a unit (MetricInfo) and,
// where it matters, a sentence that says what it means; the JSON is
// self-describing.
type Result struct {
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

// MetricLabel returns the label of metric name ("conversion rate"), or
// name if it is not one of the three.
func MetricLabel(name string) string {
	if i := metricIndex(name); i >= 0 {
		return metricInfos[i].Label
	}
	return name
}

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
	// CUPED is the lift adjusted for the experiment's covariate, when it
	// names one and the covariate varies; the always-valid test and
	// Direction then use the adjusted lift.
	CUPED *CUPED `json:"cuped,omitempty"`
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
