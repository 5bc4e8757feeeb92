package models

import (
	"fmt"
	"math"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"

	"nextbest/internal/vec"
)

// Limits on a ridge model's shape. They keep a decoded header from asking
// for absurd memory and keep float64 state well inside what a service holds.
const (
	MaxRidgeDim     = 4096
	MaxRidgeActions = 1 << 20
)

// MaxRidgeStat bounds the magnitude of a ridge model's statistics: every
// entry of b and every diagonal entry of A (which bounds the off-diagonal
// ones, A being positive definite). Update and AddReward refuse, with
// ErrOverflow, what would cross it, so that the posterior mean A⁻¹b, the
// variance xᵀA⁻¹x and the scores built from them stay finite. It is far
// above anything real data reaches: 1e9 rewards over features of order 1
// take 1e91 observations to get there.
const MaxRidgeStat = 1e100

// DefaultRefreshEvery is the default number of Sherman–Morrison updates of a
// posterior between two exact recomputations of A⁻¹ from A by Cholesky.
const DefaultRefreshEvery = 1024

// RidgeConfig configures a Bayesian linear (ridge) regression reward model.
type RidgeConfig struct {
	// Dim is the feature dimension; required, > 0 and ≤ MaxRidgeDim.
	Dim int
	// Actions is 0 for one shared posterior over all actions (the feature
	// vector carries the action features and crosses), or n > 0 for n
	// disjoint posteriors, one per action index 0..n-1.
	Actions int
	// Lambda is the ridge penalty, i.e. the prior precision: θ ~ N(0, I/λ)
	// before any data. Default 1; must be finite and > 0.
	Lambda float64
	// Name names the model in Name(), e.g. "linucb". Default "ridge".
	Name string
	// RefreshEvery is the number of updates of a posterior between two exact
	// recomputations of A⁻¹ by Cholesky. Default DefaultRefreshEvery;
	// negative disables refreshes.
	RefreshEvery int
}

func (c RidgeConfig) withDefaults() RidgeConfig {
	if c.Lambda == 0 {
		c.Lambda = 1
	}
	if c.Name == "" {
		c.Name = "ridge"
	}
	if c.RefreshEvery == 0 {
		c.RefreshEvery = DefaultRefreshEvery
	}
	return c
}

func (c RidgeConfig) validate() error {
	switch {
	case c.Dim <= 0 || c.Dim > MaxRidgeDim:
		return fmt.Errorf("%w: Dim %d not in [1, %d]", ErrInvalidConfig, c.Dim, MaxRidgeDim)
	case c.Actions < 0 || c.Actions > MaxRidgeActions:
		return fmt.Errorf("%w: Actions %d not in [0, %d]", ErrInvalidConfig, c.Actions, MaxRidgeActions)
	case !(c.Lambda > 0) || math.IsInf(c.Lambda, 1):
		return fmt.Errorf("%w: Lambda %v must be finite and > 0", ErrInvalidConfig, c.Lambda)
	case len(c.Name) > 255:
		return fmt.Errorf("%w: Name longer than 255 bytes", ErrInvalidConfig)
	}
	return nil
}

// posterior is the writer's sufficient statistics for one linear model:
// A = λI + Σ xxᵀ (upper triangle, row-major d×d), b = Σ r·x, and A⁻¹ kept
// by Sherman–Morrison (full, exactly symmetric).
type posterior struct {
	a     []float64
	ainv  []float64
	b     []float64
	n     uint64 // observations
	since int    // Sherman–Morrison updates since the last exact inverse
	dirty bool   // changed since the last Publish
}

// published is the read-only view Predict uses: θ = A⁻¹b and W, the upper
// triangle of A⁻¹ with doubled off-diagonal, so that xᵀA⁻¹x = xᵀWx costs
// d(d+1)/2 multiply-adds (vec.QuadUpper); W is nil when PublishMean
// built the view.
type published struct {
	theta []float64
	w     []float64
}

type snapshot struct {
	posts []*published
}

