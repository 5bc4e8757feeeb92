package models

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"nextbest/internal/vec"
)

// MLPConfig configures a small neural response model: Dim inputs, one
// hidden ReLU layer of Hidden units, one sigmoid output.
type MLPConfig struct {
	Dim int
	// Hidden is the hidden layer width. Default 32.
	Hidden int
	// LearnRate is Adam's step size. Default 0.01.
	LearnRate float64
	// L2 is the weight decay Adam applies. Default 1e-5.
	L2 float64
	// BatchSize is the minibatch size. Default 128.
	BatchSize int
	// Epochs bounds the passes over the training rows. Default 50.
	Epochs int
	// Patience stops training after this many epochs without a better
	// validation loss; the best weights are kept. Default 5.
	Patience int
	// ValidFrac is the fraction of rows held out for early stopping.
	// Default 0.1.
	ValidFrac float64
	// Seed seeds the weight initialisation, the validation split and the
	// shuffles: the same seed and data give the same model.
	Seed uint64
	// Name names the model in Name(). Default "mlp".
	Name string
}

func (c MLPConfig) withDefaults() MLPConfig {
	if c.Hidden == 0 {
		c.Hidden = 32
	}
	if c.LearnRate == 0 {
		c.LearnRate = 0.01
	}
	if c.L2 == 0 {
		c.L2 = 1e-5
	}
	if c.BatchSize == 0 {
		c.BatchSize = 128
	}
	if c.Epochs == 0 {
		c.Epochs = 50
	}
	if c.Patience == 0 {
		c.Patience = 5
	}
	if c.ValidFrac == 0 {
		c.ValidFrac = 0.1
	}
	if c.Name == "" {
		c.Name = "mlp"
	}
	return c
}

func (c MLPConfig) validate() error {
	switch {
	case c.Dim <= 0 || c.Dim > MaxRidgeDim:
		return fmt.Errorf("%w: Dim %d not in [1, %d]", ErrInvalidConfig, c.Dim, MaxRidgeDim)
	case c.Hidden < 1 || c.Hidden > 4096:
		return fmt.Errorf("%w: Hidden %d not in [1, 4096]", ErrInvalidConfig, c.Hidden)
	case !(c.LearnRate > 0) || c.L2 < 0 || c.BatchSize < 1 || c.Epochs < 1 || c.Patience < 1:
		return fmt.Errorf("%w: LearnRate, BatchSize, Epochs and Patience must be positive, L2 not negative", ErrInvalidConfig)
	case !(c.ValidFrac > 0 && c.ValidFrac < 1):
		return fmt.Errorf("%w: ValidFrac %v not in (0, 1)", ErrInvalidConfig, c.ValidFrac)
	case len(c.Name) > 255:
		return fmt.Errorf("%w: Name longer than 255 bytes", ErrInvalidConfig)
	}
	return nil
}

// MLP is a trained one-hidden-layer network, p = σ(w₂ᵀ relu(W₁x + b₁) + b₂),
// held as plain weights: Predict is a Go forward pass, allocation-free and
// safe for concurrent use; gorgonia is used only inside TrainMLP.
type MLP struct {
	cfg MLPConfig
	w1  []float64 // Hidden×Dim, row-major (row j: weights of unit j)
	b1  []float64
	w2  []float64
	b2  float64
}

// Name returns the configured name.
func (m *MLP) Name() string { return m.cfg.Name }

// Dim returns the input dimension.
func (m *MLP) Dim() int { return m.cfg.Dim }

// Config returns the configuration with defaults filled in.
func (m *MLP) Config() MLPConfig { return m.cfg }

// mlpStack bounds the hidden width Predict handles without allocating.
const mlpStack = 256

