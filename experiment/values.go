package experiment

import (
	"time"

	"nextbest/journal"
	"nextbest/logs"
)

// The rule that gives a decision its values (Result.Metrics defines
// them), in its two forms: JoinedValues from a joined decision's final
// outcomes (a batch: eval), OutcomeChange one outcome at a time (the
// service, as it applies the journal). The join and the reward rule
// behind both are package logs'.

// JoinedValues returns the values of a joined decision and whether any
// outcome was joined to a shown action of it (logs.Joined.Shown: a
// deferred decision's activated slots): conversion is 1 if any such action got a
// converting outcome (logs.Joined.Converted), revenue the sum of the
// RevenueType rewards, reward the sum of every joined outcome type's
// reward (default rewards excluded).
func JoinedValues(j *logs.Joined) (y Values, outcome bool) {
	for i, n := range j.Outcomes {
		if n == 0 || !j.Shown(i) {
			continue
		}
		outcome = true
		y[2] += j.Rewards[i]
		if i < len(j.Converted) && j.Converted[i] {
			y[0] = 1
		}
		if i < len(j.TypeRewards) {
			y[1] += j.TypeRewards[i][RevenueType]
		}
	}
	return y, outcome
}

// OutcomeChange returns the change that one joined outcome of type t,
// posted with value v, makes to its decision's values: typeDelta, the
// change to the type's aggregate reward (logs.OutcomeType.Fold), to its
// reward and, for RevenueType, to its revenue; and 1 to its conversion if
// the outcome converts (logs.OutcomeType.Converts) and the decision had
// not converted yet (converted). It returns whether the decision has
// converted now.
func OutcomeChange(t *logs.OutcomeType, v, typeDelta float64, converted bool) (dy Values, convertedNow bool) {
	dy[2] = typeDelta
	if t.Name == RevenueType {
		dy[1] = typeDelta
	}
	if t.Converts(v) && !converted {
		dy[0], converted = 1, true
	}
	return dy, converted
}

// DecisionOf returns where an experiment decision falls in the sums: its
// arm, its date in loc, its channel and the customer's journey stage (the
// profile's "stage" at the decision), Unknown for none, and the
// customer's covariate as the decision logged it. d.Experiment must not be
// nil.
func DecisionOf(d *journal.Decision, loc *time.Location) Decision {
	stage, _ := d.Profile["stage"].(string)
	out := NewDecision(d.Experiment.Arm, d.Time, loc, d.Channel, stage)
	out.X = d.Experiment.Covariate
	return out
}
