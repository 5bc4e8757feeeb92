package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestNormCDF(t *testing.T) {
	// Against the standard library's erfc (itself accurate to ~1 ulp) on a
	// fine scan of [−40, 40]: Hart's rational is a double-precision
	// approximation, so the absolute error is a few ulps of 1.
	var worst float64
	for z := -40.0; z <= 40; z += 1e-3 {
		got, e := NormCDF(z)
		want := 0.5 * math.Erfc(-z/math.Sqrt2)
		worst = max(worst, math.Abs(got-want))
		if math.Abs(got-want) > 1e-15 {
			t.Fatalf("Φ(%v) = %v, erfc gives %v", z, got, want)
		}
		if e != math.Exp(-0.5*z*z) {
			t.Fatalf("e(%v) = %v", z, e)
		}
	}
	t.Logf("largest |Φ − erfc| = %.3g", worst)
}

func TestNormHazardPathsAgree(t *testing.T) {
	if !useAsm {
		t.Log("assembly kernels not in use on this machine; testing the portable path only")
	}
	// The assembly has its own exponential (relative error < 1e-14) and
	// fuses multiply-adds; both paths must agree with NormCDF to 1e-14 in
	// Φ (absolute) and 1e-13 in h (relative), at every length (the tail
	// beyond a multiple of four runs in Go) and far into both tails,
	// where e^{−z²/2} underflows (beyond |z| = 37.6 both paths take what
	// would be subnormal as 0) and h must be finite, not NaN.
	r := rand.New(rand.NewPCG(1, 1))
	for n := 0; n <= 41; n++ {
		mu, isig := make([]float64, n), make([]float64, n)
		for k := range mu {
			mu[k] = r.NormFloat64()
			isig[k] = math.Exp(2 * r.NormFloat64())
		}
		cdf, h := make([]float64, n), make([]float64, n)
		for _, tt := range []float64{-100, -3, -0.5, 0, 0.7, 2, 6, 50} {
			NormHazard(cdf, h, mu, isig, tt)
			for k := range mu {
				z := (tt - mu[k]) * isig[k]
				f, e := NormCDF(z)
				wantH := e * isig[k] / max(f, 1e-300)
				if f < 1e-290 {
					wantH = h[k] // where Φ is this small the floors differ; finiteness is checked below
				}
				if z*z > normFlush {
					f, wantH = 0, 0
					if z > 0 {
						f = 1
					}
				}
				if math.Abs(cdf[k]-f) > 1e-14 || math.Abs(h[k]-wantH) > 1e-13*wantH+1e-300 || math.IsNaN(h[k]) || math.IsInf(h[k], 0) {
					t.Fatalf("n=%d t=%v k=%d z=%v: Φ %v h %v, NormCDF gives %v %v", n, tt, k, z, cdf[k], h[k], f, wantH)
				}
			}
		}
	}
}

func BenchmarkNormHazard20(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	mu, isig, cdf, h := make([]float64, 20), make([]float64, 20), make([]float64, 20), make([]float64, 20)
	for k := range mu {
		mu[k], isig[k] = r.NormFloat64(), 1+r.Float64()
	}
	b.ReportAllocs()
	for b.Loop() {
		NormHazard(cdf, h, mu, isig, 0.3)
	}
}