// Ridge is a Bayesian linear regression reward model with a Gaussian prior
// θ ~ N(0, I/λ): posterior mean θ = A⁻¹b and posterior covariance
// proportional to A⁻¹, with A = λI + Σ xxᵀ and b = Σ r·x. It is the scorer
// of LinUCB (mean + α·std) and linear Thompson sampling (N(mean, v²·std²)).
//
// Concurrency: Update, Publish, WriteTo and Clone are writer calls; the
// caller runs them from one goroutine at a time. Predict, Name, Dim and
// Updates are safe from any number of goroutines, concurrently with the
// writer; Predict sees the state as of the latest Publish.
type Ridge struct {
	cfg     RidgeConfig
	d       int
	posts   []posterior
	cur     atomic.Pointer[snapshot]
	updates atomic.Uint64

	// writer scratch
	u, c []float64
	sym  *mat.SymDense
	inv  *mat.SymDense
	chol mat.Cholesky
}

// NewRidge returns a model with the prior only (θ = 0, A = λI), published.
func NewRidge(cfg RidgeConfig) (*Ridge, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := newRidge(cfg)
	for k := range m.posts {
		p := &m.posts[k]
		for i := 0; i < m.d; i++ {
			p.a[i*m.d+i] = cfg.Lambda
			p.ainv[i*m.d+i] = 1 / cfg.Lambda
		}
		p.dirty = true
	}
	m.Publish()
	return m, nil
}

// newRidge allocates a model with zeroed statistics and nothing published.
func newRidge(cfg RidgeConfig) *Ridge {
	d := cfg.Dim
	n := max(cfg.Actions, 1)
	m := &Ridge{cfg: cfg, d: d, posts: make([]posterior, n),
		u: make([]float64, d), c: make([]float64, d)}
	for k := range m.posts {
		m.posts[k] = posterior{
			a:    make([]float64, d*d),
			ainv: make([]float64, d*d),
			b:    make([]float64, d),
		}
	}
	return m
}

// Name returns the configured name.
func (m *Ridge) Name() string { return m.cfg.Name }

// Dim returns the feature dimension.
func (m *Ridge) Dim() int { return m.d }

// Actions returns the number of disjoint posteriors, 0 for a shared model.
func (m *Ridge) Actions() int { return m.cfg.Actions }

// Config returns the configuration with defaults filled in.
func (m *Ridge) Config() RidgeConfig { return m.cfg }

// Updates returns the total number of observations applied by Update,
// published or not.
func (m *Ridge) Updates() uint64 { return m.updates.Load() }

