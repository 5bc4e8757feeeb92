package sim_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/eval/sim"
)

var start = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func policy(t *testing.T, name string) sim.PolicySpec {
	t.Helper()
	for _, p := range sim.DefaultPolicies() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no policy %q", name)
	return sim.PolicySpec{}
}

func trace(t *testing.T, cfg sim.RunConfig) (*sim.RunResult, []sim.StepInfo) {
	t.Helper()
	var steps []sim.StepInfo
	cfg.OnStep = func(s sim.StepInfo) { steps = append(steps, s) }
	r, err := sim.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.Elapsed = 0
	return r, steps
}

// TestReproducible: the same seed gives the same population, the same
// journeys and, with a learning policy in the loop, the same trajectory
// step for step; another seed gives another.
func TestReproducible(t *testing.T) {
	for _, name := range []string{"linucb", "thompson", "egreedy_context_free"} {
		t.Run(name, func(t *testing.T) {
			cfg := sim.RunConfig{Population: sim.Config{Customers: 300, Seed: 11}, Policy: policy(t, name), Horizon: 1500}
			r1, s1 := trace(t, cfg)
			r2, s2 := trace(t, cfg)
			if !reflect.DeepEqual(s1, s2) || !reflect.DeepEqual(r1, r2) {
				t.Fatal("two runs with the same seed differ")
			}
			cfg.Population.Seed = 12
			_, s3 := trace(t, cfg)
			if reflect.DeepEqual(s1, s3) {
				t.Fatal("two seeds gave the same trajectory")
			}
		})
	}

	// the population and its journeys on their own
	visits := func() string {
		p, err := sim.New(sim.Config{Customers: 50, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(5, 5))
		var b strings.Builder
		var v sim.Visit
		var out sim.Response
		for i := range 500 {
			now := start.Add(time.Duration(i) * time.Minute)
			c := p.PickCustomer(r, 0, len(p.Customers()))
			p.Begin(&v, r, c, now)
			a := p.Catalog().Actions[r.IntN(len(p.Catalog().Actions))]
			p.Respond(&out, r, &v, []*decide.Action{a}, now.Add(time.Second))
			b.WriteString(c.ID + c.Segment + v.Channel + c.Profile.Stage)
			for _, e := range append(v.Before, out.After...) {
				b.WriteString(e.Type)
			}
			if out.Converted[0] {
				b.WriteString("+")
			}
		}
		return b.String()
	}
	if visits() != visits() {
		t.Fatal("the same seed gave different journeys")
	}
}

// TestOracleIsUpperBound: at every step of every policy, the true expected
// reward of the chosen action is at most the oracle's (the best eligible
// action's), and the oracle policy has no regret.
func TestOracleIsUpperBound(t *testing.T) {
	for _, p := range sim.DefaultPolicies() {
		t.Run(p.Name, func(t *testing.T) {
			r, steps := trace(t, sim.RunConfig{Population: sim.Config{Customers: 200, Seed: 3}, Policy: p, Horizon: 800})
			if len(steps) < 600 {
				t.Fatalf("only %d of 800 visits made a decision", len(steps))
			}
			for _, s := range steps {
				if !(s.Reward <= s.Oracle) || s.Reward < 0 || s.Eligible < 1 {
					t.Fatalf("step %d: chosen %s reward %v > oracle %v (%d eligible)", s.Step, s.Chosen, s.Reward, s.Oracle, s.Eligible)
				}
				if p.Kind == sim.Oracle && s.Reward != s.Oracle {
					t.Fatalf("step %d: the oracle policy got %v of %v", s.Step, s.Reward, s.Oracle)
				}
			}
			if r.Regret < 0 || r.Share > 1 {
				t.Errorf("regret %v share %v", r.Regret, r.Share)
			}
		})
	}
}

// TestDriftChangesBest: the drift makes the segment prefer To over From
// from the stated time on, and not a moment earlier.
func TestDriftChangesBest(t *testing.T) {
	at := start.Add(48 * time.Hour)
	drift := &sim.Drift{At: at, Segment: sim.DealSeeker, From: "cart-reminder-10", To: "free-shipping"}
	p, err := sim.New(sim.Config{Customers: 400, Seed: 9, Drift: drift})
	if err != nil {
		t.Fatal(err)
	}
	var c *sim.Customer
	for _, x := range p.Customers() {
		if x.Segment == sim.DealSeeker && x.Profile.Stage == "cart" {
			c = x
			break
		}
	}
	if c == nil {
		t.Fatal("no deal seeker with a cart among the demo profiles")
	}
	ctx := map[string]any{"page": "cart", "cart_value": 60.0, "device": "mobile"}
	best := func(now time.Time) string {
		var v sim.Visit
		var res decide.Result
		p.Situate(&v, c, "web", ctx, now)
		el, err := p.Eligible(context.Background(), &v, &res)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := p.Oracle(&v, el)
		return a.ID
	}
	if got := best(at.Add(-time.Second)); got != drift.From {
		t.Errorf("best action a second before the drift: %s, want %s", got, drift.From)
	}
	if got := best(at); got != drift.To {
		t.Errorf("best action at the drift: %s, want %s", got, drift.To)
	}

	// over the segment's visits, From stops being the oracle's pick
	share := func(from time.Time) float64 {
		q, err := sim.New(sim.Config{Customers: 400, Seed: 9, Drift: drift})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		var v sim.Visit
		var res decide.Result
		var n, hits int
		for i := range 4000 {
			cu := q.PickCustomer(r, 0, len(q.Customers()))
			q.Begin(&v, r, cu, from.Add(time.Duration(i)*time.Second))
			if cu.Segment != sim.DealSeeker {
				continue
			}
			el, err := q.Eligible(context.Background(), &v, &res)
			if err != nil {
				continue
			}
			if a, _ := q.Oracle(&v, el); a.ID == drift.From {
				hits++
			}
			n++
		}
		return float64(hits) / float64(n)
	}
	before, after := share(at.Add(-2*time.Hour)), share(at)
	if !(before > 0.1 && after < before/4) {
		t.Errorf("share of deal-seeker visits where %s is best: %.3f before, %.3f after the drift", drift.From, before, after)
	}
}

// TestLinUCBLearns: the project's online policy — decide.Engine with a
// shared models.Ridge, LinUCB scores explored ε-greedily, learning online
// as the service does — reaches 60% of the oracle's expected reward
// within 20,000 visits of a fixed population (measured: 0.706 on seed 1;
// 0.64-0.74 on seeds 1-4), far above uniform random on the same
// population (measured 0.376; 0.38-0.42 on seeds 1-4).
func TestLinUCBLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 visits")
	}
	pop := sim.Config{Customers: 1000, Seed: 1}
	run := func(name string) *sim.RunResult {
		r, err := sim.Run(context.Background(), sim.RunConfig{Population: pop, Policy: policy(t, name), Horizon: 20000})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	lin, rnd := run("linucb"), run("random")
	t.Logf("share of oracle: linucb %.3f, random %.3f", lin.Share, rnd.Share)
	if lin.Share < 0.60 {
		t.Errorf("linucb reached %.3f of the oracle, want >= 0.60", lin.Share)
	}
	if lin.Share < rnd.Share+0.2 {
		t.Errorf("linucb %.3f is not well above random %.3f", lin.Share, rnd.Share)
	}
	// learning shows in time too: the second half's regret per visit is
	// lower than the first's
	half := len(lin.Curve) / 2
	first, second := lin.Curve[half-1], lin.Curve[len(lin.Curve)-1]-lin.Curve[half-1]
	if !(second < first) {
		t.Errorf("regret in the first half %.1f, in the second %.1f: no learning", first, second)
	}
}

// TestBenchReports runs a tiny benchmark and writes its table, CSV and
// chart.
func TestBenchReports(t *testing.T) {
	br, err := sim.Bench(context.Background(), sim.BenchConfig{
		Population: sim.Config{Customers: 100}, Seeds: []uint64{1, 2}, Horizon: 300, Points: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(br.Policies) != len(sim.DefaultPolicies()) || len(br.Runs) != 2*len(sim.DefaultPolicies()) {
		t.Fatalf("%d policies, %d runs", len(br.Policies), len(br.Runs))
	}
	var md, csv bytes.Buffer
	if err := br.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := br.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	for _, p := range sim.DefaultPolicies() {
		if !strings.Contains(md.String(), "| "+p.Name+" |") || !strings.Contains(csv.String(), p.Name+",1,") {
			t.Errorf("policy %s missing from the table or the CSV:\n%s\n%s", p.Name, md.String(), csv.String())
		}
	}
	path := filepath.Join(t.TempDir(), "regret.svg")
	if err := br.WriteRegretChart(path); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("chart: %v, %.100s", err, b)
	}
}
