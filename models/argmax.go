package models

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/integrate/quad"

	"nextbest/internal/vec"
)

// ArgmaxTolerance is the absolute error bound of every probability that
// ArgmaxProbs and Argmax.Probs return (see ArgmaxProbs).
const ArgmaxTolerance = 1e-6

// Quadrature parameters of ArgmaxProbs and Argmax; see ArgmaxProbs for
// the error bound they give.
const (
	argmaxK        = 6.0   // a candidate is negligible beyond μ ± Kσ: Φ(−6) = 9.9e-10
	argmaxTail     = 1e-9  // lower cut of any one query: P(max ≤ T₀) below this
	argmaxGridTail = 1e-11 // lower cut of the grid Reset builds (room for a slate's later slots)
	argmaxH        = 2.0   // panel width in units of the smallest std still in play
	argmaxNodes    = 8     // Gauss–Legendre nodes per panel
	argmaxMaxPn    = 1 << 16
	argmaxGridRows = 128     // stored nodes of Argmax's grid with every candidate in play
	argmaxGridMax  = 1 << 17 // at most this many stored float64s (1 MiB) per Argmax
	invSqrt2Pi     = 0.3989422804014327
)

// glX, glW are the read-only Gauss–Legendre nodes and weights on [−1, 1],
// the weights multiplied by 1/√(2π) (the constant of the normal density).
var glX, glW = legendre(argmaxNodes)

func legendre(n int) (x, w []float64) {
	x, w = make([]float64, n), make([]float64, n)
	quad.Legendre{}.FixedLocations(x, w, -1, 1)
	for i := range w {
		w[i] *= invSqrt2Pi
	}
	return x, w
}

// ArgmaxScratchLen returns the length of scratch with which ArgmaxProbs
// over n candidates does not allocate.
func ArgmaxScratchLen(n int) int { return argmaxCoreLen * n }

// ArgmaxProbs writes into dst[i] the probability that candidate i has the
// largest value when the values are independent N(mean[i], std[i]²): the
// exact slot propensity of Thompson sampling with independent per-candidate
// posteriors, p_i = ∫ φ_i(t) Π_{j≠i} Φ((t−μ_j)/σ_j) dt.
//
// std[i] == 0 is a point mass at mean[i]; equal values are won by the lowest
// index, as a sampler that ranks by value with a stable sort does. One
// candidate gets 1. The result sums to 1 (it is normalised; before
// normalisation the sum is 1 within the error bound).
//
// # Precision
//
// Every p_i is within ArgmaxTolerance = 1e-6 of the exact value (for up
// to a few hundred candidates): plenty for a logged propensity, whose
// Monte Carlo standard error over a million decisions is ~5e-4. The
// budget:
//
//   - Truncation, ≤ 1e-9 + (n−1)·1e-9·p_i. The integral runs over
//     [T₀, T₁] with T₁ = max_j μ_j+6σ_j and T₀ the largest of
//     max_j μ_j−6σ_j, the largest point mass and a point where
//     P(max ≤ t) < 1e-11 (bisection). The mass of p_i below T₀ is at most
//     P(max ≤ T₀); above T₁ at most Φ(−6) = 9.9e-10. Above μ_j+6σ_j a
//     candidate counts as Φ_j = 1, φ_j = 0, which moves each factor by at
//     most Φ(−6).
//   - The normal CDF, ≤ 1e-14 per factor (vec.NormHazard), so ≤ 1e-14·n:
//     a product of numbers in [0, 1] moves by at most the sum of its
//     factors' errors.
//   - Quadrature. [T₀, T₁] is cut into panels no wider than twice the
//     smallest σ of the candidates still in play there, each integrated
//     by 8-point Gauss–Legendre (4 nodes per σ). Every factor of the
//     integrand is analytic on the scale of its σ, so the rule's error
//     falls geometrically with the nodes per σ — but its size is measured,
//     not proven: TestArgmaxProbsAgainstReference compares 171 random and
//     adversarial slates (2–40 candidates; up to 40 equal stds, where the
//     maximum is narrowest; stds spread over 20×; point masses; decide's
//     benchmark slate) with an independent rule at 8× the node density,
//     and asserts 1e-7, ten times inside the bound. The largest error it
//     measures is 1.4e-8; with 6-point panels (3 nodes per σ) it is
//     5e-7, so the rule keeps a margin of one such step.
//   - Normalisation divides by a sum within the above of 1.
//
// Method: all p_i are integrated together on one grid. At each node, Φ_j
// and the reverse hazard h_j = φ_j/Φ_j of the candidates in play come four
// at a time from vec.NormHazard (one exponential, one rational), and p_i
// gets w·h_i·Π_j Φ_j: one product per node, not one per candidate. Every
// Φ_j on the grid is at least Φ(−6), so the quotient loses nothing.
//
// len(dst) and len(std) must equal len(mean). With len(scratch) ≥
// ArgmaxScratchLen(len(mean)) it does not allocate. Non-finite means or
// negative or non-finite stds give unspecified (but finite-time) results.
// Argmax gives the same numbers and, for the later slots of a slate,
// reuses the grid.
func ArgmaxProbs(dst, mean, std []float64, scratch []float64) {
	n := len(mean)
	if len(dst) != n || len(std) != n {
		panic(fmt.Sprintf("BUG: models.ArgmaxProbs: len(dst)=%d len(mean)=%d len(std)=%d", len(dst), n, len(std)))
	}
	switch n {
	case 0:
		return
	case 1:
		dst[0] = 1
		return
	}
	if len(scratch) < ArgmaxScratchLen(n) {
		scratch = make([]float64, ArgmaxScratchLen(n))
	}
	var c argmaxCore
	c.carve(scratch, n)
	c.reset(mean, std)
	c.probs(dst, nil, nil)
}