// Update adds one observation: features x (len Dim) and reward for action
// index a (ignored by a shared model). It costs O(Dim²): a Sherman–Morrison
// update of A⁻¹, a rank-one update of A and b += reward·x; every
// RefreshEvery updates of a posterior A⁻¹ is recomputed exactly from A by
// Cholesky (O(Dim³)). Predict does not see the update until Publish.
// An observation with a wrong length, an action out of range or a
// non-finite value is refused with ErrInvalidInput, and one that would
// take a statistic past MaxRidgeStat with ErrOverflow; either changes
// nothing.
func (m *Ridge) Update(a int, x []float64, reward float64) error {
	d := m.d
	if len(x) != d {
		return fmt.Errorf("%w: len(x) = %d, want Dim %d", ErrInvalidInput, len(x), d)
	}
	if m.cfg.Actions == 0 {
		a = 0
	} else if a < 0 || a >= m.cfg.Actions {
		return fmt.Errorf("%w: action %d not in [0, %d)", ErrInvalidInput, a, m.cfg.Actions)
	}
	if math.IsNaN(reward) || math.IsInf(reward, 0) {
		return fmt.Errorf("%w: reward %v", ErrInvalidInput, reward)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: x[%d] = %v", ErrInvalidInput, i, v)
		}
	}
	p := &m.posts[a]
	// Everything is checked before anything changes: the new diagonal of
	// A and the new b within MaxRidgeStat, u and s finite.
	for i, v := range x {
		if !inStat(p.a[i*d+i] + v*v) {
			return fmt.Errorf("%w: A[%d][%d] would leave ±%g (x[%d] = %g)", ErrOverflow, i, i, MaxRidgeStat, i, v)
		}
		if !inStat(p.b[i] + reward*v) {
			return fmt.Errorf("%w: b[%d] would leave ±%g (reward %g, x[%d] = %g)", ErrOverflow, i, MaxRidgeStat, reward, i, v)
		}
	}
	// u = A⁻¹x, s = 1 + xᵀA⁻¹x ≥ 1.
	u := m.u
	for i := 0; i < d; i++ {
		u[i] = vec.Dot(p.ainv[i*d:(i+1)*d], x)
	}
	s := 1 + vec.Dot(u, x)
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return fmt.Errorf("%w: xᵀA⁻¹x = %v", ErrOverflow, s)
	}
	// A⁻¹ ← A⁻¹ − ccᵀ with c = u/√s. c_i·c_j is commutative, so A⁻¹ stays
	// exactly symmetric (Axpy rounds the same for (i,j) and (j,i)).
	c := m.c
	inv := 1 / math.Sqrt(s)
	for i := range c {
		c[i] = u[i] * inv
	}
	for i := 0; i < d; i++ {
		vec.Axpy(-c[i], c, p.ainv[i*d:(i+1)*d])
	}
	// A ← A + xxᵀ on the upper triangle; b ← b + r·x.
	for i := 0; i < d; i++ {
		if x[i] != 0 {
			vec.Axpy(x[i], x[i:], p.a[i*d+i:(i+1)*d])
		}
	}
	if reward != 0 {
		vec.Axpy(reward, x, p.b)
	}
	p.n++
	p.since++
	p.dirty = true
	if m.cfg.RefreshEvery > 0 && p.since >= m.cfg.RefreshEvery {
		m.refresh(p)
	}
	m.updates.Add(1)
	return nil
}

// AddReward adds delta·x to b for action a without adding an observation
// (A is unchanged): it turns an observation made earlier with some reward
// r into one with reward r+delta. This is how a delayed outcome corrects
// the default reward a shown action was first recorded with; the result
// equals having called Update with the final reward. It costs O(Dim).
// Bad input is refused with ErrInvalidInput, and a correction that would
// take b past MaxRidgeStat with ErrOverflow; either changes nothing.
func (m *Ridge) AddReward(a int, x []float64, delta float64) error {
	if len(x) != m.d {
		return fmt.Errorf("%w: len(x) = %d, want Dim %d", ErrInvalidInput, len(x), m.d)
	}
	if m.cfg.Actions == 0 {
		a = 0
	} else if a < 0 || a >= m.cfg.Actions {
		return fmt.Errorf("%w: action %d not in [0, %d)", ErrInvalidInput, a, m.cfg.Actions)
	}
	if math.IsNaN(delta) || math.IsInf(delta, 0) {
		return fmt.Errorf("%w: reward delta %v", ErrInvalidInput, delta)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: x[%d] = %v", ErrInvalidInput, i, v)
		}
	}
	if delta == 0 {
		return nil
	}
	p := &m.posts[a]
	for i, v := range x {
		if !inStat(p.b[i] + delta*v) {
			return fmt.Errorf("%w: b[%d] would leave ±%g (delta %g, x[%d] = %g)", ErrOverflow, i, MaxRidgeStat, delta, i, v)
		}
	}
	vec.Axpy(delta, x, p.b)
	p.dirty = true
	return nil
}

// inStat reports whether v is a statistic a posterior may hold: within
// ±MaxRidgeStat (NaN is not).
func inStat(v float64) bool { return v >= -MaxRidgeStat && v <= MaxRidgeStat }

