package models

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"nextbest/internal/vec"
)

// LogisticConfig configures a logistic-regression response model.
type LogisticConfig struct {
	// Dim is the feature dimension; required, > 0 and ≤ MaxRidgeDim.
	Dim int
	// Actions is 0 for one shared weight vector, or n > 0 for one weight
	// vector per action index 0..n-1.
	Actions int
	// L2 is the ridge penalty on the weights (a N(0, I/L2) prior). Default 1.
	L2 float64
	// MaxIter bounds the Newton iterations. Default 25.
	MaxIter int
	// Tol stops Newton when the largest weight change is below it. Default 1e-8.
	Tol float64
	// Name names the model in Name(). Default "logistic".
	Name string
}

func (c LogisticConfig) withDefaults() LogisticConfig {
	if c.L2 == 0 {
		c.L2 = 1
	}
	if c.MaxIter == 0 {
		c.MaxIter = 25
	}
	if c.Tol == 0 {
		c.Tol = 1e-8
	}
	if c.Name == "" {
		c.Name = "logistic"
	}
	return c
}

func (c LogisticConfig) validate() error {
	switch {
	case c.Dim <= 0 || c.Dim > MaxRidgeDim:
		return fmt.Errorf("%w: Dim %d not in [1, %d]", ErrInvalidConfig, c.Dim, MaxRidgeDim)
	case c.Actions < 0 || c.Actions > MaxRidgeActions:
		return fmt.Errorf("%w: Actions %d not in [0, %d]", ErrInvalidConfig, c.Actions, MaxRidgeActions)
	case !(c.L2 > 0) || math.IsInf(c.L2, 1):
		return fmt.Errorf("%w: L2 %v must be finite and > 0", ErrInvalidConfig, c.L2)
	case c.MaxIter < 1 || !(c.Tol > 0):
		return fmt.Errorf("%w: MaxIter %d and Tol %v must be positive", ErrInvalidConfig, c.MaxIter, c.Tol)
	case len(c.Name) > 255:
		return fmt.Errorf("%w: Name longer than 255 bytes", ErrInvalidConfig)
	}
	return nil
}

// Logistic is an L2-regularised logistic-regression response model,
// P(y=1 | x) = σ(wᵀx), fitted by Newton's method (iteratively reweighted
// least squares) to the maximum a posteriori weights. It keeps the inverse
// Hessian at the optimum, the covariance of the Laplace approximation of
// the posterior, so Predict can return an uncertainty.
//
// A trained Logistic is immutable: Predict, Name and Dim are safe for
// concurrent use and do not allocate.
type Logistic struct {
	cfg LogisticConfig
	d   int
	w   [][]float64 // per posterior
	// cov is the upper triangle of H⁻¹ with doubled off-diagonal, per
	// posterior, for vec.QuadUpper.
	cov [][]float64
	n   []uint64
	// Iterations is the number of Newton steps the fit took (the most over
	// posteriors).
	iters int
}

// Name returns the configured name.
func (m *Logistic) Name() string { return m.cfg.Name }

// Dim returns the feature dimension.
func (m *Logistic) Dim() int { return m.d }

// Actions returns the number of per-action weight vectors, 0 if shared.
func (m *Logistic) Actions() int { return m.cfg.Actions }

// Config returns the configuration with defaults filled in.
func (m *Logistic) Config() LogisticConfig { return m.cfg }

// Weights returns a copy of the weights of action a (of the shared vector
// when Actions is 0).
func (m *Logistic) Weights(a int) []float64 {
	if m.cfg.Actions == 0 {
		a = 0
	}
	return append([]float64(nil), m.w[a]...)
}

// Iterations returns the number of Newton steps the fit took.
func (m *Logistic) Iterations() int { return m.iters }

