package serve

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/journal"
	"nextbest/logs"
)

// Keys of the state the applier keeps in Pebble. Profiles live under the
// features.Store prefix ("p/").
const (
	keyApplied     = "m/applied" // LSN of the last journal record applied
	prefixDecision = "d/"        // d/<decision_id> → the decision's journal payload
	prefixOutcome  = "o/"        // o/<decision_id>/… → outcome de-duplication and aggregates (outcomeKeys)
	prefixRequest  = "r/"        // r/<customer_id>/<request_id> → decision_id
)

// live carries what the decide handler already has in memory alongside a
// journal record, so that the applier need not decode the payload again.
// It is never persisted: on replay, records arrive without it.
type live struct {
	decision *journal.Decision
	outcome  *journal.Outcome
	event    *journal.Event
	// x holds the feature rows of the decision's returned actions and acts
	// their catalog action indices.
	x    []float64
	acts []int
	// resv is the contact reservation of the decision's capped actions,
	// released when the decision is applied.
	resv *reservation
}

// applier is the one writer of derived state: every record the journal
// makes durable passes through apply, in LSN order, from the journal's
// commit goroutine (or from recovery, before the server starts). It keeps
// profiles, the decision index and outcome de-duplication in Pebble (one
// batch per group commit, written without fsync: the journal is the
// durable copy, and recovery replays it from the applied LSN), and hands
// learning work to the learner in LSN order.
type applier struct {
	db      *pebble.DB
	store   *features.Store
	spec    *features.Spec
	cat     *decide.Catalog
	learner *learner
	log     *slog.Logger
	// outcomes are the declared outcome types; errs counts and logs the
	// records skipped
	outcomes *logs.Outcomes
	errs     *applyErrors

	applied uint64
	changed map[string]*features.Profile
	order   []*features.Profile
	seen    map[string][]byte // outcome keys set in the current batch
	work    []learnItem
	// contacts holds the reservations of decisions not yet applied; resv
	// those of the current batch.
	contacts *contactLedger
	resv     []reservation
}

func newApplier(db *pebble.DB, store *features.Store, spec *features.Spec, cat *decide.Catalog, l *learner, outcomes *logs.Outcomes, errs *applyErrors, log *slog.Logger) (*applier, error) {
	a := &applier{
		db: db, store: store, spec: spec, cat: cat, learner: l, log: log, outcomes: outcomes, errs: errs,
		changed: make(map[string]*features.Profile),
		seen:    make(map[string][]byte),
	}
	v, closer, err := db.Get([]byte(keyApplied))
	switch {
	case err == pebble.ErrNotFound:
	case err != nil:
		return nil, fmt.Errorf("cannot read applied LSN: %w", err)
	default:
		if len(v) == 8 {
			a.applied = binary.BigEndian.Uint64(v)
		}
		closer.Close()
	}
	return a, nil
}

// lookback is how far back the contact policy of action id looks: its
// longest frequency-cap window (0 without caps, or for an action no longer
// in the catalog).
func (a *applier) lookback(id string) time.Duration {
	act, ok := a.cat.Lookup(id)
	if !ok {
		return 0
	}
	var w time.Duration
	for _, l := range act.Limits {
		w = max(w, l.Window.D())
	}
	return w
}

// Apply applies a durable journal batch: the applier is the journal's
// first subscriber (journal.Subscriber). live holds the decide, outcome
// and event handlers' in-memory copies of the records, nil in a replay.
func (a *applier) Apply(recs []journal.Record, live []*live) error { return a.apply(recs, live) }

// Applied returns the LSN of the last record applied to Pebble.
func (a *applier) Applied() uint64 { return a.applied }

