package loop

import (
	"context"
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"

	"nextbest/logs"
	"nextbest/models"
)

// judgeShadow estimates the shadowed candidate on the decisions it
// scored since its shadow started (each carries its exact probabilities:
// near-on-policy importance weights), and sends it to the canary if it
// still beats the serving policy by the gate's rule, or rejects it.
func judgeShadow(ctx context.Context, cfg *Config, started *models.Event) (*Turn, error) {
	v := started.Version
	jc := cfg.Join
	jc.From, jc.To = started.Time, cfg.Now()
	joined, _, err := logs.Join(ctx, cfg.Journal, jc)
	if err != nil {
		return nil, err
	}
	fig := shadowFigures(joined, v, cfg.Gate.Level)
	turn := &Turn{Kind: EventIdle, Version: v, Verdicts: []Verdict{{Candidate: fmt.Sprintf("v%d (shadow)", v), Version: v, Figures: fig}}}
	stop := func(kind, reason string) error {
		if err := cfg.Service.SetShadow(ctx, 0, nil); err != nil {
			return err
		}
		if kind == "" {
			return nil
		}
		turn.Kind, turn.Reason = kind, reason
		return cfg.Registry.Record(models.Event{Time: cfg.Now().UTC(), Kind: kind, Version: v, By: "loop", Reason: reason, Figures: fig.Map()})
	}
	if fig.Rounds < cfg.Shadow.MinRounds {
		if cfg.Now().Sub(started.Time) > cfg.Shadow.MaxDuration {
			reason := fmt.Sprintf("only %d shadowed decisions after %v (the shadow needs %d)", fig.Rounds, cfg.Shadow.MaxDuration, cfg.Shadow.MinRounds)
			return turn, stop(EventShadowFailed, reason)
		}
		turn.Reason = fmt.Sprintf("the shadow runs: %d of %d decisions", fig.Rounds, cfg.Shadow.MinRounds)
		return turn, nil
	}
	g := cfg.Gate
	g.MinRounds = cfg.Shadow.MinRounds
	ok, reason := gate(fig, g)
	turn.Verdicts[0].Passed, turn.Verdicts[0].Reason = ok, reason
	if !ok {
		return turn, stop(EventShadowFailed, "in the shadow: "+reason)
	}
	if err := stop("", ""); err != nil {
		return nil, err
	}
	return startCanary(ctx, cfg, turn, v, fmt.Sprintf("v%d, shadow %s", v, reason))
}

// shadowFigures compares version v's shadow with the serving policy on
// the decisions it shadowed: the serving policy's realised value, the
// shadow's inverse-propensity estimate (its exact probability of the
// logged first action over the logged propensity), and their paired
// difference per decision.
func shadowFigures(joined []logs.Joined, v int, level float64) Figures {
	suffix := fmt.Sprintf("@v%d", v)
	var serving, cand []float64
	var sw, sw2 float64
	for i := range joined {
		d := &joined[i].Decision
		sh := d.Shadow
		if sh == nil || !strings.HasSuffix(sh.Policy, suffix) || len(d.Actions) == 0 || len(sh.Probabilities) != len(d.Eligible) {
			continue
		}
		logged := -1
		for k, id := range d.Eligible {
			if id == d.Actions[0].ActionID {
				logged = k
				break
			}
		}
		p := d.Actions[0].Propensity
		if logged < 0 || !(p > 0) {
			continue
		}
		w := sh.Probabilities[logged] / p
		r := joined[i].Rewards[0]
		sw += w
		sw2 += w * w
		serving = append(serving, r)
		cand = append(cand, w*r)
	}
	f := Figures{Rounds: len(serving), Estimator: "IPS on the shadow's exact probabilities (paired with the logged rewards)"}
	if len(serving) < 2 {
		return f
	}
	diff := make([]float64, len(serving))
	for i := range serving {
		diff[i] = cand[i] - serving[i]
	}
	if sw2 > 0 {
		f.ESS = sw * sw / sw2
	}
	z := distuv.UnitNormal.Quantile(1 - (1-level)/2)
	f.Serving, f.Candidate, f.Diff = meanInterval(serving, z), meanInterval(cand, z), meanInterval(diff, z)
	if math.IsNaN(f.Candidate.Value) {
		f.Warnings = append(f.Warnings, "the estimate is not finite")
	}
	return f
}
