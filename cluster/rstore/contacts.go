package rstore

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/kv"
	"nextbest/state"
)

// Contacts is the cluster path's contact guard (serve.Contacts): the
// reservation is a key in Redis (state.ReservationKey) that a script adds
// only if the caps still hold, counting the impressions in the profile the
// decision read (the script checks the profile is unchanged) and every
// open reservation of the customer, whichever instance made it. The state
// applier deletes a reservation in the batch that records its impressions
// in the profile, so an impression counts exactly once: as a reservation
// or in the profile.
type Contacts struct {
	s    *Store
	spec *features.Spec
	cat  *decide.Catalog
	// TTL bounds how long the reservation of a decision that never
	// reaches the stream (its instance died before publishing) counts.
	ttl time.Duration
	// Retries bounds how often a decision is made again after a
	// concurrent change (default 20).
	retries int
}

// NewContacts returns the contact guard over s.
func NewContacts(s *Store, spec *features.Spec, cat *decide.Catalog, ttl time.Duration) *Contacts {
	return &Contacts{s: s, spec: spec, cat: cat, ttl: ttl, retries: 20}
}

// ErrContended is Decide's error when concurrent decisions for one
// customer kept changing its state through every retry.
var ErrContended = errors.New("contact reservation contended: too many concurrent decisions for one customer")

// pendingScript returns the open reservations of a customer (values
// "<unix ms>|<action>,<action>"), dropping the set's members whose key
// expired or was deleted by the applier. KEYS: the reservation set.
var pendingScript = rueidis.NewLuaScript(`
local out = {}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local v = redis.call('GET', m)
  if v then table.insert(out, v) else redis.call('SREM', KEYS[1], m) end
end
return out
`)

// reserveScript adds a reservation if the profile is the one the decision
// read and every cap still holds. KEYS: the profile, the reservation set.
// ARGV: the profile's SHA-1 ("" for none), now (unix ms), the reservation
// key, its time to live (ms), its value, then per limit of a given action:
// the action, the window (ms), the max and the impressions the profile
// holds in the window.
var reserveScript = rueidis.NewLuaScript(`
local cur = redis.call('GET', KEYS[1])
local sha = ''
if cur then sha = redis.sha1hex(cur) end
if sha ~= ARGV[1] then return 'STALE' end
local now = tonumber(ARGV[2])
local pend = {}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local v = redis.call('GET', m)
  if v then
    local ts, acts = string.match(v, '^(%d+)|(.*)$')
    table.insert(pend, {tonumber(ts), ',' .. acts .. ','})
  else
    redis.call('SREM', KEYS[2], m)
  end
end
local a = 6
while a <= #ARGV do
  local act, win, mx, cnt = ARGV[a], tonumber(ARGV[a+1]), tonumber(ARGV[a+2]), tonumber(ARGV[a+3])
  for _, p in ipairs(pend) do
    if p[1] > now - win and string.find(p[2], ',' .. act .. ',', 1, true) then cnt = cnt + 1 end
  end
  if cnt + 1 > mx then return 'CAPPED ' .. act end
  a = a + 4
end
redis.call('SET', ARGV[3], ARGV[5], 'PX', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 'OK'
`)

// Decide implements serve.Contacts.
func (c *Contacts) Decide(customer, id string, at time.Time, d state.Decider, resv *state.Reservation) (bool, error) {
	pkey := "p/" + customer
	var read kv.KV = c.s.Cached()
	for try := 0; ; try++ {
		raw, err := read.Get(pkey)
		var p *features.Profile
		if err == nil && raw != nil {
			if p, err = features.DecodeProfile(raw); err != nil {
				err = fmt.Errorf("cannot decode profile %q: %w", customer, err)
			}
		}
		var pending []string
		if err == nil {
			pending, err = c.pending(customer)
		}
		if err != nil || p == nil {
			p = c.spec.NewProfile(customer, at)
		}
		if err != nil {
			// the store is down: decide on a cold-start profile and give
			// nothing capped (no reservation can be made)
			capped, derr := d.DecideOn(p, err)
			if derr != nil {
				return false, derr
			}
			if len(capped) > 0 {
				return false, fmt.Errorf("%w: cannot reserve capped actions: %w", ErrUnavailable, err)
			}
			return false, nil
		}
		if len(pending) > 0 {
			p = p.Clone()
			for _, v := range pending {
				ts, acts, ok := strings.Cut(v, "|")
				ms, perr := strconv.ParseInt(ts, 10, 64)
				if !ok || perr != nil {
					continue
				}
				for _, act := range strings.Split(acts, ",") {
					features.RecordImpression(p, act, time.UnixMilli(ms))
				}
			}
		}
		capped, err := d.DecideOn(p, nil)
		if err != nil || len(capped) == 0 {
			return false, err
		}
		verdict, err := c.reserve(customer, id, at, raw, p, len(pending) > 0, capped)
		if err != nil {
			return false, err
		}
		if verdict == "OK" {
			*resv = state.Reservation{Customer: customer, Decision: id}
			return true, nil
		}
		if try >= c.retries {
			return false, ErrContended
		}
		// a concurrent change: read the server, not the cache, again
		read = c.s
	}
}

