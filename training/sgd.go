package training

import (
	"fmt"
	"math"
)

// SGDConfig configures an SGD learner.
type SGDConfig struct {
	// SharedDim and ActionDim are the slot counts of shared and action
	// features (default 64 and 8; CBADFReader's layout).
	SharedDim, ActionDim int
	// Interactions lists namespace pairs (shared letter, action letter),
	// e.g. "sa" as VW's -q sa: each pair crosses every shared feature of
	// the first namespace with every action feature of the second.
	Interactions []string
	// LearningRate is VW's -l (default 0.5).
	LearningRate float64
}

// wstate is one weight with VW's per-weight state: the weight, the sum of
// squared gradients (adaptive), the largest |x| seen (normalized) and the
// per-update rate computed in the first pass ("spare").
//
// inv caches 1/n (it changes only when n grows), so that the hot loop
// divides nothing.
type wstate struct{ w, g, n, r, inv float64 }

// SGD is an online linear cost regressor of the shape of Vowpal Wabbit's
// `--cb_adf -q sa`, kept to compare nextbest with VW (benchmark only: it
// is not a models.Scorer and cannot be served; see the package doc): one
// model shared by all actions over
//
//	[bias | shared slots | action slots | shared×action slots]
//
// trained, as VW's default cb_adf reduction ("mtr") does, on the logged
// action's cost alone with importance weight 1/p × (examples/actions
// seen), squared loss, and VW's default update: adaptive, normalized and
// importance-invariant. The update is gd.cc's, in double precision:
//
//   - adaptive (AdaGrad; Duchi, Hazan & Singer 2011, "Adaptive subgradient
//     methods for online learning and stochastic optimization"): per
//     weight, G += w·ℓ'(p)²·x²; the rate is ∝ 1/√G;
//   - normalized (Ross, Mineiro & Langford 2013, "Normalized online
//     learning", UAI): per weight N = max |x| seen, rescaling the weight by
//     N_old/N_new when N grows, the rate × 1/N, and the whole update ×
//     √(Σ weights / Σ weight·Σᵢ xᵢ²/Nᵢ²);
//   - invariant (Karampatziakis & Langford 2011, "Online importance
//     weight aware updates"): for squared loss the step is
//     (y−p)(1−exp(−2·η·w·h))/h with h = Σᵢ xᵢ²·rateᵢ, so an example of
//     weight w moves like w examples of weight 1 and never overshoots.
//
// The prediction the update sees is clipped to the range of the costs
// seen so far, as VW's finalize_prediction does; Predict returns the raw
// linear score, which is what VW ranks actions by.
//
// Interactions are computed on the fly: Predict forms u = Wᵀxₛ once per
// example (|shared|×ActionDim products) and scores each action in
// O(|action features|), not O(|shared|×|action|). Predict and Learn
// allocate nothing once their scratch has grown. An SGD is not safe for
// concurrent use.
type SGD struct {
	cfg   SGDConfig
	S, A  int
	pairs [][2]byte
	ws    []wstate

	totalWeight, sumNormX float64
	events, actions       float64
	minLabel, maxLabel    float64
	updates               int

	u []float64
}

// NewSGD validates cfg and returns an untrained learner.
func NewSGD(cfg SGDConfig) (*SGD, error) {
	cfg.SharedDim, cfg.ActionDim = cmpInt(cfg.SharedDim, 64), cmpInt(cfg.ActionDim, 8)
	cfg.LearningRate = cmp0(cfg.LearningRate, 0.5)
	if cfg.SharedDim < 1 || cfg.ActionDim < 1 || cfg.SharedDim*cfg.ActionDim > 1<<24 {
		return nil, fmt.Errorf("%w: sgd shared dim %d, action dim %d", ErrBadConfig, cfg.SharedDim, cfg.ActionDim)
	}
	if !(cfg.LearningRate > 0) || math.IsInf(cfg.LearningRate, 0) {
		return nil, fmt.Errorf("%w: sgd learning rate %v", ErrBadConfig, cfg.LearningRate)
	}
	m := &SGD{cfg: cfg, S: cfg.SharedDim, A: cfg.ActionDim}
	for _, q := range cfg.Interactions {
		if len(q) != 2 {
			return nil, fmt.Errorf("%w: interaction %q must be two namespace letters, like sa", ErrBadConfig, q)
		}
		p := [2]byte{q[0], q[1]}
		dup := false
		for _, o := range m.pairs {
			dup = dup || o == p
		}
		if !dup {
			m.pairs = append(m.pairs, p)
		}
	}
	m.ws = make([]wstate, m.Dim())
	m.u = make([]float64, len(m.pairs)*m.A)
	return m, nil
}

// Dim is the number of weights.
func (m *SGD) Dim() int {
	d := 1 + m.S + m.A
	if len(m.pairs) > 0 {
		d += m.S * m.A
	}
	return d
}

