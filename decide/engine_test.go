package decide_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/internal/journaltest"
	"nextbest/models"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func retailEngine(t testing.TB, pol decide.Explorer, sc decide.Scorer) (*decide.Engine, *features.Spec) {
	t.Helper()
	spec, cat := journaltest.Retail(t)
	e, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Explorer: pol, Seed: 42}, sc)
	if err != nil {
		t.Fatal(err)
	}
	return e, spec
}

// trainedRidge returns a shared ridge model fitted to random rewards, so
// candidates get distinct means and stds; it is not updated afterwards.
func trainedRidge(t testing.TB, dim int, seed uint64) *models.Ridge {
	t.Helper()
	m, err := models.NewRidge(models.RidgeConfig{Dim: dim, Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float64, dim)
	for range 200 {
		for i := range x {
			x[i] = r.NormFloat64()
		}
		if err := m.Update(0, x, r.Float64()); err != nil {
			t.Fatal(err)
		}
	}
	m.Publish()
	return m
}

func knownProfile(spec *features.Spec) *features.Profile {
	p := spec.NewProfile("c-1", now.Add(-200*24*time.Hour))
	p.Cold = false
	p.Stage = "cart"
	p.Attributes = map[string]any{"tier": "gold", "age": 35.0, "email_opt_in": true}
	p.LastEvent = map[string]time.Time{"purchase": now.Add(-60 * 24 * time.Hour)}
	p.Counters = map[string]features.Counter{"cart_adds_7d": {Value: 2, At: now}, "purchases_30d": {Value: 1, At: now}}
	return p
}

func TestFunnelExplains(t *testing.T) {
	e, spec := retailEngine(t, decide.Explorer{}, nil)
	p := knownProfile(spec)
	// frequency cap: free-shipping allows 3 per 24h
	p.Contacts = map[string]*features.Contact{
		"free-shipping":    {Impressions: []time.Time{now.Add(-3 * time.Hour), now.Add(-2 * time.Hour), now.Add(-time.Hour)}},
		"new-arrivals":     {Impressions: []time.Time{now.Add(-48 * time.Hour)}},
		"cart-reminder-10": {LastConversion: now.Add(-24 * time.Hour), Conversions: 1},
	}
	var res decide.Result
	req := &decide.Request{CustomerID: "c-1", Channel: "web", Context: map[string]any{"page": "cart", "cart_value": 80.0},
		Limit: 3, Explain: true, Now: now}
	if err := e.Decide(context.Background(), req, p, &res); err != nil {
		t.Fatal(err)
	}
	if !res.Fallback || res.Policy != "fallback" {
		t.Errorf("no model: want the fallback, got policy %q fallback=%v", res.Policy, res.Fallback)
	}
	stage := map[string]string{}
	for _, d := range res.Explain.Dropped {
		stage[d.ActionID] = d.Stage
	}
	want := map[string]string{
		"free-shipping":    "contact",     // capped
		"cart-reminder-10": "contact",     // suppressed after conversion
		"retention-call":   "channel",     // call_centre only
		"winback-20":       "channel",     // email, app
		"welcome-15":       "eligibility", // has purchases
		"loyalty-join":     "eligibility", // gold
	}
	for id, st := range want {
		if stage[id] != st {
			t.Errorf("%s: dropped by %q, want %q (explanation %+v)", id, stage[id], st, res.Explain.Dropped)
		}
	}
	if _, dropped := stage["new-arrivals"]; dropped {
		t.Errorf("new-arrivals: an impression 48h ago must not count against a 24h cap")
	}
	if len(res.Actions) != 3 {
		t.Fatalf("want 3 actions, got %d", len(res.Actions))
	}
	seen := map[string]bool{}
	for i, c := range res.Actions {
		if c.Slot != i || seen[c.Action.ID] {
			t.Errorf("slot %d: %+v (duplicate or wrong slot)", i, c)
		}
		seen[c.Action.ID] = true
		if _, dropped := stage[c.Action.ID]; dropped {
			t.Errorf("returned a dropped action %s", c.Action.ID)
		}
		if !(c.Propensity > 0 && c.Propensity <= 1) {
			t.Errorf("propensity %v out of (0,1]", c.Propensity)
		}
	}
	if len(res.Explain.Scored)+len(res.Explain.Dropped) != len(e.Catalog().Actions) {
		t.Errorf("every action must be either scored or dropped: %d + %d != %d",
			len(res.Explain.Scored), len(res.Explain.Dropped), len(e.Catalog().Actions))
	}
	if len(res.X) != 3*spec.Dim() {
		t.Errorf("X has %d values, want %d", len(res.X), 3*spec.Dim())
	}
}

func TestConsentBlocksChannel(t *testing.T) {
	e, spec := retailEngine(t, decide.Explorer{}, nil)
	p := knownProfile(spec)
	p.Consents = map[string]bool{"email": false}
	var res decide.Result
	req := &decide.Request{CustomerID: "c-1", Channel: "email", Limit: 1, Explain: true, Now: now}
	if err := e.Decide(context.Background(), req, p, &res); !errors.Is(err, decide.ErrNoActions) {
		t.Fatalf("want ErrNoActions without e-mail consent, got %v (%+v)", err, res.Actions)
	}
	for _, d := range res.Explain.Dropped {
		if d.Stage != "consent" && d.Stage != "channel" {
			t.Errorf("%s dropped by %s, want consent or channel", d.ActionID, d.Stage)
		}
	}
}

func TestColdStartProfileIsServed(t *testing.T) {
	e, spec := retailEngine(t, decide.Explorer{Alpha: 1}, trainedRidge(t, 64, 3))
	var res decide.Result
	req := &decide.Request{CustomerID: "new", Channel: "app", Limit: 2, Now: now}
	if err := e.Decide(context.Background(), req, spec.NewProfile("new", now), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) != 2 || res.Fallback {
		t.Fatalf("cold start: want 2 model-scored actions, got %+v fallback=%v", res.Actions, res.Fallback)
	}
}

func TestRequestErrors(t *testing.T) {
	e, spec := retailEngine(t, decide.Explorer{}, nil)
	p := spec.NewProfile("c", now)
	cases := []struct {
		name          string
		req           decide.Request
		field         string
		unprocessable bool
	}{
		{"empty customer", decide.Request{Channel: "web", Limit: 1}, "customer_id", false},
		{"empty channel", decide.Request{CustomerID: "c", Limit: 1}, "channel", false},
		{"unknown channel", decide.Request{CustomerID: "c", Channel: "fax", Limit: 1}, "channel", true},
		{"limit 0", decide.Request{CustomerID: "c", Channel: "web", Limit: 0}, "limit", false},
		{"limit too big", decide.Request{CustomerID: "c", Channel: "web", Limit: 21}, "limit", false},
		{"unknown candidate", decide.Request{CustomerID: "c", Channel: "web", Limit: 1, Candidates: []string{"new-arrivals", "nope"}}, "candidates[1]", true},
		{"context type", decide.Request{CustomerID: "c", Channel: "web", Limit: 1, Context: map[string]any{"cart_value": "lots"}}, "context.cart_value", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var res decide.Result
			tc.req.Now = now
			err := e.Decide(context.Background(), &tc.req, p, &res)
			var re *decide.RequestError
			var fe *features.FieldError
			switch {
			case errors.As(err, &re):
				if re.Field != tc.field || re.Unprocessable != tc.unprocessable {
					t.Errorf("got field %q unprocessable=%v, want %q %v (%v)", re.Field, re.Unprocessable, tc.field, tc.unprocessable, err)
				}
			case errors.As(err, &fe):
				if fe.Field != tc.field {
					t.Errorf("got field %q, want %q", fe.Field, tc.field)
				}
			default:
				t.Fatalf("want a field error, got %v", err)
			}
		})
	}
}

