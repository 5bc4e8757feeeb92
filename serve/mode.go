package serve

import (
	"encoding/json"
	"fmt"

	"github.com/valyala/fasthttp"
	"gopkg.in/yaml.v3"

	"nextbest/decide"
	"nextbest/models"
)

// The learning mode. In "online" mode (the default) the promoted model,
// or the online model, serves. In "apprentice" mode a business rule
// serves instead (Personalizer's apprentice mode): the first eligible
// candidate in the request's order ("first") or the best by value ×
// weight ("value"), exploring ε-greedily with Epsilon, so every decision
// logs an exact propensity; the models keep learning from those logs, and
// the retraining loop switches the service back to "online" when a
// learned policy has shown, off-policy and then in a canary, that it
// matches or beats the baseline. Experiment arms of policy "promoted"
// follow the mode (they are what the service serves outside experiments);
// other arms serve what they name. Set through the admin API (PUT
// /admin/mode) or the configuration, kept like the experiments (a file in
// the data directory, a key of the cluster's registry bucket that every
// instance watches; a saved mode supersedes the configuration's).

// Learning modes.
const (
	ModeOnline     = "online"
	ModeApprentice = "apprentice"
)

// LearningMode is the live learning mode.
type LearningMode struct {
	// Mode is ModeOnline (also for "") or ModeApprentice.
	Mode string `json:"mode" yaml:"mode"`
	// Baseline is the apprentice's rule: decide.BaselineFirst (the
	// default) or decide.BaselineValue.
	Baseline string `json:"baseline,omitempty" yaml:"baseline,omitempty"`
	// Epsilon is the apprentice's uniform exploration (default 0.05). 0
	// serves the baseline exactly, which no log can judge another policy
	// by: the loop then skips the off-policy gate and the canary alone
	// decides.
	Epsilon *float64 `json:"epsilon,omitempty" yaml:"epsilon,omitempty"`
}

// DefaultApprenticeEpsilon is the apprentice's exploration when none is
// configured.
const DefaultApprenticeEpsilon = 0.05

// modeRuntime is a validated LearningMode with its defaults filled in.
type modeRuntime struct {
	spec     LearningMode
	explorer *decide.Explorer // the apprentice's; nil online
}

func (m *modeRuntime) apprentice() bool { return m != nil && m.explorer != nil }

// resolveMode validates m and fills in its defaults; errors name the
// field.
func resolveMode(m LearningMode) (*modeRuntime, error) {
	bad := func(field, reason string) error {
		return &fieldError{status: 422, code: "unprocessable", field: field, reason: reason}
	}
	switch m.Mode {
	case "", ModeOnline:
		if m.Baseline != "" || m.Epsilon != nil {
			return nil, bad("mode", "baseline and epsilon apply to the apprentice mode only")
		}
		return &modeRuntime{spec: LearningMode{Mode: ModeOnline}}, nil
	case ModeApprentice:
	default:
		return nil, bad("mode", fmt.Sprintf("%q: want online or apprentice", m.Mode))
	}
	switch m.Baseline {
	case "":
		m.Baseline = decide.BaselineFirst
	case decide.BaselineFirst, decide.BaselineValue:
	default:
		return nil, bad("baseline", fmt.Sprintf("%q: want first or value", m.Baseline))
	}
	eps := DefaultApprenticeEpsilon
	if m.Epsilon != nil {
		eps = *m.Epsilon
	}
	if !(eps >= 0 && eps <= 1) {
		return nil, bad("epsilon", fmt.Sprintf("%v is not in [0, 1]", eps))
	}
	m.Epsilon = &eps
	x, err := decide.NewExplorer(decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: eps})
	if err != nil {
		return nil, bad("epsilon", err.Error())
	}
	return &modeRuntime{spec: m, explorer: &x}, nil
}

// openMode starts the saved mode, else the configuration's, and follows
// changes.
func (s *Service) openMode() error {
	s.modeStore = s.liveStore("mode")
	doc, err := s.modeStore.Load()
	if err != nil {
		return err
	}
	m := s.cfg.LearningMode
	if doc != nil {
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return fmt.Errorf("the learning mode saved through the admin API: %w", err)
		}
	}
	rt, err := resolveMode(m)
	if err != nil {
		return fmt.Errorf("learning mode: %w", err)
	}
	s.mode.Store(rt)
	if rt.apprentice() {
		s.log.Info("apprentice mode: a business rule serves while the models learn", "baseline", rt.spec.Baseline, "epsilon", *rt.spec.Epsilon)
	}
	s.watchDoc(s.modeStore, "not running the learning mode another instance saved", func(doc []byte) error {
		var m LearningMode
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return err
		}
		rt, err := resolveMode(m)
		if err != nil {
			return err
		}
		s.mode.Store(rt)
		return nil
	})
	return nil
}

// handleModeAdmin serves /admin/mode: GET the live learning mode, PUT one
// ({"mode": "apprentice", "baseline": "first", "epsilon": 0.05}).
func (s *Service) handleModeAdmin(ctx *fasthttp.RequestCtx) {
	s.expAdminMu.Lock()
	defer s.expAdminMu.Unlock()
	switch string(ctx.Method()) {
	case fasthttp.MethodGet:
	case fasthttp.MethodPut:
		var m LearningMode
		if err := json.Unmarshal(ctx.PostBody(), &m); err != nil {
			writeErr(ctx, &fieldError{status: 400, code: "invalid_argument", reason: `the body must be {"mode": "online"|"apprentice", "baseline": "first"|"value", "epsilon": x}: ` + err.Error()})
			return
		}
		rt, err := resolveMode(m)
		if err != nil {
			writeErr(ctx, err)
			return
		}
		doc, err := yaml.Marshal(rt.spec)
		if err != nil {
			writeErr(ctx, err)
			return
		}
		if err := s.modeStore.Save(doc); err != nil {
			writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
			return
		}
		s.mode.Store(rt)
		reason := "learning mode " + rt.spec.Mode
		if rt.apprentice() {
			reason += fmt.Sprintf(" (baseline %s, ε %g)", rt.spec.Baseline, *rt.spec.Epsilon)
		}
		s.record(models.Event{Kind: "mode_set", By: caller(ctx), Reason: reason})
	default:
		writeError(ctx, 405, "method_not_allowed", "", "GET or PUT /admin/mode")
		return
	}
	writeJSON(ctx, 200, s.mode.Load().spec)
}
