package attribution

import (
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// Chain is a first-order Markov chain of customer paths: the transient
// states are start and the keys (channels or actions) touched, the
// absorbing states conversion and null. Add counts a path's transitions;
// RemovalEffects solves the chain. A Chain is not safe for concurrent use.
type Chain struct {
	index map[string]int // key → state (1 + its position in keys)
	keys  []string
	// counts[from][to] counts transitions; states: 0 start, 1.. keys,
	// and the absorbing conv and null encoded as -1 and -2
	counts map[[2]int]float64
	out    map[int]float64 // transitions out of each transient state
	paths  int
}

const (
	stateStart = 0
	stateConv  = -1
	stateNull  = -2
)

// NewChain returns an empty chain.
func NewChain() *Chain {
	return &Chain{index: map[string]int{}, counts: map[[2]int]float64{}, out: map[int]float64{}}
}

func (c *Chain) state(key string) int {
	s, ok := c.index[key]
	if !ok {
		c.keys = append(c.keys, key)
		s = len(c.keys)
		c.index[key] = s
	}
	return s
}

// Add counts the walk start → keys[0] → … → keys[n−1] → conversion (or
// null when not converted). A path without keys adds nothing: it says
// nothing about the keys (a conversion nothing touched is baseline).
func (c *Chain) Add(keys []string, converted bool) {
	if len(keys) == 0 {
		return
	}
	c.paths++
	from := stateStart
	for _, k := range keys {
		to := c.state(k)
		c.counts[[2]int{from, to}]++
		c.out[from]++
		from = to
	}
	end := stateNull
	if converted {
		end = stateConv
	}
	c.counts[[2]int{from, end}]++
	c.out[from]++
}

// Keys returns the chain's keys in the order first added. The caller must
// not modify the slice.
func (c *Chain) Keys() []string { return c.keys }

// MarkovFit is a solved chain: the probability of conversion from start
// and, per key, the removal effect.
type MarkovFit struct {
	// Paths is the number of paths added.
	Paths int `json:"paths"`
	// Conversion is P(conversion | start): the probability that a walk
	// from start ends in conversion.
	Conversion float64 `json:"conversion_probability"`
	// Removal is, per key, the removal effect 1 − P₋ₖ/P, where P₋ₖ is the
	// conversion probability when every transition into the key goes to
	// null instead.
	Removal map[string]float64 `json:"removal_effects"`
}

// RemovalEffects solves the absorbing chain exactly. With Q the
// transitions among the transient states (start and the keys) and r the
// transitions into conversion, the fundamental matrix N = (I − Q)⁻¹ gives
// the absorption probabilities h = N r, so P = h[start]. Removing key k
// turns it into null; a walk from start then converts exactly when it
// converts without ever visiting k, so P₋ₖ = P − f·h[k], where
// f = N[start,k]/N[k,k] is the probability of ever visiting k from start.
// One LU factorisation serves every key. It returns an error for a chain
// without a converting path.
func (c *Chain) RemovalEffects() (MarkovFit, error) {
	n := len(c.keys) + 1
	fit := MarkovFit{Paths: c.paths, Removal: make(map[string]float64, len(c.keys))}
	if n == 1 {
		return fit, fmt.Errorf("%w: the chain has no path", ErrNoConversions)
	}
	a := mat.NewDense(n, n, nil)
	r := mat.NewVecDense(n, nil)
	for i := 0; i < n; i++ {
		a.Set(i, i, 1)
	}
	for ft, cnt := range c.counts {
		from, to := ft[0], ft[1]
		p := cnt / c.out[from]
		switch {
		case to == stateConv:
			r.SetVec(from, r.AtVec(from)+p)
		case to >= 0:
			a.Set(from, to, a.At(from, to)-p)
		}
	}
	var lu mat.LU
	lu.Factorize(a)
	if lu.Det() == 0 {
		return fit, fmt.Errorf("BUG: attribution: the chain's I − Q is singular")
	}
	// N = (I − Q)⁻¹ by solving against the identity: the chains are small
	// (one state per channel or action)
	var nm mat.Dense
	if err := lu.SolveTo(&nm, false, eye(n)); err != nil {
		return fit, fmt.Errorf("attribution: solving the Markov chain: %w", err)
	}
	var h mat.VecDense
	h.MulVec(&nm, r)
	fit.Conversion = h.AtVec(stateStart)
	if !(fit.Conversion > 0) {
		return fit, fmt.Errorf("%w: no path of the chain converts", ErrNoConversions)
	}
	for i, k := range c.keys {
		s := i + 1
		f := nm.At(stateStart, s) / nm.At(s, s)
		without := fit.Conversion - f*h.AtVec(s)
		fit.Removal[k] = clamp01(1 - without/fit.Conversion)
	}
	return fit, nil
}

func eye(n int) *mat.Dense {
	m := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		m.Set(i, i, 1)
	}
	return m
}

// clamp01 clips rounding error at the ends of [0, 1].
func clamp01(v float64) float64 {
	return min(1, max(0, v))
}