// refresh recomputes A⁻¹ exactly from A by Cholesky, discarding the
// rounding accumulated by Sherman–Morrison. A is SPD (λ > 0), so the
// factorisation fails only if A has lost positive definiteness to overflow;
// then the Sherman–Morrison inverse is kept.
func (m *Ridge) refresh(p *posterior) {
	d := m.d
	if m.sym == nil {
		m.sym = mat.NewSymDense(d, nil)
		m.inv = mat.NewSymDense(d, nil)
	}
	raw := m.sym.RawSymmetric()
	for i := 0; i < d; i++ {
		copy(raw.Data[i*raw.Stride+i:i*raw.Stride+d], p.a[i*d+i:(i+1)*d])
	}
	if !m.chol.Factorize(m.sym) {
		return
	}
	if err := m.chol.InverseTo(m.inv); err != nil {
		return
	}
	ri := m.inv.RawSymmetric()
	for i := 0; i < d; i++ {
		for j := i; j < d; j++ {
			v := ri.Data[i*ri.Stride+j]
			p.ainv[i*d+j] = v
			p.ainv[j*d+i] = v
		}
	}
	p.since = 0
}

// Refresh recomputes A⁻¹ of every posterior exactly from A by Cholesky now.
// It is a writer call; Publish makes the result visible.
func (m *Ridge) Refresh() {
	for k := range m.posts {
		m.refresh(&m.posts[k])
		m.posts[k].dirty = true
	}
}

// Publish makes the updates so far visible to Predict: it builds new
// read-only views of the posteriors that changed (O(Dim²) each), shares the
// others with the previous snapshot, and swaps the snapshot atomically.
func (m *Ridge) Publish() { m.publish(false) }

// PublishMean is Publish for a model read only for its posterior mean
// (MeanSparse, Predict's mean): it builds θ = A⁻¹b and not the matrix
// of the std, so that a large model publishes in O(Dim²) time without
// allocating Dim² values; Predict's std is 0 for the posteriors it
// published. Publish a model one way.
func (m *Ridge) PublishMean() { m.publish(true) }

func (m *Ridge) publish(meanOnly bool) {
	old := m.cur.Load()
	ns := &snapshot{posts: make([]*published, len(m.posts))}
	if old != nil {
		copy(ns.posts, old.posts)
	}
	changed := false
	for k := range m.posts {
		p := &m.posts[k]
		if !p.dirty && ns.posts[k] != nil {
			continue
		}
		ns.posts[k] = m.view(p, meanOnly)
		p.dirty = false
		changed = true
	}
	if changed || old == nil {
		m.cur.Store(ns)
	}
}

func (m *Ridge) view(p *posterior, meanOnly bool) *published {
	d := m.d
	v := &published{theta: make([]float64, d)}
	if meanOnly {
		for i := 0; i < d; i++ {
			v.theta[i] = vec.Dot(p.ainv[i*d:(i+1)*d], p.b)
		}
		return v
	}
	v.w = make([]float64, d*d)
	for i := 0; i < d; i++ {
		row := p.ainv[i*d : (i+1)*d]
		v.theta[i] = vec.Dot(row, p.b)
		v.w[i*d+i] = row[i]
		for j := i + 1; j < d; j++ {
			v.w[i*d+j] = 2 * row[j]
		}
	}
	return v
}

// Predict writes, for candidate i with action index acts[i] and features
// xs[i*Dim:(i+1)*Dim], the posterior mean θ·x into mean[i] and the unscaled
// posterior std sqrt(xᵀA⁻¹x) into std[i], from the latest published
// snapshot. acts is ignored (and may be nil) for a shared model. It does not
// allocate and is safe for concurrent use.
//
// Slices of the wrong length or an action index out of range are
// programming errors and panic.
func (m *Ridge) Predict(mean, std []float64, acts []int, xs []float64) {
	n, d := len(mean), m.d
	if len(std) != n || len(xs) != n*d || (m.cfg.Actions > 0 && len(acts) != n) {
		panic(fmt.Sprintf("BUG: models.Ridge.Predict: len(mean)=%d len(std)=%d len(acts)=%d len(xs)=%d Dim=%d",
			n, len(std), len(acts), len(xs), d))
	}
	snap := m.cur.Load()
	p := snap.posts[0]
	for i := 0; i < n; i++ {
		if m.cfg.Actions > 0 {
			a := acts[i]
			if a < 0 || a >= len(snap.posts) {
				panic("BUG: models.Ridge.Predict: action index out of range")
			}
			p = snap.posts[a]
		}
		x := xs[i*d : (i+1)*d]
		mean[i] = vec.Dot(p.theta, x)
		if p.w == nil { // PublishMean's
			std[i] = 0
			continue
		}
		q := vec.QuadUpper(p.w, x)
		if q < 0 { // rounding only: A⁻¹ is positive definite
			q = 0
		}
		std[i] = math.Sqrt(q)
	}
}

