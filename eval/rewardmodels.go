package eval

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// CellModel is a RewardModel of mean rewards per cell: q̂(x, a) is the
// mean reward of the training rounds whose logged action falls in the
// same cell as (x, a), shrunk towards the mean of its group with M
// pseudo-rounds, (Σr + M·ḡ)/(count + M). The group mean ḡ is the mean
// reward of the training rounds in the group, or of all of them when the
// group has none. With cells = context × action and groups = actions it
// is a tabular model of a discrete context; the OBD's old model is cells
// = position × item, groups = positions, M = 100.
type CellModel struct {
	// Cells and Groups bound the ids that Cell and Group return.
	Cells, Groups int
	// Cell and Group map action a of round r to its cell in [0, Cells)
	// and its group in [0, Groups). Group may be nil: one group.
	Cell  func(r *Round, a int) int
	Group func(r *Round, a int) int
	// M is the prior strength in pseudo-rounds; 0 is the plain cell mean
	// (the group mean for an empty cell).
	M float64
}

type cellFit struct {
	m        *CellModel
	sum, cnt []float64 // per cell: Σ weight·reward and Σ weight
	group    []float64 // per group: its mean reward
}

// Fit implements RewardModel.
func (m *CellModel) Fit(rs []Round, weight []float64) (RewardPredictor, error) {
	if m.Cells < 1 || m.Cell == nil || (m.Group != nil && m.Groups < 1) || m.M < 0 {
		return nil, fmt.Errorf("%w: cell model with %d cells, %d groups, M %v", ErrInvalidOptions, m.Cells, m.Groups, m.M)
	}
	groups := max(m.Groups, 1)
	sum, cnt := make([]float64, m.Cells), make([]float64, m.Cells)
	gsum, gcnt := make([]float64, groups), make([]float64, groups)
	var tsum, tcnt float64
	for i := range rs {
		c := weight[i]
		if c == 0 {
			continue
		}
		r := &rs[i]
		k, g := m.Cell(r, r.Logged), m.group(r, r.Logged)
		if k < 0 || k >= m.Cells || g < 0 || g >= groups {
			return nil, fmt.Errorf("%w: round %d: cell %d of %d, group %d of %d", ErrInvalidOptions, i, k, m.Cells, g, groups)
		}
		sum[k] += c * r.Reward
		cnt[k] += c
		gsum[g] += c * r.Reward
		gcnt[g] += c
		tsum += c * r.Reward
		tcnt += c
	}
	if tcnt == 0 {
		return nil, errors.New("eval: cell model: no training rounds")
	}
	f := &cellFit{m: m, sum: sum, cnt: cnt, group: gsum}
	for g := range gsum {
		if gcnt[g] > 0 {
			f.group[g] = gsum[g] / gcnt[g]
		} else {
			f.group[g] = tsum / tcnt
		}
	}
	return f, nil
}

func (m *CellModel) group(r *Round, a int) int {
	if m.Group == nil {
		return 0
	}
	return m.Group(r, a)
}

// Predict implements RewardPredictor.
func (f *cellFit) Predict(q []float64, r *Round) {
	for a := range q {
		k, g := f.m.Cell(r, a), f.m.group(r, a)
		if d := f.cnt[k] + f.m.M; d > 0 {
			q[a] = (f.sum[k] + f.m.M*f.group[g]) / d
		} else {
			q[a] = f.group[g]
		}
	}
}

// Featurizer appends to idx and val the nonzero entries of φ(x, a), the
// feature vector of action a in round r's context, and returns them.
// Indices lie in [0, Dim) of the model that calls it.
type Featurizer func(idx []int, val []float64, r *Round, a int) ([]int, []float64)

// LogisticModel is a RewardModel: a logistic regression of rewards in
// [0, 1] (clicks, conversions) on sparse features φ(x, a) of the context
// and the action, with an unpenalised intercept and an L2 penalty
// (L2/2)·|β|² on the rest, fitted by Newton's method. Rewards need not be
// 0 or 1: a reward of 0.3 counts as 0.3 of a success.
type LogisticModel struct {
	// Dim is the number of features.
	Dim int
	// Features gives φ(x, a).
	Features Featurizer
	// L2 is the penalty; 0 means 1 (one pseudo-observation's worth).
	L2 float64
	// MaxIter caps the Newton steps; 0 means 50.
	MaxIter int
}

type logisticFit struct {
	m    *LogisticModel
	beta []float64 // Dim coefficients, then the intercept
	idx  []int
	val  []float64
}