// Argmax computes ArgmaxProbs for one set of candidates and then for
// subsets of it, the way Thompson sampling fills a slate: slot 0 over all
// candidates, slot 1 over those left, and so on. Reset evaluates the
// normal CDFs and hazards on the quadrature grid once, with the product of
// the CDFs at each node; Probs for a subset divides that product by the
// CDFs of the candidates gone (and extends the grid downwards when the
// subset's maximum can lie below it), so a slate of k slots costs little
// more than its first. Probs over all candidates gives exactly
// ArgmaxProbs's numbers; over a subset, numbers within ArgmaxTolerance of
// the exact ones, like ArgmaxProbs on that subset (the full set's grid is
// at least as fine as the subset's own). A subset need not be nested in
// the last one; one whose largest point mass lies above the grid is
// integrated on a grid of its own.
//
// An Argmax is for one goroutine at a time. Its zero value is not usable:
// use NewArgmax. A grid larger than the room NewArgmax made (stds spread
// over more than about two orders of magnitude, or thousands of
// candidates) is not stored; Probs then recomputes it for each subset,
// within the same bound.
type Argmax struct {
	c    argmaxCore
	buf  []float64 // the core's arrays
	vals []float64 // stored rows: Φ then the reverse hazard of the candidates in play
	w    []float64 // stored nodes: weight
	pall []float64 // stored nodes: Π Φ over the candidates in play
	act  []int     // stored nodes: candidates in play (a prefix of the core's order)
	full bool      // the grid did not fit: Probs streams it
}

// NewArgmax returns an Argmax for up to n candidates. It allocates all it
// will use; Reset and Probs do not allocate for up to n candidates.
func NewArgmax(n int) *Argmax {
	a := &Argmax{}
	a.grow(n)
	return a
}

func (a *Argmax) grow(n int) {
	a.buf = make([]float64, ArgmaxScratchLen(n))
	a.vals = make([]float64, 0, min(2*n*argmaxGridRows, argmaxGridMax))
	a.w = make([]float64, 0, argmaxNodes*argmaxGridRows)
	a.pall = make([]float64, 0, argmaxNodes*argmaxGridRows)
	a.act = make([]int, 0, argmaxNodes*argmaxGridRows)
}

// Reset prepares Probs for the candidates N(mean[i], std[i]²) and evaluates
// the grid. mean and std must not change until the next Reset (Argmax
// keeps them).
func (a *Argmax) Reset(mean, std []float64) {
	n := len(mean)
	if len(std) != n {
		panic(fmt.Sprintf("BUG: models.Argmax.Reset: len(mean)=%d len(std)=%d", n, len(std)))
	}
	if len(a.buf) < ArgmaxScratchLen(n) {
		a.grow(n)
	}
	a.c.carve(a.buf, n)
	a.c.reset(mean, std)
	a.vals, a.w, a.pall, a.act, a.full = a.vals[:0], a.w[:0], a.pall[:0], a.act[:0], false
	a.store(a.c.lo, a.c.thi)
}