// Predict writes the predicted probability of candidate i (features
// xs[i*Dim:(i+1)*Dim]) into mean[i] and 0 into std[i]: the network gives
// no uncertainty. acts is ignored: the model is shared across actions,
// which it tells apart by their features. Wrong slice lengths panic.
func (m *MLP) Predict(mean, std []float64, acts []int, xs []float64) {
	n, d, h := len(mean), m.cfg.Dim, m.cfg.Hidden
	if len(std) != n || len(xs) != n*d {
		panic(fmt.Sprintf("BUG: models.MLP.Predict: len(mean)=%d len(std)=%d len(xs)=%d Dim=%d", n, len(std), len(xs), d))
	}
	for i := 0; i < n; i++ {
		mean[i] = m.forward(xs[i*d : (i+1)*d])
		std[i] = 0
	}
	_ = h
}

func (m *MLP) forward(x []float64) float64 {
	d, h := m.cfg.Dim, m.cfg.Hidden
	z := m.b2
	for j := 0; j < h; j++ {
		a := vec.Dot(m.w1[j*d:(j+1)*d], x) + m.b1[j]
		if a > 0 {
			z += a * m.w2[j]
		}
	}
	return sigmoid(z)
}

// MLPReport describes a TrainMLP run.
type MLPReport struct {
	Epochs    int     // epochs run
	BestEpoch int     // epoch (1-based) whose weights were kept
	ValidLoss float64 // validation log loss of the kept weights
	TrainRows int
	ValidRows int
	Examples  int // row visits (TrainRows × epochs, minibatch-rounded)
}