// Fit implements RewardModel.
func (m *LogisticModel) Fit(rs []Round, weight []float64) (RewardPredictor, error) {
	return m.fitFrom(nil, rs, weight)
}

// fitFrom is Fit starting from an earlier fit's coefficients.
func (m *LogisticModel) fitFrom(from RewardPredictor, rs []Round, weight []float64) (RewardPredictor, error) {
	if m.Dim < 1 || m.Features == nil || m.L2 < 0 {
		return nil, fmt.Errorf("%w: logistic model of dimension %d, L2 %v", ErrInvalidOptions, m.Dim, m.L2)
	}
	l2 := m.L2
	if l2 == 0 {
		l2 = 1
	}
	iters := m.MaxIter
	if iters == 0 {
		iters = 50
	}
	D := m.Dim + 1 // the intercept is last
	// the training rows, sparse: row j is idx/val[start[j]:start[j+1]]
	var (
		idx   []int
		val   []float64
		start = []int{0}
		y, c  []float64
	)
	var sy, sc float64
	for i := range rs {
		if weight[i] == 0 {
			continue
		}
		r := &rs[i]
		if r.Reward < 0 || r.Reward > 1 {
			return nil, fmt.Errorf("%w: round %d: reward %v is not in [0, 1] for a logistic model", ErrInvalidRound, i, r.Reward)
		}
		n0 := len(idx)
		idx, val = m.Features(idx, val, r, r.Logged)
		for _, k := range idx[n0:] {
			if k < 0 || k >= m.Dim {
				return nil, fmt.Errorf("%w: round %d: feature %d outside [0, %d)", ErrInvalidOptions, i, k, m.Dim)
			}
		}
		idx, val = append(idx, m.Dim), append(val, 1)
		start = append(start, len(idx))
		y, c = append(y, r.Reward), append(c, weight[i])
		sy += weight[i] * r.Reward
		sc += weight[i]
	}
	if sc == 0 {
		return nil, errors.New("eval: logistic model: no training rounds")
	}
	beta := make([]float64, D)
	if f, ok := from.(*logisticFit); ok && len(f.beta) == D {
		copy(beta, f.beta)
	} else {
		// start from the intercept of the mean reward, kept off 0 and 1
		pbar := min(max(sy/sc, 0.5/sc), 1-0.5/sc)
		beta[m.Dim] = math.Log(pbar / (1 - pbar))
	}

	h := mat.NewSymDense(D, nil)
	g := mat.NewVecDense(D, nil)
	step := mat.NewVecDense(D, nil)
	var chol mat.Cholesky
	hd := make([]float64, D*D)
	for range iters {
		clear(hd)
		gd := g.RawVector().Data
		for k := range m.Dim {
			gd[k] = l2 * beta[k]
			hd[k*D+k] = l2
		}
		gd[m.Dim] = 0
		hd[m.Dim*D+m.Dim] = 1e-9 // keeps H positive definite if all p → 0
		for j := range y {
			lo, hi := start[j], start[j+1]
			var eta float64
			for t := lo; t < hi; t++ {
				eta += beta[idx[t]] * val[t]
			}
			p := sigmoid(eta)
			res, wt := c[j]*(p-y[j]), c[j]*p*(1-p)
			for t := lo; t < hi; t++ {
				gd[idx[t]] += res * val[t]
				row := idx[t] * D
				wv := wt * val[t]
				for u := lo; u < hi; u++ {
					hd[row+idx[u]] += wv * val[u]
				}
			}
		}
		for a := range D {
			for b := a; b < D; b++ {
				h.SetSym(a, b, hd[a*D+b])
			}
		}
		if !chol.Factorize(h) {
			return nil, errors.New("eval: logistic model: the Hessian is not positive definite")
		}
		if err := chol.SolveVecTo(step, g); err != nil {
			return nil, fmt.Errorf("eval: logistic model: %w", err)
		}
		var mx float64
		for k := range D {
			beta[k] -= step.AtVec(k)
			mx = max(mx, math.Abs(step.AtVec(k)))
		}
		// a step of 1e-6 moves no probability by more than 1e-6 of
		// itself per feature: converged
		if mx < 1e-6 {
			break
		}
	}
	return &logisticFit{m: m, beta: beta}, nil
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// Predict implements RewardPredictor.
func (f *logisticFit) Predict(q []float64, r *Round) {
	for a := range q {
		f.idx, f.val = f.m.Features(f.idx[:0], f.val[:0], r, a)
		eta := f.beta[f.m.Dim]
		for t, k := range f.idx {
			eta += f.beta[k] * f.val[t]
		}
		q[a] = sigmoid(eta)
	}
}
