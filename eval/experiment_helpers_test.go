package eval_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"nextbest/internal/journaltest"
	"slices"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/journal"
	"nextbest/logs"
)

// The experiment simulation: customers assigned to arms with decide's
// Assign, 1 to 3 decisions each over 14 days, one action per decision
// chosen ε-greedily (ε = 0.2) over four actions whose conversion rates
// differ, so an arm's rate follows from its greedy action. A conversion
// logs a "conversion" outcome (reward 1) and a "revenue" outcome (reward
// uniform on [20, 80]) an hour after the decision.

// simActions are the actions and their true conversion rates.
var (
	simActions = []string{"a1", "a2", "a3", "a4"}
	simRates   = []float64{0.095, 0.08, 0.135, 0.11}
)

const (
	simEps         = 0.2
	simRevenueMean = 50.0
)

var (
	simStart    = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	simChannels = []string{"web", "app", "email"}
	simStages   = []string{"awareness", "consideration", "purchase", "retention"}
)

// simArm is how an arm serves: its greedy action (index into simActions),
// or -1 for uniform random.
type simArm struct{ greedy int }

// probs returns the arm's probability of each action.
func (a simArm) probs() []float64 {
	p := make([]float64, len(simActions))
	for i := range p {
		if a.greedy < 0 {
			p[i] = 1 / float64(len(p))
		} else {
			p[i] = simEps / float64(len(p))
			if i == a.greedy {
				p[i] += 1 - simEps
			}
		}
	}
	return p
}

// trueRate is the arm's expected conversion rate per decision.
func (a simArm) trueRate() float64 {
	var r float64
	for i, p := range a.probs() {
		r += p * simRates[i]
	}
	return r
}

// uniformReward is the true value of the uniform-random policy on the
// reward metric: E[1 + revenue | conversion] × mean rate.
func uniformReward() float64 {
	var r float64
	for _, x := range simRates {
		r += x
	}
	return r / float64(len(simRates)) * (1 + simRevenueMean)
}

type simConfig struct {
	customers int
	arms      map[string]simArm
	seed      uint64
	// drop leaves out this fraction of the named arm's customers, as a
	// broken logger would (an SRM).
	dropArm  string
	dropFrac float64
}

// simRecords returns the journal records (decisions and outcomes, in time
// order) of cfg's traffic in exp.
func simRecords(exp *decide.Experiment, cfg simConfig) []any {
	rng := rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15))
	type rec struct {
		t time.Time
		v any
	}
	var recs []rec
	span := 14 * 24 * time.Hour
	for c := range cfg.customers {
		cust := fmt.Sprintf("c-%06d", c)
		arm := exp.Arms[exp.Assign(cust)]
		sa, ok := cfg.arms[arm.Name]
		if !ok {
			panic("BUG: no simulated arm " + arm.Name)
		}
		if arm.Name == cfg.dropArm && rng.Float64() < cfg.dropFrac {
			continue
		}
		probs := sa.probs()
		nd := 1 + rng.IntN(3)
		ch := simChannels[rng.IntN(len(simChannels))]
		stage := simStages[rng.IntN(len(simStages))]
		for k := range nd {
			t := simStart.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Second)
			u, a := rng.Float64(), 0
			for a < len(probs)-1 && u >= probs[a] {
				u -= probs[a]
				a++
			}
			id := fmt.Sprintf("d-%s-%06d-%d", exp.Name, c, k)
			d := journal.Decision{V: journal.SchemaVersion, DecisionID: id, CustomerID: cust, Channel: ch, Time: t,
				Profile: map[string]any{"stage": stage}, Policy: arm.Policy, FeatureSpec: "sim",
				Experiment: &journal.ExperimentArm{Name: exp.Name, Arm: arm.Name},
				Eligible:   simActions,
				Actions:    []journal.LoggedAction{{ActionID: simActions[a], Propensity: probs[a]}},
			}
			recs = append(recs, rec{t, d})
			if rng.Float64() < simRates[a] {
				ot := t.Add(time.Hour)
				recs = append(recs,
					rec{ot, journal.Outcome{V: journal.SchemaVersion, DecisionID: id, ActionID: simActions[a], CustomerID: cust, Type: "conversion", Reward: 1, Time: ot, DecisionTime: t}},
					rec{ot, journal.Outcome{V: journal.SchemaVersion, DecisionID: id, ActionID: simActions[a], CustomerID: cust, Type: "revenue", Reward: 20 + 60*rng.Float64(), Time: ot, DecisionTime: t}})
			}
		}
	}
	slices.SortStableFunc(recs, func(a, b rec) int { return cmp.Compare(a.t.UnixNano(), b.t.UnixNano()) })
	out := make([]any, len(recs))
	for i, r := range recs {
		out[i] = r.v
	}
	return out
}

// writeSimJournal appends recs to a new journal in a temp dir.
func writeSimJournal(t testing.TB, recs []any) string {
	t.Helper()
	return journaltest.Write(t, recs...)
}

// loadExperiment returns the named experiment of testdata/experiment.
func loadExperiment(t testing.TB, name string) *decide.Experiment {
	t.Helper()
	exps, err := decide.LoadExperiments("testdata/experiment/experiments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range exps {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no experiment %q", name)
	return nil
}

// simJoined simulates cfg in experiment name, writes the journal, joins
// it and returns the joined decisions (of every experiment in the
// journal).
func simJoined(t testing.TB, name string, cfg simConfig) (*decide.Experiment, []logs.Joined, string) {
	t.Helper()
	exp := loadExperiment(t, name)
	dir := writeSimJournal(t, simRecords(exp, cfg))
	joined, _, err := logs.Join(context.Background(), dir, logs.JoinConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return exp, joined, dir
}
