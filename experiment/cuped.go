package experiment

import "math"

// CUPED is a comparison adjusted for the customers' pre-period covariate
// (Deng, Xu, Kohavi & Walker 2013, "Improving the sensitivity of online
// controlled experiments by utilizing pre-experiment data"), for metrics
// that are means per decision with customers as clusters.
//
// Per arm, with K customers, N̄ decisions per customer and mean m = Y/N,
// the delta method makes m̂ the mean over customers of the linearised
// L_c = (Y_c − m·N_c)/N̄ (Deng et al. 2018). With X_c the customer's
// covariate,
//
//	Cov(m̂, X̄) = Σ_c L_c X_c / (K(K−1)) = (XY − m·XN) / (N̄·K(K−1))
//	Var(X̄)    = (XX − X²/K) / (K(K−1))
//
// (Σ_c L_c = 0 by the definition of m). The adjusted lift is
//
//	Δ_cv = (m_t − m_c) − θ·(X̄_t − X̄_c),  θ = (Cov_t + Cov_c)/(VarX̄_t + VarX̄_c),
//
// θ pooled over the two arms (randomisation makes E[X̄_t − X̄_c] = 0, so
// Δ_cv is unbiased for any fixed θ, and this θ minimises its variance):
//
//	Var(Δ_cv) = Var(Δ) − (Cov_t + Cov_c)² / (VarX̄_t + VarX̄_c).
//
// Estimating θ from the same data costs O(1/K) in the variance; the
// coverage test measures it.
type CUPED struct {
	// Covariate is the experiment's covariate (a profile input).
	Covariate string `json:"covariate"`
	// Theta is the pooled regression coefficient of the arm means on the
	// covariate means.
	Theta float64 `json:"theta"`
	// Absolute is the adjusted lift, arm − control, with its normal
	// interval at the result's Level.
	Absolute Interval `json:"absolute_lift"`
	// VarianceReduction is 1 − Var(Δ_cv)/Var(Δ): the share of the lift's
	// variance the covariate removed (ρ² of metric and covariate, in the
	// limit). The unadjusted comparison needs 1/(1 − VarianceReduction)
	// times the customers for the same precision.
	VarianceReduction float64 `json:"variance_reduction"`
}

// cupedLift returns the CUPED-adjusted lift of t over c on metric m, its
// variance and θ. ok is false when an arm has fewer than 2 customers or
// the covariate does not vary (then there is nothing to adjust with).
func cupedLift(c, t *Sums, m int) (d, v, theta float64, ok bool) {
	type arm struct{ mean, xbar, v, cov, vx float64 }
	of := func(s *Sums) (arm, bool) {
		if s.Customers < 2 || s.Decisions == 0 {
			return arm{}, false
		}
		k := float64(s.Customers)
		nbar := float64(s.Decisions) / k
		mean := s.Y[m] / float64(s.Decisions)
		ss := s.YY[m] - 2*mean*s.YN[m] + mean*mean*s.NN
		return arm{
			mean: mean,
			xbar: s.X / k,
			v:    max(0, ss) / (k * (k - 1) * nbar * nbar),
			cov:  (s.XY[m] - mean*s.XN) / (nbar * k * (k - 1)),
			vx:   max(0, s.XX-s.X*s.X/k) / (k * (k - 1)),
		}, true
	}
	ac, okc := of(c)
	at, okt := of(t)
	vx := ac.vx + at.vx
	if !okc || !okt || !(vx > 0) {
		return 0, 0, 0, false
	}
	cov := ac.cov + at.cov
	theta = cov / vx
	d = (at.mean - ac.mean) - theta*(at.xbar-ac.xbar)
	v = max(0, ac.v+at.v-cov*cov/vx)
	return d, v, theta, true
}

// cupedOf returns the CUPED block of a comparison of t against c on
// metric m at level, or nil when there is no covariate to adjust with.
func cupedOf(covariate string, c, t *Sums, m int, level float64) *CUPED {
	if covariate == "" {
		return nil
	}
	d, v, theta, ok := cupedLift(c, t, m)
	if !ok {
		return nil
	}
	sc, st := c.summary(m), t.summary(m)
	v0 := sc.SE*sc.SE + st.SE*st.SE
	h := zQuantile(level) * math.Sqrt(v)
	out := &CUPED{Covariate: covariate, Theta: theta,
		Absolute: Interval{Estimate: d, Lo: d - h, Hi: d + h, Level: level, Method: "CUPED (pooled θ), normal"}}
	if v0 > 0 {
		out.VarianceReduction = 1 - v/v0
	}
	return out
}