func TestCandidatesRestrict(t *testing.T) {
	e, spec := retailEngine(t, decide.Explorer{}, trainedRidge(t, 64, 5))
	var res decide.Result
	req := &decide.Request{CustomerID: "c", Channel: "web", Limit: 5, Candidates: []string{"style-guide", "new-arrivals"}, Now: now}
	if err := e.Decide(context.Background(), req, spec.NewProfile("c", now), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) != 2 {
		t.Fatalf("want the 2 candidates, got %d", len(res.Actions))
	}
	for _, c := range res.Actions {
		if c.Action.ID != "style-guide" && c.Action.ID != "new-arrivals" {
			t.Errorf("returned non-candidate %s", c.Action.ID)
		}
	}
	// the second slot has one candidate left: its propensity is exactly 1
	if res.Actions[1].Propensity != 1 {
		t.Errorf("last remaining candidate: propensity %v, want 1", res.Actions[1].Propensity)
	}
}

func TestSetScorerChecksDim(t *testing.T) {
	e, _ := retailEngine(t, decide.Explorer{}, nil)
	if err := e.SetScorer(trainedRidge(t, 10, 1)); err == nil || !strings.Contains(err.Error(), "dimension") {
		t.Fatalf("want a dimension error, got %v", err)
	}
}

// TestLoggedPropensitiesAreExact runs many decisions for one customer and
// context with a frozen model, and checks that how often each action lands
// in slot 0, in slot 1 given slot 0, and in slot 2 given slots 0 and 1,
// matches the logged propensity. With N draws the frequency of an event of
// probability p has standard error sqrt(p(1-p)/N); the tolerance is 5 of
// them. Thompson's later slots reuse the first slot's quadrature grid
// (models.Argmax), which the slot-1 and slot-2 checks exercise.
func TestLoggedPropensitiesAreExact(t *testing.T) {
	pols := []decide.Explorer{
		{Kind: decide.EpsilonGreedy, Epsilon: 0.3, Alpha: 1},
		{Kind: decide.Softmax, Temperature: 1, Alpha: 0.5},
		{Kind: decide.Thompson, V: 1},
	}
	for _, pol := range pols {
		n := 60000
		if raceEnabled {
			n = 12000 // the race detector is ~10× slower; 5 SE either way
		}
		t.Run(string(pol.Kind), func(t *testing.T) {
			e, spec := retailEngine(t, pol, trainedRidge(t, 64, 9))
			p := knownProfile(spec)
			req := &decide.Request{CustomerID: "c-1", Channel: "app", Context: map[string]any{"page": "product"}, Limit: 3, Now: now}
			var res decide.Result
			first := map[string]int{}
			firstProp := map[string]float64{}
			second := map[string]map[string]int{}
			secondProp := map[string]map[string]float64{}
			third := map[[2]string]map[string]int{}
			thirdProp := map[[2]string]map[string]float64{}
			for range n {
				if err := e.Decide(context.Background(), req, p, &res); err != nil {
					t.Fatal(err)
				}
				a0, a1, a2 := res.Actions[0], res.Actions[1], res.Actions[2]
				first[a0.Action.ID]++
				if old, ok := firstProp[a0.Action.ID]; ok && math.Abs(old-a0.Propensity) > 1e-12 {
					t.Fatalf("slot-0 propensity of %s changed: %v then %v", a0.Action.ID, old, a0.Propensity)
				}
				firstProp[a0.Action.ID] = a0.Propensity
				if second[a0.Action.ID] == nil {
					second[a0.Action.ID], secondProp[a0.Action.ID] = map[string]int{}, map[string]float64{}
				}
				second[a0.Action.ID][a1.Action.ID]++
				secondProp[a0.Action.ID][a1.Action.ID] = a1.Propensity
				k := [2]string{a0.Action.ID, a1.Action.ID}
				if third[k] == nil {
					third[k], thirdProp[k] = map[string]int{}, map[string]float64{}
				}
				third[k][a2.Action.ID]++
				thirdProp[k][a2.Action.ID] = a2.Propensity
			}
			// every eligible action's slot-0 probability, from the explanation
			ex := *req
			ex.Explain = true
			if err := e.Decide(context.Background(), &ex, p, &res); err != nil {
				t.Fatal(err)
			}
			var sum float64
			for _, sc := range res.Explain.Scored {
				sum += sc.SlotProb
				if lp, ok := firstProp[sc.ActionID]; ok && math.Abs(lp-sc.SlotProb) > 1e-12 {
					t.Errorf("%s: logged %v, explained %v", sc.ActionID, lp, sc.SlotProb)
				}
				checkFreq(t, "slot 0 "+sc.ActionID, first[sc.ActionID], n, sc.SlotProb)
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Errorf("slot-0 probabilities sum to %v", sum)
			}
			// slot 1 given the most frequent slot-0 action
			top, topN := "", 0
			for id, c := range first {
				if c > topN || c == topN && id < top {
					top, topN = id, c
				}
			}
			for id, p := range secondProp[top] {
				checkFreq(t, fmt.Sprintf("slot 1 %s | slot 0 %s", id, top), second[top][id], topN, p)
			}
			// slot 2 given the most frequent pair in slots 0 and 1
			var pair [2]string
			pairN := 0
			for k, m := range third {
				c := 0
				for _, v := range m {
					c += v
				}
				if c > pairN || c == pairN && (k[0] < pair[0] || k[0] == pair[0] && k[1] < pair[1]) {
					pair, pairN = k, c
				}
			}
			for id, p := range thirdProp[pair] {
				checkFreq(t, fmt.Sprintf("slot 2 %s | slots 0, 1 %v", id, pair), third[pair][id], pairN, p)
			}
			t.Logf("%d decisions; slot 1 checked over %d, slot 2 over %d", n, topN, pairN)
		})
	}
}

