package models

import (
	"fmt"
	"math"
)

// RidgeStats is the data part of one ridge posterior's sufficient
// statistics, as a batch trainer accumulates them: XtX = Σ xxᵀ (row-major
// d×d; only the upper triangle is read), Xty = Σ r·x, and N observations.
// The prior λI is not included: NewRidgeFromStats adds it.
type RidgeStats struct {
	XtX []float64
	Xty []float64
	N   uint64
}

// NewRidgeFromStats returns a published Ridge whose posteriors hold
// A = λI + XtX and b = Xty, with A⁻¹ computed exactly by Cholesky: the
// model Update would reach after the same observations, up to rounding,
// without the O(d²) per-observation cost. stats has one entry for a shared
// model and cfg.Actions entries for a disjoint one. Statistics that are not
// finite or give an A that is not positive definite are refused with
// ErrInvalidInput.
func NewRidgeFromStats(cfg RidgeConfig, stats []RidgeStats) (*Ridge, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := newRidge(cfg)
	if len(stats) != len(m.posts) {
		return nil, fmt.Errorf("%w: %d posteriors of statistics, the model has %d", ErrInvalidInput, len(stats), len(m.posts))
	}
	d := m.d
	var total uint64
	for k := range m.posts {
		s, p := &stats[k], &m.posts[k]
		if len(s.XtX) != d*d || len(s.Xty) != d {
			return nil, fmt.Errorf("%w: posterior %d: statistics of the wrong size", ErrInvalidInput, k)
		}
		for i := 0; i < d; i++ {
			for j := i; j < d; j++ {
				v := s.XtX[i*d+j]
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("%w: posterior %d: XtX[%d,%d] = %v", ErrInvalidInput, k, i, j, v)
				}
				p.a[i*d+j] = v
			}
			p.a[i*d+i] += cfg.Lambda
			if v := s.Xty[i]; math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: posterior %d: Xty[%d] = %v", ErrInvalidInput, k, i, v)
			}
		}
		copy(p.b, s.Xty)
		p.since = 1 // refresh resets it; a failed refresh leaves it non-zero
		m.refresh(p)
		if p.since != 0 {
			return nil, fmt.Errorf("%w: posterior %d: A is not positive definite", ErrInvalidInput, k)
		}
		p.n = s.N
		p.dirty = true
		total += s.N
	}
	m.updates.Store(total)
	m.Publish()
	return m, nil
}

// remapRidge returns a copy of m whose posterior i is m's posterior
// from[i], or the prior (A = λI, b = 0) where from[i] < 0. It is how
// LoadScorer lines a disjoint model up with a catalog.
func remapRidge(m *Ridge, from []int) *Ridge {
	cfg := m.cfg
	cfg.Actions = len(from)
	c := newRidge(cfg)
	d := m.d
	var total uint64
	for i, k := range from {
		dst := &c.posts[i]
		if k < 0 {
			for j := 0; j < d; j++ {
				dst.a[j*d+j] = cfg.Lambda
				dst.ainv[j*d+j] = 1 / cfg.Lambda
			}
		} else {
			src := &m.posts[k]
			copy(dst.a, src.a)
			copy(dst.ainv, src.ainv)
			copy(dst.b, src.b)
			dst.n, dst.since = src.n, src.since
			total += src.n
		}
		dst.dirty = true
	}
	c.updates.Store(total)
	c.Publish()
	return c
}
