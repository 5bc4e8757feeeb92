package experiment_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/experiment"
	"nextbest/journal"
)

// TestChangeEqualsBuilder is the property the service relies on: summing
// decisions as records arrive — each decision first without values, its
// outcomes later and in any order, some for decisions of earlier days of
// the same customer — gives the Aggregates that a Builder gives from the
// final values, up to float rounding.
func TestChangeEqualsBuilder(t *testing.T) {
	type dec struct {
		customer, arm, channel, stage string
		at                            time.Time
		y                             experiment.Values
		x                             float64 // the covariate the decision logged
		outcome                       bool
	}
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		var decs []dec
		for range 200 + r.IntN(200) {
			d := dec{
				customer: fmt.Sprintf("c%d", r.IntN(60)),
				arm:      []string{"a", "b", "c"}[r.IntN(3)],
				channel:  []string{"web", "app", ""}[r.IntN(3)],
				stage:    []string{"new", "loyal", ""}[r.IntN(3)],
				at:       start.Add(time.Duration(r.IntN(10*24)) * time.Hour),
				x:        float64(r.IntN(5)),
			}
			decs = append(decs, d)
		}
		// the records: a decision, then 0 to 3 outcomes, each changing its
		// values; outcomes may come after later decisions
		type rec struct {
			i       int
			dy      experiment.Values
			outcome bool // else the decision itself
		}
		var recs []rec
		var pending []rec
		for i := range decs {
			recs = append(recs, rec{i: i})
			for k := range r.IntN(4) {
				dy := experiment.Values{0, 0, r.NormFloat64()}
				if r.IntN(2) == 0 {
					dy[1] = 20 + 60*r.Float64()
				}
				if k == 0 && r.IntN(2) == 0 {
					dy[0] = 1 // the decision converts
				}
				pending = append(pending, rec{i: i, dy: dy, outcome: true})
				for m := range experiment.NumMetrics {
					decs[i].y[m] += dy[m]
				}
				decs[i].outcome = true
			}
			// release some pending outcomes now, in random order
			r.Shuffle(len(pending), func(a, b int) { pending[a], pending[b] = pending[b], pending[a] })
			n := r.IntN(len(pending) + 1)
			recs = append(recs, pending[:n]...)
			pending = pending[n:]
		}
		recs = append(recs, pending...)

		var inc experiment.Aggregates
		units := map[string]*experiment.Unit{}
		hasOutcome := map[int]bool{}
		for _, rc := range recs {
			d := &decs[rc.i]
			u := units[d.customer]
			if u == nil {
				u = new(experiment.Unit)
				units[d.customer] = u
			}
			ed := experiment.NewDecision(d.arm, d.at, time.UTC, d.channel, d.stage)
			ed.X = d.x
			if !rc.outcome {
				u.Change(&ed, 1, &experiment.Values{}, 0, inc.Add)
				inc.Seen(d.arm, d.at, d.at)
				continue
			}
			var out int64
			if !hasOutcome[rc.i] {
				hasOutcome[rc.i], out = true, 1
			}
			u.Change(&ed, 0, &rc.dy, out, inc.Add)
		}

		b := experiment.NewBuilder(time.UTC)
		for i := range decs {
			d := &decs[i]
			jd := journalDecision(d.customer, d.arm, d.at, d.channel, d.stage)
			jd.Experiment.Covariate = d.x
			b.Add(&jd, &d.y, d.outcome)
		}
		want := b.Aggregates()
		if err := sameAggregates(&inc, want); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

func sameAggregates(got, want *experiment.Aggregates) error {
	if len(got.Arms) != len(want.Arms) {
		return fmt.Errorf("%d arms, want %d", len(got.Arms), len(want.Arms))
	}
	for name, w := range want.Arms {
		g := got.Arms[name]
		if g == nil {
			return fmt.Errorf("no arm %s", name)
		}
		if !g.From.Equal(w.From) || !g.To.Equal(w.To) {
			return fmt.Errorf("arm %s: span %v–%v, want %v–%v", name, g.From, g.To, w.From, w.To)
		}
		for _, dim := range []struct {
			name      string
			got, want map[string]experiment.Sums
		}{{"day", g.Days, w.Days}, {"channel", g.Channels, w.Channels}, {"stage", g.Stages, w.Stages}} {
			for k, ws := range dim.want {
				gs := dim.got[k]
				if err := sameSums(&gs, &ws); err != nil {
					return fmt.Errorf("arm %s, %s %s: %v", name, dim.name, k, err)
				}
			}
			for k, gs := range dim.got {
				if _, ok := dim.want[k]; !ok && !nearZero(&gs) {
					return fmt.Errorf("arm %s, %s %s: %+v, want none", name, dim.name, k, gs)
				}
			}
		}
	}
	return nil
}

// sameSums compares within 1e-9 relative: the incremental sums add the
// same terms in another order, and differences of squares.
func sameSums(g, w *experiment.Sums) error {
	if g.Customers != w.Customers || g.Decisions != w.Decisions || g.WithOutcomes != w.WithOutcomes {
		return fmt.Errorf("counts %d/%d/%d, want %d/%d/%d", g.Customers, g.Decisions, g.WithOutcomes, w.Customers, w.Decisions, w.WithOutcomes)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b)) }
	ok := near(g.NN, w.NN) && near(g.X, w.X) && near(g.XX, w.XX) && near(g.XN, w.XN)
	for m := range experiment.NumMetrics {
		ok = ok && near(g.Y[m], w.Y[m]) && near(g.YY[m], w.YY[m]) && near(g.YN[m], w.YN[m]) && near(g.XY[m], w.XY[m])
	}
	if !ok {
		return fmt.Errorf("%+v, want %+v", *g, *w)
	}
	return nil
}

