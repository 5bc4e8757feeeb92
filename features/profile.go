package features

import "time"

// Profile is everything known about one customer. A *Profile handed out by
// the Store is shared with the cache and other readers: treat it as
// immutable, and Clone it before changing anything.
type Profile struct {
	CustomerID string `json:"customer_id"`
	// LSN is the journal sequence number of the last record applied to this
	// profile; replaying records at or below it is a no-op.
	LSN       uint64    `json:"lsn"`
	FirstSeen time.Time `json:"first_seen"`
	UpdatedAt time.Time `json:"updated_at"`
	// Attributes are static or slowly changing facts (age, region, tier),
	// loaded from a CRM export or set by events. Values are string, float64
	// or bool.
	Attributes map[string]any `json:"attributes,omitempty"`
	// Counters are exponentially decayed counts and sums (visits, purchases,
	// spend) keyed by the counter name of the profile spec.
	Counters map[string]Counter `json:"counters,omitempty"`
	// LastEvent is the time of the latest event of each type.
	LastEvent   map[string]time.Time `json:"last_event,omitempty"`
	LastChannel string               `json:"last_channel,omitempty"`
	// Stage is the journey stage (e.g. awareness, consideration, cart,
	// purchase, retention); StageSince is when it was entered.
	Stage      string    `json:"stage"`
	StageSince time.Time `json:"stage_since"`
	// Consents by channel: a false entry forbids contact on that channel.
	Consents map[string]bool `json:"consents,omitempty"`
	// Contacts holds the contact history per action id, for frequency caps
	// and suppression after conversion.
	Contacts map[string]*Contact `json:"contacts,omitempty"`
	// ConsentHistory is the customer's consents and withdrawals by
	// purpose, with their source, channel, wording version and time (the
	// latest MaxConsentHistory, in time order; see consent.go).
	ConsentHistory []ConsentEntry `json:"consent_history,omitempty"`
	// Purchases is the purchase history the CLV models read, kept when the
	// spec names the purchase event (profile.clv); nil before a purchase.
	Purchases *PurchaseSummary `json:"purchases,omitempty"`
	// Cold is true for a cold-start profile made up for an unknown customer
	// (never stored as such).
	Cold bool `json:"cold,omitempty"`
}

// Counter is an exponentially decayed value: its value at time t is
// Value * 2^(-(t-At)/halfLife), with the half-life set in the profile spec.
type Counter struct {
	Value float64   `json:"value"`
	At    time.Time `json:"at"`
}

// Contact is the contact history of one action for one customer.
type Contact struct {
	// Impressions are the times the action was returned to the customer,
	// oldest first, capped to the most recent MaxImpressions.
	Impressions    []time.Time `json:"impressions,omitempty"`
	Conversions    int         `json:"conversions,omitempty"`
	LastConversion time.Time   `json:"last_conversion,omitempty"`
	// Rejects are the times the customer declined the action (outcomes of
	// a reject type), oldest first, the most recent MaxRejects.
	Rejects []time.Time `json:"rejects,omitempty"`
}

// MaxRejects bounds the rejections kept per action.
const MaxRejects = 16

// MaxImpressions bounds the impression history kept per action.
const MaxImpressions = 64