// pending returns customer's open reservations.
func (c *Contacts) pending(customer string) ([]string, error) {
	if err := c.s.Down(); err != nil {
		return nil, err
	}
	ctx, cancel := c.s.ctx()
	defer cancel()
	v, err := pendingScript.Exec(ctx, c.s.c, []string{state.ReservationSet(customer)}, nil).AsStrSlice()
	if err != nil && !rueidis.IsRedisNil(err) {
		return nil, unavailable(err)
	}
	return v, nil
}

// reserve runs the reservation script. p is the profile decided on, with
// the pending reservations overlaid (overlaid): its impressions minus the
// pending ones are what the stored profile holds.
func (c *Contacts) reserve(customer, id string, at time.Time, raw []byte, p *features.Profile, overlaid bool, capped []string) (string, error) {
	sha := ""
	if raw != nil {
		h := sha1.Sum(raw)
		sha = hex.EncodeToString(h[:])
	}
	// the stored profile's impressions within each window: decode again
	// rather than subtract the overlay
	stored := p
	if overlaid {
		stored = nil
		if raw != nil {
			var err error
			if stored, err = features.DecodeProfile(raw); err != nil {
				return "", err
			}
		}
	}
	now := at.UnixMilli()
	args := []string{sha, strconv.FormatInt(now, 10), state.ReservationKey(customer, id),
		strconv.FormatInt(c.ttl.Milliseconds(), 10), strconv.FormatInt(now, 10) + "|" + strings.Join(capped, ",")}
	for _, act := range capped {
		a, ok := c.cat.Lookup(act)
		if !ok {
			continue
		}
		for _, l := range a.Limits {
			n := 0
			if stored != nil {
				n = l.Seen(stored.Contacts[act], at)
			}
			args = append(args, act, strconv.FormatInt(l.Window.D().Milliseconds(), 10), strconv.Itoa(l.Max), strconv.Itoa(n))
		}
	}
	ctx, cancel := c.s.ctx()
	defer cancel()
	v, err := reserveScript.Exec(ctx, c.s.c, []string{"p/" + customer, state.ReservationSet(customer)}, args).ToString()
	if err != nil {
		return "", unavailable(err)
	}
	return v, nil
}

// Reserve implements serve.Contacts: the activation's reservation is a
// key like a decision's, added without a cap check (the channel showed
// the actions), which the state applier deletes in the batch that records
// the impressions.
func (c *Contacts) Reserve(customer, id string, at time.Time, actions []string) (state.Reservation, error) {
	if err := c.s.Down(); err != nil {
		return state.Reservation{}, err
	}
	ctx, cancel := c.s.ctx()
	defer cancel()
	key, set := state.ReservationKey(customer, id), state.ReservationSet(customer)
	ttl := c.ttl.Milliseconds()
	val := strconv.FormatInt(at.UnixMilli(), 10) + "|" + strings.Join(actions, ",")
	cmds := rueidis.Commands{
		c.s.c.B().Set().Key(key).Value(val).PxMilliseconds(ttl).Build(),
		c.s.c.B().Sadd().Key(set).Member(key).Build(),
		c.s.c.B().Pexpire().Key(set).Milliseconds(ttl).Build(),
	}
	for _, r := range c.s.c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return state.Reservation{}, unavailable(err)
		}
	}
	return state.Reservation{Customer: customer, Decision: id}, nil
}

// Release deletes a reservation whose decision (or activation) was not
// journaled.
func (c *Contacts) Release(r *state.Reservation) {
	ctx, cancel := c.s.ctx()
	defer cancel()
	key := state.ReservationKey(r.Customer, r.Decision)
	cmds := rueidis.Commands{
		c.s.c.B().Del().Key(key).Build(),
		c.s.c.B().Srem().Key(state.ReservationSet(r.Customer)).Member(key).Build(),
	}
	for _, r := range c.s.c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			c.s.log.Warn("cannot release a contact reservation; it expires by itself", "key", key, "err", err)
		}
	}
}
