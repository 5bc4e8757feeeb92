package eval

import (
	"fmt"
	"math"
	"slices"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"nextbest/decide"
	"nextbest/experiment"
	"nextbest/logs"
)

// ExperimentOptions tunes AnalyzeExperiment: the analysis' options and
// the time zone of its days.
type ExperimentOptions struct {
	experiment.Options
	// Location sets the day boundaries of the daily series; nil means UTC
	// (the service's).
	Location *time.Location
}

// ExperimentResult is the full offline analysis of one experiment, what
// the report files hold: the analysis the service serves too
// (experiment.Result, from the same sums), and the off-policy estimates
// from each arm's logs, which need every logged decision.
type ExperimentResult struct {
	experiment.Result
	// OffPolicy holds the off-policy estimates from each arm's logs.
	OffPolicy []OffPolicyArm `json:"off_policy"`
}

// OffPolicyArm holds the off-policy estimates from one arm's logs, slot 0
// of each decision, the learning reward of the slot-0 action as reward.
type OffPolicyArm struct {
	Arm    string `json:"arm"`
	Policy string `json:"policy,omitempty"`
	Rounds int    `json:"rounds"`
	// OnPolicy is the observed mean slot-0 reward with a normal (z) interval.
	OnPolicy experiment.Interval `json:"on_policy"`
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

// obs is one analysed decision, for the off-policy estimates.
type obs struct {
	arm int
	j   *logs.Joined
}

// offPolicyMethod says how the off-policy estimates were computed.
const offPolicyMethod = "Off-policy: slot 0 of each decision, its logged propensity and the joined learning reward of that action. 'Self' evaluates the arm's own logging policy (weights all 1: IPS equals the on-policy mean by construction, a check that the rounds are built right); 'uniform' estimates a uniform-random policy over the eligible actions from each arm's logs with IPS and SNIPS (analytic t intervals): every arm estimates the same value, so their intervals should overlap, and cover a 'random' arm's on-policy mean."

// AnalyzeExperiment analyses the decisions of experiment exp in joined
// (logs.Join's output; decisions of other experiments and outside
// experiments are skipped): it sums them per arm, day, channel and stage
// (experiment.Builder, the sums the service keeps as it applies the
// journal), analyses the sums with experiment.Analyze — per-arm metrics,
// lifts against the control with fixed-horizon and always-valid
// inference, the probability to beat the control, the
// sample-ratio-mismatch check, sample-size guidance, channel and stage
// breakdowns, daily series with one sequential look per day and a verdict
// — and adds off-policy estimates from each arm's logs. exp must be
// validated (decide.ParseExperiments does it). It is pure: the same input
// gives the same result.
func AnalyzeExperiment(exp *decide.Experiment, joined []logs.Joined, opts ExperimentOptions) (*ExperimentResult, error) {
	if exp == nil || len(exp.Arms) < 2 {
		return nil, fmt.Errorf("%w: experiment needs at least two arms", experiment.ErrInvalidOptions)
	}
	armIdx := make(map[string]int, len(exp.Arms))
	for i, a := range exp.Arms {
		armIdx[a.Name] = i
	}
	b := experiment.NewBuilder(opts.Location)
	var obsv []obs
	for k := range joined {
		j := &joined[k]
		e := j.Decision.Experiment
		if e == nil || e.Name != exp.Name {
			continue
		}
		y, out := experiment.JoinedValues(j)
		b.Add(&j.Decision, &y, out)
		if ai, ok := armIdx[e.Arm]; ok {
			obsv = append(obsv, obs{arm: ai, j: j})
		}
	}
	slices.SortStableFunc(obsv, func(a, b obs) int { return a.j.Decision.Time.Compare(b.j.Decision.Time) })
	res, err := experiment.Analyze(exp, b.Aggregates(), opts.Options)
	if err != nil {
		return nil, err
	}
	out := &ExperimentResult{Result: *res, OffPolicy: offPolicy(exp, obsv, res.Level)}
	out.Methods = append(out.Methods, offPolicyMethod)
	return out, nil
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
			if len(d.Actions) == 0 || len(d.Eligible) == 0 || !obsv[i].j.Shown(0) {
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
			q := distuv.UnitNormal.Quantile(1 - (1-level)/2)
			op.OnPolicy = experiment.Interval{Estimate: m, Lo: m - q*se, Hi: m + q*se, Level: level, Method: "mean ± z·SE of the slot-0 rewards"}
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
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / (n - 1) / n)
}
