package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// RewardModel is a way of fitting a reward model q̂(x, a) to logged
// rounds. Given in Options.Model, it lets the estimators fit the model
// themselves: cross-fitted for the point estimates, and refitted on every
// bootstrap resample for the intervals.
type RewardModel interface {
	// Fit fits the model to rs, counting round i weight[i] times (0
	// leaves it out), and returns the fitted model. Fit is called
	// concurrently; it must not modify the receiver, rs or weight, nor
	// retain weight.
	Fit(rs []Round, weight []float64) (RewardPredictor, error)
}

// RewardPredictor is a fitted reward model.
type RewardPredictor interface {
	// Predict writes q̂(x, a) for each of r's len(r.Target) actions into
	// q. It is called from one goroutine at a time.
	Predict(q []float64, r *Round)
}

// folds assigns n rounds to k cross-fitting folds of sizes differing by
// at most one, at random from PCG(seed, 0xF01D).
func folds(n, k int, seed uint64) []int {
	fold := make([]int, n)
	perm := rand.New(rand.NewPCG(seed, 0xF01D)).Perm(n)
	for j, i := range perm {
		fold[i] = j % k
	}
	return fold
}

// crossFitTerms fits m on every fold's complement (rounds counted count[i]
// times; nil counts each once) and writes, for each round i with a
// positive count, q̂ᵢ(π) into dm[i] and q̂(xᵢ,aᵢ) into qa[i] from the
// model that did not see it.
//
// start, if not nil, holds earlier fits per fold that a model able to
// (warmFitter) starts from; the fits are returned.
func crossFitTerms(rs []Round, m RewardModel, fold []int, k int, count, dm, qa, q []float64, start []RewardPredictor) ([]RewardPredictor, error) {
	weight := make([]float64, len(rs))
	fits := make([]RewardPredictor, k)
	for f := range k {
		for i := range weight {
			c := 1.0
			if count != nil {
				c = count[i]
			}
			weight[i] = 0
			if fold[i] != f {
				weight[i] = c
			}
		}
		var pred RewardPredictor
		var err error
		if wf, ok := m.(warmFitter); ok && start != nil {
			pred, err = wf.fitFrom(start[f], rs, weight)
		} else {
			pred, err = m.Fit(rs, weight)
		}
		if err != nil {
			return nil, fmt.Errorf("cannot fit the reward model on fold %d's complement: %w", f, err)
		}
		fits[f] = pred
		for i := range rs {
			if fold[i] != f || (count != nil && count[i] == 0) {
				continue
			}
			r := &rs[i]
			q = slices.Grow(q[:0], len(r.Target))[:len(r.Target)]
			pred.Predict(q, r)
			for a, v := range q {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("%w: the reward model predicts %v for action %d of round %d", ErrInvalidRound, v, a, i)
				}
			}
			dm[i], qa[i] = dot(r.Target, q), q[r.Logged]
		}
	}
	return fits, nil
}

// warmFitter is a RewardModel that can start a fit from an earlier one:
// the refitting bootstrap starts each resample's fit from the full
// sample's, which takes a Newton method a few steps instead of ten.
type warmFitter interface {
	fitFrom(start RewardPredictor, rs []Round, weight []float64) (RewardPredictor, error)
}

// CrossFit returns a copy of rs whose Qhat is the prediction of m fitted
// on the other folds: the rounds are split into k folds at random
// (PCG(seed, 0xF01D), as Options.Model does) and the rounds of each fold
// are predicted by the model fitted on the rest. Target, Logging and the
// other slices are shared with rs.
func CrossFit(rs []Round, m RewardModel, k int, seed uint64) ([]Round, error) {
	if k < 2 || len(rs) < k {
		return nil, fmt.Errorf("%w: %d folds of %d rounds", ErrInvalidOptions, k, len(rs))
	}
	fold := folds(len(rs), k, seed)
	out := slices.Clone(rs)
	weight := make([]float64, len(rs))
	for f := range k {
		for i := range weight {
			weight[i] = 0
			if fold[i] != f {
				weight[i] = 1
			}
		}
		pred, err := m.Fit(rs, weight)
		if err != nil {
			return nil, fmt.Errorf("cannot fit the reward model on fold %d's complement: %w", f, err)
		}
		for i := range out {
			if fold[i] == f {
				out[i].Qhat = make([]float64, len(out[i].Target))
				pred.Predict(out[i].Qhat, &out[i])
			}
		}
	}
	return out, nil
}

// estSpec is one estimator at fixed tuning; paired, it is the
// estimator's value minus the mean logged reward (Compare).
type estSpec struct {
	e      Estimator
	hp     hyper
	paired bool
}

