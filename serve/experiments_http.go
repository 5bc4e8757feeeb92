package serve

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/eval"
	"nextbest/logs"
)

// experimentsAnswer is the answer of GET /v1/experiments.
type experimentsAnswer struct {
	ComputedAt  time.Time                `json:"computed_at"`
	Experiments []*eval.ExperimentResult `json:"experiments"`
	// Errors names experiments whose analysis failed, with why.
	Errors map[string]string `json:"errors,omitempty"`
}

// experimentResults analyses every configured experiment from the journal
// (the same join and analysis as nextbest report, so the dashboard and the
// report agree), at most once per ExperimentsTTL. The join reads the
// journal from its start: fine for a demo or a few million decisions;
// larger deployments run nextbest report offline instead.
func (s *Service) experimentResults(ctx context.Context) (*experimentsAnswer, error) {
	s.expMu.Lock()
	defer s.expMu.Unlock()
	if s.expCache != nil && time.Since(s.expCachedAt) < s.cfg.ExperimentsTTL {
		return s.expCache, nil
	}
	ans := &experimentsAnswer{ComputedAt: s.cfg.Now().UTC(), Experiments: []*eval.ExperimentResult{}}
	if len(s.experiments) > 0 {
		from := s.experiments[0].exp.Start
		for _, rt := range s.experiments[1:] {
			if rt.exp.Start.Before(from) {
				from = rt.exp.Start
			}
		}
		joined, _, err := logs.Join(ctx, s.journalDir(), logs.JoinConfig{
			Window: s.cfg.AttributionWindow, DefaultReward: s.cfg.DefaultReward, Outcomes: s.outcomes, From: from,
		})
		if err != nil {
			return nil, err
		}
		for _, rt := range s.experiments {
			res, err := eval.AnalyzeExperiment(rt.exp, joined, eval.ExperimentOptions{})
			if err != nil {
				if ans.Errors == nil {
					ans.Errors = map[string]string{}
				}
				ans.Errors[rt.exp.Name] = err.Error()
				continue
			}
			ans.Experiments = append(ans.Experiments, res)
		}
	}
	s.expCache, s.expCachedAt = ans, time.Now()
	return ans, nil
}

func (s *Service) handleExperiments(ctx *fasthttp.RequestCtx) {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ans, err := s.experimentResults(c)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	writeJSON(ctx, 200, ans)
}
