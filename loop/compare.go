package loop

import (
	"nextbest/decide"
	"nextbest/eval"
	"nextbest/logs"
)

// compare evaluates the candidate (scorer with explorer) on the joined
// evaluation window against the serving policy with eval.Compare: the
// serving policy's realised value, the candidate's doubly robust estimate
// (the per-action ridge reward model cross-fitted on the other half of
// the rounds), and their paired difference, each with its interval at
// cfg.Gate.Level, and the importance weights' ESS.
func compare(joined []logs.Joined, cfg *Config, sc decide.Scorer, explorer decide.Explorer) (Figures, error) {
	rounds, _, err := eval.JournalRoundsCrossFit(joined, cfg.Spec, cfg.Catalog, eval.Target{Name: sc.Name(), Scorer: sc, Explorer: explorer})
	if err != nil {
		return Figures{}, err
	}
	return figures(rounds, eval.DR, cfg.Gate.Level)
}

// figures compares the rounds' target with the serving policy.
func figures(rounds []eval.Round, e eval.Estimator, level float64) (Figures, error) {
	f := Figures{Rounds: len(rounds), Estimator: e.String() + " (paired with the serving policy's realised value)"}
	if len(rounds) < 2 {
		return f, nil
	}
	c, err := eval.Compare(rounds, e, eval.Options{Level: level})
	if err != nil {
		return f, err
	}
	iv := func(x eval.Estimate) Interval { return Interval{Value: x.Value, Lo: x.Lo, Hi: x.Hi} }
	f.Serving, f.Candidate, f.Diff = iv(c.Serving), iv(c.Candidate), iv(c.Difference)
	f.ESS, f.Warnings = c.Candidate.ESS, c.Warnings
	return f, nil
}