// TrainMLP trains an MLP on rows xs (row-major, len(ys)×Dim) with labels ys
// in [0, 1], by Adam on minibatches of the cross-entropy, holding out
// ValidFrac of the rows and stopping early when their log loss stops
// improving. It runs a gorgonia graph on the calling goroutine only.
// progress, if not nil, is called after each epoch with the epochs done
// and the maximum. With the same Seed and data the result is identical.
func TrainMLP(cfg MLPConfig, xs, ys []float64, progress func(epoch, epochs int)) (*MLP, MLPReport, error) {
	var rep MLPReport
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, rep, err
	}
	d, n, h, bs := cfg.Dim, len(ys), cfg.Hidden, cfg.BatchSize
	if len(xs) != n*d {
		return nil, rep, fmt.Errorf("%w: %d labels, %d features (Dim %d)", ErrInvalidInput, n, len(xs), d)
	}
	for i, y := range ys {
		if !(y >= 0 && y <= 1) {
			return nil, rep, fmt.Errorf("%w: label %d = %v not in [0, 1]", ErrInvalidInput, i, y)
		}
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x6d6c70))
	perm := r.Perm(n)
	nv := int(math.Round(cfg.ValidFrac * float64(n)))
	valid, train := perm[:nv], perm[nv:]
	if len(train) < bs {
		bs = len(train)
	}
	if bs == 0 || nv == 0 {
		return nil, rep, fmt.Errorf("%w: %d rows are too few to train and validate an MLP", ErrInvalidInput, n)
	}
	rep.TrainRows, rep.ValidRows = len(train), nv

	// Glorot-uniform initialisation from the seeded source.
	m := &MLP{cfg: cfg, w1: make([]float64, h*d), b1: make([]float64, h), w2: make([]float64, h)}
	lim1, lim2 := math.Sqrt(6/float64(d+h)), math.Sqrt(6/float64(h+1))
	for i := range m.w1 {
		m.w1[i] = (2*r.Float64() - 1) * lim1
	}
	for i := range m.w2 {
		m.w2[i] = (2*r.Float64() - 1) * lim2
	}

	g := G.NewGraph()
	// The graph holds W₁ as d×h (x·W₁); m.w1 is its transpose.
	w1T := make([]float64, d*h)
	transpose(w1T, m.w1, h, d)
	W1 := G.NewMatrix(g, tensor.Float64, G.WithShape(d, h), G.WithName("w1"),
		G.WithValue(tensor.New(tensor.WithShape(d, h), tensor.WithBacking(w1T))))
	B1 := G.NewMatrix(g, tensor.Float64, G.WithShape(1, h), G.WithName("b1"),
		G.WithValue(tensor.New(tensor.WithShape(1, h), tensor.WithBacking(make([]float64, h)))))
	W2 := G.NewMatrix(g, tensor.Float64, G.WithShape(h, 1), G.WithName("w2"),
		G.WithValue(tensor.New(tensor.WithShape(h, 1), tensor.WithBacking(append([]float64(nil), m.w2...)))))
	B2 := G.NewMatrix(g, tensor.Float64, G.WithShape(1, 1), G.WithName("b2"),
		G.WithValue(tensor.New(tensor.WithShape(1, 1), tensor.WithBacking([]float64{0}))))
	X := G.NewMatrix(g, tensor.Float64, G.WithShape(bs, d), G.WithName("x"))
	Y := G.NewMatrix(g, tensor.Float64, G.WithShape(bs, 1), G.WithName("y"))
	hid, err := G.Rectify(G.Must(G.BroadcastAdd(G.Must(G.Mul(X, W1)), B1, nil, []byte{0})))
	if err != nil {
		return nil, rep, fmt.Errorf("mlp graph: %w", err)
	}
	z := G.Must(G.BroadcastAdd(G.Must(G.Mul(hid, W2)), B2, nil, []byte{0, 1}))
	// cross-entropy with logits: softplus(z) − y·z, averaged
	loss := G.Must(G.Mean(G.Must(G.Sub(G.Must(G.Softplus(z)), G.Must(G.HadamardProd(Y, z))))))
	params := G.Nodes{W1, B1, W2, B2}
	if _, err := G.Grad(loss, params...); err != nil {
		return nil, rep, fmt.Errorf("mlp gradient: %w", err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(params...))
	defer vm.Close()
	solver := G.NewAdamSolver(G.WithLearnRate(cfg.LearnRate), G.WithL2Reg(cfg.L2))

	xb := make([]float64, bs*d)
	yb := make([]float64, bs)
	xt := tensor.New(tensor.WithShape(bs, d), tensor.WithBacking(xb))
	yt := tensor.New(tensor.WithShape(bs, 1), tensor.WithBacking(yb))
	best := m.clone()
	bestLoss := math.Inf(1)
	bad := 0
	for ep := 1; ep <= cfg.Epochs; ep++ {
		r.Shuffle(len(train), func(i, j int) { train[i], train[j] = train[j], train[i] })
		for s := 0; s+bs <= len(train); s += bs {
			for k, row := range train[s : s+bs] {
				copy(xb[k*d:(k+1)*d], xs[row*d:(row+1)*d])
				yb[k] = ys[row]
			}
			if err := G.Let(X, xt); err != nil {
				return nil, rep, err
			}
			if err := G.Let(Y, yt); err != nil {
				return nil, rep, err
			}
			if err := vm.RunAll(); err != nil {
				return nil, rep, fmt.Errorf("mlp step: %w", err)
			}
			if err := solver.Step(G.NodesToValueGrads(params)); err != nil {
				return nil, rep, fmt.Errorf("mlp step: %w", err)
			}
			vm.Reset()
			rep.Examples += bs
		}
		// read the weights back and score the validation rows in Go
		transpose(m.w1, W1.Value().Data().([]float64), d, h)
		copy(m.b1, B1.Value().Data().([]float64))
		copy(m.w2, W2.Value().Data().([]float64))
		m.b2 = B2.Value().Data().([]float64)[0]
		vl := 0.0
		for _, row := range valid {
			vl += logLoss(m.forward(xs[row*d:(row+1)*d]), ys[row])
		}
		vl /= float64(nv)
		rep.Epochs = ep
		if progress != nil {
			progress(ep, cfg.Epochs)
		}
		if math.IsNaN(vl) {
			return nil, rep, fmt.Errorf("%w: MLP training diverged at epoch %d", ErrInvalidInput, ep)
		}
		if vl < bestLoss-1e-9 {
			bestLoss, best, bad, rep.BestEpoch = vl, m.clone(), 0, ep
		} else if bad++; bad >= cfg.Patience {
			break
		}
	}
	rep.ValidLoss = bestLoss
	return best, rep, nil
}

