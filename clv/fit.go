package clv

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// FitInfo is what a maximum-likelihood fit reports besides the estimates.
type FitInfo struct {
	// LogLikelihood is the maximised log-likelihood, summed over customers.
	LogLikelihood float64 `json:"log_likelihood"`
	// Customers is the number of customers fitted on.
	Customers int `json:"customers"`
	// Cov is the estimates' covariance matrix on their natural scale, in
	// the order of the model's parameters: the inverse of the numerical
	// Hessian of the negative log-likelihood in log-parameters, mapped by
	// the delta method (Cov = D H⁻¹ D, D = diag(θ)).
	Cov [][]float64 `json:"cov"`
	// Iterations counts the optimiser's major iterations.
	Iterations int `json:"iterations"`
}

// BGNBDFit is a BG/NBD maximum-likelihood fit: the estimates and their
// standard errors.
type BGNBDFit struct {
	Params BGNBD `json:"params"`
	SE     BGNBD `json:"se"`
	FitInfo
}

// GammaGammaFit is a Gamma-Gamma maximum-likelihood fit: the estimates
// and their standard errors.
type GammaGammaFit struct {
	Params GammaGamma `json:"params"`
	SE     GammaGamma `json:"se"`
	FitInfo
}

// FitBGNBD fits the BG/NBD model to the customers' histories by maximum
// likelihood, with the parameters on log scale (so they stay positive)
// and BFGS on the analytic gradient (gonum optimize), from r = a = b = 1
// and α = mean T (a mean purchase rate of one per customer lifetime).
// Standard errors come from the inverse of the numerical Hessian (gonum
// diff/fd, central differences) of the negative log-likelihood at the
// optimum.
func FitBGNBD(hs []History) (*BGNBDFit, error) {
	if len(hs) == 0 {
		return nil, fmt.Errorf("%w: BG/NBD needs customers", ErrNoCustomers)
	}
	meanT := 0.0
	for _, h := range hs {
		if h.X < 0 || !(h.T >= h.TX) || !(h.TX >= 0) || math.IsInf(h.T, 0) {
			return nil, fmt.Errorf("%w: history %+v: want x ≥ 0 and 0 ≤ t_x ≤ T", ErrInvalidOptions, h)
		}
		meanT += h.T / float64(len(hs))
	}
	ll := func(theta, grad []float64) float64 {
		m := bgnbdOf(theta)
		s := 0.0
		for _, h := range hs {
			s += m.logLik(h, grad)
		}
		return s
	}
	est, info, err := maximize(ll, []float64{1, max(meanT, 1e-3), 1, 1}, len(hs))
	if err != nil {
		return nil, fmt.Errorf("BG/NBD: %w", err)
	}
	return &BGNBDFit{Params: bgnbdOf(est), SE: bgnbdOf(info.se()), FitInfo: info}, nil
}

// FitGammaGamma fits the Gamma-Gamma model by maximum likelihood to the
// customers with a repeat purchase and a positive mean spend (the others
// are skipped: the model describes repeat spend), the same way as
// FitBGNBD, from p = 1, q = 2 and γ = the mean of the mean spends (a
// population mean spend equal to the observed one).
func FitGammaGamma(hs []History) (*GammaGammaFit, error) {
	var use []History
	mean := 0.0
	for _, h := range hs {
		if h.X > 0 && h.MeanSpend > 0 && !math.IsInf(h.MeanSpend, 0) {
			use = append(use, h)
			mean += h.MeanSpend
		}
	}
	if len(use) == 0 {
		return nil, ErrNoRepeatBuyers
	}
	mean /= float64(len(use))
	ll := func(theta, grad []float64) float64 {
		m := gammaGammaOf(theta)
		s := 0.0
		for _, h := range use {
			s += m.logLik(h, grad)
		}
		return s
	}
	est, info, err := maximize(ll, []float64{1, 2, mean}, len(use))
	if err != nil {
		return nil, fmt.Errorf("Gamma-Gamma: %w", err)
	}
	return &GammaGammaFit{Params: gammaGammaOf(est), SE: gammaGammaOf(info.se()), FitInfo: info}, nil
}

func (f FitInfo) se() []float64 {
	out := make([]float64, len(f.Cov))
	for i := range f.Cov {
		out[i] = math.Sqrt(f.Cov[i][i])
	}
	return out
}

