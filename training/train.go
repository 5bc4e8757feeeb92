package training

import (
	"fmt"
	"math"
	"slices"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"nextbest/models"
)

// Model kinds for TrainConfig.Model.
const (
	ModelLinUCB   = "linucb"
	ModelLinTS    = "lints"
	ModelLogistic = "logistic"
	ModelMLP      = "mlp"
)

// TrainConfig configures Train.
type TrainConfig struct {
	// Model is linucb, lints (both a batch-trained models.Ridge; the name
	// tells serve which policy to wrap it in), logistic or mlp.
	Model string
	// PerAction trains one posterior (ridge) or weight vector (logistic)
	// per action instead of one shared model over the full vector
	// (action features and crosses included). The MLP is always shared.
	PerAction bool
	// Lambda is the ridge prior precision (default 1); L2 the logistic
	// penalty (default 1).
	Lambda, L2 float64
	// Hidden, Epochs and BatchSize configure the MLP (models.MLPConfig
	// defaults when 0).
	Hidden, Epochs, BatchSize int
	// HoldOut is the fraction of examples held out for metrics; default
	// 0.2; negative trains on everything and reports no metrics.
	HoldOut float64
	// Seed fixes the split and the MLP's randomness.
	Seed uint64
	// Progress, if set, is called as training advances with work done and
	// the total (rows for ridge and logistic, epochs for the MLP).
	Progress func(done, total int)
}

// Result is a trained model with its held-out metrics.
type Result struct {
	// Scorer is the model (a *models.Ridge, *models.Logistic or *models.MLP).
	Scorer    models.Scorer
	Name      string
	PerAction bool
	Hyper     map[string]any
	TrainRows int
	Metrics   Metrics
	// Duration is the training time (not reading or evaluation); Rate is
	// training rows per second (row visits for the MLP: rows × epochs).
	Duration time.Duration
	Rate     float64
}

// Train splits ds by example (HoldOut), trains cfg.Model on the training
// part and evaluates it on the held-out part. Labels for logistic and MLP
// are reward > 0; ridge regresses the reward itself.
func Train(ds *Dataset, cfg TrainConfig) (*Result, error) {
	if ds.Len() == 0 {
		return nil, ErrNoData
	}
	if cfg.HoldOut == 0 {
		cfg.HoldOut = 0.2
	}
	train, test := ds, (*Dataset)(nil)
	if cfg.HoldOut > 0 {
		train, test = ds.Split(cfg.HoldOut, cfg.Seed)
		if train.Len() == 0 {
			return nil, fmt.Errorf("%w: nothing left to train on after holding out %v", ErrNoData, cfg.HoldOut)
		}
	}
	res := &Result{Name: cfg.Model, PerAction: cfg.PerAction, TrainRows: train.Len(), Hyper: map[string]any{"seed": cfg.Seed, "per_action": cfg.PerAction}}
	start := time.Now()
	var work int
	switch cfg.Model {
	case ModelLinUCB, ModelLinTS:
		lambda := cmp0(cfg.Lambda, 1)
		res.Hyper["lambda"] = lambda
		m, err := TrainRidge(train, models.RidgeConfig{Dim: ds.Dim, Actions: actionsIf(cfg.PerAction, ds), Lambda: lambda, Name: cfg.Model}, cfg.Progress)
		if err != nil {
			return nil, err
		}
		res.Scorer, work = m, train.Len()
	case ModelLogistic:
		l2 := cmp0(cfg.L2, 1)
		res.Hyper["l2"] = l2
		ys := binary(train.Reward)
		m, err := models.TrainLogistic(models.LogisticConfig{Dim: ds.Dim, Actions: actionsIf(cfg.PerAction, ds), L2: l2}, train.X, train.Action, ys)
		if err != nil {
			return nil, err
		}
		if cfg.Progress != nil {
			cfg.Progress(train.Len(), train.Len())
		}
		res.Hyper["newton_steps"] = m.Iterations()
		res.Scorer, work = m, train.Len()*m.Iterations()
	case ModelMLP:
		if cfg.PerAction {
			return nil, fmt.Errorf("%w: the MLP is shared across actions (it sees action features); drop --per-action", ErrBadConfig)
		}
		mc := models.MLPConfig{Dim: ds.Dim, Hidden: cfg.Hidden, Epochs: cfg.Epochs, BatchSize: cfg.BatchSize, Seed: cfg.Seed}
		m, rep, err := models.TrainMLP(mc, train.X, binary(train.Reward), cfg.Progress)
		if err != nil {
			return nil, err
		}
		c := m.Config()
		res.Hyper["hidden"], res.Hyper["epochs"], res.Hyper["best_epoch"] = c.Hidden, rep.Epochs, rep.BestEpoch
		res.Hyper["batch_size"], res.Hyper["learn_rate"], res.Hyper["l2"] = c.BatchSize, c.LearnRate, c.L2
		res.Scorer, work = m, rep.Examples
	default:
		return nil, fmt.Errorf("%w: unknown model %q (linucb, lints, logistic, mlp)", ErrBadConfig, cfg.Model)
	}
	res.Duration = time.Since(start)
	res.Rate = float64(work) / max(res.Duration.Seconds(), 1e-9)
	if test != nil && test.Len() > 0 {
		res.Metrics = Evaluate(res.Scorer, test)
	}
	res.Metrics.PerAction = train.ActionCounts()
	return res, nil
}

