package clv

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// BGNBD holds the parameters of the beta-geometric/NBD model (Fader,
// Hardie & Lee 2005, "Counting your customers the easy way"). While
// alive, a customer buys at Poisson rate λ, λ ~ Gamma(shape R, rate
// Alpha) across customers; after each repeat purchase the customer drops
// out for good with probability p, p ~ Beta(A, B). Alpha is in the time
// unit of the data (weeks for Summarize's default).
type BGNBD struct {
	R     float64 `json:"r"`
	Alpha float64 `json:"alpha"`
	A     float64 `json:"a"`
	B     float64 `json:"b"`
}

func (m BGNBD) vector() []float64 { return []float64{m.R, m.Alpha, m.A, m.B} }

func bgnbdOf(v []float64) BGNBD { return BGNBD{v[0], v[1], v[2], v[3]} }

// Validate returns an error wrapping ErrInvalidModel unless every
// parameter is positive and finite and A ≠ 1 (the expectations divide by
// A − 1).
func (m BGNBD) Validate() error {
	for _, v := range m.vector() {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: BG/NBD %+v", ErrInvalidModel, m)
		}
	}
	if m.A == 1 {
		return fmt.Errorf("%w: BG/NBD a = 1", ErrInvalidModel)
	}
	return nil
}

// LogLikelihood returns the log-likelihood of one customer's (x, t_x, T)
// (FHL 2005, eq. 6, in logs):
//
//	ln L = A1 + A2 + ln(exp(A3) + [x > 0] exp(A4))
//	A1 = lnΓ(r+x) − lnΓ(r) + r ln α
//	A2 = lnΓ(a+b) + lnΓ(b+x) − lnΓ(b) − lnΓ(a+b+x)
//	A3 = −(r+x) ln(α+T)
//	A4 = ln a − ln(b+x−1) − (r+x) ln(α+t_x)
func (m BGNBD) LogLikelihood(h History) float64 {
	return m.logLik(h, nil)
}

// logLik returns the log-likelihood of h and, when grad is not nil, adds
// its gradient with respect to (r, α, a, b) to grad.
func (m BGNBD) logLik(h History, grad []float64) float64 {
	r, alpha, a, b := m.R, m.Alpha, m.A, m.B
	x := float64(h.X)
	a1 := lgamma(r+x) - lgamma(r) + r*math.Log(alpha)
	a2 := lgamma(a+b) + lgamma(b+x) - lgamma(b) - lgamma(a+b+x)
	a3 := -(r + x) * math.Log(alpha+h.T)
	ll, w3, w4 := a3, 1.0, 0.0
	var a4 float64
	if h.X > 0 {
		a4 = math.Log(a) - math.Log(b+x-1) - (r+x)*math.Log(alpha+h.TX)
		mx := max(a3, a4)
		e3, e4 := math.Exp(a3-mx), math.Exp(a4-mx)
		ll = mx + math.Log(e3+e4)
		w3, w4 = e3/(e3+e4), e4/(e3+e4)
	}
	if grad != nil {
		psiAB, psiABX := mathext.Digamma(a+b), mathext.Digamma(a+b+x)
		grad[0] += mathext.Digamma(r+x) - mathext.Digamma(r) + math.Log(alpha) -
			w3*math.Log(alpha+h.T) - w4*math.Log(alpha+h.TX)
		grad[1] += r/alpha - w3*(r+x)/(alpha+h.T) - w4*(r+x)/(alpha+h.TX)
		grad[2] += psiAB - psiABX + w4/a
		grad[3] += psiAB + mathext.Digamma(b+x) - mathext.Digamma(b) - psiABX
		if h.X > 0 {
			grad[3] -= w4 / (b + x - 1)
		}
	}
	return a1 + a2 + ll
}

// ExpectedPurchases returns E[X(t)], the expected number of repeat
// purchases of a new customer in the first t time units after the first
// purchase (FHL 2005, eq. 9):
//
//	E[X(t)] = (a+b−1)/(a−1) · [1 − (α/(α+t))^r · ₂F₁(r, b; a+b−1; t/(α+t))]
func (m BGNBD) ExpectedPurchases(t float64) float64 {
	if t <= 0 {
		return 0
	}
	r, alpha, a, b := m.R, m.Alpha, m.A, m.B
	z := t / (alpha + t)
	// (1−z)^r ₂F₁(r, b; a+b−1; z)
	term := hyp2f1Scaled(r, b, a+b-1, z, r)
	return (a + b - 1) / (a - 1) * (1 - term)
}

// ConditionalExpectedPurchases returns E[Y(t) | x, t_x, T], the expected
// number of purchases of a customer with history h in the next t time
// units after the end of the calibration period (FHL 2005, eq. 10):
//
//	E[Y(t) | x, t_x, T] = (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))]
//	                      / (1 + [x > 0] · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))
func (m BGNBD) ConditionalExpectedPurchases(t float64, h History) float64 {
	if t <= 0 {
		return 0
	}
	r, alpha, a, b := m.R, m.Alpha, m.A, m.B
	x := float64(h.X)
	z := t / (alpha + h.T + t)
	term := hyp2f1Scaled(r+x, b+x, a+b+x-1, z, r+x)
	num := (a + b + x - 1) / (a - 1) * (1 - term)
	return num * m.PAlive(h)
}

// PAlive returns P(alive | x, t_x, T), the probability that a customer
// with history h has not dropped out by the end of the calibration
// period (Fader, Hardie & Lee 2008, note 021):
//
//	P(alive) = 1 / (1 + [x > 0] · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))
//
// It is 1 for x = 0: in the BG/NBD a customer can drop out only right
// after a repeat purchase.
func (m BGNBD) PAlive(h History) float64 {
	if h.X == 0 {
		return 1
	}
	x := float64(h.X)
	logOdds := math.Log(m.A/(m.B+x-1)) + (m.R+x)*math.Log((m.Alpha+h.T)/(m.Alpha+h.TX))
	return 1 / (1 + math.Exp(logOdds))
}

// hyp2f1Scaled returns (1−z)^e · ₂F₁(a, b; c; z) for 0 ≤ z < 1. It uses
// Euler's transformation ₂F₁(a, b; c; z) = (1−z)^(c−a−b) ₂F₁(c−a, c−b; c; z)
// first: in the BG/NBD expectations c−a = a+b−1−r and c−b = a−1 do not
// grow with x while c does, so its series stays short and tame where the
// direct one overflows (x in the hundreds). The powers of (1−z) are
// combined in logs. The direct series is the fallback.
func hyp2f1Scaled(a, b, c, z, e float64) float64 {
	g := mathext.Hypergeo(c-a, c-b, c, z)
	if !math.IsNaN(g) && !math.IsInf(g, 0) {
		return math.Exp((e+c-a-b)*math.Log1p(-z)) * g
	}
	return math.Pow(1-z, e) * mathext.Hypergeo(a, b, c, z)
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}