// Predict writes, for candidate i with action index acts[i] and features
// xs[i*Dim:(i+1)*Dim], the predicted probability p = σ(wᵀx) into mean[i]
// and its Laplace-approximation std into std[i]: the delta method on the
// logit's posterior std, p(1−p)·√(xᵀH⁻¹x). acts is ignored (and may be
// nil) for a shared model. Slices of the wrong length or an action index
// out of range are programming errors and panic.
func (m *Logistic) Predict(mean, std []float64, acts []int, xs []float64) {
	n, d := len(mean), m.d
	if len(std) != n || len(xs) != n*d || (m.cfg.Actions > 0 && len(acts) != n) {
		panic(fmt.Sprintf("BUG: models.Logistic.Predict: len(mean)=%d len(std)=%d len(acts)=%d len(xs)=%d Dim=%d",
			n, len(std), len(acts), len(xs), d))
	}
	k := 0
	for i := 0; i < n; i++ {
		if m.cfg.Actions > 0 {
			k = acts[i]
			if k < 0 || k >= len(m.w) {
				panic("BUG: models.Logistic.Predict: action index out of range")
			}
		}
		x := xs[i*d : (i+1)*d]
		p := sigmoid(vec.Dot(m.w[k], x))
		mean[i] = p
		q := vec.QuadUpper(m.cov[k], x)
		if q < 0 {
			q = 0
		}
		std[i] = p * (1 - p) * math.Sqrt(q)
	}
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// TrainLogistic fits a Logistic to rows xs (row-major, len(ys)×Dim) with
// labels ys in [0, 1] (fractional labels are allowed: the loss is the
// cross-entropy) and action indices acts (ignored, and may be nil, for a
// shared model). Newton's method from w = 0 is deterministic: the same
// input gives the same model bit for bit. Each step costs O(n·d²) (a
// blocked symmetric rank-k update) plus one O(d³) Cholesky solve.
func TrainLogistic(cfg LogisticConfig, xs []float64, acts []int, ys []float64) (*Logistic, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d, n := cfg.Dim, len(ys)
	if len(xs) != n*d || (cfg.Actions > 0 && len(acts) != n) {
		return nil, fmt.Errorf("%w: %d labels, %d features (Dim %d), %d actions", ErrInvalidInput, n, len(xs), d, len(acts))
	}
	for i, y := range ys {
		if !(y >= 0 && y <= 1) {
			return nil, fmt.Errorf("%w: label %d = %v not in [0, 1]", ErrInvalidInput, i, y)
		}
	}
	for i, v := range xs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: x[%d] = %v", ErrInvalidInput, i, v)
		}
	}
	np := max(cfg.Actions, 1)
	rows := make([][]int, np)
	for i := 0; i < n; i++ {
		k := 0
		if cfg.Actions > 0 {
			k = acts[i]
			if k < 0 || k >= np {
				return nil, fmt.Errorf("%w: action %d not in [0, %d)", ErrInvalidInput, k, np)
			}
		}
		rows[k] = append(rows[k], i)
	}
	m := &Logistic{cfg: cfg, d: d, w: make([][]float64, np), cov: make([][]float64, np), n: make([]uint64, np)}
	for k := range rows {
		w, cov, it, err := newtonLogistic(cfg, xs, ys, rows[k])
		if err != nil {
			return nil, fmt.Errorf("action %d: %w", k, err)
		}
		m.w[k], m.cov[k], m.n[k] = w, cov, uint64(len(rows[k]))
		m.iters = max(m.iters, it)
	}
	return m, nil
}

const syrkBlock = 256

