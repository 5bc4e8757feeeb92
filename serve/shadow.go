package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/valyala/fasthttp"
	"gopkg.in/yaml.v3"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/journal"
	"nextbest/models"
)

// The shadow: a model version that scores every decision beside the
// serving policy without being served. Its would-be first slot and its
// exact probability of each eligible action are journaled with the
// decision (journal.Decision.Shadow): the retraining loop's near-on-policy
// estimate of a candidate, with far more overlap than the logs of another
// policy give. Set through the admin API (PUT /admin/shadow), kept like
// the experiments (a file in the data directory, a key of the cluster's
// registry bucket that every instance watches).

// ShadowSpec is the live shadow setting.
type ShadowSpec struct {
	// Version is the registry version that shadows.
	Version int `json:"version" yaml:"version"`
	// Explorer is how it would explore (the service's when empty).
	Explorer *decide.Explorer `json:"explorer,omitempty" yaml:"explorer,omitempty"`
}

type shadowRuntime struct {
	spec     ShadowSpec
	scorer   decide.Scorer
	explorer *decide.Explorer
}

// resolveShadow loads the shadow's model, validated as a promotion is.
func (s *Service) resolveShadow(sp ShadowSpec) (*shadowRuntime, error) {
	if sp.Version < 1 {
		return nil, &fieldError{status: 422, code: "unprocessable", field: "version", reason: "must be a registry version ≥ 1"}
	}
	if s.registry == nil {
		return nil, &fieldError{status: 422, code: "unprocessable", field: "version", reason: "the service has no model registry"}
	}
	art, err := s.registry.Get(sp.Version)
	if err != nil {
		return nil, &fieldError{status: 422, code: "unprocessable", field: "version", reason: err.Error()}
	}
	sc, err := decide.ServableModel(art, s.spec, s.cat)
	if err != nil {
		return nil, &fieldError{status: 422, code: "unprocessable", field: "version", reason: err.Error()}
	}
	if sp.Explorer != nil {
		if _, err := decide.NewExplorer(*sp.Explorer); err != nil {
			return nil, &fieldError{status: 422, code: "unprocessable", field: "explorer", reason: err.Error()}
		}
	}
	return &shadowRuntime{spec: sp, scorer: sc, explorer: sp.Explorer}, nil
}

// openShadow starts the saved shadow, if any, and follows changes.
func (s *Service) openShadow() error {
	s.shadowStore = s.liveStore("shadow")
	doc, err := s.shadowStore.Load()
	if err != nil {
		return err
	}
	if err := s.applyShadow(doc); err != nil {
		s.log.Error("not running the saved shadow", "err", err)
	}
	s.watchDoc(s.shadowStore, "not running the shadow another instance saved", s.applyShadow)
	return nil
}

// applyShadow runs the shadow a saved document names (none for an empty
// document).
func (s *Service) applyShadow(doc []byte) error {
	var sp ShadowSpec
	if err := yaml.Unmarshal(doc, &sp); err != nil {
		return err
	}
	if sp.Version == 0 {
		s.shadow.Store(nil)
		return nil
	}
	rt, err := s.resolveShadow(sp)
	if err != nil {
		return err
	}
	s.shadow.Store(rt)
	return nil
}

// handleShadowAdmin serves /admin/shadow: GET the live shadow, PUT one
// ({"version": N, "explorer": {...}}), DELETE it.
func (s *Service) handleShadowAdmin(ctx *fasthttp.RequestCtx) {
	s.expAdminMu.Lock()
	defer s.expAdminMu.Unlock()
	var rt *shadowRuntime
	switch string(ctx.Method()) {
	case fasthttp.MethodGet:
	case fasthttp.MethodPut:
		var sp ShadowSpec
		if err := json.Unmarshal(ctx.PostBody(), &sp); err != nil {
			writeErr(ctx, &fieldError{status: 400, code: "invalid_argument", reason: `the body must be {"version": N, "explorer": {...}}: ` + err.Error()})
			return
		}
		var err error
		if rt, err = s.resolveShadow(sp); err != nil {
			writeErr(ctx, err)
			return
		}
		if err := s.saveShadow(caller(ctx), sp, "shadow_started"); err != nil {
			writeErr(ctx, err)
			return
		}
		s.shadow.Store(rt)
	case fasthttp.MethodDelete:
		if err := s.saveShadow(caller(ctx), ShadowSpec{}, "shadow_stopped"); err != nil {
			writeErr(ctx, err)
			return
		}
		s.shadow.Store(nil)
	default:
		writeError(ctx, 405, "method_not_allowed", "", "GET, PUT or DELETE /admin/shadow")
		return
	}
	if rt = s.shadow.Load(); rt == nil {
		writeJSON(ctx, 200, map[string]any{"shadow": nil})
		return
	}
	writeJSON(ctx, 200, map[string]any{"shadow": rt.spec, "policy": rt.scorer.Name()})
}

func (s *Service) saveShadow(by string, sp ShadowSpec, kind string) error {
	doc, err := yaml.Marshal(sp)
	if err != nil {
		return err
	}
	if err := s.shadowStore.Save(doc); err != nil {
		return fmt.Errorf("%w: %w", errUnavailable, err)
	}
	s.record(models.Event{Kind: kind, Version: sp.Version, By: by})
	return nil
}

// shadowScore scores req as the shadow would have (req and p as the
// serving decision saw them) into res, and returns its first slot and
// its probabilities over the serving decision's eligible actions (in
// their order), nil when it cannot say.
func (s *Service) shadowScore(ctx context.Context, rt *shadowRuntime, req decide.Request, p *features.Profile, serving []*decide.Action, res *decide.Result) *journal.Shadow {
	req.Scorer, req.Explorer, req.Fallback, req.Explain, req.Limit = rt.scorer, rt.explorer, false, true, 1
	req.Baseline = "" // the shadow scores with its model, in apprentice mode too
	if len(req.Slots) > 0 {
		req.Slots = req.Slots[:1] // the first slot, as it was declared
	}
	if err := s.engine.Decide(ctx, &req, p, res); err != nil || res.Fallback || len(res.Actions) == 0 || res.Explain == nil {
		if err != nil && !errors.Is(err, decide.ErrNoActions) {
			s.logThrottled("shadow", "the shadow model could not score a decision", err)
		}
		return nil
	}
	sh := &journal.Shadow{Policy: rt.scorer.Name(), Action: res.Actions[0].Action.ID, Probabilities: make([]float64, len(serving))}
	for _, sc := range res.Explain.Scored {
		if i := slices.IndexFunc(serving, func(a *decide.Action) bool { return a.ID == sc.ActionID }); i >= 0 {
			sh.Probabilities[i] = sc.SlotProb
		}
	}
	return sh
}
