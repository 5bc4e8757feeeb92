package decide

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/expr-lang/expr/vm"

	"nextbest/examples/retail"
)

// ruleEnvs are the environments the typed form is checked on: every
// value type a context or attribute may hold (JSON's, Go's int, and some
// the typed form leaves to the VM), missing keys, and nil maps.
func ruleEnvs() []*Env {
	base := func() *Env {
		return &Env{
			Profile: &ProfileEnv{ID: "c-1", Known: true, Stage: "cart", LastChannel: "web", TenureDays: 200,
				Attributes: map[string]any{"tier": "gold", "age": 35.0, "vip": true, "n": 3, "none": nil, "tags": []any{"a"}},
				Counters:   map[string]float64{"purchases_30d": 1, "cart_adds_7d": 2, "spend_30d": 160},
				Recency:    map[string]float64{"purchase": 60, "app_open": 90, "support_call": 3},
				Consents:   map[string]bool{"email": true, "sms": false}},
			Context: map[string]any{"page": "cart", "cart_value": 42.0, "device": "mobile", "n": 2, "flag": true,
				"none": nil, "obj": map[string]any{"a": 1.0}, "list": []any{"cart"}, "i64": int64(4), "nan": math.NaN()},
			Channel: "web", Hour: 10, Weekday: 3,
		}
	}
	var envs []*Env
	envs = append(envs, base())
	e := base()
	e.Profile = &ProfileEnv{} // a cold start: nil maps, zero fields
	e.Context = nil
	e.Channel, e.Hour, e.Weekday = "call_centre", 0, 0
	envs = append(envs, e)
	e = base()
	e.Profile.Stage, e.Profile.Known = "retention", false
	e.Profile.Attributes = map[string]any{"tier": "bronze", "age": "35", "vip": "yes"}
	e.Context = map[string]any{"page": 3.0, "cart_value": "42", "device": nil, "n": 2.5, "flag": "true"}
	e.Hour, e.Weekday = 23, 6
	envs = append(envs, e)
	e = base()
	e.Context = map[string]any{"page": "", "cart_value": -1.0, "device": "tablet", "n": -7, "flag": false}
	e.Profile.Recency = map[string]float64{"purchase": math.Inf(1), "app_open": math.NaN()}
	e.Profile.Counters = map[string]float64{"purchases_30d": 0.25}
	envs = append(envs, e)
	return envs
}

// checkAgrees checks that wherever the typed form of src answers on env,
// the VM answers the same and without an error. It reports whether the
// typed form answered.
func checkAgrees(t *testing.T, m *vm.VM, r *rule, src string, env *Env, k int) bool {
	t.Helper()
	want, werr := runRule(m, r, env)
	if r.typed == nil {
		return false
	}
	got, ok := r.typed(env)
	if !ok {
		return false
	}
	if werr != nil || got.b != want {
		t.Errorf("%s on env %d: typed form says %v, the VM %v (error %v)", src, k, got.b, want, werr)
	}
	return true
}