// hessianStep is the finite-difference step in log-parameters: central
// differences of central differences have truncation error O(h²) ≈ 1e-6
// relative, and round-off about ε·|ln L|/h² ≈ 2e-12·10⁴/10⁻⁶ = 2e-2 in
// absolute terms on Hessian entries of order n (10³–10⁴): both well
// under the precision a standard error needs.
const hessianStep = 1e-3

// maximize maximises ll(θ) (which adds its gradient to grad when grad is
// not nil) over θ > 0, from theta0, in u = ln θ. It minimises the mean
// negative log-likelihood −ll/n (so the gradient threshold is per
// customer) and returns the estimate and the fit's information.
func maximize(ll func(theta, grad []float64) float64, theta0 []float64, n int) ([]float64, FitInfo, error) {
	k := len(theta0)
	theta := make([]float64, k)
	g := make([]float64, k)
	toTheta := func(u []float64) bool {
		for i, v := range u {
			theta[i] = math.Exp(v)
			if !(theta[i] > 0) || math.IsInf(theta[i], 0) {
				return false
			}
		}
		return true
	}
	scale := 1 / float64(n)
	prob := optimize.Problem{
		Func: func(u []float64) float64 {
			if !toTheta(u) {
				return math.Inf(1)
			}
			v := -ll(theta, nil) * scale
			if math.IsNaN(v) {
				return math.Inf(1)
			}
			return v
		},
		Grad: func(grad, u []float64) {
			if !toTheta(u) {
				for i := range grad {
					grad[i] = math.NaN()
				}
				return
			}
			clear(g)
			ll(theta, g)
			for i := range grad {
				grad[i] = -g[i] * theta[i] * scale
			}
		},
	}
	u0 := make([]float64, k)
	for i, v := range theta0 {
		u0[i] = math.Log(v)
	}
	settings := &optimize.Settings{
		GradientThreshold: 1e-9,
		MajorIterations:   1000,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-14, Relative: 1e-14, Iterations: 50},
	}
	res, err := optimize.Minimize(prob, u0, settings, &optimize.BFGS{})
	var info FitInfo
	if res == nil {
		return nil, info, fmt.Errorf("%w: %v", ErrFit, err)
	}
	// The line search may stop at the optimum with "no progress" before
	// the threshold is met: accept the point if the gradient there is
	// small, and polish it with Nelder-Mead otherwise.
	grad := make([]float64, k)
	prob.Grad(grad, res.X)
	if err != nil || floats.Norm(grad, math.Inf(1)) > 1e-6 {
		res2, _ := optimize.Minimize(prob, res.X, &optimize.Settings{MajorIterations: 5000}, &optimize.NelderMead{})
		if res2 != nil && res2.F <= res.F {
			res = res2
			prob.Grad(grad, res.X)
		}
		if norm := floats.Norm(grad, math.Inf(1)); norm > 1e-5 || math.IsNaN(norm) {
			return nil, info, fmt.Errorf("%w: no convergence (%v; gradient norm %.3g per customer at %v)", ErrFit, err, norm, expAll(res.X))
		}
	}
	est := expAll(res.X)
	info.LogLikelihood = ll(est, nil)
	info.Customers = n
	info.Iterations = res.Stats.MajorIterations

	// Observed information in u = ln θ, from the summed negative
	// log-likelihood; H⁻¹ through Cholesky (which also checks that the
	// optimum is a strict maximum).
	nll := func(u []float64) float64 {
		th := expAll(u)
		return -ll(th, nil)
	}
	var h mat.SymDense
	fd.Hessian(&h, nll, res.X, &fd.Settings{Formula: fd.Central, Step: hessianStep})
	var chol mat.Cholesky
	if ok := chol.Factorize(&h); !ok {
		return nil, info, fmt.Errorf("%w: the Hessian at %v is not positive definite (no standard errors)", ErrFit, est)
	}
	var inv mat.SymDense
	if err := chol.InverseTo(&inv); err != nil {
		return nil, info, fmt.Errorf("%w: cannot invert the Hessian at %v: %v", ErrFit, est, err)
	}
	info.Cov = make([][]float64, k)
	for i := range k {
		info.Cov[i] = make([]float64, k)
		for j := range k {
			info.Cov[i][j] = est[i] * inv.At(i, j) * est[j]
		}
	}
	return est, info, nil
}

func expAll(u []float64) []float64 {
	out := make([]float64, len(u))
	for i, v := range u {
		out[i] = math.Exp(v)
	}
	return out
}
