package training

import (
	"errors"
	"io"
	"os"
	"time"

	"nextbest/models"
)

// ProgressiveConfig configures Progressive.
type ProgressiveConfig struct {
	// PerAction keeps one ridge posterior per action position; otherwise
	// one shared posterior over the featurizer's full row (use
	// interactions then, as VW's -q sa).
	PerAction bool
	Lambda    float64 // default 1
	// SolveEvery is the number of examples between two solves of the
	// model from its statistics (default 1000): predictions use the model
	// as of the last solve, a delay VW does not have (it updates per
	// example).
	SolveEvery int
}

// ProgressiveResult is the outcome of a progressive-validation pass.
type ProgressiveResult struct {
	Examples int
	// Loss is VW's cb_adf progressive loss: the average over examples of
	// the IPS cost estimate of the greedy action predicted before training
	// on the example — cost/probability if it is the logged action, else 0.
	Loss float64
	// Random is the same estimate for the uniform random policy (the mean
	// logged cost/probability × 1/actions) as a baseline.
	Random   float64
	Duration time.Duration
	Rate     float64 // examples per second, reading and parsing included
}

// Progressive is the ridge side of the VW comparison (benchmark only: it
// returns no model). It reads a cb_adf stream once, and for each labelled
// example first predicts every action's reward with the current ridge
// model, picks the best, scores it as VW's progressive loss does, then
// adds the logged action's observation (reward −cost) to the statistics.
func Progressive(r io.Reader, f *Featurizer, cfg ProgressiveConfig, read func(io.Reader, func(*CBExample) error) error) (ProgressiveResult, error) {
	var res ProgressiveResult
	if cfg.SolveEvery == 0 {
		cfg.SolveEvery = 1000
	}
	d := f.Dim()
	var (
		acc   *RidgeAccumulator
		model *models.Ridge
		rows  []float64
		mean  []float64
		std   []float64
		acts  []int
		err   error
	)
	start := time.Now()
	err = read(r, func(ex *CBExample) error {
		if ex.Chosen < 0 {
			return nil
		}
		k := len(ex.Actions)
		if acc == nil {
			rc := models.RidgeConfig{Dim: d, Lambda: cmp0(cfg.Lambda, 1)}
			if cfg.PerAction {
				rc.Actions = k
			}
			acc = NewRidgeAccumulator(rc)
			if model, err = acc.Model(); err != nil {
				return err
			}
		}
		if cfg.PerAction && k != acc.cfg.Actions {
			k = min(k, acc.cfg.Actions)
		}
		if cap(rows) < k*d {
			rows, mean, std, acts = make([]float64, k*d), make([]float64, k), make([]float64, k), make([]int, k)
		}
		rows, mean, std, acts = rows[:k*d], mean[:k], std[:k], acts[:k]
		for a := 0; a < k; a++ {
			f.Row(rows[a*d:(a+1)*d], ex.Shared, ex.Actions[a])
			acts[a] = a
		}
		model.Predict(mean, std, acts, rows)
		best := 0
		for a := 1; a < k; a++ {
			if mean[a] > mean[best] {
				best = a
			}
		}
		if best == ex.Chosen {
			res.Loss += ex.Cost / ex.Prob
		}
		res.Random += ex.Cost / ex.Prob / float64(len(ex.Actions))
		if ex.Chosen < k {
			acc.Add(ex.Chosen, rows[ex.Chosen*d:(ex.Chosen+1)*d], -ex.Cost)
		}
		res.Examples++
		if res.Examples%cfg.SolveEvery == 0 {
			if model, err = acc.Model(); err != nil {
				return err
			}
		}
		return nil
	})
	res.Duration = time.Since(start)
	if res.Examples > 0 {
		res.Loss /= float64(res.Examples)
		res.Random /= float64(res.Examples)
		res.Rate = float64(res.Examples) / res.Duration.Seconds()
	}
	return res, err
}

