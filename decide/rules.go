package decide

import (
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Env is what an eligibility rule sees. Rules are expr-lang expressions
// (https://expr-lang.org), for example
//
//	context.page in ["cart", "checkout"] && context.cart_value >= 30
//	profile.stage == "retention" && profile.recency.purchase > 30
//	profile.attributes.tier in ["gold", "platinum"] && hour >= 8 && hour < 20
//
// A missing key of context or profile.attributes reads as nil; use `??`
// for a default (`(context.cart_value ?? 0) > 50`). profile.recency holds
// every event type the feature spec declares, with recency_default_days
// (365 in the sample) for a type the customer never had, as the model's
// vector reads it: `profile.recency.purchase > 30` is true for a customer
// who never purchased. A missing key of profile.counters reads as 0, and
// of profile.consents as false (their maps' zero values), so `??` does not
// apply to them. A rule that fails at run time (a type mismatch) makes the
// action ineligible, with the error in the explanation.
type Env struct {
	// Profile is a pointer so that reading it from a rule does not copy
	// (and allocate) the struct at every evaluation.
	Profile *ProfileEnv    `expr:"profile"`
	Context map[string]any `expr:"context"`
	Channel string         `expr:"channel"`
	// Hour (0-23) and Weekday (0 = Sunday) are the decision time's in the
	// feature spec's time zone (vector.timezone), the clock of the
	// time.hour and time.weekday features.
	Hour    int `expr:"hour"`
	Weekday int `expr:"weekday"`
}

// ProfileEnv is the profile as a rule sees it, evaluated at decision time.
type ProfileEnv struct {
	ID          string         `expr:"id"`
	Known       bool           `expr:"known"` // false for a cold-start profile
	Stage       string         `expr:"stage"`
	LastChannel string         `expr:"last_channel"`
	TenureDays  float64        `expr:"tenure_days"`
	Attributes  map[string]any `expr:"attributes"`
	// Counters are the decayed counter values at decision time.
	Counters map[string]float64 `expr:"counters"`
	// Recency is days since the last event of each type the spec
	// declares; recency_default_days for a type never seen
	// (features.Spec.FillRecency).
	Recency  map[string]float64 `expr:"recency"`
	Consents map[string]bool    `expr:"consents"`
	// CLV are the customer's lifetime-value figures (features' profile.clv:
	// the purchase history and the loaded CLV model); all 0 and Known
	// false for a customer without them.
	CLV CLVEnv `expr:"clv"`
}

// CLVEnv is profile.clv as a rule sees it: `profile.clv.value > 500`,
// `profile.clv.known && profile.clv.p_alive < 0.3`.
type CLVEnv struct {
	Known             bool    `expr:"known"`
	Value             float64 `expr:"value"`
	PAlive            float64 `expr:"p_alive"`
	ExpectedPurchases float64 `expr:"expected_purchases"`
	RepeatPurchases   float64 `expr:"repeat_purchases"`
}

// rule is a compiled eligibility rule: the expr-lang program, and its
// typed form (nil when the rule has a node the typed form does not
// cover; see rules_typed.go).
type rule struct {
	prog  *vm.Program
	typed typedFn
}

func compileRule(src string) (*rule, error) {
	prog, err := expr.Compile(src, expr.Env(Env{}), expr.AsBool())
	if err != nil {
		return nil, fmt.Errorf("cannot compile rule: %w", err)
	}
	return &rule{prog: prog, typed: compileTyped(prog.Node())}, nil
}

// evalRule evaluates r on env: by its typed form when that answers,
// otherwise on the reusable machine m.
func evalRule(m *vm.VM, r *rule, env *Env) (bool, error) {
	if r.typed != nil {
		if v, ok := r.typed(env); ok {
			return v.b, nil
		}
	}
	return runRule(m, r, env)
}

// runRule evaluates r on env with the expr VM only.
func runRule(m *vm.VM, r *rule, env *Env) (bool, error) {
	out, err := m.Run(r.prog, env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("rule returned %T, not bool", out)
	}
	return b, nil
}