// apply applies recs (in LSN order), with their live values if lives is
// not nil. Records at or below the applied LSN are skipped, so recovery
// may hand it records twice.
func (a *applier) apply(recs []journal.Record, lives []*live) error {
	b := a.db.NewBatch()
	defer b.Close()
	clear(a.changed)
	clear(a.seen)
	a.order = a.order[:0]
	a.work = a.work[:0]
	a.resv = a.resv[:0]
	last := a.applied
	upTo := uint64(0)
	for i := range recs {
		r := &recs[i]
		// Records at or below the applied LSN are already in Pebble; during
		// recovery the learner may still need them (its snapshot can be
		// older than Pebble's state), so they are read without writing.
		upTo = r.LSN
		write := r.LSN > a.applied
		if !write && (a.learner == nil || r.LSN <= a.learner.from) {
			continue
		}
		if write {
			last = r.LSN
		}
		var l *live
		if lives != nil {
			l = lives[i]
		}
		if l != nil && l.resv != nil && write {
			a.resv = append(a.resv, *l.resv)
		}
		var err error
		switch r.Type {
		case journal.TypeDecision:
			err = a.applyDecision(b, r, l, write)
		case journal.TypeOutcome:
			err = a.applyOutcome(b, r, l, write)
		case journal.TypeEvent:
			if write {
				err = a.applyEvent(r, l)
			}
		default:
			a.log.Warn("skipping journal record of unknown type", "lsn", r.LSN, "type", r.Type)
		}
		if err != nil {
			// A record that cannot be applied is counted, logged and
			// skipped, whatever else it would have changed: an old journal
			// may hold what the edge now refuses, and one record must not
			// poison shared state or stop the service.
			a.errs.skip(r.LSN, r.Type, err)
		}
	}
	if last == a.applied {
		if a.learner != nil && upTo > 0 {
			a.learner.enqueue(a.work, upTo)
		}
		return nil
	}
	for _, p := range a.order {
		if err := a.store.Stage(b, p); err != nil {
			return fmt.Errorf("cannot stage profile %q: %w", p.CustomerID, err)
		}
	}
	var lsn [8]byte
	binary.BigEndian.PutUint64(lsn[:], last)
	if err := b.Set([]byte(keyApplied), lsn[:], nil); err != nil {
		return err
	}
	// the batch's contact reservations turn into profile impressions here
	if err := a.contacts.commit(a.resv, func() error { return a.store.Commit(b, a.order) }); err != nil {
		return fmt.Errorf("cannot commit applied state: %w", err)
	}
	a.applied = last
	if a.learner != nil {
		a.learner.enqueue(a.work, upTo)
	}
	return nil
}

// profile returns the working copy of customer id's profile for this
// batch, a new one made at time at if the customer is unknown.
func (a *applier) profile(id string, at time.Time) (*features.Profile, error) {
	if p, ok := a.changed[id]; ok {
		return p, nil
	}
	p, err := a.store.Get(id)
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = a.spec.NewProfile(id, at)
		p.Cold = false
	} else {
		p = p.Clone()
	}
	a.changed[id] = p
	a.order = append(a.order, p)
	return p, nil
}

func (a *applier) applyDecision(b *pebble.Batch, r *journal.Record, l *live, write bool) error {
	var d *journal.Decision
	if l != nil && l.decision != nil {
		d = l.decision
	} else {
		d = new(journal.Decision)
		if err := journal.DecodeDecision(r.Payload, d); err != nil {
			return &applyError{kindDecode, err}
		}
	}
	if len(d.Actions) == 0 {
		return nil // nothing shown: no impression, no outcome possible
	}
	if write {
		if err := b.Set([]byte(prefixDecision+d.DecisionID), r.Payload, nil); err != nil {
			return err
		}
		if d.RequestID != "" {
			if err := b.Set([]byte(prefixRequest+d.CustomerID+"/"+d.RequestID), []byte(d.DecisionID), nil); err != nil {
				return err
			}
		}
		p, err := a.profile(d.CustomerID, d.Time)
		if err != nil {
			return err
		}
		if p.LSN < r.LSN {
			for _, act := range d.Actions {
				features.RecordImpression(p, act.ActionID, d.Time)
				features.TrimImpressions(p, act.ActionID, d.Time.Add(-a.lookback(act.ActionID)))
			}
			p.LSN = r.LSN
		}
	}
	if a.learner == nil || r.LSN <= a.learner.from {
		return nil
	}
	it := learnItem{lsn: r.LSN, kind: learnImpression, decision: d}
	if l != nil && l.x != nil {
		// the handler's buffers are reused once Append returns: copy
		it.x, it.acts, it.decision = slices.Clone(l.x), slices.Clone(l.acts), nil
	}
	a.work = append(a.work, it)
	return nil
}