func TestTypedRulesAgreeWithVM(t *testing.T) {
	rules := []string{
		// the shapes of the shipped catalog and the tests
		`(context.cart_value ?? 0) >= 0 && profile.stage != "retention"`,
		`channel == "call_centre" || context.page in ["product", "cart"]`,
		`profile.attributes.tier == nil || profile.attributes.tier == "bronze"`,
		`(profile.recency.app_open ?? 999) > 60 && (context.device ?? "") != "tablet"`,
		`hour >= 8 && hour < 20 && weekday in [1, 2, 3, 4, 5]`,
		// edges: nil looked up in a set, missing map entries (0, false
		// and nil), mixed int and float, NaN, ?:, arithmetic
		`context.missing in ["", "x"]`,
		`context.missing in ["x"]`,
		`context.page in ["cart", 3, nil]`,
		`context.n in [2, 2.5]`,
		`profile.counters.missing == 0 && profile.recency.missing == 0 && !profile.consents.missing`,
		`profile.consents.email && not profile.consents.sms`,
		`context.n == 2.0 && context.cart_value > context.n`,
		`context.nan != context.nan && !(context.nan < 1) && !(context.nan >= 1)`,
		`context.page == "cart" ? context.cart_value * 2 > 50 : hour + 1 > 10`,
		`(profile.counters.spend_30d ?? 0) / 3 >= 50 && -profile.tenure_days < 0`,
		`profile.id == "c-1" && profile.last_channel == "web" && profile.known`,
		`profile.attributes.n - 1 == 2 && profile.attributes.age + 0.5 > 35`,
		`context.none ?? context.flag`,
		// left to the VM at run time: types it rejects or handles itself
		`context.page < 3`,
		`context.flag && true`,
		`context.obj == nil`,
		`context.i64 > 3`,
		`context.page + "x" == "cartx"`,
		`context.page in ["cart"] || profile.attributes.vip`,
		// left to the VM at load: nodes the typed form does not know
		`len(context.page ?? "") > 2`,
		`context?.page == "cart"`,
		`"cart" in context.list`,
		`context.page matches "^ca"`,
	}
	cat, err := ParseCatalog(retail.Catalog, nil)
	if err != nil {
		t.Fatal(err)
	}
	shipped := 0
	for _, a := range cat.Actions {
		if a.Eligible != "" {
			rules = append(rules, a.Eligible)
			shipped++
		}
	}
	var m vm.VM
	envs := ruleEnvs()
	for i, src := range rules {
		r, err := compileRule(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		answered := false
		for k, env := range envs {
			if checkAgrees(t, &m, r, src, env, k) {
				answered = true
			}
		}
		// the shipped rules must take the typed path, or the engine
		// allocates again on them
		if i >= len(rules)-shipped && (r.typed == nil || !answered) {
			t.Errorf("shipped rule %s: typed form compiled %v, answered %v", src, r.typed != nil, answered)
		}
	}
}

// TestTypedRulesAgreeWithVMRandom checks the typed form against the VM on
// random rules built from the Env's variables, literals and every
// operator the typed form covers (and a few it does not), on every
// environment of ruleEnvs. Most random rules do not type-check and are
// skipped; the test asks for enough that do, and for the typed form to
// have answered on many of them, so that it checks something.
func TestTypedRulesAgreeWithVMRandom(t *testing.T) {
	leaves := []string{
		"channel", "hour", "weekday", "profile.id", "profile.known", "profile.stage", "profile.last_channel",
		"profile.tenure_days", "profile.attributes.tier", "profile.attributes.age", "profile.attributes.vip",
		"profile.attributes.n", "profile.attributes.missing", "profile.counters.purchases_30d",
		"profile.counters.missing", "profile.recency.purchase", "profile.recency.missing",
		"profile.consents.email", "profile.consents.missing", "context.page", "context.cart_value",
		"context.device", "context.n", "context.flag", "context.none", "context.missing", "context.obj",
		"context.i64", "context.nan",
		"0", "1", "2.5", "-3", "30", `"cart"`, `""`, `"gold"`, `"web"`, "true", "false", "nil",
	}
	binary := []string{"==", "!=", "<", "<=", ">", ">=", "&&", "||", "and", "or", "??", "+", "-", "*", "/", "%"}
	r := rand.New(rand.NewPCG(7, 7))
	var gen func(depth int) string
	gen = func(depth int) string {
		if depth == 0 || r.IntN(4) == 0 {
			return leaves[r.IntN(len(leaves))]
		}
		switch r.IntN(8) {
		case 0:
			return "!(" + gen(depth-1) + ")"
		case 1:
			return "-(" + gen(depth-1) + ")"
		case 2:
			return "(" + gen(depth-1) + " ? " + gen(depth-1) + " : " + gen(depth-1) + ")"
		case 3:
			var items []string
			for range 1 + r.IntN(3) {
				items = append(items, leaves[r.IntN(len(leaves))])
			}
			return "(" + gen(depth-1) + " in [" + strings.Join(items, ", ") + "])"
		}
		return "(" + gen(depth-1) + " " + binary[r.IntN(len(binary))] + " " + gen(depth-1) + ")"
	}
	var m vm.VM
	envs := ruleEnvs()
	compiled, answered := 0, 0
	for range 20000 {
		src := gen(3)
		rl, err := compileRule(src)
		if err != nil {
			continue
		}
		compiled++
		for k, env := range envs {
			if checkAgrees(t, &m, rl, src, env, k) {
				answered++
			}
		}
	}
	t.Logf("%d random rules compiled, %d typed answers checked", compiled, answered)
	if compiled < 1000 || answered < 2000 {
		t.Errorf("too few rules checked: %d compiled, %d typed answers", compiled, answered)
	}
}
