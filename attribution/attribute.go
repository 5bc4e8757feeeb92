package attribution

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// Model names an attribution model.
type Model string

// The models, rule-based first, then the data-driven one.
const (
	LastTouch     Model = "last_touch"
	FirstTouch    Model = "first_touch"
	Linear        Model = "linear"
	TimeDecay     Model = "time_decay"
	PositionBased Model = "position_based"
	Markov        Model = "markov"
)

// Models returns every model, in the order reports list them.
func Models() []Model {
	return []Model{LastTouch, FirstTouch, Linear, TimeDecay, PositionBased, Markov}
}

// Title returns the model's name in words ("Last touch", "Markov
// (removal effect)").
func (m Model) Title() string {
	switch m {
	case LastTouch:
		return "Last touch"
	case FirstTouch:
		return "First touch"
	case Linear:
		return "Linear"
	case TimeDecay:
		return "Time decay"
	case PositionBased:
		return "Position-based (40/20/40)"
	case Markov:
		return "Markov (removal effect)"
	}
	return string(m)
}

// Defaults of Options.
const (
	DefaultLookback = 30 * 24 * time.Hour
	DefaultHalfLife = 7 * 24 * time.Hour
)

// Options configures Attribute. The zero value credits channels with a
// 30-day lookback and a 7-day half-life.
type Options struct {
	// By is what is credited; "" is ByChannel.
	By Dimension
	// Lookback is how long before a conversion a touch may be and still
	// get credit; 0 is DefaultLookback.
	Lookback time.Duration
	// HalfLife is the time decay model's half-life: a touch HalfLife
	// before the conversion weighs half as much as one at it; 0 is
	// DefaultHalfLife.
	HalfLife time.Duration
}

func (o *Options) fill() error {
	if o.By == "" {
		o.By = ByChannel
	}
	if _, err := ParseDimension(string(o.By)); err != nil {
		return err
	}
	if o.Lookback < 0 || o.HalfLife < 0 {
		return fmt.Errorf("%w: lookback %v and half-life %v must not be negative", ErrInvalidOptions, o.Lookback, o.HalfLife)
	}
	o.Lookback = cmp.Or(o.Lookback, DefaultLookback)
	o.HalfLife = cmp.Or(o.HalfLife, DefaultHalfLife)
	return nil
}

// Credit is what one model gives one key: a number of conversions
// (fractional) and their revenue, and Share, its fraction of the
// attributed conversions.
type Credit struct {
	Key         string  `json:"key"`
	Conversions float64 `json:"conversions"`
	Revenue     float64 `json:"revenue"`
	Share       float64 `json:"share"`
}

// ModelCredits is one model's credits, one per key in Result.Keys order.
type ModelCredits struct {
	Model   Model    `json:"model"`
	Credits []Credit `json:"credits"`
}

// Shares returns the model's share per key.
func (m *ModelCredits) Shares() map[string]float64 {
	s := make(map[string]float64, len(m.Credits))
	for _, c := range m.Credits {
		s[c.Key] = c.Share
	}
	return s
}

// Result is every model's credits for a set of journeys.
type Result struct {
	By       Dimension     `json:"by"`
	Lookback time.Duration `json:"-"`
	HalfLife time.Duration `json:"-"`
	// LookbackDays and HalfLifeDays are Lookback and HalfLife in days.
	LookbackDays float64 `json:"lookback_days"`
	HalfLifeDays float64 `json:"half_life_days"`

	Journeys int `json:"journeys"`
	Touches  int `json:"touches"`
	// Conversions counts every conversion, Attributed those with a touch
	// in their lookback window: the ones the models share out.
	Conversions        int     `json:"conversions"`
	Attributed         int     `json:"attributed_conversions"`
	Revenue            float64 `json:"revenue"`
	AttributedRevenue  float64 `json:"attributed_revenue"`
	Paths              int     `json:"paths"`
	NonConvertingPaths int     `json:"non_converting_paths"`

	// Keys are the credited channels or actions, by Markov credit,
	// highest first (ties by name).
	Keys   []string       `json:"keys"`
	Models []ModelCredits `json:"models"`
	Markov MarkovFit      `json:"markov"`
}

// Model returns the credits of model m, nil when absent.
func (r *Result) Model(m Model) *ModelCredits {
	for i := range r.Models {
		if r.Models[i].Model == m {
			return &r.Models[i]
		}
	}
	return nil
}