// ProgressiveSGD is Progressive for the SGD learner on the fast cb_adf
// path (benchmark only, like SGD): it reads r with a CBADFReader laid out as cfg says, and for each
// labelled example predicts every action's cost, takes the cheapest (the
// first on ties), scores it as Progressive does (cost/probability if it is
// the logged action, else 0), then learns from the logged action. It
// allocates nothing per example in steady state.
func ProgressiveSGD(r io.Reader, cfg SGDConfig) (ProgressiveResult, *SGD, error) {
	m, err := NewSGD(cfg)
	if err != nil {
		return ProgressiveResult{}, nil, err
	}
	rd, err := NewCBADFReader(r, CBADFReaderConfig{SharedDim: m.S, ActionDim: m.A})
	if err != nil {
		return ProgressiveResult{}, nil, err
	}
	res, err := progressiveSGD(rd, m)
	return res, m, err
}

// CacheReport says how ProgressiveSGDFile used the example cache.
type CacheReport struct {
	Path string
	// Read: the examples came from the cache; otherwise from the text,
	// and the cache was written (Reason says why it was not read).
	Read   bool
	Reason string
}

// ProgressiveSGDFile is ProgressiveSGD on the cb_adf file at path, through
// the binary example cache at cachePath when it is not "" (see
// CachedCBADFReader): the first run parses the text and writes the cache,
// later runs read it. A cache found corrupt part-way is discarded with
// the model: the run starts over from the text, rewriting the cache, so
// its result is always the text's.
func ProgressiveSGDFile(path, cachePath string, cfg SGDConfig) (ProgressiveResult, *SGD, CacheReport, error) {
	rep := CacheReport{Path: cachePath}
	if cachePath == "" {
		f, err := os.Open(path)
		if err != nil {
			return ProgressiveResult{}, nil, rep, err
		}
		defer f.Close()
		res, m, err := ProgressiveSGD(f, cfg)
		return res, m, rep, err
	}
	var opt CacheOptions
	for {
		m, err := NewSGD(cfg)
		if err != nil {
			return ProgressiveResult{}, nil, rep, err
		}
		rd, err := OpenCBADFCached(path, cachePath, CBADFReaderConfig{SharedDim: m.S, ActionDim: m.A}, opt)
		if err != nil {
			return ProgressiveResult{}, nil, rep, err
		}
		rep.Read = rd.FromCache()
		if !opt.Rebuild {
			rep.Reason = rd.Reason()
		}
		res, err := progressiveSGD(rd, m)
		rd.Close()
		if errors.Is(err, ErrCacheCorrupt) && !opt.Rebuild {
			opt.Rebuild = true
			rep.Reason = err.Error()
			continue
		}
		return res, m, rep, err
	}
}

// progressiveSGD runs progressive validation of m over rd's examples.
func progressiveSGD(rd interface{ Next() (*SlotExample, error) }, m *SGD) (ProgressiveResult, error) {
	var res ProgressiveResult
	var costs []float64
	start := time.Now()
	for {
		ex, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			res.Duration = time.Since(start)
			return res, err
		}
		if ex.Chosen < 0 {
			continue
		}
		costs = m.Predict(costs, ex)
		if argmin(costs) == ex.Chosen {
			res.Loss += ex.Cost / ex.Prob
		}
		res.Random += ex.Cost / ex.Prob / float64(len(ex.Actions))
		m.learn(ex, costs[ex.Chosen])
		res.Examples++
	}
	res.Duration = time.Since(start)
	if res.Examples > 0 {
		res.Loss /= float64(res.Examples)
		res.Random /= float64(res.Examples)
		res.Rate = float64(res.Examples) / res.Duration.Seconds()
	}
	return res, nil
}

// argmin returns the index of the smallest of xs, the first on ties.
func argmin(xs []float64) int {
	best := 0
	for i := 1; i < len(xs); i++ {
		if xs[i] < xs[best] {
			best = i
		}
	}
	return best
}
