package vec

import "math"

// NormCDF returns Φ(z), the standard normal CDF, and e^{−z²/2}, with one
// exponential: Hart's (1968) rational approximation 5666 as given by West
// (2005), "Better approximations to cumulative normal functions", used at
// every z (West switches to a continued fraction beyond |z| = 7.07, where
// Φ is within 1e-12 of 0 or 1 and the rational's absolute error stays as
// small). The absolute error of Φ against math.Erfc is below 1e-15 on
// [−40, 40] (TestNormCDF).
func NormCDF(z float64) (cdf, e float64) {
	e = math.Exp(-0.5 * z * z)
	num, den := hart(math.Abs(z))
	cdf = e * num / den
	if z > 0 {
		cdf = 1 - cdf
	}
	return cdf, e
}

// hart returns Hart's P(a) and Q(a).
func hart(a float64) (num, den float64) {
	num = ((((((hartP[6]*a+hartP[5])*a+hartP[4])*a+hartP[3])*a+hartP[2])*a+hartP[1])*a + hartP[0])
	den = (((((((hartQ[7]*a+hartQ[6])*a+hartQ[5])*a+hartQ[4])*a+hartQ[3])*a+hartQ[2])*a+hartQ[1])*a + hartQ[0])
	return num, den
}

// hartP, hartQ are the read-only coefficients of Hart's rational, lowest
// degree first: Φ(−|z|) = e^{−z²/2}·P(|z|)/Q(|z|).
var (
	hartP = [7]float64{220.206867912376, 221.213596169931, 112.079291497871, 33.912866078383, 6.37396220353165, 0.700383064443688, 3.52624965998911e-02}
	hartQ = [8]float64{440.413735824752, 793.826512519948, 637.333633378831, 296.564248779674, 86.7807322029461, 16.064177579207, 1.75566716318264, 8.83883476483184e-02}
)

// NormHazard sets, for each k < len(mu), with z = (t − mu[k])·isig[k]:
// cdf[k] = Φ(z) and h[k] = e^{−z²/2}·isig[k]/Φ(z), the reverse hazard of
// N(mu[k], 1/isig[k]²) at t times √(2π), with one division for both
// (Φ = N/Q with Hart's Q; h divides by max(N, 1e-300)/Q, so it stays
// finite where Φ is below ~1e-303). Beyond
// |z| = √1416 ≈ 37.6, where e^{−z²/2} would be subnormal, it is taken as
// 0: Φ is 0 or 1 and h is 0. cdf, h and isig must be at least as long as
// mu. It is NormCDF for a batch: on amd64 with AVX2 and FMA four at a
// time in assembly (the last one to three padded to four) (with its own exponential, relative error below
// 1e-14), so the two paths agree to ~1e-15.
func NormHazard(cdf, h, mu, isig []float64, t float64) {
	n := len(mu)
	if len(cdf) < n || len(h) < n || len(isig) < n {
		panic("BUG: vec.NormHazard: a slice is shorter than mu")
	}
	if !useAsm {
		normHazardGeneric(cdf[:n], h[:n], mu, isig[:n], t)
		return
	}
	k := n &^ 3
	if k > 0 {
		normHazardAsm(cdf[:k], h[:k], mu[:k], isig[:k], t)
	}
	if k < n { // the last one to three, padded to four lanes
		var c4, h4, m4, s4 [4]float64
		copy(m4[:], mu[k:n])
		copy(s4[:], isig[k:n])
		normHazardAsm(c4[:], h4[:], m4[:], s4[:], t)
		copy(cdf[k:n], c4[:])
		copy(h[k:n], h4[:])
	}
}

// normFlush is the z² beyond which NormHazard takes e^{−z²/2} as 0 (the
// assembly's exponential stops at −708).
const normFlush = 1416

func normHazardGeneric(cdf, h, mu, isig []float64, t float64) {
	cdf, h, isig = cdf[:len(mu)], h[:len(mu)], isig[:len(mu)]
	for k, m := range mu {
		z := (t - m) * isig[k]
		if z*z > normFlush {
			cdf[k], h[k] = 0, 0
			if z > 0 {
				cdf[k] = 1
			}
			continue
		}
		e := math.Exp(-0.5 * z * z)
		num, den := hart(math.Abs(z))
		n := e * num // Φ·Q
		if z > 0 {
			n = den - n
		}
		n1 := max(n, 1e-300)
		inv := 1 / (den * n1)
		cdf[k] = n * n1 * inv
		h[k] = e * isig[k] * den * den * inv
	}
}