// Attribute credits every conversion of the journeys (each sorted, see
// Journey.Sort) to the touches of its path (Journey.Paths) under every
// model, by channel or by action, and returns the credits. A rule-based
// model gives each touch of a converting path a weight (they sum to 1)
// and splits a touch's weight equally among its keys; the Markov model
// shares the attributed conversions out in proportion to the keys'
// removal effects. Revenue follows conversions: each rule-based weight
// takes its share of its conversion's revenue, and Markov shares the
// attributed revenue as it shares the conversions. It returns
// ErrNoConversions when no conversion has a touch in its window.
func Attribute(journeys []Journey, opt Options) (*Result, error) {
	if err := opt.fill(); err != nil {
		return nil, err
	}
	res := &Result{By: opt.By, Lookback: opt.Lookback, HalfLife: opt.HalfLife, Journeys: len(journeys),
		LookbackDays: opt.Lookback.Hours() / 24, HalfLifeDays: opt.HalfLife.Hours() / 24}
	rules := []Model{LastTouch, FirstTouch, Linear, TimeDecay, PositionBased}
	credit := make([]map[string]*Credit, len(rules))
	for i := range credit {
		credit[i] = map[string]*Credit{}
	}
	chain := NewChain()
	var (
		w    []float64
		keys []string
	)
	for ji := range journeys {
		j := &journeys[ji]
		res.Touches += len(j.Touches)
		for _, p := range j.Paths(opt.Lookback) {
			res.Paths++
			keys = keys[:0]
			for ti := range p.Touches {
				keys = append(keys, p.Touches[ti].Keys(opt.By)...)
			}
			chain.Add(keys, p.Converted)
			if !p.Converted {
				res.NonConvertingPaths++
				continue
			}
			res.Conversions++
			res.Revenue += p.Conversion.Revenue
			if len(p.Touches) == 0 {
				continue
			}
			res.Attributed++
			res.AttributedRevenue += p.Conversion.Revenue
			for mi, m := range rules {
				w = Weights(m, p.Touches, p.Conversion.Time, opt.HalfLife, w)
				for ti := range p.Touches {
					ks := p.Touches[ti].Keys(opt.By)
					for _, k := range ks {
						c := credit[mi][k]
						if c == nil {
							c = &Credit{Key: k}
							credit[mi][k] = c
						}
						x := w[ti] / float64(len(ks))
						c.Conversions += x
						c.Revenue += x * p.Conversion.Revenue
					}
				}
			}
		}
	}
	if res.Attributed == 0 {
		return nil, fmt.Errorf("%w: %d conversions, none with a touch in the %v before it", ErrNoConversions, res.Conversions, opt.Lookback)
	}
	fit, err := chain.RemovalEffects()
	if err != nil {
		return nil, err
	}
	res.Markov = fit
	// summed in key order: a map's order would change the last bits of
	// the credits from one run to the next
	var total float64
	for _, k := range sortedKeys(fit.Removal) {
		total += fit.Removal[k]
	}
	mk := map[string]*Credit{}
	for k, re := range fit.Removal {
		s := 0.0
		if total > 0 {
			s = re / total
		}
		mk[k] = &Credit{Key: k, Conversions: s * float64(res.Attributed), Revenue: s * res.AttributedRevenue}
	}

	// the keys: every key any model credits, by Markov credit
	all := map[string]bool{}
	for _, m := range append(credit, mk) {
		for k := range m {
			all[k] = true
		}
	}
	res.Keys = sortedKeys(all)
	slices.SortStableFunc(res.Keys, func(a, b string) int {
		return cmp.Compare(conv(mk[b]), conv(mk[a]))
	})
	for mi, m := range append(rules, Markov) {
		src := mk
		if mi < len(rules) {
			src = credit[mi]
		}
		mc := ModelCredits{Model: m, Credits: make([]Credit, len(res.Keys))}
		for i, k := range res.Keys {
			c := Credit{Key: k}
			if p := src[k]; p != nil {
				c = *p
			}
			c.Share = c.Conversions / float64(res.Attributed)
			mc.Credits[i] = c
		}
		res.Models = append(res.Models, mc)
	}
	return res, nil
}

func conv(c *Credit) float64 {
	if c == nil {
		return 0
	}
	return c.Conversions
}

// Weights returns the weight rule-based model m gives each of touches
// (in time order, at least one) for a conversion at time at, in dst
// (reused when large enough). The weights sum to 1:
//
//	last_touch      1 to the last touch
//	first_touch     1 to the first touch
//	linear          1/n to each
//	time_decay      ∝ 2^(−(at − tᵢ)/halfLife)
//	position_based  0.4 to the first and to the last, 0.2 shared by the
//	                ones between; 0.5 each for two touches, 1 for one
//
// It panics for Markov, which credits no single path.
func Weights(m Model, touches []Touch, at time.Time, halfLife time.Duration, dst []float64) []float64 {
	n := len(touches)
	dst = slices.Grow(dst[:0], n)[:n]
	clear(dst)
	switch m {
	case LastTouch:
		dst[n-1] = 1
	case FirstTouch:
		dst[0] = 1
	case Linear:
		for i := range dst {
			dst[i] = 1 / float64(n)
		}
	case TimeDecay:
		// ages from the last touch, so the largest weight is 1 and the
		// sum never underflows
		sum, last := 0.0, touches[n-1].Time
		for i, t := range touches {
			dst[i] = math.Exp2(-last.Sub(t.Time).Hours() / halfLife.Hours())
			sum += dst[i]
		}
		for i := range dst {
			dst[i] /= sum
		}
	case PositionBased:
		switch n {
		case 1:
			dst[0] = 1
		case 2:
			dst[0], dst[1] = 0.5, 0.5
		default:
			dst[0], dst[n-1] = 0.4, 0.4
			for i := 1; i < n-1; i++ {
				dst[i] = 0.2 / float64(n-2)
			}
		}
	default:
		panic("BUG: attribution: Weights of model " + string(m))
	}
	return dst
}