// store evaluates and appends the nodes of the panels from lo to hi.
func (a *Argmax) store(lo, hi float64) {
	c := &a.c
	for t, panels := lo, 0; t < hi && panels < argmaxMaxPn && !a.full; panels++ {
		end, act := c.panel(t, hi)
		if act == 0 {
			break
		}
		if len(a.vals)+2*act*len(glX) > cap(a.vals) || len(a.w)+len(glX) > cap(a.w) {
			a.full = true
			break
		}
		mid, r := 0.5*(t+end), 0.5*(end-t)
		for q, x := range glX {
			o := len(a.vals)
			a.vals = a.vals[:o+2*act]
			c.node(a.vals[o:o+act], a.vals[o+act:o+2*act], mid+r*x, act)
			a.w = append(a.w, r*glW[q])
			a.pall = append(a.pall, productAll(a.vals[o:o+act]))
			a.act = append(a.act, act)
		}
		t = end
	}
	if a.full {
		a.vals, a.w, a.pall, a.act = a.vals[:0], a.w[:0], a.pall[:0], a.act[:0]
	}
}

// Probs writes into dst[j] the probability that candidate sub[j] has the
// largest value among the candidates sub (indices into Reset's mean, each
// at most once; nil means all, in order). len(dst) must equal len(sub)
// (or len(mean) for nil). Ties and point masses are as in ArgmaxProbs.
func (a *Argmax) Probs(dst []float64, sub []int) {
	if a.full {
		a.c.probs(dst, sub, nil)
		return
	}
	a.c.probs(dst, sub, a)
}

// argmaxCoreLen is the number of float64s per candidate that argmaxCore
// carves out of its scratch.
const argmaxCoreLen = 14

// argmaxCore holds the arrays of one ArgmaxProbs computation, carved from
// a scratch slice; indices are stored as float64s. The continuous
// candidates are kept by position k in ord; a query's members are marked
// in in[k] (1, or 0 with out[k] = 1), so that the products over the
// members run over contiguous arrays without branches.
type argmaxCore struct {
	mean, std []float64
	m         int       // continuous candidates
	ord       []float64 // their indices, by μ+Kσ (hi) descending
	mu, isig  []float64 // by position: mean, 1/std
	hi, smin  []float64 // by position: μ+Kσ, smallest std of positions 0..k
	pos       []float64 // by candidate: position, −1 for a point mass
	lor       []float64 // by position: Φ at lo
	cdf, h    []float64 // by position: one node
	in, out   []float64 // by position, per query: member 1/0, and 1 − in
	acc, dj   []float64 // by position, per query: integral, dst index
	gone      []float64 // per query: the positions that are not members
	lo, thi   float64   // the grid: [lo, thi]
}

func (c *argmaxCore) carve(s []float64, n int) {
	next := func() []float64 { v := s[:n:n]; s = s[n:]; return v }
	c.ord, c.mu, c.isig, c.hi, c.smin = next(), next(), next(), next(), next()
	c.pos, c.lor, c.cdf, c.h = next(), next(), next(), next()
	c.in, c.out, c.acc, c.dj, c.gone = next(), next(), next(), next(), next()
}

// reset sorts the continuous candidates and finds the grid [lo, thi] of
// the full set.
func (c *argmaxCore) reset(mean, std []float64) {
	c.mean, c.std = mean, std
	c.m = 0
	c.thi = math.Inf(-1)
	pm := math.Inf(-1)
	for i, s := range std {
		c.pos[i] = -1
		if s == 0 {
			pm = max(pm, mean[i])
			continue
		}
		h := mean[i] + argmaxK*s
		c.thi = max(c.thi, h)
		// insertion by hi descending, stable
		k := c.m
		for k > 0 && c.hi[k-1] < h {
			c.ord[k], c.mu[k], c.isig[k], c.hi[k] = c.ord[k-1], c.mu[k-1], c.isig[k-1], c.hi[k-1]
			k--
		}
		c.ord[k], c.mu[k], c.isig[k], c.hi[k] = float64(i), mean[i], 1/s, h
		c.m++
	}
	sm := math.Inf(1)
	for k := 0; k < c.m; k++ {
		c.pos[int(c.ord[k])] = float64(k)
		sm = min(sm, 1/c.isig[k])
		c.smin[k] = sm
		c.in[k], c.out[k] = 1, 0 // the grid is set by all candidates
	}
	if c.m == 0 {
		c.lo = c.thi
		return
	}
	c.lo = c.lower(pm, argmaxGridTail, c.thi)
	c.fillLor()
}

