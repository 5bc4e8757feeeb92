package features

import (
	"fmt"
	"slices"
	"time"
)

// Consents with provenance.
//
// A spec may declare the consent purposes and the event that records a
// consent or its withdrawal:
//
//	profile:
//	  consent:
//	    event: consent                 # one of profile.events
//	    purposes: [marketing_email, personalisation, profiling]
//
// A consent event carries purpose (one of the purposes), granted (bool),
// source (who collected it: "web-signup", "crm", "call-centre"), and may
// carry channel (the consent covers that channel only; absent: every
// channel) and text_version (the version of the wording agreed to). The
// profile keeps the history (ConsentHistory, the latest MaxConsentHistory
// entries, in time order), journaled like every event, so a compliance
// officer can see who consented to what, when, through which source and
// wording; the current state of a purpose on a channel is its latest entry
// for that channel, else its latest entry for every channel, else none.
// Actions name the purposes they need (decide.Action.Purposes): the
// decision's consent step drops an action whose purpose the customer has
// not granted on the decision's channel (opt-in), naming the purpose and
// the last entry in the explanation. A withdrawal is an event like any
// other: applied before its acknowledgement, it holds for the next
// decision, on every instance.

// MaxConsentHistory bounds the consent entries a profile keeps (the
// latest; the journal keeps them all).
const MaxConsentHistory = 256

// ConsentEntry is one consent or withdrawal.
type ConsentEntry struct {
	Purpose string `json:"purpose"`
	// Channel is the channel it covers, "" for every channel.
	Channel     string    `json:"channel,omitempty"`
	Granted     bool      `json:"granted"`
	Source      string    `json:"source"`
	TextVersion string    `json:"text_version,omitempty"`
	At          time.Time `json:"at"`
}

type rawConsent struct {
	Event    string   `yaml:"event" json:"event"`
	Purposes []string `yaml:"purposes" json:"purposes"`
}

// compileConsent validates the consent section.
func (s *Spec) compileConsent(c *rawConsent) error {
	if c == nil {
		return nil
	}
	r := s.events[c.Event]
	if r == nil {
		return fieldErr("profile.consent.event", fmt.Sprintf("unknown event type %q", c.Event))
	}
	if len(c.Purposes) == 0 {
		return fieldErr("profile.consent.purposes", "must list at least one purpose")
	}
	for i, p := range c.Purposes {
		if !isIdent(p) || slices.Contains(c.Purposes[:i], p) {
			return fieldErr(fmt.Sprintf("profile.consent.purposes[%d]", i), fmt.Sprintf("%q: want distinct identifiers", p))
		}
	}
	r.consent = true
	s.consentEvent, s.purposes = c.Event, c.Purposes
	return nil
}

// Purposes returns the declared consent purposes (nil without
// profile.consent).
func (s *Spec) Purposes() []string { return s.purposes }

// HasPurpose reports whether p is a declared consent purpose.
func (s *Spec) HasPurpose(p string) bool { return slices.Contains(s.purposes, p) }

// consentOfEvent validates a consent event's properties and returns its
// entry.
func (s *Spec) consentOfEvent(e Event) (ConsentEntry, error) {
	str := func(name string, required bool) (string, error) {
		v, ok := e.Properties[name]
		if !ok || v == nil {
			if required {
				return "", fieldErr("properties."+name, "required")
			}
			return "", nil
		}
		x, ok := v.(string)
		if !ok || len(x) > DefaultMaxLen {
			return "", fieldErr("properties."+name, fmt.Sprintf("must be a string of at most %d bytes", DefaultMaxLen))
		}
		return x, nil
	}
	purpose, err := str("purpose", true)
	if err != nil {
		return ConsentEntry{}, err
	}
	if !s.HasPurpose(purpose) {
		return ConsentEntry{}, fieldErr("properties.purpose", fmt.Sprintf("unknown purpose %q (declared: %v)", purpose, s.purposes))
	}
	g, ok := e.Properties["granted"].(bool)
	if !ok {
		return ConsentEntry{}, fieldErr("properties.granted", "required, a bool")
	}
	c := ConsentEntry{Purpose: purpose, Granted: g, At: e.Time}
	if c.Source, err = str("source", true); err != nil {
		return ConsentEntry{}, err
	}
	if c.Channel, err = str("channel", false); err != nil {
		return ConsentEntry{}, err
	}
	if c.TextVersion, err = str("text_version", false); err != nil {
		return ConsentEntry{}, err
	}
	return c, nil
}

// addConsent records c in p's history, in time order.
func addConsent(p *Profile, c ConsentEntry) {
	p.ConsentHistory = insertLatest(p.ConsentHistory, c, MaxConsentHistory, func(e ConsentEntry) time.Time { return e.At })
}

// ConsentFor returns the entry that decides purpose on channel for p:
// the latest for that channel, else the latest for every channel; ok
// false when there is none (never asked: no consent).
func (p *Profile) ConsentFor(purpose, channel string) (ConsentEntry, bool) {
	var all *ConsentEntry
	for i := len(p.ConsentHistory) - 1; i >= 0; i-- {
		c := &p.ConsentHistory[i]
		if c.Purpose != purpose {
			continue
		}
		if c.Channel == channel {
			return *c, true
		}
		if c.Channel == "" && all == nil {
			all = c
		}
	}
	if all != nil {
		return *all, true
	}
	return ConsentEntry{}, false
}