func checkFreq(t *testing.T, what string, count, n int, p float64) {
	t.Helper()
	se := math.Sqrt(p * (1 - p) / float64(n))
	got := float64(count) / float64(n)
	if math.Abs(got-p) > 5*se+1e-9 {
		t.Errorf("%s: observed %.4f, logged propensity %.4f (±%.4f at 5 s.e.)", what, got, p, 5*se)
	}
}

// TestFirstSlotProbabilitiesMatchEngine checks the exported probability
// function gives exactly the slot-0 probabilities the engine explains.
func TestFirstSlotProbabilitiesMatchEngine(t *testing.T) {
	for _, pol := range []decide.Explorer{{Kind: decide.EpsilonGreedy, Epsilon: 0.2, Alpha: 1}, {Kind: decide.Softmax, Alpha: 0.5}, {Kind: decide.Thompson}} {
		sc := trainedRidge(t, 64, 4)
		e, spec := retailEngine(t, pol, sc)
		p := knownProfile(spec)
		var res decide.Result
		req := &decide.Request{CustomerID: "c-1", Channel: "web", Context: map[string]any{"page": "product"}, Limit: 1, Explain: true, Now: now}
		if err := e.Decide(context.Background(), req, p, &res); err != nil {
			t.Fatal(err)
		}
		n := len(res.Explain.Scored)
		mean, std, c, got := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		for i, s := range res.Explain.Scored {
			mean[i], std[i], c[i] = s.Mean, s.Std, s.Value*s.Weight
		}
		full, err := decide.NewExplorer(pol)
		if err != nil {
			t.Fatal(err)
		}
		full.FirstSlotProbabilities(got, mean, std, c)
		for i, s := range res.Explain.Scored {
			if math.Abs(got[i]-s.SlotProb) > 1e-12 {
				t.Errorf("%s %s: %v, engine %v", pol.Kind, s.ActionID, got[i], s.SlotProb)
			}
		}
	}
}

