package serve

import (
	"hash/maphash"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"nextbest/features"
	"nextbest/state"
)

// contactLedger makes a decision's contact-policy check and the
// impressions it gives one atomic step, so that frequency caps hold under
// concurrency. A decision's impressions reach the profile only when the
// applier applies its journal record, after the group commit; until then
// they are reservations here. A decision reads the customer's profile and
// the customer's open reservations under the same lock, decides on both,
// and reserves what it gives before unlocking. The applier releases a
// decision's reservation under that lock in the same step as it commits
// the impression to the profile store, so a concurrent decision counts
// every impression exactly once: as a reservation or in the profile,
// never both, never neither. It is the state applier's state.Contacts.
//
// The cluster path implements the same contract in Redis: the reservation
// is the impression itself, added by a script that checks the cap.
type contactLedger struct {
	profiles Profiles
	spec     *features.Spec
	seed     maphash.Seed
	ids      atomic.Uint64 // numbers the reservations
	stripes  [ledgerStripes]ledgerStripe
	// ttl bounds how long a reservation whose decision was never applied
	// (its journal batch failed after the decision gave up waiting) keeps
	// counting.
	ttl time.Duration
	now func() time.Time // monotonic clock for ttl, not the service clock
}

// ledgerStripes is the number of independently locked stripes; a power
// of two no larger than 64, so a set of stripes is a uint64 bit mask.
const ledgerStripes = 64

type ledgerStripe struct {
	mu      sync.Mutex
	pending map[string][]reservedImpression
	_       [40]byte // keep stripes on separate cache lines
}

// reservedImpression is one action a decision gave, not yet applied.
type reservedImpression struct {
	id      uint64 // the reservation's id
	action  string
	at      time.Time // the decision's time: the impression's time
	expires time.Time
}

func newContactLedger(profiles Profiles, spec *features.Spec, ttl time.Duration) *contactLedger {
	l := &contactLedger{profiles: profiles, spec: spec, seed: maphash.MakeSeed(), ttl: ttl, now: time.Now}
	for i := range l.stripes {
		l.stripes[i].pending = make(map[string][]reservedImpression)
	}
	return l
}

func (l *contactLedger) stripe(customer string) int {
	return int(maphash.String(l.seed, customer) % ledgerStripes)
}

// Decide implements Contacts: the profile is read, the policy checked
// and the capped actions given reserved under the customer's stripe lock.
func (l *contactLedger) Decide(customer, id string, at time.Time, d state.Decider, resv *state.Reservation) (bool, error) {
	stripe := l.lock(customer)
	defer l.unlock(stripe)
	p, err := l.profiles.Get(customer)
	if p == nil {
		p = l.spec.NewProfile(customer, at)
	}
	p = l.overlay(stripe, customer, p)
	capped, err := d.DecideOn(p, err)
	if err != nil || len(capped) == 0 {
		return false, err
	}
	*resv = l.reserve(stripe, customer, l.ids.Add(1), at, capped)
	resv.Decision = id
	return true, nil
}

// Reserve implements Contacts.
func (l *contactLedger) Reserve(customer, id string, at time.Time, actions []string) (state.Reservation, error) {
	stripe := l.lock(customer)
	defer l.unlock(stripe)
	r := l.reserve(stripe, customer, l.ids.Add(1), at, actions)
	r.Decision = id
	return r, nil
}

// Release implements Contacts.
func (l *contactLedger) Release(r *state.Reservation) { l.release(*r) }

// lock locks customer's stripe and returns it; every other method that
// takes a stripe must be called with it locked.
func (l *contactLedger) lock(customer string) int {
	i := l.stripe(customer)
	l.stripes[i].mu.Lock()
	return i
}

func (l *contactLedger) unlock(stripe int) { l.stripes[stripe].mu.Unlock() }

// overlay returns p with customer's open reservations added as
// impressions (a copy, if there are any; p itself otherwise). Expired
// reservations are dropped.
func (l *contactLedger) overlay(stripe int, customer string, p *features.Profile) *features.Profile {
	st := &l.stripes[stripe]
	rs := st.pending[customer]
	if len(rs) == 0 {
		return p
	}
	now := l.now()
	rs = slices.DeleteFunc(rs, func(r reservedImpression) bool { return now.After(r.expires) })
	if len(rs) == 0 {
		delete(st.pending, customer)
		return p
	}
	st.pending[customer] = rs
	p = p.Clone()
	for _, r := range rs {
		features.RecordImpression(p, r.action, r.at)
	}
	return p
}

// reserve records that a decision at time at gave actions to customer.
// id must be unique among open reservations. The reservation is released
// by the applier when the decision's record is applied (Commit), or by
// the handler when it was not journaled (release); its Shard is the
// stripe.
func (l *contactLedger) reserve(stripe int, customer string, id uint64, at time.Time, actions []string) state.Reservation {
	st := &l.stripes[stripe]
	exp := l.now().Add(l.ttl)
	rs := st.pending[customer]
	for _, a := range actions {
		rs = append(rs, reservedImpression{id: id, action: a, at: at, expires: exp})
	}
	st.pending[customer] = rs
	return state.Reservation{Customer: customer, ID: id, Shard: stripe}
}

// release drops r's impressions; the caller holds r's stripe. Releasing
// twice is harmless.
func (l *contactLedger) releaseLocked(r state.Reservation) {
	st := &l.stripes[r.Shard]
	rs := slices.DeleteFunc(st.pending[r.Customer], func(x reservedImpression) bool { return x.id == r.ID })
	if len(rs) == 0 {
		delete(st.pending, r.Customer)
	} else {
		st.pending[r.Customer] = rs
	}
}

// release drops r's impressions: for a decision that was not journaled.
func (l *contactLedger) release(r state.Reservation) {
	l.stripes[r.Shard].mu.Lock()
	l.releaseLocked(r)
	l.stripes[r.Shard].mu.Unlock()
}

// Commit runs apply (which makes the impressions of rs part of the
// profile store) with the stripes of rs locked, then releases rs, so no
// decision sees an impression twice or not at all. If apply fails, rs stay
// reserved until they expire: the records are durable and will be
// applied on recovery.
func (l *contactLedger) Commit(rs []state.Reservation, apply func() error) error {
	if len(rs) == 0 {
		return apply()
	}
	var mask uint64
	for _, r := range rs {
		mask |= 1 << uint(r.Shard)
	}
	for m := mask; m != 0; m &= m - 1 {
		l.stripes[bits.TrailingZeros64(m)].mu.Lock()
	}
	err := apply()
	if err == nil {
		for _, r := range rs {
			l.releaseLocked(r)
		}
	}
	for m := mask; m != 0; m &= m - 1 {
		l.stripes[bits.TrailingZeros64(m)].mu.Unlock()
	}
	return err
}