func cmp0(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

func actionsIf(per bool, ds *Dataset) int {
	if per {
		return len(ds.ActionIDs)
	}
	return 0
}

func binary(r []float64) []float64 {
	y := make([]float64, len(r))
	for i, v := range r {
		if v > 0 {
			y[i] = 1
		}
	}
	return y
}

// ridgeBlock is the number of rows gathered per posterior before one
// symmetric rank-k update (Dsyrk) of XᵀX.
const ridgeBlock = 512

// RidgeAccumulator accumulates ridge sufficient statistics in blocks: rows
// are buffered per posterior and folded into XᵀX with one BLAS Dsyrk per
// block of ridgeBlock rows and into Xᵀy with one Dgemv, which is several
// times faster than a Sherman–Morrison update per row. Model solves once.
type RidgeAccumulator struct {
	cfg   models.RidgeConfig
	d     int
	stats []models.RidgeStats
	buf   [][]float64 // per posterior, up to ridgeBlock rows
	ys    [][]float64
}

// NewRidgeAccumulator returns an empty accumulator for cfg.
func NewRidgeAccumulator(cfg models.RidgeConfig) *RidgeAccumulator {
	np := max(cfg.Actions, 1)
	a := &RidgeAccumulator{cfg: cfg, d: cfg.Dim, stats: make([]models.RidgeStats, np), buf: make([][]float64, np), ys: make([][]float64, np)}
	for k := range a.stats {
		a.stats[k] = models.RidgeStats{XtX: make([]float64, a.d*a.d), Xty: make([]float64, a.d)}
	}
	return a
}

// Add adds one observation (action index ignored for a shared model).
func (a *RidgeAccumulator) Add(act int, x []float64, r float64) {
	k := 0
	if a.cfg.Actions > 0 {
		k = act
	}
	a.buf[k] = append(a.buf[k], x...)
	a.ys[k] = append(a.ys[k], r)
	if len(a.ys[k]) == ridgeBlock {
		a.flush(k)
	}
}

func (a *RidgeAccumulator) flush(k int) {
	n := len(a.ys[k])
	if n == 0 {
		return
	}
	d := a.d
	g := blas64.General{Rows: n, Cols: d, Stride: d, Data: a.buf[k]}
	blas64.Syrk(blas.Trans, 1, g, 1, blas64.Symmetric{Uplo: blas.Upper, N: d, Stride: d, Data: a.stats[k].XtX})
	blas64.Gemv(blas.Trans, 1, g, blas64.Vector{N: n, Inc: 1, Data: a.ys[k]}, 1, blas64.Vector{N: d, Inc: 1, Data: a.stats[k].Xty})
	a.stats[k].N += uint64(n)
	a.buf[k], a.ys[k] = a.buf[k][:0], a.ys[k][:0]
}

// Model flushes the buffered rows and solves for a published Ridge. The
// accumulator may keep accumulating afterwards.
func (a *RidgeAccumulator) Model() (*models.Ridge, error) {
	for k := range a.buf {
		a.flush(k)
	}
	return models.NewRidgeFromStats(a.cfg, a.stats)
}

// TrainRidge fits a Ridge to every row of ds in one batch (see
// RidgeAccumulator). progress, if set, is called every 64k rows and at the
// end.
func TrainRidge(ds *Dataset, cfg models.RidgeConfig, progress func(done, total int)) (*models.Ridge, error) {
	if cfg.Dim == 0 {
		cfg.Dim = ds.Dim
	}
	acc := NewRidgeAccumulator(cfg)
	n := ds.Len()
	for i := 0; i < n; i++ {
		if cfg.Actions > 0 && (ds.Action[i] < 0 || ds.Action[i] >= cfg.Actions) {
			return nil, fmt.Errorf("%w: row %d action %d not in [0, %d)", ErrBadConfig, i, ds.Action[i], cfg.Actions)
		}
		acc.Add(ds.Action[i], ds.Row(i), ds.Reward[i])
		if progress != nil && i%65536 == 65535 {
			progress(i+1, n)
		}
	}
	m, err := acc.Model()
	if progress != nil {
		progress(n, n)
	}
	return m, err
}

// Metrics are held-out quality measures. LogLoss, AUC and ECE treat
// reward > 0 as the positive label and the model's mean, clipped to
// [1e-6, 1−1e-6], as its probability (for ridge, a linear probability
// model); RMSE compares the mean with the raw reward.
type Metrics struct {
	N         int
	LogLoss   float64
	AUC       float64 // NaN when the held-out set has one class only
	ECE       float64 // expected calibration error over 10 equal-width bins
	RMSE      float64
	PerAction []int // training rows per action index
}

// Evaluate scores every row of ds with p and computes Metrics.
func Evaluate(p models.Scorer, ds *Dataset) Metrics {
	n := ds.Len()
	mean, std := make([]float64, n), make([]float64, n)
	const chunk = 1024
	for s := 0; s < n; s += chunk {
		e := min(s+chunk, n)
		p.Predict(mean[s:e], std[s:e], ds.Action[s:e], ds.X[s*ds.Dim:e*ds.Dim])
	}
	m := Metrics{N: n}
	var bins [10]struct{ n, p, y float64 }
	for i := 0; i < n; i++ {
		y := 0.0
		if ds.Reward[i] > 0 {
			y = 1
		}
		q := min(max(mean[i], 1e-6), 1-1e-6)
		m.LogLoss -= y*math.Log(q) + (1-y)*math.Log(1-q)
		e := mean[i] - ds.Reward[i]
		m.RMSE += e * e
		b := min(int(q*10), 9)
		bins[b].n++
		bins[b].p += q
		bins[b].y += y
	}
	m.LogLoss /= float64(n)
	m.RMSE = math.Sqrt(m.RMSE / float64(n))
	for _, b := range bins {
		if b.n > 0 {
			m.ECE += math.Abs(b.p-b.y) / float64(n)
		}
	}
	m.AUC = auc(mean, ds.Reward)
	return m
}

// auc is the area under the ROC curve (the Mann–Whitney statistic, ties
// counted half) of scores s for labels r > 0.
func auc(s, r []float64) float64 {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case s[a] < s[b]:
			return -1
		case s[a] > s[b]:
			return 1
		}
		return 0
	})
	var pos, neg, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && s[idx[j]] == s[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // 1-based average rank of the tie group
		for _, k := range idx[i:j] {
			if r[k] > 0 {
				pos++
				rankSum += avg
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}