// TestSlateMatchesEngine checks that decide.Slate, slot after slot,
// reproduces the propensities the engine logs for every slot bit for bit
// (for Thompson, the later slots share the first slot's grid, which
// FirstSlotProbabilities over the remaining candidates does not).
func TestSlateMatchesEngine(t *testing.T) {
	for _, pol := range []decide.Explorer{{Kind: decide.EpsilonGreedy, Epsilon: 0.2, Alpha: 1}, {Kind: decide.Softmax, Alpha: 0.5}, {Kind: decide.Thompson}} {
		e, spec := retailEngine(t, pol, trainedRidge(t, 64, 4))
		p := knownProfile(spec)
		full, err := decide.NewExplorer(pol)
		if err != nil {
			t.Fatal(err)
		}
		var slate decide.Slate
		for d := range 20 {
			var res decide.Result
			req := &decide.Request{CustomerID: fmt.Sprintf("c-%d", d), Channel: "web", Context: map[string]any{"page": "product"}, Limit: 4, Explain: true, Now: now}
			if err := e.Decide(context.Background(), req, p, &res); err != nil {
				t.Fatal(err)
			}
			n := len(res.Explain.Scored)
			mean, std, c := make([]float64, n), make([]float64, n), make([]float64, n)
			rem := make([]int, n)
			for i, s := range res.Explain.Scored {
				mean[i], std[i], c[i], rem[i] = s.Mean, s.Std, s.Value*s.Weight, i
			}
			slate.Reset(full, mean, std, c)
			for k, a := range res.Actions {
				probs := make([]float64, len(rem))
				slate.Probabilities(probs, rem)
				j := slices.IndexFunc(rem, func(i int) bool { return res.Explain.Scored[i].ActionID == a.Action.ID })
				if j < 0 || probs[j] != a.Propensity {
					t.Fatalf("%s slot %d: Slate gives %v, engine logged %v", pol.Kind, k, probs[max(j, 0)], a.Propensity)
				}
				rem = slices.Delete(rem, j, j+1)
			}
		}
	}
}

