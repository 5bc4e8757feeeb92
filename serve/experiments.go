package serve

import (
	"fmt"
	"slices"
	"time"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/journal"
)

// armRuntime is an experiment arm resolved to what serves it.
type armRuntime struct {
	arm      *decide.Arm
	scorer   decide.Scorer    // nil: the engine's current model
	fallback bool             // rank by value × weight
	explorer *decide.Explorer // nil: the service's explorer
	name     string           // policy name to log, if not the scorer's
	none     bool             // show nothing (a holdout arm)
	// covariate is the experiment's CUPED covariate (a profile input
	// name), logged with each decision; empty: none
	covariate string
}

type experimentRuntime struct {
	exp  *decide.Experiment
	arms []armRuntime
}

// resolveExperiments turns each arm's policy into a scorer and explorer.
// A "model:N" arm needs the registry, and its artifact must fit the
// feature spec and catalog: otherwise the experiments are refused (Open
// fails; a change through the admin API answers 422), because an
// experiment that silently served something else would be worse than
// none.
func (s *Service) resolveExperiments(exps []*decide.Experiment) ([]experimentRuntime, error) {
	var out []experimentRuntime
	for k, e := range exps {
		rt := experimentRuntime{exp: e, arms: make([]armRuntime, len(e.Arms))}
		if e.Covariate != "" && !slices.Contains(s.spec.Sources(), features.Source{Name: "profile." + e.Covariate, Type: "number"}) {
			return nil, &decide.CatalogError{Field: fmt.Sprintf("experiments[%d].covariate", k),
				Reason: fmt.Sprintf("%q is not a numeric profile input of the feature spec (e.g. counters.NAME that a feature reads)", e.Covariate)}
		}
		for i := range e.Arms {
			a := &e.Arms[i]
			ar := armRuntime{arm: a, explorer: a.Explorer, covariate: e.Covariate}
			switch a.Policy {
			case "online":
				ar.scorer = s.model
			case "promoted":
			case "fallback":
				ar.fallback = true
			case "none":
				ar.none, ar.name = true, "none"
			case "random":
				p, err := decide.NewExplorer(decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: 1})
				if err != nil {
					return nil, err
				}
				ar.explorer, ar.name = &p, "random"
			default:
				v := decide.ArmModelVersion(a.Policy)
				if s.registry == nil {
					return nil, fmt.Errorf("experiment %s arm %s: policy %s needs a model registry", e.Name, a.Name, a.Policy)
				}
				art, err := s.registry.Get(v)
				if err != nil {
					return nil, fmt.Errorf("experiment %s arm %s: %w", e.Name, a.Name, err)
				}
				sc, err := decide.ServableModel(art, s.spec, s.cat)
				if err != nil {
					return nil, fmt.Errorf("experiment %s arm %s: %w", e.Name, a.Name, err)
				}
				ar.scorer = sc
			}
			rt.arms[i] = ar
		}
		out = append(out, rt)
	}
	return out, nil
}

// liveExperiments returns the experiments running now: the config's, or
// the last set through the admin API (SetExperiments).
func (s *Service) liveExperiments() []experimentRuntime {
	if p := s.experiments.Load(); p != nil {
		return *p
	}
	return nil
}

// assign puts the decision in the experiments active on its channel: a
// holdout first (a customer in its holdout arm goes no further), then the
// first other experiment; a programme customer that no other experiment
// takes is logged in the holdout's control arm. It sets req's overrides
// for the arm and returns the arm, or nil.
func (s *Service) assign(req *decide.Request, now time.Time) (*journal.ExperimentArm, *armRuntime) {
	live := s.liveExperiments()
	var programme *experimentRuntime
	for i := range live {
		rt := &live[i]
		if !rt.exp.Holdout || !rt.exp.Active(req.Channel, now) {
			continue
		}
		if rt.arm(req.CustomerID).arm.Name != rt.exp.Control {
			return rt.enter(req)
		}
		if programme == nil {
			programme = rt
		}
	}
	for i := range live {
		if rt := &live[i]; !rt.exp.Holdout && rt.exp.Active(req.Channel, now) {
			return rt.enter(req)
		}
	}
	if programme != nil {
		return programme.enter(req)
	}
	return nil, nil
}

// arm is customer's arm of the experiment.
func (rt *experimentRuntime) arm(customer string) *armRuntime {
	return &rt.arms[rt.exp.Assign(customer)]
}

// enter assigns req's customer to its arm: it sets req's overrides for
// the arm and returns the arm as the journal logs it, and the arm.
func (rt *experimentRuntime) enter(req *decide.Request) (*journal.ExperimentArm, *armRuntime) {
	ar := rt.arm(req.CustomerID)
	req.Scorer, req.Fallback, req.Explorer = ar.scorer, ar.fallback, ar.explorer
	return &journal.ExperimentArm{Name: rt.exp.Name, Arm: ar.arm.Name}, ar
}
