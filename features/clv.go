package features

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"nextbest/clv"
)

// Customer lifetime value in the profile.
//
// A spec with profile.clv names the purchase event and its amount
// property; the profile then keeps the customer's purchase history in
// the form the BG/NBD and Gamma-Gamma models read (PurchaseSummary,
// updated by ApplyEvent: so it is journaled, exact and rebuilt with the
// rest of the profile). The fitted models (`nextbest clv fit`) are given
// to the running service (SetCLVModel); a profile's figures — expected
// purchases and revenue over the horizon, probability alive — are then
// computed from its history, the models and the decision day, and kept
// until the history, the day or the models change (a new purchase, a
// refit): the first decision of a customer in a day pays for the
// computation (about 13 µs), the others read the kept figures. They are
// sources of the vector (profile.clv.value, .p_alive,
// .expected_purchases, .repeat_purchases), fields of the eligibility
// rules (profile.clv.*) and, where an action asks for it, its value in
// the arbitration (decide.Action.CLVUplift).

// PurchaseSummary is a customer's purchase history, as BG/NBD and
// Gamma-Gamma read it (clv.History): purchases on one day count once,
// their amounts summed; days are UTC days since 1970.
type PurchaseSummary struct {
	FirstDay int32 `json:"first_day"`
	LastDay  int32 `json:"last_day"`
	// RepeatDays counts the purchase days after the first; RepeatSpend
	// sums their amounts, FirstSpend the first day's.
	RepeatDays  int     `json:"repeat_days"`
	FirstSpend  float64 `json:"first_spend"`
	RepeatSpend float64 `json:"repeat_spend"`
}

// dayOf is t's UTC day number.
func dayOf(t time.Time) int32 { return int32(math.Floor(float64(t.Unix()) / 86400)) }

// addPurchase adds a purchase of amount at t. A purchase on a day after
// the last one is a new repeat day; on the first or last day it adds to
// that day. A late event between the first and the last day counts as a
// new day (the summary does not keep every day: a same-day repeat that
// arrives that late is counted twice); one before the first day makes
// the old first day a repeat day.
func (ps *PurchaseSummary) addPurchase(t time.Time, amount float64) {
	d := dayOf(t)
	switch {
	case d == ps.FirstDay:
		ps.FirstSpend += amount
	case d < ps.FirstDay:
		ps.RepeatDays++
		ps.RepeatSpend += ps.FirstSpend
		ps.FirstDay, ps.FirstSpend = d, amount
	case d == ps.LastDay:
		ps.RepeatSpend += amount
	default:
		ps.RepeatDays++
		ps.RepeatSpend += amount
		ps.LastDay = max(ps.LastDay, d)
	}
}

// History is the summary as the models read it at day now, in weeks.
func (ps *PurchaseSummary) History(now time.Time) clv.History {
	h := clv.History{
		X:  ps.RepeatDays,
		TX: float64(ps.LastDay-ps.FirstDay) / 7,
		T:  math.Max(float64(dayOf(now)-ps.FirstDay), float64(ps.LastDay-ps.FirstDay)) / 7,
	}
	if h.X > 0 {
		h.MeanSpend = ps.RepeatSpend / float64(h.X)
	}
	return h
}

// CLVModel is what SetCLVModel takes: the fitted models, the horizon, and
// a version that names the fit (the figures kept from another version are
// recomputed).
type CLVModel struct {
	Model   clv.Model
	Horizon clv.Horizon
	Version string
}

// CLVFigures are a customer's predicted figures (clv.Prediction) and
// their repeat purchases so far.
type CLVFigures struct {
	Value             float64 `json:"value"`
	PAlive            float64 `json:"p_alive"`
	ExpectedPurchases float64 `json:"expected_purchases"`
	RepeatPurchases   float64 `json:"repeat_purchases"`
}

// clvSourceNames are the figures a source profile.clv.NAME reads, in
// CLVFigures.figure's order.
var clvSourceNames = []string{"value", "p_alive", "expected_purchases", "repeat_purchases"}

func (f *CLVFigures) figure(i int) float64 {
	switch i {
	case 0:
		return f.Value
	case 1:
		return f.PAlive
	case 2:
		return f.ExpectedPurchases
	}
	return f.RepeatPurchases
}

// clvRuntime is a Spec's model and the figures it keeps per customer.
type clvRuntime struct {
	model atomic.Pointer[CLVModel]
	mu    sync.Mutex
	kept  map[string]clvKept
}

// clvKept are the figures of one customer, valid for the summary, day
// and model version they were computed for.
type clvKept struct {
	sum     PurchaseSummary
	day     int32
	version string
	figs    CLVFigures
}

// maxKept bounds the figures kept; past it the map starts anew (a day's
// active customers are computed again, once each).
const maxKept = 1 << 20

// SetCLVModel sets (or, with nil, clears) the models whose figures the
// profiles' CLV sources and rules read. It validates them.
func (s *Spec) SetCLVModel(m *CLVModel) error {
	if m != nil {
		if s.clvEvent == "" {
			return fmt.Errorf("the feature spec has no profile.clv (the purchase event): a CLV model has nothing to read")
		}
		if err := m.Model.Validate(); err != nil {
			return err
		}
		if err := m.Horizon.Validate(); err != nil {
			return err
		}
	}
	s.clv.model.Store(m)
	return nil
}

// CLVModel returns the model SetCLVModel set, nil if none.
func (s *Spec) CLVModel() *CLVModel { return s.clv.model.Load() }

// HasCLV reports whether the spec keeps purchase histories (profile.clv).
func (s *Spec) HasCLV() bool { return s.clvEvent != "" }

// CLV returns p's figures at now, ok false when there is no model or p
// has no purchase.
func (s *Spec) CLV(p *Profile, now time.Time) (CLVFigures, bool) {
	m := s.clv.model.Load()
	if m == nil || p == nil || p.Purchases == nil {
		return CLVFigures{}, false
	}
	day := dayOf(now)
	rt := &s.clv
	rt.mu.Lock()
	k, ok := rt.kept[p.CustomerID]
	rt.mu.Unlock()
	if ok && k.day == day && k.version == m.Version && k.sum == *p.Purchases {
		return k.figs, true
	}
	h := p.Purchases.History(now)
	pr, err := clv.Predict(m.Model, h, m.Horizon)
	if err != nil {
		return CLVFigures{}, false // validated when set: not reached
	}
	figs := CLVFigures{Value: pr.CLV, PAlive: pr.PAlive, ExpectedPurchases: pr.ExpectedPurchases, RepeatPurchases: float64(h.X)}
	rt.mu.Lock()
	if rt.kept == nil || len(rt.kept) >= maxKept {
		rt.kept = make(map[string]clvKept)
	}
	rt.kept[p.CustomerID] = clvKept{sum: *p.Purchases, day: day, version: m.Version, figs: figs}
	rt.mu.Unlock()
	return figs, true
}

// clvOf returns the figures of the profile the inputs are of, computed
// once per Inputs.
func (in *Inputs) clvOf(s *Spec, p *Profile, now time.Time) (CLVFigures, bool) {
	if !in.clvDone {
		in.clvFigs, in.clvOK = s.CLV(p, now)
		in.clvDone = true
	}
	return in.clvFigs, in.clvOK
}

// CLV returns the figures of the profile the inputs were made of (by
// Spec.Inputs; none for Inputs rebuilt from a log), computed at most once
// per decision.
func (in *Inputs) CLV() (CLVFigures, bool) {
	if in.spec == nil || in.profile == nil {
		return CLVFigures{}, false
	}
	return in.clvOf(in.spec, in.profile, in.now)
}