// Describe names the model and its layout, for reports and artifacts.
func (m *SGD) Describe() string {
	return fmt.Sprintf("sgd(shared=%d,action=%d,q=%v,l=%g)", m.S, m.A, m.cfg.Interactions, m.cfg.LearningRate)
}

// Weights returns the weights in layout order (bias, shared slots, action
// slots, then shared slot i × action slot j at 1+S+A+i·A+j), as a copy.
func (m *SGD) Weights() []float64 {
	w := make([]float64, len(m.ws))
	for i := range m.ws {
		w[i] = m.ws[i].w
	}
	return w
}

func (m *SGD) crossBase() int { return 1 + m.S + m.A }

// Predict writes the predicted cost of each of ex's actions into dst
// (grown if short) and returns it.
func (m *SGD) Predict(dst []float64, ex *SlotExample) []float64 {
	k := len(ex.Actions)
	if cap(dst) < k {
		dst = make([]float64, k)
	}
	dst = dst[:k]
	ws := m.ws
	base := ws[0].w
	for _, f := range ex.Shared {
		base += ws[1+int(f.Slot)].w * f.Value
	}
	ao := 1 + m.S
	nnzA := 0
	for _, a := range ex.Actions {
		nnzA += len(a)
	}
	if len(m.pairs) == 0 {
		for i, a := range ex.Actions {
			s := base
			for _, g := range a {
				s += ws[ao+int(g.Slot)].w * g.Value
			}
			dst[i] = s
		}
		return dst
	}
	qo, A := m.crossBase(), m.A
	if A <= nnzA {
		// u_p = Wᵀ x_s over the pair's shared namespace, then O(nnz) per action
		// Four columns at a time in registers (a running sum per column
		// in memory is a store-to-load chain per product); each column
		// still sums the shared features in order, so the result is the
		// same, bit for bit.
		u := m.u
		for p, q := range m.pairs {
			up := u[p*A : (p+1)*A]
			j := 0
			for ; j+4 <= A; j += 4 {
				var a0, a1, a2, a3 float64
				for _, f := range ex.Shared {
					if f.NS != q[0] {
						continue
					}
					o := qo + int(f.Slot)*A + j
					r := ws[o : o+4 : o+4]
					v := f.Value
					a0 += v * r[0].w
					a1 += v * r[1].w
					a2 += v * r[2].w
					a3 += v * r[3].w
				}
				up[j], up[j+1], up[j+2], up[j+3] = a0, a1, a2, a3
			}
			for ; j < A; j++ {
				var a float64
				for _, f := range ex.Shared {
					if f.NS == q[0] {
						a += f.Value * ws[qo+int(f.Slot)*A+j].w
					}
				}
				up[j] = a
			}
		}
		for i, a := range ex.Actions {
			s := base
			for _, g := range a {
				c := ws[ao+int(g.Slot)].w
				for p, q := range m.pairs {
					if g.NS == q[1] {
						c += u[p*A+int(g.Slot)]
					}
				}
				s += c * g.Value
			}
			dst[i] = s
		}
		return dst
	}
	// few action features over many slots: cross pairs directly
	for i, a := range ex.Actions {
		s := base
		for _, g := range a {
			s += ws[ao+int(g.Slot)].w * g.Value
		}
		for _, q := range m.pairs {
			for _, f := range ex.Shared {
				if f.NS != q[0] {
					continue
				}
				row := qo + int(f.Slot)*A
				for _, g := range a {
					if g.NS == q[1] {
						s += ws[row+int(g.Slot)].w * f.Value * g.Value
					}
				}
			}
		}
		dst[i] = s
	}
	return dst
}

// VW's bounds on |x| (gd.cc: X2_MIN = FLT_MIN, X2_MAX = FLT_MAX).
const (
	x2Min = 1.1754943508222875e-38
	x2Max = 3.4028234663852886e38
	xMin  = 1.0842021724855044e-19 // √x2Min
)

// normAcc is gd.cc's norm_data: the first pass of an update over the
// example's features (pred_per_update_feature).
type normAcc struct{ g2, normX, ppu float64 }

// add folds feature value x of weight s into the pass: adaptive sum,
// normalizer (rescaling w when the scale grows), and the weight's rate
// 1/(√G·N), kept in s.r for the second pass.
func (a *normAcc) add(s *wstate, x float64) {
	x2 := x * x
	if x2 < x2Min {
		x, x2 = math.Copysign(xMin, x), x2Min
	}
	s.g += a.g2 * x2
	if ax := math.Abs(x); ax > s.n {
		if s.n > 0 {
			s.w *= s.n / ax // as if the new scale had been the scale all along
		}
		s.n, s.inv = ax, 1/ax
	}
	s.r = s.inv / math.Sqrt(s.g)
	nx := x * s.inv // x/N ≤ 1
	if x2 > x2Max {
		nx = 1
	}
	a.normX += nx * nx
	a.ppu += x2 * s.r
}

