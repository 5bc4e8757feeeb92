package features

import (
	"maps"
	"math"
	"slices"
	"time"
)

// Event is a journey event applied to a profile (POST /v1/events).
type Event struct {
	Type       string
	Channel    string
	Time       time.Time
	Properties map[string]any
}

// ValueAt is the counter's value at t with the given half-life:
// Value * 2^(-(t-At)/halfLife). For t before At it is Value (a counter is
// never extrapolated backwards).
func (c Counter) ValueAt(t time.Time, halfLife time.Duration) float64 {
	if c.Value == 0 || !t.After(c.At) {
		return c.Value
	}
	return c.Value * decay(t.Sub(c.At), halfLife)
}

// decay is 2^(-age/halfLife).
func decay(age, halfLife time.Duration) float64 {
	return math.Exp2(-float64(age) / float64(halfLife))
}

// CounterValue is the decayed value at t of the named counter of p; ok is
// false when the spec has no such counter. A counter p lacks is 0.
func (s *Spec) CounterValue(p *Profile, name string, t time.Time) (v float64, ok bool) {
	i, ok := s.counterIdx[name]
	if !ok {
		return 0, false
	}
	if p == nil {
		return 0, true
	}
	return p.Counters[name].ValueAt(t, s.counters[i].halfLife), true
}

// HalfLife returns the half-life of the named counter.
func (s *Spec) HalfLife(name string) (time.Duration, bool) {
	i, ok := s.counterIdx[name]
	if !ok {
		return 0, false
	}
	return s.counters[i].halfLife, true
}

// NewProfile makes the cold-start profile of an unknown customer: Cold,
// in the default stage since now.
func (s *Spec) NewProfile(id string, now time.Time) *Profile {
	return &Profile{
		CustomerID: id,
		FirstSeen:  now,
		UpdatedAt:  now,
		Stage:      s.defaultStage,
		StageSince: now,
		Cold:       true,
	}
}

// MaxNumber bounds the magnitude of a number in an event's properties
// (and, at the HTTP edge, in a decision request's context): ValidateEvent
// refuses a property beyond ±MaxNumber, so that decayed sums of them stay
// far from overflow.
const MaxNumber = 1e9

// ValidateEvent checks e as ApplyEvent would, without a profile: a known
// type, a time, and properties of the types the spec reads from it. Every
// numeric property, read or not, must be finite and within ±MaxNumber.
// The errors are *FieldErrors naming the field.
func (s *Spec) ValidateEvent(e Event) error {
	r := s.events[e.Type]
	if r == nil {
		return fieldErr("type", "unknown event type")
	}
	if e.Time.IsZero() {
		return fieldErr("ts", "required")
	}
	for _, ci := range r.counters {
		if ci.property == "" {
			continue
		}
		if x, ok := e.Properties[ci.property]; ok && x != nil {
			if _, ok := toNumber(x); !ok {
				return fieldErr("properties."+ci.property, "must be a number")
			}
		}
	}
	if r.consent {
		if _, err := s.consentOfEvent(e); err != nil {
			return err
		}
	}
	if r.purchase {
		if x, ok := e.Properties[s.clvAmount]; ok && x != nil {
			if _, ok := toNumber(x); !ok {
				return fieldErr("properties."+s.clvAmount, "must be a number")
			}
		}
	}
	if r.attributes {
		for i := range s.attrs {
			if err := checkField(&s.attrs[i], "properties.", e.Properties); err != nil {
				return err
			}
		}
	}
	// the first bad key in byte order, so that the answer does not depend
	// on map order
	bad, reason := "", ""
	for k, x := range e.Properties {
		f, ok := toNumber(x)
		if !ok || (bad != "" && k >= bad) {
			continue
		}
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0):
			bad, reason = k, "must be a finite number"
		case math.Abs(f) > MaxNumber:
			bad, reason = k, "must be between -1e9 and 1e9"
		}
	}
	if bad != "" {
		return fieldErr("properties."+bad, reason)
	}
	return nil
}

