package eval_test

import (
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"gonum.org/v1/gonum/stat"

	"nextbest/eval"
)

// contexts are the simulated bandit's context vectors: context x is
// Context[0] = x, shared by its rounds.
func (b *simBandit) contexts() [][]float64 {
	out := make([][]float64, len(b.px))
	for x := range out {
		out[x] = []float64{float64(x)}
	}
	return out
}

// modelRounds logs n rounds with a Context and no Qhat, for Options.Model.
func (b *simBandit) modelRounds(rng *rand.Rand, n int, ctx [][]float64) []eval.Round {
	rs := make([]eval.Round, n)
	for i := range rs {
		x := draw(rng, b.px)
		a := draw(rng, b.logging[x])
		var r float64
		if rng.Float64() < b.mu[x][a] {
			r = 1
		}
		rs[i] = eval.Round{Logged: a, Propensity: b.logging[x][a], Reward: r, Target: b.target[x], Logging: b.logging[x], Context: ctx[x]}
	}
	return rs
}

// tabular is the context×action cell model of the simulated bandit,
// shrunk towards each action's mean with m pseudo-rounds; blind ignores
// the context.
func (b *simBandit) tabular(m float64) *eval.CellModel {
	K := len(b.mu[0])
	return &eval.CellModel{Cells: len(b.px) * K, Groups: K, M: m,
		Cell:  func(r *eval.Round, a int) int { return int(r.Context[0])*K + a },
		Group: func(r *eval.Round, a int) int { return a }}
}

func (b *simBandit) blind() *eval.CellModel {
	K := len(b.mu[0])
	return &eval.CellModel{Cells: K, Cell: func(r *eval.Round, a int) int { return a }}
}

