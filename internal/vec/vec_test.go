package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The assembly and the portable kernels sum in different orders and the
// assembly fuses multiply and add, so they agree to a few ulps of the sum of
// absolute products: 1e-14 relative to Σ|aᵢbᵢ| is ~45 ulps, far above the
// n·ε ≈ 1e-14 bound for n ≤ 70 only in the worst case; typical is 1e-16.
const relTol = 1e-13

func randVec(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

func TestKernelsAgree(t *testing.T) {
	if !useAsm {
		t.Log("assembly kernels not in use on this machine; testing the portable path only")
	}
	r := rand.New(rand.NewPCG(1, 1))
	for n := 0; n <= 70; n++ {
		a, b := randVec(r, n), randVec(r, n)
		var scale float64
		for i := range a {
			scale += math.Abs(a[i] * b[i])
		}
		if got, want := Dot(a, b), dotGeneric(a, b); math.Abs(got-want) > relTol*scale+1e-300 {
			t.Errorf("Dot n=%d: %v, portable %v", n, got, want)
		}
		y1, y2 := randVec(r, n), make([]float64, n)
		copy(y2, y1)
		Axpy(0.37, a, y1)
		axpyGeneric(0.37, a, y2)
		for i := range y1 {
			if math.Abs(y1[i]-y2[i]) > 1e-15*(math.Abs(y2[i])+1) {
				t.Errorf("Axpy n=%d i=%d: %v, portable %v", n, i, y1[i], y2[i])
			}
		}
		// W upper triangular with zeros below the diagonal.
		w := make([]float64, n*n)
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				w[i*n+j] = r.NormFloat64()
			}
		}
		var want, qscale float64
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				want += a[i] * w[i*n+j] * a[j]
				qscale += math.Abs(a[i] * w[i*n+j] * a[j])
			}
		}
		if got := QuadUpper(w, a); math.Abs(got-want) > relTol*qscale+1e-300 {
			t.Errorf("QuadUpper n=%d: %v, want %v", n, got, want)
		}
		if got := quadUpperGeneric(w, a); math.Abs(got-want) > relTol*qscale+1e-300 {
			t.Errorf("quadUpperGeneric n=%d: %v, want %v", n, got, want)
		}
	}
}

func BenchmarkQuadUpper64(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := randVec(r, 64)
	w := randVec(r, 64*64)
	for i := 0; i < 64; i++ {
		for j := 0; j < i; j++ {
			w[i*64+j] = 0
		}
	}
	b.Run("asm", func(b *testing.B) {
		for b.Loop() {
			QuadUpper(w, x)
		}
	})
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			quadUpperGeneric(w, x)
		}
	})
}

func BenchmarkDot64(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, y := randVec(r, 64), randVec(r, 64)
	b.Run("asm", func(b *testing.B) {
		for b.Loop() {
			Dot(x, y)
		}
	})
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			dotGeneric(x, y)
		}
	})
}