// ApplyEvent updates p with e: counters (with decay), LastEvent,
// LastChannel, the journey stage, attributes and consents, FirstSeen and
// UpdatedAt. p must be the caller's own copy (Clone a stored profile
// first). On error p is unchanged.
//
// Late events are handled by age: an event older than a counter's At adds
// its increment decayed by its age (the counter's At does not move back);
// LastEvent and LastChannel only move forward; a stage transition applies
// only to an event not older than StageSince.
func (s *Spec) ApplyEvent(p *Profile, e Event) error {
	if err := s.ValidateEvent(e); err != nil {
		return err
	}
	r := s.events[e.Type]
	t := e.Time
	// the counters' new values first: an event that would make one
	// non-finite (a stored counter already non-finite, a sum that
	// overflows) is refused before p changes
	var buf [8]Counter
	next := buf[:0]
	for _, ci := range r.counters {
		inc := 1.0
		if ci.property != "" {
			x, ok := e.Properties[ci.property]
			if !ok || x == nil {
				next = append(next, Counter{})
				continue
			}
			inc, _ = toNumber(x)
		}
		def := &s.counters[ci.counter]
		c := p.Counters[def.name]
		switch {
		case c.At.IsZero() && c.Value == 0:
			c = Counter{Value: inc, At: t}
		case !t.Before(c.At):
			c = Counter{Value: c.Value*decay(t.Sub(c.At), def.halfLife) + inc, At: t}
		default:
			c.Value += inc * decay(c.At.Sub(t), def.halfLife)
		}
		if math.IsNaN(c.Value) || math.IsInf(c.Value, 0) {
			field := "type"
			if ci.property != "" {
				field = "properties." + ci.property
			}
			return fieldErr(field, "would make counter "+def.name+" non-finite")
		}
		next = append(next, c)
	}
	if p.Cold {
		// A cold-start profile was made up at decision time: its first real
		// event dates it.
		p.FirstSeen, p.UpdatedAt, p.StageSince = t, t, t
		p.Cold = false
	}
	for i, ci := range r.counters {
		if next[i].At.IsZero() {
			continue // a property counter the event does not carry
		}
		if p.Counters == nil {
			p.Counters = make(map[string]Counter, len(s.counters))
		}
		p.Counters[s.counters[ci.counter].name] = next[i]
	}
	if p.LastEvent == nil {
		p.LastEvent = make(map[string]time.Time)
	}
	if last, ok := p.LastEvent[e.Type]; !ok || t.After(last) {
		p.LastEvent[e.Type] = t
	}
	if e.Channel != "" && (p.LastChannel == "" || !t.Before(p.UpdatedAt)) {
		p.LastChannel = e.Channel
	}
	if !t.Before(p.StageSince) || p.Stage == "" {
		for _, tr := range r.transitions {
			if tr.from != nil && !tr.from[p.Stage] {
				continue
			}
			if tr.to != p.Stage {
				p.Stage, p.StageSince = tr.to, t
			}
			break
		}
	}
	if r.attributes {
		for i := range s.attrs {
			a := &s.attrs[i]
			x, ok := e.Properties[a.name]
			if !ok || x == nil {
				continue
			}
			if a.typ == vtNumber {
				x, _ = toNumber(x)
			}
			if p.Attributes == nil {
				p.Attributes = make(map[string]any)
			}
			p.Attributes[a.name] = x
			if ch, ok := s.consentOf[a.name]; ok {
				if p.Consents == nil {
					p.Consents = make(map[string]bool)
				}
				p.Consents[ch] = x.(bool)
			}
		}
	}
	if r.consent {
		c, _ := s.consentOfEvent(e) // validated above
		addConsent(p, c)
	}
	if r.purchase {
		amount := 0.0
		if x, ok := e.Properties[s.clvAmount]; ok {
			amount, _ = toNumber(x)
		}
		if p.Purchases == nil {
			d := dayOf(t)
			p.Purchases = &PurchaseSummary{FirstDay: d, LastDay: d, FirstSpend: amount}
		} else {
			p.Purchases.addPurchase(t, amount)
		}
	}
	if p.FirstSeen.IsZero() || t.Before(p.FirstSeen) {
		p.FirstSeen = t
	}
	if t.After(p.UpdatedAt) {
		p.UpdatedAt = t
	}
	return nil
}

