package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"nextbest/decide"
	"nextbest/features"
)

// Visit is one interaction of a customer with a channel: the journey
// events that led to it and the decision request it makes. Reuse one per
// goroutine; Begin resets it.
type Visit struct {
	Customer *Customer
	Time     time.Time
	Channel  string
	// Context is the decision request's context (page, cart_value,
	// device, campaign).
	Context map[string]any
	// Before are the journey events of the visit up to the decision,
	// already applied to the customer's profile, in order.
	Before []features.Event

	p                    *Population
	ch, page, dev, stage int
	cart                 float64
}

// Response is what the customer did after the decision. Reuse one per
// goroutine; Respond resets it.
type Response struct {
	// Converted says, per shown slot, whether the customer converted.
	Converted []bool
	// Expected is the true expected reward of what was shown (the sum over
	// slots of conversion probability × position bias × value).
	Expected float64
	// Realized is the value of the conversions drawn.
	Realized float64
	// After are the journey events that followed the decision (purchases,
	// abandoned carts, e-mail opens), already applied to the profile.
	After []features.Event
}

// Begin starts a visit of customer c at now: it draws the channel, the
// journey events up to the decision and the request context, applies the
// events to c's profile, and fills v. Draws come from r only, so the same
// r state gives the same visit.
func (p *Population) Begin(v *Visit, r *rand.Rand, c *Customer, now time.Time) {
	seg := &segments[c.seg]
	v.p, v.Customer, v.Time = p, c, now
	v.Before = v.Before[:0]
	if v.Context == nil {
		v.Context = make(map[string]any, 4)
	}
	clear(v.Context)
	v.page, v.dev, v.cart = pgNone, devNone, 0

	if c.Profile.Cold && c.attrs != nil {
		// a made-up customer introduces itself: CRM attributes arrive first
		v.event(features.Event{Type: "profile_update", Time: now, Properties: c.attrs})
	}
	ch := pick(r, seg.channel[:])
	hour := now.UTC().Hour()
	if ch == chCall && (hour < 8 || hour >= 20) {
		ch = chWeb // the call centre is closed
	}
	if ok, has := c.Profile.Consents["email"]; ch == chEmail && has && !ok {
		ch = chWeb // no e-mail consent
	}
	v.ch = ch
	v.Channel = channels[ch]
	stage := indexOf(stages, c.Profile.Stage)

	switch ch {
	case chWeb, chApp:
		if ch == chApp {
			v.dev = devMobile
			if r.Float64() < 0.25 {
				v.dev = devTablet
			}
			v.event(features.Event{Type: "app_open", Channel: v.Channel, Time: now})
		} else {
			v.dev = 1 + pick(r, seg.device[:])
			v.event(features.Event{Type: "page_view", Channel: v.Channel, Time: now})
		}
		switch stage {
		case stCart:
			switch u := r.Float64(); {
			case u < 0.5:
				v.page = pgCart
			case u < 0.75:
				v.page = pgCheckout
				v.event(features.Event{Type: "checkout_started", Channel: v.Channel, Time: now})
			default:
				v.page = pgProduct
				v.event(features.Event{Type: "product_view", Channel: v.Channel, Time: now})
			}
		default:
			viewP := 0.6
			if stage == stAwareness {
				viewP = 0.4
			}
			switch {
			case r.Float64() < viewP:
				v.page = pgProduct
				v.event(features.Event{Type: "product_view", Channel: v.Channel, Time: now})
				buy := seg.buy
				if stage >= stPurchase {
					buy /= 2
				}
				if r.Float64() < buy {
					v.page = pgCart
					v.event(features.Event{Type: "add_to_cart", Channel: v.Channel, Time: now})
				}
			case r.Float64() < 0.25 && stage >= stPurchase:
				v.page = pgAccount
			case r.Float64() < 0.5:
				v.page = pgCategory
			default:
				v.page = pgHome
			}
		}
		v.Context["page"] = pages[v.page]
		v.Context["device"] = devices[v.dev]
		if v.page == pgCart || v.page == pgCheckout {
			v.cart = math.Round(seg.basket*math.Exp(0.6*r.NormFloat64())*100) / 100
			v.Context["cart_value"] = v.cart
		}
	case chEmail:
		v.Context["campaign"] = "weekly-newsletter"
	case chCall:
		v.event(features.Event{Type: "support_call", Channel: v.Channel, Time: now})
	}
	v.stage = indexOf(stages, c.Profile.Stage)
}

// event applies e to the visit's customer and records it in Before.
func (v *Visit) event(e features.Event) {
	if err := v.p.spec.ApplyEvent(v.Customer.Profile, e); err != nil {
		panic(fmt.Sprintf("BUG: sim: event %s does not fit the feature spec: %v", e.Type, err))
	}
	v.Before = append(v.Before, e)
}