// logLoss is the cross-entropy of prediction p for label y, with p
// clipped to [1e-15, 1−1e-15].
func logLoss(p, y float64) float64 {
	p = min(max(p, 1e-15), 1-1e-15)
	return -(y*math.Log(p) + (1-y)*math.Log(1-p))
}

// transpose writes the c×r transpose of the r×c row-major src into dst.
func transpose(dst, src []float64, r, c int) {
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			dst[j*r+i] = src[i*c+j]
		}
	}
}

func (m *MLP) clone() *MLP {
	return &MLP{cfg: m.cfg, w1: append([]float64(nil), m.w1...), b1: append([]float64(nil), m.b1...),
		w2: append([]float64(nil), m.w2...), b2: m.b2}
}

// MLP payload format, version 1, little-endian: magic "NBMLP\x00\x00\x00",
// version uint32, dim uint32, hidden uint32, nameLen uint16, name, then
// w1 [hidden×dim]float64, b1 [hidden], w2 [hidden], b2 float64. The
// training hyper-parameters live in the artifact's metadata.
const mlpMagic = "NBMLP\x00\x00\x00"

// WriteTo writes the weights in the format above.
func (m *MLP) WriteTo(w io.Writer) (int64, error) {
	le := binary.LittleEndian
	buf := append([]byte(nil), mlpMagic...)
	buf = le.AppendUint32(buf, 1)
	buf = le.AppendUint32(buf, uint32(m.cfg.Dim))
	buf = le.AppendUint32(buf, uint32(m.cfg.Hidden))
	buf = le.AppendUint16(buf, uint16(len(m.cfg.Name)))
	buf = append(buf, m.cfg.Name...)
	for _, s := range [][]float64{m.w1, m.b1, m.w2, {m.b2}} {
		for _, v := range s {
			buf = le.AppendUint64(buf, math.Float64bits(v))
		}
	}
	n, err := w.Write(buf)
	return int64(n), err
}

// ReadMLP reads weights written by MLP.WriteTo, refusing anything
// malformed with ErrBadMagic, ErrVersion or ErrCorrupt.
func ReadMLP(r io.Reader) (*MLP, error) {
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("cannot read mlp model: %w", err)
	}
	p := b.Bytes()
	if len(p) < 8 || string(p[:8]) != mlpMagic {
		return nil, fmt.Errorf("cannot read mlp model: %w", ErrBadMagic)
	}
	dec := &decoder{b: p[8:]}
	if v := dec.u32(); v != 1 {
		return nil, fmt.Errorf("cannot read mlp model: %w: %d", ErrVersion, v)
	}
	cfg := MLPConfig{Dim: int(dec.u32()), Hidden: int(dec.u32())}
	cfg.Name = string(dec.take(int(dec.u16())))
	if dec.err {
		return nil, fmt.Errorf("cannot read mlp model: %w: short header", ErrCorrupt)
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("cannot read mlp model: %w", err)
	}
	d, h := cfg.Dim, cfg.Hidden
	if want := uint64(8 * (h*d + 2*h + 1)); uint64(len(dec.b)) != want {
		return nil, fmt.Errorf("cannot read mlp model: %w: %d bytes of weights, want %d", ErrCorrupt, len(dec.b), want)
	}
	m := &MLP{cfg: cfg, w1: make([]float64, h*d), b1: make([]float64, h), w2: make([]float64, h)}
	b2 := make([]float64, 1)
	if !dec.floats(m.w1) || !dec.floats(m.b1) || !dec.floats(m.w2) || !dec.floats(b2) {
		return nil, fmt.Errorf("cannot read mlp model: %w: non-finite weights", ErrCorrupt)
	}
	m.b2 = b2[0]
	return m, nil
}