// RecordImpression records that actionID was shown to p's customer at at,
// keeping the impressions sorted and the most recent MaxImpressions.
func RecordImpression(p *Profile, actionID string, at time.Time) {
	c := p.contact(actionID)
	c.Impressions = insertLatest(c.Impressions, at, MaxImpressions, func(t time.Time) time.Time { return t })
	if at.After(p.UpdatedAt) {
		p.UpdatedAt = at
	}
}

// TrimImpressions drops actionID's impressions before cutoff, keeping the
// latest one (when it was last shown). Contact policies look back a
// bounded window: what is older only makes the profile bigger.
func TrimImpressions(p *Profile, actionID string, cutoff time.Time) {
	c := p.Contacts[actionID]
	if c == nil || len(c.Impressions) <= 1 {
		return
	}
	i := 0
	for i < len(c.Impressions)-1 && c.Impressions[i].Before(cutoff) {
		i++
	}
	if i > 0 {
		c.Impressions = slices.Delete(c.Impressions, 0, i)
	}
}

// RecordOutcome records an outcome of actionID at at; conversion says
// whether it counts as a conversion, which the outcome type's declaration
// decides (see logs.OutcomeType.Converts), not this package.
func RecordOutcome(p *Profile, actionID string, conversion bool, at time.Time) {
	if conversion {
		c := p.contact(actionID)
		c.Conversions++
		if at.After(c.LastConversion) {
			c.LastConversion = at
		}
	}
	if at.After(p.UpdatedAt) {
		p.UpdatedAt = at
	}
}

// RecordReject records that p's customer declined actionID at at,
// keeping the rejections sorted and the most recent MaxRejects.
func RecordReject(p *Profile, actionID string, at time.Time) {
	c := p.contact(actionID)
	c.Rejects = insertLatest(c.Rejects, at, MaxRejects, func(t time.Time) time.Time { return t })
	if at.After(p.UpdatedAt) {
		p.UpdatedAt = at
	}
}

// insertLatest inserts v into s, which is in time order (by at), after
// the entries not later than it, and keeps the latest max.
func insertLatest[T any](s []T, v T, max int, at func(T) time.Time) []T {
	i := len(s)
	for i > 0 && at(s[i-1]).After(at(v)) {
		i--
	}
	s = slices.Insert(s, i, v)
	if n := len(s); n > max {
		s = slices.Delete(s, 0, n-max)
	}
	return s
}

func (p *Profile) contact(actionID string) *Contact {
	if p.Contacts == nil {
		p.Contacts = make(map[string]*Contact)
	}
	c := p.Contacts[actionID]
	if c == nil {
		c = &Contact{}
		p.Contacts[actionID] = c
	}
	return c
}

// Clone returns a deep copy of p (attribute values are scalars).
func (p *Profile) Clone() *Profile {
	if p == nil {
		return nil
	}
	q := *p
	q.Attributes = maps.Clone(p.Attributes)
	q.Counters = maps.Clone(p.Counters)
	q.LastEvent = maps.Clone(p.LastEvent)
	q.Consents = maps.Clone(p.Consents)
	if p.Purchases != nil {
		ps := *p.Purchases
		q.Purchases = &ps
	}
	q.ConsentHistory = slices.Clone(p.ConsentHistory)
	if p.Contacts != nil {
		q.Contacts = make(map[string]*Contact, len(p.Contacts))
		for k, c := range p.Contacts {
			if c == nil {
				q.Contacts[k] = nil
				continue
			}
			cc := *c
			if c.Impressions != nil {
				// a spare slot: profiles are cloned to record an
				// impression on (the applier's copy on write), which
				// then does not grow the slice again
				cc.Impressions = append(make([]time.Time, 0, len(c.Impressions)+1), c.Impressions...)
			}
			cc.Rejects = slices.Clone(c.Rejects)
			q.Contacts[k] = &cc
		}
	}
	return &q
}