// lower returns the lower end of a grid for the members above the point
// mass pm: the largest of their max μ−Kσ, pm and the point where P(max of
// the members ≤ t) < tail (bisection below hi, to half the members'
// smallest std).
func (c *argmaxCore) lower(pm, tail, hi float64) float64 {
	lo, mx, sm := pm, math.Inf(-1), math.Inf(1)
	for k := 0; k < c.m; k++ {
		if c.in[k] == 0 {
			continue
		}
		s := 1 / c.isig[k]
		lo = max(lo, c.mu[k]-argmaxK*s)
		mx = max(mx, c.mu[k])
		sm = min(sm, s)
	}
	if lo >= hi || c.maxCDF(lo) >= tail {
		return lo
	}
	a, b := lo, hi
	if mx > a && mx < b { // P(max ≤ the largest mean) ≤ ½: a good first cut
		if c.maxCDF(mx) < tail {
			a = mx
		} else {
			b = mx
		}
	}
	for it := 0; it < 60 && b-a > 0.5*sm; it++ {
		t := 0.5 * (a + b)
		if c.maxCDF(t) < tail {
			a = t
		} else {
			b = t
		}
	}
	return a
}

// maxCDF returns P(max of the members ≤ t).
func (c *argmaxCore) maxCDF(t float64) float64 {
	vec.NormHazard(c.cdf[:c.m], c.h[:c.m], c.mu[:c.m], c.isig[:c.m], t)
	return c.product(c.cdf, c.m)
}

// product returns Π Φ over the members among positions 0..act−1 (a
// non-member counts as 1), in two interleaved halves so that the
// multiplications do not wait on each other.
func (c *argmaxCore) product(cdf []float64, act int) float64 {
	cdf = cdf[:act]
	in, out := c.in[:act], c.out[:act]
	p0, p1 := 1.0, 1.0
	k := 0
	for ; k+1 < len(cdf); k += 2 {
		p0 *= cdf[k]*in[k] + out[k]
		p1 *= cdf[k+1]*in[k+1] + out[k+1]
	}
	if k < len(cdf) {
		p0 *= cdf[k]*in[k] + out[k]
	}
	return p0 * p1
}

// productAll returns Π Φ over positions 0..act−1, members or not, with
// the same pairing as product (so that the two agree bit for bit when
// all are members).
func productAll(cdf []float64) float64 {
	p0, p1 := 1.0, 1.0
	k := 0
	for ; k+1 < len(cdf); k += 2 {
		p0 *= cdf[k]
		p1 *= cdf[k+1]
	}
	if k < len(cdf) {
		p0 *= cdf[k]
	}
	return p0 * p1
}

// fillLor stores Φ_k(lo) for every continuous candidate.
func (c *argmaxCore) fillLor() {
	vec.NormHazard(c.lor[:c.m], c.h[:c.m], c.mu[:c.m], c.isig[:c.m], c.lo)
}

// panel returns the end of the panel that starts at t (below hi) and the
// number of candidates in play there (μ+Kσ > t: a prefix of ord).
func (c *argmaxCore) panel(t, hi float64) (end float64, act int) {
	act = c.m
	for act > 0 && c.hi[act-1] <= t {
		act--
	}
	if act == 0 {
		return hi, 0
	}
	end = min(t+argmaxH*c.smin[act-1], hi)
	if !(end > t) {
		end = math.Nextafter(t, math.Inf(1))
	}
	return end, act
}

// node evaluates, for the act candidates in play, Φ_k(t) into cdf[k] and
// the reverse hazard √(2π)·φ_k(t)/Φ_k(t) into h[k] (the constant is in the
// weights), four candidates at a time (vec.NormHazard). At a node of the
// grid every member has z ≥ −K, so Φ_k ≥ 1e-9 and the quotient is as
// exact as its operands; a non-member far below its mean gets a finite h
// (0 where Φ underflows), which the products then multiply by 0.
func (c *argmaxCore) node(cdf, h []float64, t float64, act int) {
	vec.NormHazard(cdf[:act], h[:act], c.mu[:act], c.isig[:act], t)
}

// accumulate adds the node with weight w (cdf, h over the act candidates
// in play, positions 0..act−1) to the members' integrals: member k gets
// w·φ_k·Π_{j≠k} Φ_j = w·h_k·P with P the product over all members.
func (c *argmaxCore) accumulate(cdf, h []float64, w float64, act int) {
	c.add(h[:act], w*c.product(cdf, act))
}

// add adds h[k]·p to the integral of position k.
func (c *argmaxCore) add(h []float64, p float64) {
	vec.Axpy(p, h, c.acc)
}