// outcomeKeys are the de-duplication keys of an outcome in the state
// store; they all start with the decision's id, so the retention sweep
// removes them with the decision (see retention.go).
//
//	o/<decision>/<action>         LSN of the action's first learned outcome
//	o/<decision>/<action>/<type>  entries of the type: the first outcome's,
//	                              and for max each increase (outcomeEntry)
//	o/<decision>//<outcome_id>    LSN of the outcome that used the id
//
// Action ids cannot be empty or contain "/", type names cannot contain
// "/", so the three forms never collide.
type outcomeKeys struct{ action, typ, id string }

func keysOf(decisionID, actionID, typ, outcomeID string) outcomeKeys {
	k := outcomeKeys{action: prefixOutcome + decisionID + "/" + actionID}
	k.typ = k.action + "/" + typ
	if outcomeID != "" {
		k.id = prefixOutcome + decisionID + "//" + outcomeID
	}
	return k
}

// dedupe returns the keys that make a repeat of this outcome a duplicate:
// its outcome_id's, and for a first-aggregated type its (decision, action,
// type)'s.
func (k outcomeKeys) dedupe(t *logs.OutcomeType) []string {
	var out []string
	if k.id != "" {
		out = append(out, k.id)
	}
	if t.Aggregate == logs.AggFirst {
		out = append(out, k.typ)
	}
	return out
}

// outcomeEntry is one entry of an o/<decision>/<action>/<type> value, 16
// bytes: the LSN of an outcome and the type's aggregate reward after it
// (NaN for an outcome outside the attribution window, which is kept only
// to de-duplicate). A value of 8 bytes, written before aggregations were
// declared, is one entry with aggregate 0.
type outcomeEntry struct {
	lsn uint64
	agg float64
}

// maxOutcomeEntries caps the entries of one key (a max type's increases).
const maxOutcomeEntries = 256

func decodeEntries(v []byte) ([]outcomeEntry, error) {
	if len(v) == 8 {
		return []outcomeEntry{{lsn: binary.BigEndian.Uint64(v)}}, nil
	}
	if len(v)%16 != 0 {
		return nil, fmt.Errorf("bad outcome entry of %d bytes", len(v))
	}
	es := make([]outcomeEntry, len(v)/16)
	for i := range es {
		es[i] = outcomeEntry{lsn: binary.BigEndian.Uint64(v[16*i:]), agg: math.Float64frombits(binary.BigEndian.Uint64(v[16*i+8:]))}
	}
	return es, nil
}

func encodeEntries(es []outcomeEntry) []byte {
	b := make([]byte, 0, 16*len(es))
	for _, e := range es {
		b = binary.BigEndian.AppendUint64(b, e.lsn)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(e.agg))
	}
	return b
}

