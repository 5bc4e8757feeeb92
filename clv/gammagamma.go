package clv

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// GammaGamma holds the parameters of the Gamma-Gamma model of spend per
// purchase (Colombo & Jiang 1999; Fader, Hardie & Lee 2005, "RFM and
// CLV"; Fader & Hardie 2013, note 025). A customer's purchase amounts are
// Gamma(shape P, rate ν), ν ~ Gamma(shape Q, rate Gamma) across
// customers, independent of how often the customer buys. Gamma is in
// currency units.
type GammaGamma struct {
	P     float64 `json:"p"`
	Q     float64 `json:"q"`
	Gamma float64 `json:"gamma"`
}

func (m GammaGamma) vector() []float64 { return []float64{m.P, m.Q, m.Gamma} }

func gammaGammaOf(v []float64) GammaGamma { return GammaGamma{v[0], v[1], v[2]} }

// Validate returns an error wrapping ErrInvalidModel unless every
// parameter is positive and finite and Q > 1 (the mean spend is finite).
func (m GammaGamma) Validate() error {
	for _, v := range m.vector() {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: Gamma-Gamma %+v", ErrInvalidModel, m)
		}
	}
	if m.Q <= 1 {
		return fmt.Errorf("%w: Gamma-Gamma q = %g ≤ 1: the mean spend is infinite", ErrInvalidModel, m.Q)
	}
	return nil
}

// LogLikelihood returns the log-likelihood of a repeat buyer's mean spend
// z̄ over x purchases (Fader & Hardie 2013, eq. 3, in logs; x > 0, z̄ > 0):
//
//	ln f(z̄ | x) = lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln γ + (px−1) ln z̄ + px ln x − (px+q) ln(γ + x z̄)
func (m GammaGamma) LogLikelihood(h History) float64 { return m.logLik(h, nil) }

func (m GammaGamma) logLik(h History, grad []float64) float64 {
	p, q, g := m.P, m.Q, m.Gamma
	x, z := float64(h.X), h.MeanSpend
	px := p * x
	lgz := math.Log(g + x*z)
	ll := lgamma(px+q) - lgamma(px) - lgamma(q) + q*math.Log(g) + (px-1)*math.Log(z) + px*math.Log(x) - (px+q)*lgz
	if grad != nil {
		psi := mathext.Digamma(px + q)
		grad[0] += x * (psi - mathext.Digamma(px) + math.Log(z) + math.Log(x) - lgz)
		grad[1] += psi - mathext.Digamma(q) + math.Log(g) - lgz
		grad[2] += q/g - (px+q)/(g+x*z)
	}
	return ll
}

// MeanSpend returns the population mean spend per purchase, pγ/(q−1):
// the expected spend of a customer with no repeat purchase yet.
func (m GammaGamma) MeanSpend() float64 { return m.P * m.Gamma / (m.Q - 1) }

// ConditionalMeanSpend returns E[Z | x, z̄], the expected spend per
// purchase of a customer with history h (Fader & Hardie 2013, eq. 5):
//
//	E[Z | x, z̄] = p(γ + x z̄) / (px + q − 1)
//	            = (q−1)/(px+q−1) · pγ/(q−1) + px/(px+q−1) · z̄
//
// a weighted mean of the population mean and the customer's own mean,
// the customer's weight growing with x. For x = 0 it is the population
// mean.
func (m GammaGamma) ConditionalMeanSpend(h History) float64 {
	x := float64(h.X)
	return m.P * (m.Gamma + x*h.MeanSpend) / (m.P*x + m.Q - 1)
}