// refitBootstrap draws resamples of the rounds and, on each, refits the
// reward model by cross-fitting (every copy of a round stays in its
// fold, so no round is predicted by a model that saw it) and recomputes
// each spec's value. Resample b draws from PCG(Seed, b+1), so the result
// does not depend on the number of goroutines. reps[k] holds spec k's
// values, dropped[k] how many resamples left it undefined.
func (ev *evaluation) refitBootstrap(specs []estSpec) (reps [][]float64, dropped []int, err error) {
	vals, err := ev.refitValues(specs)
	if err != nil {
		return nil, nil, err
	}
	reps, dropped = splitReps(vals, len(specs))
	return reps, dropped, nil
}

// splitReps turns values per resample and spec (NaN: undefined) into
// the defined values per spec and the count of undefined ones.
func splitReps(vals [][]float64, k int) (reps [][]float64, dropped []int) {
	reps = make([][]float64, k)
	dropped = make([]int, k)
	for _, v := range vals {
		for j, x := range v {
			if math.IsNaN(x) {
				dropped[j]++
				continue
			}
			reps[j] = append(reps[j], x)
		}
	}
	return reps, dropped
}

// refitValues is refitBootstrap's values per resample and spec, NaN
// where undefined.
func (ev *evaluation) refitValues(specs []estSpec) ([][]float64, error) {
	B, n := ev.refits(), ev.d.n
	vals := make([][]float64, B) // [resample][spec], NaN if undefined
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	workers := min(runtime.GOMAXPROCS(0), B)
	for range workers {
		wg.Go(func() {
			count := make([]float64, n)
			dm, qa := make([]float64, n), make([]float64, n)
			var q []float64
			for b := range next {
				rng := rand.New(rand.NewPCG(ev.o.Seed, uint64(b)+1))
				clear(count)
				for range n {
					count[rng.IntN(n)]++
				}
				if _, err := crossFitTerms(ev.rs, ev.o.Model, ev.fold, ev.o.Folds, count, dm, qa, q, ev.fits); err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
					continue
				}
				v := make([]float64, len(specs))
				for k, sp := range specs {
					var s sums
					for i, c := range count {
						if c > 0 {
							s.add(ev.d.w[i], ev.d.r[i], dm[i], qa[i], true, sp.hp, c)
						}
					}
					x, ok := sp.value(s)
					if !ok {
						x = math.NaN()
					}
					v[k] = x
				}
				vals[b] = v
			}
		})
	}
	for b := range B {
		next <- b
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return vals, nil
}

// bootstrapValues recomputes each spec on B resamples of the rounds with
// the model terms fixed, drawn from PCG(Seed, Seed): values per resample
// and spec, NaN where undefined.
func (d *prepared) bootstrapValues(specs []estSpec, o Options, B int) [][]float64 {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed))
	idx := make([]int, d.n)
	vals := make([][]float64, B)
	for b := range B {
		for j := range idx {
			idx[j] = rng.IntN(d.n)
		}
		vals[b] = make([]float64, len(specs))
		for k, sp := range specs {
			v, ok := sp.value(d.sums(idx, sp.hp))
			if !ok {
				v = math.NaN()
			}
			vals[b][k] = v
		}
	}
	return vals
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// setRefitInterval sets est's SE and interval from the refitting
// bootstrap's replicates (see RefitInterval).
func (est *Estimate) setRefitInterval(reps []float64, dropped, B int, o Options) error {
	if len(reps) < B/2 {
		return fmt.Errorf("%s: %w in %d of %d bootstrap resamples", est.Estimator, ErrNoOverlap, dropped, B)
	}
	est.SE = stat.StdDev(reps, nil)
	q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(est.N - 1)}.Quantile(1 - (1-o.Level)/2)
	est.Lo, est.Hi = est.Value-q*est.SE, est.Value+q*est.SE
	est.Interval = fmt.Sprintf("%s, B=%d, %d-fold cross-fit, seed=%d", RefitInterval, B, o.Folds, o.Seed) + est.tuningNote()
	if dropped > 0 {
		est.Warnings = append(est.Warnings, fmt.Sprintf("%d bootstrap resamples had no weight on the target and were dropped", dropped))
	}
	return nil
}

// RefitInterval names the intervals of the estimators that use
// Options.Model: the estimate ± the t(n−1) quantile × the standard
// deviation of the estimates on bootstrap resamples of the rounds, each
// with the reward model refitted (cross-fitted within the resample), so
// that the standard error includes the model's own estimation error.
const RefitInterval = "refit bootstrap SE, t(n-1)"