// firstLSNOf reads the LSN stored under key (the first of its entries);
// 0 if there is none. Callers outside the applier (the outcome handler)
// use it to tell a duplicate.
func firstLSNOf(v []byte) uint64 {
	if len(v) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// applyOutcome applies an outcome: de-duplication keys, the customer's
// conversion count, and the learning reward the declared rule gives it.
// A duplicate (its outcome_id or, for a first type, its (decision, action,
// type) already taken by an earlier record: old journals hold such
// repeats) changes nothing.
func (a *applier) applyOutcome(b *pebble.Batch, r *journal.Record, l *live, write bool) error {
	var o *journal.Outcome
	if l != nil && l.outcome != nil {
		o = l.outcome
	} else {
		o = new(journal.Outcome)
		if err := journal.DecodeOutcome(r.Payload, o); err != nil {
			return &applyError{kindDecode, err}
		}
	}
	t, ok := a.outcomes.Lookup(o.Type)
	if !ok {
		return &applyError{kindType, fmt.Errorf("outcome type %q is not declared (declared: %s)", o.Type, a.outcomes)}
	}
	if err := logs.CheckReward(o.Reward); err != nil {
		return &applyError{kindReward, fmt.Errorf("outcome for decision %s, action %s: %w", o.DecisionID, o.ActionID, err)}
	}
	k := keysOf(o.DecisionID, o.ActionID, o.Type, o.OutcomeID)
	if k.id != "" {
		v, err := a.get(k.id)
		if err != nil {
			return &applyError{kindState, err}
		}
		if v != nil && firstLSNOf(v) != r.LSN {
			return nil // a re-sent outcome_id
		}
	}
	var entries []outcomeEntry
	if t.Aggregate != logs.AggSum {
		v, err := a.get(k.typ)
		if err != nil {
			return &applyError{kindState, err}
		}
		if entries, err = decodeEntries(v); err != nil {
			return &applyError{kindState, fmt.Errorf("%s: %w", k.typ, err)}
		}
		if t.Aggregate == logs.AggFirst && len(entries) > 0 && entries[0].lsn != r.LSN {
			return nil // a repeat of a first type
		}
	}
	var p *features.Profile
	if write {
		var err error
		if p, err = a.profile(o.CustomerID, o.Time); err != nil {
			return &applyError{kindState, err}
		}
	}

	// the learning reward: the type's aggregate before this record, folded
	reward := t.Reward.Apply(o.Reward)
	learn := a.learner != nil && (a.learner.window <= 0 || o.Time.Sub(o.DecisionTime) <= a.learner.window)
	var prev logs.Aggregate
	for _, e := range entries {
		if e.lsn < r.LSN && !math.IsNaN(e.agg) {
			prev = logs.Aggregate{N: prev.N + 1, Reward: e.agg}
		}
	}
	var next logs.Aggregate
	var delta float64
	var actionKey []byte // the action's first learned outcome, if any
	if learn {
		next, delta, _ = t.Fold(prev, reward)
		var err error
		if actionKey, err = a.get(k.action); err != nil {
			return &applyError{kindState, err}
		}
	}

	// nothing fails from here: the record is applied whole or not at all
	if write {
		if k.id != "" {
			a.set(b, k.id, binary.BigEndian.AppendUint64(nil, r.LSN))
		}
		switch {
		case t.Aggregate == logs.AggSum:
		case len(entries) == 0 && !learn:
			a.set(b, k.typ, encodeEntries([]outcomeEntry{{lsn: r.LSN, agg: math.NaN()}}))
		case len(entries) == 0 || (learn && delta != 0 && len(entries) < maxOutcomeEntries && entries[len(entries)-1].lsn < r.LSN):
			a.set(b, k.typ, encodeEntries(append(entries, outcomeEntry{lsn: r.LSN, agg: next.Reward})))
		}
		if p.LSN < r.LSN {
			features.RecordOutcome(p, o.ActionID, t.Converts(o.Reward), o.Time)
			p.LSN = r.LSN
		}
	}
	if !learn {
		return nil
	}
	// the action's first learned outcome replaces the default reward (its
	// key is kept even for a record the model already holds: Pebble's
	// state may be behind the model snapshot after a crash)
	firstAny := false
	switch {
	case actionKey == nil && write:
		a.set(b, k.action, binary.BigEndian.AppendUint64(nil, r.LSN))
		firstAny = true
	case actionKey != nil:
		firstAny = firstLSNOf(actionKey) == r.LSN
	}
	if r.LSN <= a.learner.from {
		return nil
	}
	if d := logs.ActionDelta(delta, a.learner.defaultReward, firstAny); d != 0 {
		c := *o // the handler reuses its outcome once Append returns
		a.work = append(a.work, learnItem{lsn: r.LSN, kind: learnReward, outcome: &c, delta: d})
	}
	return nil
}

// get returns the value of key, as set earlier in this batch or stored;
// nil if there is none. The caller must not modify it.
func (a *applier) get(key string) ([]byte, error) {
	if v, ok := a.seen[key]; ok {
		return v, nil
	}
	v, closer, err := a.db.Get([]byte(key))
	if err == pebble.ErrNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v = bytes.Clone(v)
	closer.Close()
	return v, nil
}

// set writes key in the batch and remembers it for the rest of the batch
// (Pebble's reads do not see an uncommitted batch).
func (a *applier) set(b *pebble.Batch, key string, v []byte) {
	a.seen[key] = v
	b.Set([]byte(key), v, nil) // a batch Set fails only on a closed batch
}

func (a *applier) applyEvent(r *journal.Record, l *live) error {
	var e *journal.Event
	if l != nil && l.event != nil {
		e = l.event
	} else {
		e = new(journal.Event)
		if err := journal.DecodeEvent(r.Payload, e); err != nil {
			return &applyError{kindDecode, err}
		}
	}
	p, err := a.profile(e.CustomerID, e.Time)
	if err != nil {
		return err
	}
	if p.LSN >= r.LSN {
		return nil
	}
	// An event with numbers is applied to a copy first and kept only if
	// every counter stays finite: the profile is shared by every later
	// decision for the customer, and a non-finite counter would fail them
	// all. (ApplyEvent refuses what it can see; this also holds for what
	// it cannot.)
	q := p
	if hasNumber(e.Properties) {
		q = p.Clone()
	}
	if err := a.spec.ApplyEvent(q, features.Event{Type: e.Type, Channel: e.Channel, Time: e.Time, Properties: e.Properties}); err != nil {
		return &applyError{kindEvent, fmt.Errorf("%s event for customer %s: %w", e.Type, e.CustomerID, err)}
	}
	if q != p {
		for name, c := range q.Counters {
			if math.IsNaN(c.Value) || math.IsInf(c.Value, 0) {
				return &applyError{kindEvent, fmt.Errorf("%s event for customer %s would make counter %s %v", e.Type, e.CustomerID, name, c.Value)}
			}
		}
		*p = *q
	}
	p.LSN = r.LSN
	return nil
}

func hasNumber(props map[string]any) bool {
	for _, v := range props {
		if _, ok := v.(float64); ok {
			return true
		}
	}
	return false
}

// Kinds of apply errors: the label values of nextbest_apply_errors_total.
const (
	kindDecode = "decode" // a payload that does not decode
	kindType   = "type"   // an outcome of an undeclared type
	kindReward = "reward" // an outcome reward not finite or out of range
	kindEvent  = "event"  // an event the profile refuses
	kindModel  = "model"  // an update the online model refuses
	kindState  = "state"  // the state store failed
)

var applyErrorKinds = []string{kindDecode, kindType, kindReward, kindEvent, kindModel, kindState}

// applyError is a record the applier or learner skips, with its kind.
type applyError struct {
	kind string
	err  error
}

func (e *applyError) Error() string { return e.err.Error() }
func (e *applyError) Unwrap() error { return e.err }

// applyErrors counts the records skipped in nextbest_apply_errors_total
// and logs them at ERROR with their LSN, at most one line per kind every
// interval (with the count held back since): a poisoned journal replays
// the same failure for every restart, and an old one may hold many.
// It is safe for concurrent use (the applier and the learner share it).
type applyErrors struct {
	count    *prometheus.CounterVec
	log      *slog.Logger
	interval time.Duration

	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

func newApplyErrors(count *prometheus.CounterVec, log *slog.Logger) *applyErrors {
	for _, k := range applyErrorKinds {
		count.WithLabelValues(k) // export every kind, at 0
	}
	return &applyErrors{count: count, log: log, interval: 10 * time.Second,
		last: make(map[string]time.Time), held: make(map[string]int)}
}

// skip counts and logs a record skipped for err (an *applyError, else of
// kind state).
func (e *applyErrors) skip(lsn uint64, typ journal.Type, err error) {
	kind := kindState
	if ae, ok := err.(*applyError); ok {
		kind = ae.kind
	}
	e.count.WithLabelValues(kind).Inc()
	e.mu.Lock()
	now := time.Now()
	if now.Sub(e.last[kind]) < e.interval {
		e.held[kind]++
		e.mu.Unlock()
		return
	}
	held := e.held[kind]
	e.last[kind], e.held[kind] = now, 0
	e.mu.Unlock()
	e.log.Error("skipped a journal record that cannot be applied", "kind", kind, "lsn", lsn, "type", typ.String(), "err", err, "suppressed_since_last", held)
}