// TrueReward is the true expected reward of action a in the first slot of
// this visit: conversion probability × value.
func (v *Visit) TrueReward(a *decide.Action) float64 {
	return v.prob(a.Index()) * v.p.aValue[a.Index()]
}

func (v *Visit) prob(a int) float64 {
	return sigmoid(v.p.logit(v.Customer, v.ch, v.page, v.dev, v.stage, v.Time.UTC().Hour(), a, v.Time))
}

// Respond draws what the customer does after being shown the actions
// shown (slot order) at the visit's time: a conversion per slot with the
// true probability (× position bias), then the journey events that
// follow, stamped at. It records the impressions, outcomes and events in
// the customer's profile the way the service does. Draws come from r
// only; exactly one uniform per slot decides the conversions.
func (p *Population) Respond(out *Response, r *rand.Rand, v *Visit, shown []*decide.Action, at time.Time) {
	out.Converted = out.Converted[:0]
	out.After = out.After[:0]
	out.Expected, out.Realized = 0, 0
	c := v.Customer
	seg := &segments[c.seg]
	bought := false
	for k, a := range shown {
		pr := v.prob(a.Index()) * positionBias(k)
		out.Expected += pr * a.Value
		conv := r.Float64() < pr
		out.Converted = append(out.Converted, conv)
		if conv {
			out.Realized += a.Value
			switch p.aCat[a.Index()] {
			case catDiscount, catCrossSell, catRetention:
				bought = true
			}
		}
	}
	// the profile learns of the decision and its outcomes as the service's
	// does: impressions at the decision time, outcomes after
	if len(shown) > 0 && c.Profile.Cold {
		c.Profile.Cold = false
		c.Profile.FirstSeen, c.Profile.StageSince = v.Time, v.Time
	}
	for _, a := range shown {
		features.RecordImpression(c.Profile, a.ID, v.Time)
	}
	for k, a := range shown {
		if out.Converted[k] {
			features.RecordOutcome(c.Profile, a.ID, true, at)
			if a.ID == "app-download" {
				out.event(p, c, features.Event{Type: "app_open", Channel: "app", Time: at})
			}
		}
	}

	// the rest of the journey
	amount := func() float64 {
		if v.cart > 0 {
			return v.cart
		}
		return math.Round(seg.basket*math.Exp(0.6*r.NormFloat64())*100) / 100
	}
	switch v.ch {
	case chWeb, chApp:
		switch {
		case bought:
			out.event(p, c, features.Event{Type: "purchase", Channel: v.Channel, Time: at, Properties: map[string]any{"amount": amount()}})
		case v.page == pgCheckout:
			if r.Float64() < 0.45 {
				out.event(p, c, features.Event{Type: "purchase", Channel: v.Channel, Time: at, Properties: map[string]any{"amount": amount()}})
			} else {
				out.event(p, c, features.Event{Type: "cart_abandoned", Channel: v.Channel, Time: at})
			}
		case v.page == pgCart:
			if r.Float64() < 0.35 {
				out.event(p, c, features.Event{Type: "cart_abandoned", Channel: v.Channel, Time: at})
			}
		}
	case chEmail:
		if bought || r.Float64() < 0.25 {
			out.event(p, c, features.Event{Type: "email_opened", Channel: v.Channel, Time: at})
			if bought || r.Float64() < 0.3 {
				out.event(p, c, features.Event{Type: "email_clicked", Channel: v.Channel, Time: at})
			}
		}
		if bought {
			out.event(p, c, features.Event{Type: "purchase", Channel: "web", Time: at, Properties: map[string]any{"amount": amount()}})
		}
	case chCall:
		if bought {
			out.event(p, c, features.Event{Type: "purchase", Channel: v.Channel, Time: at, Properties: map[string]any{"amount": amount()}})
		}
	}
}

func (out *Response) event(p *Population, c *Customer, e features.Event) {
	if err := p.spec.ApplyEvent(c.Profile, e); err != nil {
		panic(fmt.Sprintf("BUG: sim: event %s does not fit the feature spec: %v", e.Type, err))
	}
	out.After = append(out.After, e)
}

// Situate sets v up as a visit of customer c on channel with request
// context ctx at now, without drawing or applying any journey event: the
// way to ask the truth about one given situation. ctx is used as is (not
// copied).
func (p *Population) Situate(v *Visit, c *Customer, channel string, ctx map[string]any, now time.Time) {
	v.p, v.Customer, v.Time, v.Channel, v.Context = p, c, now, channel, ctx
	v.Before = v.Before[:0]
	v.ch = max(indexOf(channels, channel), 0)
	page, _ := ctx["page"].(string)
	dev, _ := ctx["device"].(string)
	v.page, v.dev = max(indexOf(pages, page), 0), max(indexOf(devices, dev), 0)
	v.cart, _ = ctx["cart_value"].(float64)
	v.stage = indexOf(stages, c.Profile.Stage)
}
