package loop

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"nextbest/eval"
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
	fig, err := shadowFigures(joined, v, cfg.Gate.Level)
	if err != nil {
		return nil, err
	}
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
	mode, err := cfg.Service.Mode(ctx)
	if err != nil {
		return nil, err
	}
	ok, reason := cfg.judge(fig, g, mode)
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
// the decisions it shadowed, as rounds whose target is the shadow's exact
// probabilities over the eligible actions (near-on-policy weights): the
// serving policy's realised value, the shadow's IPS estimate and their
// paired difference (eval.Compare).
func shadowFigures(joined []logs.Joined, v int, level float64) (Figures, error) {
	suffix := fmt.Sprintf("@v%d", v)
	var rounds []eval.Round
	for i := range joined {
		d := &joined[i].Decision
		sh := d.Shadow
		if sh == nil || !strings.HasSuffix(sh.Policy, suffix) || len(d.Actions) == 0 || !joined[i].Shown(0) || len(sh.Probabilities) != len(d.Eligible) {
			continue
		}
		logged := slices.Index(d.Eligible, d.Actions[0].ActionID)
		p := d.Actions[0].Propensity
		if logged < 0 || !(p > 0 && p <= 1) {
			continue
		}
		rounds = append(rounds, eval.Round{Logged: logged, Propensity: p, Reward: joined[i].Rewards[0], Target: sh.Probabilities})
	}
	f, err := figures(rounds, eval.IPS, level)
	f.Estimator = "IPS on the shadow's exact probabilities (paired with the serving policy's realised value)"
	return f, err
}