// Learn updates the model on ex's logged action (nothing if unlabelled).
// VW's parser drops zero-valued features, so they get no update (and no
// normalizer) here either.
func (m *SGD) Learn(ex *SlotExample) {
	c := ex.Chosen
	if c < 0 || c >= len(ex.Actions) {
		return
	}
	sh, act, ws := ex.Shared, ex.Actions[c], m.ws
	ao, qo, A := 1+m.S, m.crossBase(), m.A
	pred := ws[0].w
	for _, f := range sh {
		pred += ws[1+int(f.Slot)].w * f.Value
	}
	for _, g := range act {
		pred += ws[ao+int(g.Slot)].w * g.Value
	}
	for _, q := range m.pairs {
		for _, f := range sh {
			if f.NS != q[0] {
				continue
			}
			row := ws[qo+int(f.Slot)*A : qo+int(f.Slot)*A+A]
			for _, g := range act {
				if g.NS == q[1] {
					pred += row[g.Slot].w * f.Value * g.Value
				}
			}
		}
	}
	m.learn(ex, pred)
}

// learn is Learn given the model's current raw prediction for the logged
// action (Predict's, when the caller just made it).
func (m *SGD) learn(ex *SlotExample, pred float64) {
	c := ex.Chosen
	if c < 0 || c >= len(ex.Actions) || !(ex.Prob > 0) {
		return
	}
	sh, act, ws := ex.Shared, ex.Actions[c], m.ws
	ao, qo, A := 1+m.S, m.crossBase(), m.A
	y := ex.Cost
	m.minLabel, m.maxLabel = min(m.minLabel, y), max(m.maxLabel, y)
	m.events++
	m.actions += float64(len(ex.Actions))
	iw := 1 / ex.Prob * (m.events / m.actions) // cb_adf.cc learn_MTR
	p := min(max(pred, m.minLabel), m.maxLabel)
	if p == y {
		return // zero loss: VW skips the update
	}
	// pass 1: per-weight state and the example's pred_per_update
	acc := normAcc{g2: iw * 4 * (p - y) * (p - y)} // weight × squared gradient of (p−y)²
	acc.add(&ws[0], 1)
	for _, f := range sh {
		if f.Value != 0 {
			acc.add(&ws[1+int(f.Slot)], f.Value)
		}
	}
	for _, g := range act {
		if g.Value != 0 {
			acc.add(&ws[ao+int(g.Slot)], g.Value)
		}
	}
	for _, q := range m.pairs {
		for _, f := range sh {
			if f.NS != q[0] || f.Value == 0 {
				continue
			}
			row := ws[qo+int(f.Slot)*A : qo+int(f.Slot)*A+A]
			for _, g := range act {
				if g.NS != q[1] || g.Value == 0 {
					continue
				}
				// acc.add inlined by hand: this loop is most of the work
				s := &row[g.Slot]
				x := f.Value * g.Value
				x2 := x * x
				if x2 < x2Min {
					acc.add(s, x)
					continue
				}
				s.g += acc.g2 * x2
				if ax := math.Abs(x); ax > s.n {
					if s.n > 0 {
						s.w *= s.n / ax
					}
					s.n, s.inv = ax, 1/ax
				}
				s.r = s.inv / math.Sqrt(s.g)
				nx := x * s.inv // x/N ≤ 1
				acc.normX += nx * nx
				acc.ppu += x2 * s.r
			}
		}
	}
	m.totalWeight += iw
	m.sumNormX += iw * acc.normX
	mult := math.Sqrt(m.totalWeight / m.sumNormX)
	ppu := acc.ppu * mult
	scale := m.cfg.LearningRate * iw
	var upd float64
	if scale*ppu < 1e-6 {
		upd = 2 * (y - p) * scale
	} else {
		upd = (y - p) * -math.Expm1(-2*scale*ppu) / ppu
	}
	upd *= mult
	// pass 2: w += update · x · rate
	ws[0].w += upd * ws[0].r
	for _, f := range sh {
		if f.Value != 0 {
			s := &ws[1+int(f.Slot)]
			s.w += upd * f.Value * s.r
		}
	}
	for _, g := range act {
		if g.Value != 0 {
			s := &ws[ao+int(g.Slot)]
			s.w += upd * g.Value * s.r
		}
	}
	for _, q := range m.pairs {
		for _, f := range sh {
			if f.NS != q[0] || f.Value == 0 {
				continue
			}
			row := ws[qo+int(f.Slot)*A : qo+int(f.Slot)*A+A]
			uf := upd * f.Value
			for _, g := range act {
				if g.NS == q[1] && g.Value != 0 {
					s := &row[g.Slot]
					s.w += uf * g.Value * s.r
				}
			}
		}
	}
	m.updates++
}

// Updates is the number of examples that changed the model.
func (m *SGD) Updates() int { return m.updates }