// newtonLogistic fits one weight vector to the given rows.
func newtonLogistic(cfg LogisticConfig, xs, ys []float64, rows []int) (w, cov []float64, iters int, err error) {
	d := cfg.Dim
	w = make([]float64, d)
	h := mat.NewSymDense(d, nil)
	hraw := h.RawSymmetric()
	g := make([]float64, d)
	blk := make([]float64, syrkBlock*d)
	var chol mat.Cholesky
	step := mat.NewVecDense(d, nil)
	for iters = 1; iters <= cfg.MaxIter; iters++ {
		for i := range hraw.Data {
			hraw.Data[i] = 0
		}
		for i := range g {
			g[i] = cfg.L2 * w[i]
		}
		nb := 0
		flush := func() {
			if nb == 0 {
				return
			}
			blas64.Syrk(blas.Trans, 1, blas64.General{Rows: nb, Cols: d, Stride: d, Data: blk[:nb*d]}, 1, hraw)
			nb = 0
		}
		for _, r := range rows {
			x := xs[r*d : (r+1)*d]
			p := sigmoid(vec.Dot(w, x))
			vec.Axpy(p-ys[r], x, g)
			s := math.Sqrt(p * (1 - p))
			dst := blk[nb*d : (nb+1)*d]
			for j, v := range x {
				dst[j] = s * v
			}
			if nb++; nb == syrkBlock {
				flush()
			}
		}
		flush()
		for i := 0; i < d; i++ {
			hraw.Data[i*hraw.Stride+i] += cfg.L2
		}
		if !chol.Factorize(h) {
			return nil, nil, iters, fmt.Errorf("%w: Hessian not positive definite", ErrInvalidInput)
		}
		if err := chol.SolveVecTo(step, mat.NewVecDense(d, g)); err != nil {
			return nil, nil, iters, fmt.Errorf("%w: %v", ErrInvalidInput, err)
		}
		big := 0.0
		for i := range w {
			s := step.AtVec(i)
			w[i] -= s
			big = max(big, math.Abs(s))
		}
		if math.IsNaN(big) {
			return nil, nil, iters, fmt.Errorf("%w: Newton diverged", ErrInvalidInput)
		}
		if big < cfg.Tol {
			break
		}
	}
	iters = min(iters, cfg.MaxIter)
	// The Laplace covariance at the optimum: H⁻¹ from the last
	// factorisation (at the weights before the final, tiny step).
	inv := mat.NewSymDense(d, nil)
	if err := chol.InverseTo(inv); err != nil {
		return nil, nil, iters, fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	cov = make([]float64, d*d)
	for i := 0; i < d; i++ {
		cov[i*d+i] = inv.At(i, i)
		for j := i + 1; j < d; j++ {
			cov[i*d+j] = 2 * inv.At(i, j)
		}
	}
	return w, cov, iters, nil
}

// Logistic payload format, version 1, little-endian: magic "NBLOGIT\x00",
// version uint32, dim uint32, actions uint32, l2 float64, maxIter uint32,
// tol float64, nameLen uint16, name, then per posterior n uint64,
// w [dim]float64, cov upper triangle [dim(dim+1)/2]float64 (doubled
// off-diagonal, as Predict uses it). Integrity is the artifact's SHA-256.
const logisticMagic = "NBLOGIT\x00"

// WriteTo writes the model in the format above.
func (m *Logistic) WriteTo(w io.Writer) (int64, error) {
	le := binary.LittleEndian
	d := m.d
	buf := append([]byte(nil), logisticMagic...)
	buf = le.AppendUint32(buf, 1)
	buf = le.AppendUint32(buf, uint32(d))
	buf = le.AppendUint32(buf, uint32(m.cfg.Actions))
	buf = le.AppendUint64(buf, math.Float64bits(m.cfg.L2))
	buf = le.AppendUint32(buf, uint32(m.cfg.MaxIter))
	buf = le.AppendUint64(buf, math.Float64bits(m.cfg.Tol))
	buf = le.AppendUint16(buf, uint16(len(m.cfg.Name)))
	buf = append(buf, m.cfg.Name...)
	for k := range m.w {
		buf = le.AppendUint64(buf, m.n[k])
		for _, v := range m.w[k] {
			buf = le.AppendUint64(buf, math.Float64bits(v))
		}
		for i := 0; i < d; i++ {
			for _, v := range m.cov[k][i*d+i : (i+1)*d] {
				buf = le.AppendUint64(buf, math.Float64bits(v))
			}
		}
	}
	n, err := w.Write(buf)
	return int64(n), err
}

// ReadLogistic reads a model written by Logistic.WriteTo. It reads the
// whole stream; anything malformed is ErrBadMagic, ErrVersion or
// ErrCorrupt.
func ReadLogistic(r io.Reader) (*Logistic, error) {
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("cannot read logistic model: %w", err)
	}
	p := b.Bytes()
	if len(p) < 8 || string(p[:8]) != logisticMagic {
		return nil, fmt.Errorf("cannot read logistic model: %w", ErrBadMagic)
	}
	dec := &decoder{b: p[8:]}
	if v := dec.u32(); v != 1 {
		return nil, fmt.Errorf("cannot read logistic model: %w: %d", ErrVersion, v)
	}
	var cfg LogisticConfig
	cfg.Dim = int(dec.u32())
	cfg.Actions = int(dec.u32())
	cfg.L2 = math.Float64frombits(dec.u64())
	cfg.MaxIter = int(dec.u32())
	cfg.Tol = math.Float64frombits(dec.u64())
	cfg.Name = string(dec.take(int(dec.u16())))
	if dec.err {
		return nil, fmt.Errorf("cannot read logistic model: %w: short header", ErrCorrupt)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("cannot read logistic model: %w", err)
	}
	d, np := cfg.Dim, max(cfg.Actions, 1)
	tri := d * (d + 1) / 2
	if want := uint64(np) * uint64(8+8*(d+tri)); uint64(len(dec.b)) != want {
		return nil, fmt.Errorf("cannot read logistic model: %w: %d bytes of weights, want %d", ErrCorrupt, len(dec.b), want)
	}
	m := &Logistic{cfg: cfg, d: d, w: make([][]float64, np), cov: make([][]float64, np), n: make([]uint64, np)}
	upper := make([]float64, tri)
	for k := 0; k < np; k++ {
		m.n[k] = dec.u64()
		m.w[k] = make([]float64, d)
		m.cov[k] = make([]float64, d*d)
		if !dec.floats(m.w[k]) || !dec.floats(upper) {
			return nil, fmt.Errorf("cannot read logistic model: %w: non-finite weights", ErrCorrupt)
		}
		off := 0
		for i := 0; i < d; i++ {
			copy(m.cov[k][i*d+i:(i+1)*d], upper[off:off+d-i])
			off += d - i
		}
	}
	return m, nil
}

// remapLogistic returns a copy of m whose weight vector i is m's from[i];
// every from[i] must be valid.
func remapLogistic(m *Logistic, from []int) *Logistic {
	c := &Logistic{cfg: m.cfg, d: m.d, iters: m.iters}
	c.cfg.Actions = len(from)
	for _, k := range from {
		c.w = append(c.w, m.w[k])
		c.cov = append(c.cov, m.cov[k])
		c.n = append(c.n, m.n[k])
	}
	return c
}
