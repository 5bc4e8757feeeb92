package serve

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/journal"
)

// Keys of the state the applier keeps in Pebble. Profiles live under the
// features.Store prefix ("p/").
const (
	keyApplied     = "m/applied" // LSN of the last journal record applied
	prefixDecision = "d/"        // d/<decision_id> → the decision's journal payload
	prefixOutcome  = "o/"        // o/<decision_id>/<action_id>[/<type>] → LSN of the first such outcome
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

	applied uint64
	changed map[string]*features.Profile
	order   []*features.Profile
	seen    map[string]uint64 // outcome keys set in the current batch
	work    []learnItem
}

func newApplier(db *pebble.DB, store *features.Store, spec *features.Spec, cat *decide.Catalog, l *learner, log *slog.Logger) (*applier, error) {
	a := &applier{
		db: db, store: store, spec: spec, cat: cat, learner: l, log: log,
		changed: make(map[string]*features.Profile),
		seen:    make(map[string]uint64),
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

// onCommit is the journal's OnCommit hook.
func (a *applier) onCommit(recs []journal.Record) error { return a.apply(recs) }

// Applied returns the LSN of the last record applied to Pebble.
func (a *applier) Applied() uint64 { return a.applied }

// apply applies recs (in LSN order). Records at or below the applied LSN
// are skipped, so recovery may hand it records twice.
func (a *applier) apply(recs []journal.Record) error {
	b := a.db.NewBatch()
	defer b.Close()
	clear(a.changed)
	clear(a.seen)
	a.order = a.order[:0]
	a.work = a.work[:0]
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
		l, _ := r.Meta.(*live)
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
			// A record that cannot be applied is logged and skipped: it was
			// validated before it was journaled, so this is a bug or a
			// schema change, and it must not stop the service.
			a.log.Error("cannot apply journal record", "lsn", r.LSN, "type", r.Type.String(), "err", err)
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
	if err := a.store.Commit(b, a.order); err != nil {
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
			return err
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

func (a *applier) applyOutcome(b *pebble.Batch, r *journal.Record, l *live, write bool) error {
	var o *journal.Outcome
	if l != nil && l.outcome != nil {
		o = l.outcome
	} else {
		o = new(journal.Outcome)
		if err := journal.DecodeOutcome(r.Payload, o); err != nil {
			return err
		}
	}
	// first outcome of any type for (decision, action), and of this type
	kAny := prefixOutcome + o.DecisionID + "/" + o.ActionID
	kType := kAny + "/" + o.Type
	firstAny, err := a.firstLSN(b, kAny, r.LSN, write)
	if err != nil {
		return err
	}
	firstType, err := a.firstLSN(b, kType, r.LSN, write)
	if err != nil {
		return err
	}
	if write {
		p, err := a.profile(o.CustomerID, o.Time)
		if err != nil {
			return err
		}
		if p.LSN < r.LSN {
			features.RecordOutcome(p, o.ActionID, o.Type, o.Reward, o.Time)
			p.LSN = r.LSN
		}
	}
	if a.learner != nil && r.LSN > a.learner.from && firstType == r.LSN {
		if l != nil {
			c := *o // the handler reuses its outcome once Append returns
			o = &c
		}
		a.work = append(a.work, learnItem{lsn: r.LSN, kind: learnReward, outcome: o, firstAny: firstAny == r.LSN})
	}
	return nil
}

// firstLSN returns the LSN recorded under key, recording lsn there if the
// key is new (in the database or in this batch) and write is set.
func (a *applier) firstLSN(b *pebble.Batch, key string, lsn uint64, write bool) (uint64, error) {
	if v, ok := a.seen[key]; ok {
		return v, nil
	}
	v, closer, err := a.db.Get([]byte(key))
	switch {
	case err == pebble.ErrNotFound && !write:
		return 0, nil
	case err == pebble.ErrNotFound:
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], lsn)
		if err := b.Set([]byte(key), buf[:], nil); err != nil {
			return 0, err
		}
		a.seen[key] = lsn
		return lsn, nil
	case err != nil:
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("bad outcome key %q", key)
	}
	first := binary.BigEndian.Uint64(v)
	a.seen[key] = first
	return first, nil
}

func (a *applier) applyEvent(r *journal.Record, l *live) error {
	var e *journal.Event
	if l != nil && l.event != nil {
		e = l.event
	} else {
		e = new(journal.Event)
		if err := journal.DecodeEvent(r.Payload, e); err != nil {
			return err
		}
	}
	p, err := a.profile(e.CustomerID, e.Time)
	if err != nil {
		return err
	}
	if p.LSN >= r.LSN {
		return nil
	}
	if err := a.spec.ApplyEvent(p, features.Event{Type: e.Type, Channel: e.Channel, Time: e.Time, Properties: e.Properties}); err != nil {
		return err
	}
	p.LSN = r.LSN
	return nil
}
