//go:build amd64 && !purego

package vec

import "math"

// normConst is the read-only constant table of normHazardAVX, each entry
// four times (one YMM register), in the order the assembly addresses
// them: |·| mask, −½, the exponent floor −708, log₂e, the rounding shift
// 1.5·2⁵² and its bits less the exponent bias, ln 2 in two parts, the
// Taylor coefficients 1/11! … 1/0! of exp, Hart's P (degree 6 first) and
// Q (degree 7 first), 1, and the floor 1e-300 of the hazard's divisor.
var normConst = func() (c [37][4]float64) {
	const shift = 6755399441055744.0 // adding it rounds to an integer
	v := []float64{
		math.Float64frombits(1<<63 - 1), -0.5, -708, math.Log2E,
		shift, math.Float64frombits(math.Float64bits(shift) - 1023),
		6.93147180369123816490e-01, 1.90821492927058770002e-10,
	}
	f := 1.0
	e := make([]float64, 12)
	for k := range e {
		e[11-k] = 1 / f
		f *= float64(k + 1)
	}
	v = append(v, e...)
	for k := 6; k >= 0; k-- {
		v = append(v, hartP[k])
	}
	for k := 7; k >= 0; k-- {
		v = append(v, hartQ[k])
	}
	v = append(v, 1, 1e-300)
	for i, x := range v {
		c[i] = [4]float64{x, x, x, x}
	}
	return c
}()

//go:noescape
func normHazardAVX(cdf, h, mu, isig *float64, t float64, n int, c *[37][4]float64)

func normHazardAsm(cdf, h, mu, isig []float64, t float64) {
	normHazardAVX(&cdf[0], &h[0], &mu[0], &isig[0], t, len(mu), &normConst)
}