func nearZero(s *experiment.Sums) bool {
	z := experiment.Sums{}
	return sameSums(s, &z) == nil
}

// TestAnalyzeEmptyAndUnknownArms: an experiment without decisions has no
// winner yet, and decisions of an arm the experiment does not configure
// are left out with a warning.
func TestAnalyzeEmptyAndUnknownArms(t *testing.T) {
	exps, err := decide.ParseExperiments([]byte(`
experiments:
  - name: e
    start: 2026-03-01T00:00:00Z
    arms:
      - {name: a, policy: random, share: 1}
      - {name: b, policy: online, share: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := experiment.Analyze(exps[0], nil, experiment.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict.Status != experiment.VerdictNoWinnerYet || len(res.Arms) != 2 || res.Arms[0].Decisions != 0 || len(res.Warnings) != 0 {
		t.Errorf("empty: verdict %+v arms %+v warnings %v", res.Verdict, res.Arms, res.Warnings)
	}
	b := experiment.NewBuilder(nil)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, d := range []struct {
		customer, arm string
		y             experiment.Values
	}{{"c1", "a", experiment.Values{1, 0, 1}}, {"c2", "gone", experiment.Values{}}, {"c3", "gone", experiment.Values{}}} {
		jd := journalDecision(d.customer, d.arm, at, "web", "")
		b.Add(&jd, &d.y, d.y[0] > 0)
	}
	res, err = experiment.Analyze(exps[0], b.Aggregates(), experiment.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], `2 decisions name arm "gone"`) {
		t.Errorf("warnings %q", res.Warnings)
	}
	if res.Arms[0].Decisions != 1 || res.Arms[0].Conversions != 1 || !res.From.Equal(at) || len(res.Daily[0].Points) != 1 {
		t.Errorf("arm a %+v, from %v, daily %+v", res.Arms[0], res.From, res.Daily)
	}
	if _, err := experiment.Analyze(exps[0], nil, experiment.Options{Level: 2}); !errors.Is(err, experiment.ErrInvalidOptions) {
		t.Errorf("level 2: %v", err)
	}
}

// journalDecision is a decision of experiment "e" as the journal logs it.
func journalDecision(customer, arm string, at time.Time, channel, stage string) journal.Decision {
	d := journal.Decision{CustomerID: customer, Time: at, Channel: channel,
		Experiment: &journal.ExperimentArm{Name: "e", Arm: arm}}
	if stage != "" {
		d.Profile = map[string]any{"stage": stage}
	}
	return d
}