func TestDeadlineFallsBack(t *testing.T) {
	e, spec := retailEngine(t, decide.Explorer{Alpha: 1}, trainedRidge(t, 64, 3))
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the deadline has passed before the decision starts
	var res decide.Result
	req := &decide.Request{CustomerID: "c", Channel: "app", Limit: 2, Now: now}
	if err := e.Decide(ctx, req, spec.NewProfile("c", now), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Fallback || res.Policy != "fallback" || len(res.Actions) != 2 {
		t.Fatalf("want a fallback answer, got %+v", res)
	}
	for _, a := range res.Actions {
		if !(a.Propensity > 0 && a.Propensity <= 1) {
			t.Errorf("fallback propensity %v", a.Propensity)
		}
	}
}

// TestDecideAllocations pins the allocations of a decision without an
// explanation at zero: the retail catalog, in which most actions are
// dropped (channel, rules, a frequency cap), and the benchmark's 20
// actions with a rule on every third, under both explorers. Reasons are
// only written for an explanation, the rules run in their typed form
// (no boxing in expr-lang's VM), and the scratch and the Result's slices
// are reused.
func TestDecideAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector (make test runs this without it)")
	}
	check := func(name string, e *decide.Engine, req *decide.Request, p *features.Profile) {
		t.Helper()
		var res decide.Result
		if err := e.Decide(context.Background(), req, p, &res); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := testing.AllocsPerRun(200, func() { _ = e.Decide(context.Background(), req, p, &res) }); n != 0 {
			t.Errorf("%s: %v allocations per decision, want 0", name, n)
		}
	}
	e, spec := retailEngine(t, decide.Explorer{Alpha: 1}, trainedRidge(t, 64, 3))
	p := knownProfile(spec)
	p.Contacts = map[string]*features.Contact{"free-shipping": {Impressions: []time.Time{now.Add(-3 * time.Hour), now.Add(-2 * time.Hour), now.Add(-time.Hour)}}}
	check("retail", e, &decide.Request{CustomerID: "c-1", Channel: "web", Context: map[string]any{"page": "cart", "cart_value": 80.0}, Limit: 3, Now: now}, p)

	cat, err := benchCatalog(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, pol := range []decide.Explorer{{Kind: decide.EpsilonGreedy, Alpha: 1}, {Kind: decide.Thompson}} {
		e, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Explorer: pol, Seed: 1}, trainedRidge(t, spec.Dim(), 1))
		if err != nil {
			t.Fatal(err)
		}
		req := &decide.Request{CustomerID: "c-1", Channel: "web", Context: map[string]any{"page": "cart", "cart_value": 42.0, "device": "mobile"}, Limit: 3, Now: now}
		check("20x64/"+string(pol.Kind), e, req, knownProfile(spec))
	}
}

