// Package vec holds the float64 kernels on the decision hot path: a dot
// product, an axpy, the quadratic form xᵀWx over an upper-triangular W,
// and the normal CDF and reverse hazard of a batch of Gaussians (the
// integrand of Thompson sampling's propensities).
//
// On amd64 with AVX2 and FMA they run in assembly; elsewhere (or with the
// purego build tag) in portable Go with four accumulators. Both paths are
// tested to agree. Results may differ in the last bits between the two
// paths (fused versus separate multiply-add, different summation order).
package vec

// Dot returns Σ a[i]·b[i] over i < len(a). b must be at least as long as a.
func Dot(a, b []float64) float64 {
	if len(b) < len(a) {
		panic("BUG: vec.Dot: len(b) < len(a)")
	}
	if len(a) == 0 {
		return 0
	}
	return dot(a, b[:len(a)])
}

// Axpy sets y[i] += alpha·x[i] for i < len(x). y must be at least as long as x.
func Axpy(alpha float64, x, y []float64) {
	if len(y) < len(x) {
		panic("BUG: vec.Axpy: len(y) < len(x)")
	}
	if len(x) == 0 {
		return
	}
	axpy(alpha, x, y[:len(x)])
}

// QuadUpper returns Σ_i x[i] · Σ_{j ≥ i&^3} w[i·d+j]·x[j] with d = len(x):
// the quadratic form xᵀWx for a d×d row-major W whose entries below the
// diagonal are zero. Row i is read from column i&^3 so that the assembly
// kernel works on aligned groups of four; w[i·d+j] for i&^3 ≤ j < i must
// therefore be zero. Store a symmetric S as W[i][i] = S[i][i] and
// W[i][j] = 2·S[i][j] for j > i to get xᵀSx at half the work.
func QuadUpper(w, x []float64) float64 {
	d := len(x)
	if len(w) < d*d {
		panic("BUG: vec.QuadUpper: len(w) < len(x)²")
	}
	if d == 0 {
		return 0
	}
	return quadUpper(w[:d*d], x)
}

func dotGeneric(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpyGeneric(alpha float64, x, y []float64) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func quadUpperGeneric(w, x []float64) float64 {
	d := len(x)
	var s float64
	for i := 0; i < d; i++ {
		st := i &^ 3
		s += x[i] * dotGeneric(w[i*d+st:(i+1)*d], x[st:])
	}
	return s
}
