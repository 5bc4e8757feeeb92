package serve

import (
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/experiment"
)

// experimentsAnswer is the answer of GET /v1/experiments.
type experimentsAnswer struct {
	ComputedAt  time.Time            `json:"computed_at"`
	Experiments []*experiment.Result `json:"experiments"`
	// Errors names experiments whose analysis failed, with why.
	Errors map[string]string `json:"errors,omitempty"`
}

// experimentResults analyses every configured experiment from the sums
// the state applier keeps as it applies the journal (Aggregates:
// experiment.Sums per arm and day, channel and stage), at most once per
// ExperimentsTTL. It reads a few keys per experiment and arm, never the
// journal; nextbest report computes the same analysis from the journal
// (and adds the off-policy estimates), and the two agree.
func (s *Service) experimentResults() (*experimentsAnswer, error) {
	s.expMu.Lock()
	defer s.expMu.Unlock()
	if s.expCache != nil && time.Since(s.expCachedAt) < s.cfg.ExperimentsTTL {
		return s.expCache, nil
	}
	ans := &experimentsAnswer{ComputedAt: s.cfg.Now().UTC(), Experiments: []*experiment.Result{}}
	for _, rt := range s.liveExperiments() {
		agg, err := s.aggregates.Experiment(rt.exp.Name)
		if err != nil {
			return nil, err
		}
		res, err := experiment.Analyze(rt.exp, agg, experiment.Options{})
		if err != nil {
			if ans.Errors == nil {
				ans.Errors = map[string]string{}
			}
			ans.Errors[rt.exp.Name] = err.Error()
			continue
		}
		ans.Experiments = append(ans.Experiments, res)
	}
	s.expCache, s.expCachedAt = ans, time.Now()
	return ans, nil
}

func (s *Service) handleExperiments(ctx *fasthttp.RequestCtx) {
	ans, err := s.experimentResults()
	if err != nil {
		writeErr(ctx, err)
		return
	}
	writeJSON(ctx, 200, ans)
}