// TestRuleErrors checks the eligibility stage's answers where a rule
// cannot be evaluated: the action is dropped with expr-lang's own error
// in the explanation (the typed form leaves such rules to the VM), and a
// rule that does not compile fails the catalog load naming the field.
func TestRuleErrors(t *testing.T) {
	spec, _ := journaltest.Retail(t)
	cat, err := decide.ParseCatalog([]byte(`version: 1
channels: [web]
actions:
  - {id: typed, channels: [web], value: 1, eligible: 'context.page in ["cart"] && (context.cart_value ?? 0) > 10'}
  - {id: mismatch, channels: [web], value: 1, eligible: 'context.page < 3'}
  - {id: not-bool, channels: [web], value: 1, eligible: 'context.flag && true'}
  - {id: builtin, channels: [web], value: 1, eligible: 'len(context.page ?? "") == 4'}
`), spec)
	if err != nil {
		t.Fatal(err)
	}
	e, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var res decide.Result
	req := &decide.Request{CustomerID: "c-1", Channel: "web", Context: map[string]any{"page": "cart", "cart_value": 42.0, "flag": "yes"},
		Limit: 3, Explain: true, Now: now}
	if err := e.Decide(context.Background(), req, knownProfile(spec), &res); err != nil {
		t.Fatal(err)
	}
	var eligible []string
	for _, a := range res.Eligible {
		eligible = append(eligible, a.ID)
	}
	if want := []string{"typed", "builtin"}; fmt.Sprint(eligible) != fmt.Sprint(want) {
		t.Errorf("eligible %v, want %v", eligible, want)
	}
	reasons := map[string]string{}
	for _, d := range res.Explain.Dropped {
		reasons[d.ActionID] = d.Stage + ": " + d.Reason
	}
	for id, want := range map[string]string{
		"mismatch": "eligibility: rule error: invalid operation: string < int",
		"not-bool": "eligibility: rule error: invalid operation: bool(string)",
	} {
		if !strings.HasPrefix(reasons[id], want) {
			t.Errorf("%s dropped with %q, want it to start with %q", id, reasons[id], want)
		}
	}

	_, err = decide.ParseCatalog([]byte(`version: 1
channels: [web]
actions:
  - {id: bad, channels: [web], value: 1, eligible: 'profile.stage > 3'}
`), spec)
	var ce *decide.CatalogError
	if !errors.As(err, &ce) || ce.Field != "actions[0].eligible" || !strings.HasPrefix(ce.Reason, "cannot compile rule: invalid operation: > (mismatched types string and int)") {
		t.Errorf("bad rule: got %v, want a CatalogError on actions[0].eligible", err)
	}
}

// TestParseExplorer: every explorer's String reads back as itself, and
// what String would not write is refused.
func TestParseExplorer(t *testing.T) {
	for _, p := range []decide.Explorer{
		{Kind: decide.EpsilonGreedy, Epsilon: 0.1},
		{Kind: decide.EpsilonGreedy, Epsilon: 0, Alpha: 1.5},
		{Kind: decide.Softmax, Temperature: 0.37, Alpha: 2},
		{Kind: decide.Thompson, V: 0.8},
		decide.FallbackExplorer(decide.Explorer{Kind: decide.Thompson}),
	} {
		p, err := decide.NewExplorer(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decide.ParseExplorer(p.String())
		if err != nil || got != p {
			t.Errorf("%s: read back as %+v, %v", p, got, err)
		}
	}
	for _, s := range []string{"", "greedy", "softmax(t=0,alpha=0)", "thompson(v=1", "epsilon_greedy(eps=2,alpha=0)"} {
		if _, err := decide.ParseExplorer(s); err == nil {
			t.Errorf("%q was accepted", s)
		}
	}
}