// probs computes the probabilities of the candidates sub (nil: all) into
// dst, from the grid stored in g, or node by node when g is nil.
func (c *argmaxCore) probs(dst []float64, sub []int, g *Argmax) {
	size := len(c.mean)
	if sub != nil {
		size = len(sub)
	}
	if len(dst) != size {
		panic(fmt.Sprintf("BUG: models.Argmax.Probs: len(dst)=%d, %d candidates", len(dst), size))
	}
	for j := range dst {
		dst[j] = 0
	}
	switch size {
	case 0:
		return
	case 1:
		dst[0] = 1
		return
	}
	// mark the members: the continuous candidates of sub, with their dst
	// indices; find the winning point mass
	for k := 0; k < c.m; k++ {
		c.in[k], c.out[k], c.acc[k], c.dj[k] = 0, 1, 0, -1
	}
	mm, top, topDst, pm := 0, -1, -1, math.Inf(-1)
	for j := range size {
		i := j
		if sub != nil {
			i = sub[j]
		}
		if k := int(c.pos[i]); k >= 0 {
			c.in[k], c.out[k], c.dj[k] = 1, 0, float64(j)
			mm++
		} else if top < 0 || c.mean[i] > pm || c.mean[i] == pm && i < top {
			top, topDst, pm = i, j, c.mean[i]
		}
	}
	if mm == 0 {
		dst[topDst] = 1
		return
	}
	if top >= 0 {
		dst[topDst] = c.maxCDF(pm)
	}
	switch {
	case pm > c.lo:
		// a point mass above the grid's lower end (sub is not from a
		// slate that shrinks): integrate sub on its own grid
		c.stream(c.lower(pm, argmaxTail, c.thi), c.thi)
	case c.lorProd() >= argmaxTail:
		// without the candidates gone, the maximum may lie below the grid:
		// extend it downwards
		ext := c.lower(pm, argmaxGridTail, c.lo)
		if g != nil && ext < c.lo {
			g.store(ext, c.lo)
			if !g.full {
				c.lo = ext
				c.fillLor()
				c.sum(g, mm)
				break
			}
		}
		c.stream(ext, c.thi)
	case g != nil:
		c.sum(g, mm)
	default:
		c.stream(c.lo, c.thi)
	}
	for k := 0; k < c.m; k++ {
		if c.in[k] != 0 {
			dst[int(c.dj[k])] = c.acc[k]
		}
	}
	var sum float64
	for _, p := range dst {
		sum += p
	}
	if sum > 0 {
		for j := range dst {
			dst[j] /= sum
		}
	}
}

// sum integrates the members over the stored grid. Each node stores the
// product P of Φ over all candidates in play; the members' product is P
// divided by the Φ of the few candidates that are gone (a slate's earlier
// slots), which costs a division or two per node instead of a product
// over all. Every Φ at a node is at least Φ(−K) ≈ 1e-9 for the candidates
// the grid was built for, so the quotient is as exact as the product;
// where a gone candidate's Φ is tiny (a node added below the grid for a
// later slot) the node takes the product over the members instead, as it
// does when more candidates are gone than left.
func (c *argmaxCore) sum(g *Argmax, mm int) {
	gone := c.gone[:0]
	for k := 0; k < c.m; k++ {
		if c.in[k] == 0 {
			gone = append(gone, float64(k))
		}
	}
	direct := len(gone) > mm
	o := 0
	for q, w := range g.w {
		act := g.act[q]
		cdf, h := g.vals[o:o+act], g.vals[o+act:o+2*act]
		o += 2 * act
		p := g.pall[q]
		if direct {
			p = c.product(cdf, act)
		} else {
			for _, d := range gone {
				k := int(d)
				if k >= act {
					break
				}
				if cdf[k] < 1e-200 {
					p = c.product(cdf, act)
					break
				}
				p /= cdf[k]
			}
		}
		c.add(h, w*p)
	}
}

// lorProd returns P(max of the members ≤ lo) from the stored Φ(lo).
func (c *argmaxCore) lorProd() float64 {
	p := 1.0
	for k := 0; k < c.m; k++ {
		p *= c.lor[k]*c.in[k] + c.out[k]
	}
	return p
}

// stream integrates the members over the panels from lo to hi, node by
// node.
func (c *argmaxCore) stream(lo, hi float64) {
	for t, panels := lo, 0; t < hi && panels < argmaxMaxPn; panels++ {
		end, act := c.panel(t, hi)
		if act == 0 {
			break
		}
		mid, r := 0.5*(t+end), 0.5*(end-t)
		for q, x := range glX {
			c.node(c.cdf, c.h, mid+r*x, act)
			c.accumulate(c.cdf, c.h, r*glW[q], act)
		}
		t = end
	}
}
