package models

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/integrate/quad"
)

// Quadrature parameters of ArgmaxProbs; see ArgmaxProbs and doc.go for
// why they give an absolute error below 1e-9.
const (
	argmaxK     = 7.5   // a candidate is negligible beyond μ ± Kσ: Φ(−7.5) = 3.2e-14
	argmaxTail  = 1e-13 // left cut: P(max ≤ t) below this is dropped
	argmaxH     = 2.0   // panel width in units of the smallest std still in play
	argmaxNodes = 16    // Gauss–Legendre nodes per panel
	argmaxMaxPn = 1 << 16
	invSqrt2Pi  = 0.3989422804014327
)

// glX, glW are the read-only Gauss–Legendre nodes and weights on [−1, 1].
var glX, glW = legendre(argmaxNodes)

func legendre(n int) (x, w []float64) {
	x, w = make([]float64, n), make([]float64, n)
	quad.Legendre{}.FixedLocations(x, w, -1, 1)
	return x, w
}

// ArgmaxScratchLen returns the length of scratch with which ArgmaxProbs
// over n candidates does not allocate.
func ArgmaxScratchLen(n int) int { return 8 * n }

func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z*(1/math.Sqrt2)) }

// ArgmaxProbs writes into dst[i] the probability that candidate i has the
// largest value when the values are independent N(mean[i], std[i]²): the
// exact slot propensity of Thompson sampling with independent per-candidate
// posteriors, p_i = ∫ φ_i(t) Π_{j≠i} Φ((t−μ_j)/σ_j) dt.
//
// std[i] == 0 is a point mass at mean[i]; equal values are won by the lowest
// index, as a sampler that ranks by value with a stable sort does. One
// candidate gets 1. The result sums to 1 (it is normalised; before
// normalisation the sum is 1 within the quadrature error).
//
// Method: all p_i are integrated together on one grid. The integral runs
// over [T₀, T₁] with T₁ = max_j μ_j+7.5σ_j and T₀ the largest of
// max_j μ_j−7.5σ_j, the largest point mass and the point where
// P(max ≤ t) < 1e-13 (found by bisection); what lies outside has mass below
// 1e-12 in total. Candidates with μ_j+7.5σ_j < T₀ cannot win (p = 0, Φ = 1
// on the grid). [T₀, T₁] is cut into panels no wider than twice the smallest σ
// of the candidates still in play there, each integrated by 16-point
// Gauss–Legendre: every factor of the integrand is analytic and varies on a
// scale of at least its σ, so the panel error is far below 1e-12; the tests
// compare against a 4× finer rule and against Monte Carlo.
//
// len(dst) and len(std) must equal len(mean). With len(scratch) ≥
// ArgmaxScratchLen(len(mean)) it does not allocate. Non-finite means or
// negative or non-finite stds give unspecified (but finite-time) results.
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
	for i := range dst {
		dst[i] = 0
	}
	// Point masses: only the largest (lowest index on ties) can win.
	top, pm := -1, math.Inf(-1)
	tlo, thi := math.Inf(-1), math.Inf(-1)
	for i, s := range std {
		if s == 0 {
			if top < 0 || mean[i] > pm {
				top, pm = i, mean[i]
			}
			continue
		}
		tlo = max(tlo, mean[i]-argmaxK*s)
		thi = max(thi, mean[i]+argmaxK*s)
	}
	if top >= 0 {
		tlo = max(tlo, pm)
	}
	// Active continuous candidates: those that can exceed T₀.
	idx, mu, sig := scratch[0:n], scratch[n:2*n], scratch[2*n:3*n]
	hi, cdf, pdf := scratch[3*n:4*n], scratch[4*n:5*n], scratch[5*n:6*n]
	pre, acc := scratch[6*n:7*n], scratch[7*n:8*n]
	m := 0
	for i, s := range std {
		if s != 0 && mean[i]+argmaxK*s > tlo {
			idx[m], mu[m], sig[m], hi[m], acc[m] = float64(i), mean[i], s, mean[i]+argmaxK*s, 0
			m++
		}
	}
	if m == 0 {
		dst[top] = 1
		return
	}
	if top >= 0 {
		p := 1.0
		for k := 0; k < m; k++ {
			p *= normCDF((pm - mu[k]) / sig[k])
		}
		dst[top] = p
	}
	// Raise T₀ while P(max ≤ T₀) stays below argmaxTail (point mass
	// excluded: for t > its value it is below t).
	if f := maxCDF(tlo, mu[:m], sig[:m]); f < argmaxTail {
		a, b := tlo, thi
		for it := 0; it < 30 && b-a > 1e-3*(thi-tlo); it++ {
			c := 0.5 * (a + b)
			if maxCDF(c, mu[:m], sig[:m]) < argmaxTail {
				a = c
			} else {
				b = c
			}
		}
		tlo = a
	}
	t := tlo
	for panels := 0; t < thi && panels < argmaxMaxPn; panels++ {
		s := math.Inf(1)
		for k := 0; k < m; k++ {
			if hi[k] > t {
				s = min(s, sig[k])
			}
		}
		end := min(t+argmaxH*s, thi)
		if !(end > t) {
			end = math.Nextafter(t, math.Inf(1))
		}
		c, r := 0.5*(t+end), 0.5*(end-t)
		for q, xq := range glX {
			tq := c + r*xq
			wq := r * glW[q] * invSqrt2Pi
			for k := 0; k < m; k++ {
				if tq > hi[k] {
					cdf[k], pdf[k] = 1, 0
					continue
				}
				z := (tq - mu[k]) / sig[k]
				cdf[k] = normCDF(z)
				pdf[k] = math.Exp(-0.5*z*z) / sig[k]
			}
			p := 1.0
			for k := 0; k < m; k++ {
				pre[k] = p
				p *= cdf[k]
			}
			p = wq
			for k := m - 1; k >= 0; k-- {
				acc[k] += pdf[k] * pre[k] * p
				p *= cdf[k]
			}
		}
		t = end
	}
	for k := 0; k < m; k++ {
		dst[int(idx[k])] = acc[k]
	}
	var sum float64
	for _, p := range dst {
		sum += p
	}
	if sum > 0 {
		for i := range dst {
			dst[i] /= sum
		}
	}
}

// maxCDF returns P(max_k X_k ≤ t) for independent X_k ~ N(mu[k], sig[k]²).
func maxCDF(t float64, mu, sig []float64) float64 {
	p := 1.0
	for k := range mu {
		p *= normCDF((t - mu[k]) / sig[k])
	}
	return p
}