// loggingValue is the logging policy's true value.
func (b *simBandit) loggingValue() float64 {
	var v float64
	for x := range b.px {
		for a := range b.mu[x] {
			v += b.px[x] * b.logging[x][a] * b.mu[x][a]
		}
	}
	return v
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// forSeeds runs f(seed) for seed 0..R-1 on every CPU. f records its
// results by seed, so they do not depend on the number of workers.
func forSeeds(t *testing.T, R int, f func(seed int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				seed := int(next.Add(1) - 1)
				if seed >= R {
					return
				}
				if err := f(seed); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}

// TestCoverage is the coverage study of the intervals that account for
// the reward model: the simulated bandit of sim_test.go (true value
// 0.73519), n = 2,000 rounds per replication, the reward model fitted by
// the estimators themselves (Options.Model): the context×action cell
// model (tabular, correctly specified, no shrinkage) and the context-blind
// one (misspecified). It measures, per estimator, the bias, the mean
// reported SE over the spread of the estimates, and how often the 95%
// interval covers the truth:
//
//   - DM with the refitting bootstrap's interval (Refits resamples);
//   - DR, SNDR, Switch-DR and DRos with the cross-fitted model and their
//     analytic intervals, with both models;
//   - Clipped-IPS at its chosen λ, and SLOPE's choice (Select, with the
//     interval widened for the choice; SelectFrom's unwidened interval is
//     reported, not checked: 0.929 in the large run);
//   - Compare's paired difference, candidate − serving, with DR (tabular
//     model) and IPS, against the true difference 0.73519 − 0.40926.
//
// By default R = 400 replications with 100 refits each, a few seconds:
// a coverage near 0.95 then has a Monte Carlo SE of √(0.95·0.05/400) =
// 0.011, so the acceptance band [0.93, 0.97] is widened by 2 of them to
// [0.908, 0.992]; the SE ratio must lie in [0.85, 1.15] (the spread's
// own relative error is 1/√(2R) = 3.5%) and the bias within 4 SEs of the
// mean (DM: 5, since its cells are shrunk towards the action mean when
// empty). EVAL_COVERAGE_R=2000 runs the large study (200 refits, about
// 2 minutes on 2 cores) and holds coverage to [0.93, 0.97] itself, whose
// figures docs/evaluation.md gives; it adds DM with the blind model,
// which is biased by −0.29 so that no interval covers it: it is
// reported, and checked to miss.
func TestCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	R := envInt("EVAL_COVERAGE_R", 400)
	large := R != 400
	B, lo, hi := 100, 0.908, 0.992
	if large {
		B, lo, hi = 200, 0.93, 0.97
	}
	const n = 2000
	b := newSimBandit()
	truth, vlog := b.value(), b.loggingValue()
	ctx := b.contexts()
	type rec struct {
		key   string
		v, se float64
		cover bool
	}
	per := make([][]rec, R)
	chosen := make([]string, R)
	forSeeds(t, R, func(seed int) error {
		rng := rand.New(rand.NewPCG(uint64(seed), 2))
		rs := b.modelRounds(rng, n, ctx)
		add := func(key string, e eval.Estimate, want float64) {
			per[seed] = append(per[seed], rec{key, e.Value, e.SE, e.Lo <= want && want <= e.Hi})
		}
		tab := eval.Options{Model: b.tabular(0), Seed: uint64(seed), Refits: B}
		// Select runs every estimator (EvaluateAll's estimates are its
		// Candidates) and the choice on the same refitting resamples
		sel, err := eval.Select(rs, tab)
		if err != nil {
			return err
		}
		for _, e := range sel.Candidates {
			add(e.Estimator+"/tabular", e, truth)
		}
		add("Select/tabular", sel.Chosen, truth)
		add("SelectFrom/tabular", eval.SelectFrom(sel.Candidates).Chosen, truth)
		chosen[seed] = sel.Chosen.Estimator
		blind := eval.Options{Model: b.blind(), Seed: uint64(seed)}
		blindEsts := []eval.Estimator{eval.DR, eval.SNDR, eval.SwitchDR, eval.DRos}
		if large {
			blindEsts = append(blindEsts, eval.DM)
		}
		for _, e := range blindEsts {
			o := blind
			if e == eval.DM {
				o.Refits = B
			}
			est, err := eval.Evaluate(rs, e, o)
			if err != nil {
				return err
			}
			add(e.String()+"/blind", est, truth)
		}
		for _, c := range []struct {
			e eval.Estimator
			o eval.Options
		}{{eval.DR, tab}, {eval.IPS, eval.Options{}}} {
			cmp, err := eval.Compare(rs, c.e, c.o)
			if err != nil {
				return err
			}
			add("Compare "+c.e.String()+" - serving", cmp.Difference, truth-vlog)
		}
		return nil
	})
	type agg struct{ v, se, c []float64 }
	res := map[string]*agg{}
	var keys []string
	for _, rr := range per {
		for _, r := range rr {
			a := res[r.key]
			if a == nil {
				a = &agg{}
				res[r.key] = a
				keys = append(keys, r.key)
			}
			c := 0.0
			if r.cover {
				c = 1
			}
			a.v, a.se, a.c = append(a.v, r.v), append(a.se, r.se), append(a.c, c)
		}
	}
	counts := map[string]int{}
	for _, c := range chosen {
		counts[c]++
	}
	t.Logf("truth %.5f (serving %.5f); R = %d, n = %d, %d refits; SLOPE chose %v", truth, vlog, R, n, B, counts)
	t.Logf("%-26s %9s %8s %8s %7s %8s", "estimator/model", "bias", "bias/SE", "sd", "SE/sd", "coverage")
	for _, key := range keys {
		a := res[key]
		want := truth
		if strings.HasPrefix(key, "Compare") {
			want = truth - vlog
		}
		mean, sd := stat.MeanStdDev(a.v, nil)
		bias, sem := mean-want, sd/math.Sqrt(float64(R))
		ratio, cov := stat.Mean(a.se, nil)/sd, stat.Mean(a.c, nil)
		t.Logf("%-26s %+9.5f %+8.2f %8.5f %7.3f %8.3f", key, bias, bias/sem, sd, ratio, cov)
		switch key {
		case "DM/blind":
			if cov > 0.5 {
				t.Errorf("DM with the blind model covers %.3f: its bias should show", cov)
			}
			continue
		case "SelectFrom/tabular":
			continue // the choice's own interval, reported: see Select
		}
		if k := 4.0; math.Abs(bias) > k*sem && !(strings.HasPrefix(key, "DM/") && math.Abs(bias) < 5*sem) {
			t.Errorf("%s: bias %.5f is %.1f standard errors of the mean", key, bias, bias/sem)
		}
		if cov < lo || cov > hi {
			t.Errorf("%s: coverage %.3f outside [%.3f, %.3f]", key, cov, lo, hi)
		}
		if ratio < 0.85 || ratio > 1.15 {
			t.Errorf("%s: mean SE / sd = %.3f outside [0.85, 1.15]", key, ratio)
		}
	}
}