// MeanSparse returns the posterior mean θ·x for a sparse x (indices
// idx into [0, Dim), an index may repeat, values val) of action index a
// (ignored by a shared model), from the latest published snapshot: O(len
// idx), where Predict costs O(Dim²) for the std a caller may not need.
// It does not allocate and is safe for concurrent use. An index or
// action out of range, or slices of different lengths, are programming
// errors and panic.
func (m *Ridge) MeanSparse(a int, idx []int32, val []float64) float64 {
	if len(idx) != len(val) {
		panic("BUG: models.Ridge.MeanSparse: len(idx) != len(val)")
	}
	snap := m.cur.Load()
	if m.cfg.Actions == 0 {
		a = 0
	}
	theta := snap.posts[a].theta
	var s float64
	for i, j := range idx {
		s += theta[j] * val[i]
	}
	return s
}

// Clone returns a deep copy of the writer state (including unpublished
// updates), published in the copy. It is a writer call: the caller must
// not run Update concurrently. Use it to snapshot the model consistently,
// e.g. to persist it from another goroutine while training continues.
func (m *Ridge) Clone() *Ridge {
	c := newRidge(m.cfg)
	for k := range m.posts {
		src, dst := &m.posts[k], &c.posts[k]
		copy(dst.a, src.a)
		copy(dst.ainv, src.ainv)
		copy(dst.b, src.b)
		dst.n, dst.since, dst.dirty = src.n, src.since, true
	}
	c.updates.Store(m.updates.Load())
	c.Publish()
	return c
}

// CheckStats returns an error wrapping ErrOverflow if any statistic of
// the model is past MaxRidgeStat: a model read from a file written before
// Update and AddReward guarded against it. It is a writer call.
func (m *Ridge) CheckStats() error {
	d := m.d
	for k := range m.posts {
		p := &m.posts[k]
		for i := 0; i < d; i++ {
			if !inStat(p.a[i*d+i]) || !inStat(p.b[i]) {
				return fmt.Errorf("%w: posterior %d: A[%d][%d] = %g, b[%d] = %g", ErrOverflow, k, i, i, p.a[i*d+i], i, p.b[i])
			}
		}
	}
	return nil
}

// Observations is a writer call. It returns the number of observations applied to the
// posterior of action a (the only posterior of a shared model).
func (m *Ridge) Observations(a int) uint64 {
	if m.cfg.Actions == 0 {
		a = 0
	}
	return m.posts[a].n
}

// Stats returns a copy of m's sufficient statistics, one entry per
// posterior (one for a shared model), in the form NewRidgeFromStats
// takes: XtX = A − λI on the upper triangle (row-major d×d; the lower
// triangle is zero), Xty = b and N, the observations. It is how two
// learners that saw the same data are compared: their statistics agree
// up to float rounding whatever order the updates came in. It is a
// writer call.
func (m *Ridge) Stats() []RidgeStats {
	d := m.d
	out := make([]RidgeStats, len(m.posts))
	for k := range m.posts {
		p := &m.posts[k]
		s := RidgeStats{XtX: make([]float64, d*d), Xty: append([]float64(nil), p.b...), N: p.n}
		for i := 0; i < d; i++ {
			copy(s.XtX[i*d+i:(i+1)*d], p.a[i*d+i:(i+1)*d])
			s.XtX[i*d+i] -= m.cfg.Lambda
		}
		out[k] = s
	}
	return out
}
