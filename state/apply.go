package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"nextbest/decide"
	"nextbest/experiment"
	"nextbest/features"
	"nextbest/journal"
	"nextbest/kv"
	"nextbest/logs"
)

// Live is what an appender (serve's decide, outcome and event handlers)
// already holds in memory of a journal record. It travels with the record
// through the journal (journal.Journal[Live].AppendLive) to the Applier,
// so that the applier need not decode the payload again. It is never
// persisted: on replay, records arrive without it.
type Live struct {
	// Decision, Outcome, Event or Activation is the record's payload,
	// decoded: the one of its type.
	Decision   *journal.Decision
	Outcome    *journal.Outcome
	Event      *journal.Event
	Activation *journal.Activation
	// PersonalizerRank, PersonalizerReward or PersonalizerActivate is the
	// payload of a record of the Personalizer-compatible namespace.
	PersonalizerRank     *journal.PersonalizerRank
	PersonalizerReward   *journal.PersonalizerReward
	PersonalizerActivate *journal.PersonalizerActivate
	// X holds the feature rows of the decision's returned actions, one
	// after the other, and Acts their catalog action indices. The
	// applier copies them.
	X    []float64
	Acts []int
	// Reservation is the contact reservation of the decision's capped
	// actions (of an activation's newly shown ones), released
	// (Contacts.Commit) when the record is applied.
	Reservation *Reservation
	// ID identifies the record for an appender that de-duplicates records
	// (the cluster path's JetStream journal: a record appended twice under
	// one ID within its window is stored once), where RecordID cannot
	// derive it (an outcome's de-duplication key).
	ID string
}

// RecordID is the record's identity for an appender that de-duplicates
// records: ID when set; for a decision, its request (a retry of the
// request, on any instance, is the same record) or else its id; for an
// activation, its id; "" when the record has no identity beyond itself. It is computed only by such
// an appender, off the embedded path.
func (l *Live) RecordID() string {
	switch d := l.Decision; {
	case l.ID != "":
		return l.ID
	case d != nil && d.RequestID != "":
		return "r/" + d.CustomerID + "/" + d.RequestID
	case d != nil:
		return "d/" + d.DecisionID
	case l.Activation != nil:
		return "a/" + l.Activation.ActivationID
	}
	return ""
}

// Reservation names the contact impressions a decision (or an
// activation) reserved before its record is applied. Customer and
// Decision (the decision's id, or the activation's) identify it; ID and Shard are the in-memory ledger's own numbering and
// partition of the customer (serve's contact ledger), opaque to the
// applier.
type Reservation struct {
	Customer string
	Decision string
	ID       uint64
	Shard    int
}

// A Decider makes the decision that a contact guard (serve.Contacts) holds
// the customer for: the decide handler's pooled scratch, so that guarding
// a decision allocates nothing. It returns the ids of the capped actions
// it gives.
type Decider interface {
	DecideOn(p *features.Profile, storeErr error) (capped []string, err error)
}

// Contacts holds the contact reservations of decisions not yet applied:
// a decision reserves what it gives until its impressions reach the
// customer's profile here, in the applier.
type Contacts interface {
	// Commit runs commit, which commits the profiles that record the
	// impressions of rs, and, if it succeeds, releases rs in the same step
	// (no decision may see an impression twice, or not at all). It returns
	// commit's error.
	Commit(rs []Reservation, commit func() error) error
}

// LearnKind says what a LearnItem teaches.
type LearnKind uint8

// Kinds of learning work.
const (
	LearnImpression LearnKind = iota // a decision's returned actions (an activation's slots) were shown
	LearnReward                      // an outcome changed an action's learning reward
	// LearnPersonalizerShown: a slot of a Personalizer event became
	// active (its rank call, or its activation); its chosen action is
	// learned with Reward.
	LearnPersonalizerShown
	// LearnPersonalizerReward: a reward changed the learned reward of a
	// Personalizer event's slot by Delta.
	LearnPersonalizerReward
)

// LearnItem is one piece of learning work the Applier hands its Learner.
type LearnItem struct {
	LSN  uint64
	Kind LearnKind
	// Decision is the decision shown (LearnImpression), when X is nil.
	Decision *journal.Decision
	// Slots, if not nil, are the slots of Decision shown (an activation's
	// newly shown ones); nil: every returned action.
	Slots []int
	// X and Acts are the rows and catalog indices of the returned actions
	// (LearnImpression), when the decide handler had them.
	X    []float64
	Acts []int
	// Outcome is the outcome (LearnReward), and Delta the change it makes
	// to its action's learning reward (logs.ActionDelta).
	Outcome *journal.Outcome
	Delta   float64
	// Rank and Slot are the Personalizer event and its slot (an index of
	// Rank.Slots; 0 for a single-slot event) of a LearnPersonalizer item;
	// Reward is what a LearnPersonalizerShown slot is learned with
	// (Delta is a LearnPersonalizerReward's change).
	Rank   *journal.PersonalizerRank
	Slot   int
	Reward float64
}

// Learner takes the learning work of applied records: the online learner.
type Learner interface {
	// Learn is called from the Applier after each batch it applies (and
	// during catch-up, for records the learner lacks) with the batch's
	// learning work, in LSN order, and the batch's last LSN, upTo: the
	// learner's watermark advances past batches with nothing to learn
	// (only events, say). The applier reuses the items slice after Learn
	// returns; what the items point to is the learner's.
	Learn(items []LearnItem, upTo uint64)
}

// Skips is told of every record skipped because it cannot be applied,
// with an error whose kind KindOf tells. It must be safe for concurrent
// use (the learner reports to it too).
type Skips interface {
	Skip(lsn uint64, typ journal.Type, err error)
}

// ApplierConfig configures an Applier.
type ApplierConfig struct {
	// Spec applies events to profiles; Catalog gives the contact limits
	// whose longest window bounds the impressions a profile keeps;
	// Outcomes are the declared outcome types. Required.
	Spec     *features.Spec
	Catalog  *decide.Catalog
	Outcomes *logs.Outcomes
	// Learner, if set, receives the learning work: impressions, and the
	// reward deltas of outcomes within Window of their decision (0: no
	// limit) under the declared reward rule with DefaultReward as r₀.
	// LearnFrom is the LSN the learner's model already reflects: records
	// at or below it give it no work.
	Learner       Learner
	LearnFrom     uint64
	Window        time.Duration
	DefaultReward float64
	// Personalizer, if set, receives the learning work of the
	// Personalizer-compatible namespace (LearnPersonalizerShown and
	// LearnPersonalizerReward items, under each event's own learning
	// settings): a model of its own, with its own snapshot, so
	// PersonalizerFrom is the LSN that model already reflects.
	Personalizer     Learner
	PersonalizerFrom uint64
	// Contacts, if set, holds the reservations that live decisions carry
	// (Live.Reservation).
	Contacts Contacts
	// ReservationKeys: the store holds the contact reservations
	// (ReservationKey), and a decision's is deleted in the batch that
	// records its impressions.
	ReservationKeys bool
	// Skips, if set, is told of skipped records; they are logged at ERROR
	// otherwise.
	Skips  Skips
	Logger *slog.Logger
}

// Applier is the one writer of derived state: every record the journal
// makes durable passes through Apply, in LSN order, from the journal's
// apply goroutine (it is the journal's subscriber) or from CatchUp, before
// the server starts. It keeps profiles, the decision index, the
// request-id index, the outcome de-duplication keys, the experiments' sums
// and the volume counters (aggregates.go) in the Store (one
// batch per group commit, written without fsync: the journal is the
// durable copy, and CatchUp replays it from the applied LSN), and hands
// learning work to the Learner in LSN order.
//
// A record that cannot be applied (it does not decode, names an
// undeclared outcome type, a profile refuses it) is reported to Skips and
// skipped whole: one record must not poison shared state or stop the
// service.
type Applier struct {
	st       *Store
	cfg      ApplierConfig
	log      *slog.Logger
	learning bool // cfg.Learner != nil

	applied atomic.Uint64
	changed map[string]*features.Profile
	order   []*features.Profile
	seen    map[string][]byte // outcome keys set in the current batch
	work    []LearnItem
	pzWork  []LearnItem   // the Personalizer learner's
	resv    []Reservation // the current batch's contact reservations
	slots   []int         // scratch: an activation's slots
	agg     *aggregates   // the batch's experiment sums and volume counters
	// the customers erased in the current batch (applyErasure)
	erased    []string
	erasedNow map[string]bool
}

// NewApplier returns the applier of st, reading the LSN st has applied.
func NewApplier(st *Store, cfg ApplierConfig) (*Applier, error) {
	if cfg.Spec == nil || cfg.Catalog == nil || cfg.Outcomes == nil {
		return nil, errors.New("state: ApplierConfig.Spec, Catalog and Outcomes are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Applier{
		st: st, cfg: cfg, log: cfg.Logger, learning: cfg.Learner != nil,
		changed: make(map[string]*features.Profile),
		seen:    make(map[string][]byte),
		agg:     newAggregates(st),

		erasedNow: make(map[string]bool),
	}
	v, err := st.get(keyApplied)
	if err != nil {
		return nil, fmt.Errorf("cannot read applied LSN: %w", err)
	}
	if len(v) == 8 {
		a.applied.Store(binary.BigEndian.Uint64(v))
	}
	return a, nil
}

// Reload forgets what the applier holds in memory of the store (the
// applied LSN, the aggregates' committed values, the profile cache) and
// reads it again: for a store another applier may have written since (the
// cluster path, on taking over the lease, or after Apply failed with
// kv.ErrConflict). It must not run concurrently with Apply.
func (a *Applier) Reload() error {
	v, err := a.st.get(keyApplied)
	if err != nil {
		return fmt.Errorf("cannot read applied LSN: %w", err)
	}
	var applied uint64
	if len(v) == 8 {
		applied = binary.BigEndian.Uint64(v)
	}
	a.applied.Store(applied)
	a.agg = newAggregates(a.st)
	a.st.profiles.Purge()
	return nil
}

// Applied returns the LSN of the last record applied to the store.
func (a *Applier) Applied() uint64 { return a.applied.Load() }

// Replayer is the journal as CatchUp reads it.
type Replayer interface {
	// Replay calls fn for every durable record from LSN from, in order;
	// fn must not retain the record's payload.
	Replay(from uint64, fn func(journal.Record) error) error
	// LastLSN is the last durable LSN.
	LastLSN() uint64
}

// CatchUp replays j from the oldest of the store's applied LSN, the
// learner's LearnFrom and the Personalizer learner's PersonalizerFrom, in chunks, through the same path as live batches:
// after it, the store has applied every record of j and the learner has
// been handed the work of every record past LearnFrom. Records the store
// holds already are read for the learner, not written again.
func (a *Applier) CatchUp(j Replayer) error {
	from := a.Applied()
	if a.learning {
		from = min(from, a.cfg.LearnFrom)
	}
	if a.cfg.Personalizer != nil {
		from = min(from, a.cfg.PersonalizerFrom)
	}
	from++
	last := j.LastLSN()
	if from > last {
		return nil
	}
	start := time.Now()
	chunk := make([]journal.Record, 0, 1024)
	flush := func() error {
		err := a.Apply(chunk, nil)
		for i := range chunk {
			chunk[i].Payload = nil
		}
		chunk = chunk[:0]
		return err
	}
	err := j.Replay(from, func(r journal.Record) error {
		r.Payload = bytes.Clone(r.Payload)
		chunk = append(chunk, r)
		if len(chunk) == cap(chunk) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("cannot replay the journal: %w", err)
	}
	a.log.Info("replayed journal", "from_lsn", from, "to_lsn", last, "took", time.Since(start))
	return nil
}

// lookback is how far back the contact policy of action id looks: its
// longest frequency-cap window (0 without caps, or for an action no longer
// in the catalog).
func (a *Applier) lookback(id string) time.Duration {
	act, ok := a.cfg.Catalog.Lookup(id)
	if !ok {
		return 0
	}
	return act.Lookback()
}

// learns reports whether the learner wants the work of record lsn.
func (a *Applier) learns(lsn uint64) bool { return a.learning && lsn > a.cfg.LearnFrom }

// Apply applies recs (in LSN order, one journal batch), with their live
// values if live is not nil (one per record, nil entries allowed): it
// makes the Applier a journal.Subscriber[Live]. Records at or below the
// applied LSN are not written again, so CatchUp may hand it records
// twice. The error is the store's failure to commit the batch; records
// that cannot be applied are skipped (Skips), not errors.
func (a *Applier) Apply(recs []journal.Record, live []*Live) error {
	b := a.st.kv.NewBatch()
	defer b.Close()
	clear(a.changed)
	clear(a.seen)
	a.order = a.order[:0]
	a.work = a.work[:0]
	a.pzWork = a.pzWork[:0]
	a.resv = a.resv[:0]
	a.erased = a.erased[:0]
	clear(a.erasedNow)
	a.agg.reset()
	applied := a.applied.Load()
	last := applied
	upTo := uint64(0)
	for i := range recs {
		r := &recs[i]
		// Records at or below the applied LSN are already in the store;
		// during recovery the learner may still need them (its snapshot
		// can be older than the store's state), so they are read without
		// writing.
		upTo = r.LSN
		write := r.LSN > applied
		if !write && !a.learns(r.LSN) && !a.learnsPZ(r.LSN) {
			continue
		}
		if write {
			last = r.LSN
		}
		var l Live // none: the payload is decoded
		if live != nil && live[i] != nil {
			l = *live[i]
		}
		if l.Reservation != nil && write {
			a.resv = append(a.resv, *l.Reservation)
		}
		var err error
		switch r.Type {
		case journal.TypeDecision:
			err = a.applyDecision(b, r, &l, write)
		case journal.TypeOutcome:
			err = a.applyOutcome(b, r, &l, write)
		case journal.TypeEvent:
			if write {
				err = a.applyEvent(r, &l)
			}
		case journal.TypeActivation:
			err = a.applyActivation(b, r, &l, write)
		case journal.TypeAudit:
			if write {
				b.Set(fmt.Sprintf("%s%016x", prefixAudit, r.LSN), r.Payload)
			}
		case journal.TypeErasure:
			if write {
				err = a.applyErasure(b, r)
			}
		case journal.TypePersonalizerRank:
			err = a.applyPersonalizerRank(b, r, &l, write)
		case journal.TypePersonalizerReward:
			err = a.applyPersonalizerReward(b, r, &l, write)
		case journal.TypePersonalizerActivate:
			err = a.applyPersonalizerActivate(b, r, &l, write)
		default:
			a.log.Warn("skipping journal record of unknown type", "lsn", r.LSN, "type", r.Type)
		}
		if err != nil {
			// A record that cannot be applied is counted, logged and
			// skipped, whatever else it would have changed: an old journal
			// may hold what the edge now refuses, and one record must not
			// poison shared state or stop the service.
			a.skip(r.LSN, r.Type, err)
		}
	}
	if last == applied {
		if upTo > 0 {
			a.learn(upTo)
		}
		return nil
	}
	for _, p := range a.order {
		if err := a.st.profiles.Stage(b, p); err != nil {
			return fmt.Errorf("cannot stage profile %q: %w", p.CustomerID, err)
		}
	}
	if err := a.agg.stage(b); err != nil {
		return fmt.Errorf("cannot stage the aggregates: %w", err)
	}
	// the applied LSN advances from the one this applier read, or not at
	// all: a second applier on a shared store (the cluster path, across a
	// lease handover) cannot apply a record twice
	if applied == 0 {
		b.Expect(keyApplied, nil)
	} else {
		b.Expect(keyApplied, binary.BigEndian.AppendUint64(nil, applied))
	}
	b.Set(keyApplied, binary.BigEndian.AppendUint64(nil, last))
	// the batch's contact reservations turn into profile impressions here
	// the customers erased in the batch, unless they came back after it
	deleted := a.erased[:0:0]
	for _, c := range a.erased {
		if _, back := a.changed[c]; !back {
			deleted = append(deleted, c)
		}
	}
	commit := func() error { return a.st.profiles.CommitDeleting(b, a.order, deleted) }
	var err error
	if a.cfg.Contacts != nil {
		err = a.cfg.Contacts.Commit(a.resv, commit)
	} else {
		err = commit()
	}
	if err != nil {
		return fmt.Errorf("cannot commit applied state: %w", err)
	}
	a.applied.Store(last)
	a.agg.committed()
	a.learn(upTo)
	return nil
}

// learn hands the batch's learning work to the learners.
func (a *Applier) learn(upTo uint64) {
	if a.learning {
		a.cfg.Learner.Learn(a.work, upTo)
	}
	if a.cfg.Personalizer != nil {
		a.cfg.Personalizer.Learn(a.pzWork, upTo)
	}
}

func (a *Applier) skip(lsn uint64, typ journal.Type, err error) {
	if a.cfg.Skips != nil {
		a.cfg.Skips.Skip(lsn, typ, err)
		return
	}
	a.log.Error("skipped a journal record that cannot be applied", "kind", KindOf(err), "lsn", lsn, "type", typ.String(), "err", err)
}

// profile returns the working copy of customer id's profile for this
// batch, a new one made at time at if the customer is unknown.
func (a *Applier) profile(id string, at time.Time) (*features.Profile, error) {
	if p, ok := a.changed[id]; ok {
		return p, nil
	}
	var p *features.Profile
	if !a.erasedNow[id] { // erased earlier in the batch: a new customer
		var err error
		if p, err = a.st.profiles.Get(id); err != nil {
			return nil, err
		}
	}
	if p == nil {
		p = a.cfg.Spec.NewProfile(id, at)
		p.Cold = false
	} else {
		p = p.Clone()
	}
	a.changed[id] = p
	a.order = append(a.order, p)
	return p, nil
}

// decoded returns a record's live value, or, where the appender had none
// (live is nil), its payload decoded by decode; a payload that does not
// decode is a KindDecode ApplyError.
func decoded[T any](live *T, payload []byte, decode func([]byte, *T) error) (*T, error) {
	if live != nil {
		return live, nil
	}
	v := new(T)
	if err := decode(payload, v); err != nil {
		return nil, &ApplyError{KindDecode, err}
	}
	return v, nil
}

func (a *Applier) applyDecision(b kv.Batch, r *journal.Record, l *Live, write bool) error {
	d, err := decoded(l.Decision, r.Payload, journal.DecodeDecision)
	if err != nil {
		return err
	}
	if write {
		// on record (GET /v1/decisions/{id}), and through set: an outcome
		// later in the batch looks it up (shown)
		a.set(b, prefixDecision+d.DecisionID, r.Payload)
		if d.RequestID != "" {
			// a retry of the request answers this decision, even an
			// empty one
			b.Set(prefixRequest+d.CustomerID+"/"+d.RequestID, []byte(d.DecisionID))
		}
	}
	if len(d.Actions) == 0 || d.DeferActivation {
		// nothing shown (yet: a deferred decision's slots are shown by
		// its activation, applyActivation): no impression, no learning
		if write {
			return a.agg.decision(d, r.Time)
		}
		return nil
	}
	if write {
		if a.cfg.ReservationKeys {
			b.Delete(ReservationKey(d.CustomerID, d.DecisionID))
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
		if err := a.agg.decision(d, r.Time); err != nil {
			return err
		}
	}
	if !a.learns(r.LSN) {
		return nil
	}
	it := LearnItem{LSN: r.LSN, Kind: LearnImpression, Decision: d}
	if l.X != nil {
		// the handler's buffers are reused once Append returns: copy
		it.X, it.Acts, it.Decision = slices.Clone(l.X), slices.Clone(l.Acts), nil
	}
	a.work = append(a.work, it)
	return nil
}

// applyOutcome applies an outcome: de-duplication keys, the customer's
// conversion count, and the learning reward the declared rule gives it.
// A duplicate (its outcome_id or, for a first type, its (decision, action,
// type) already taken by an earlier record: old journals hold such
// repeats) changes nothing.
func (a *Applier) applyOutcome(b kv.Batch, r *journal.Record, l *Live, write bool) error {
	o, err := decoded(l.Outcome, r.Payload, journal.DecodeOutcome)
	if err != nil {
		return err
	}
	t, ok := a.cfg.Outcomes.Lookup(o.Type)
	if !ok {
		return &ApplyError{KindType, fmt.Errorf("outcome type %q is not declared (declared: %s)", o.Type, a.cfg.Outcomes)}
	}
	if err := logs.CheckReward(o.Reward); err != nil {
		return &ApplyError{KindReward, fmt.Errorf("outcome for decision %s, action %s: %w", o.DecisionID, o.ActionID, err)}
	}
	// An outcome for an action its decision did not return counts for
	// nothing, as in logs.Join (NotShown): not the profile, not the sums,
	// not the learner, and it takes no outcome_id. The handler refuses
	// such outcomes; a replayed journal may hold them.
	ret, err := a.returned(o.DecisionID, o.ActionID)
	if err != nil {
		return err
	}
	if ret.slot < 0 {
		return nil
	}
	// An outcome for a slot of a deferred decision not yet activated is
	// kept (de-duplicated, aggregated) but held back: what it changes in
	// the profile, the experiment's sums and the learner waits in the
	// decision's activation entry for the activation (applyActivation).
	var ac *activation
	held := false
	if ret.deferred {
		if ac, err = a.activation(o.DecisionID, ret.actions); err != nil {
			return err
		}
		// (a slot activated after r: a replay below the applied LSN, for
		// the learner, of an outcome the activation already counted)
		sl := ac.slots[ret.slot]
		held = sl.lsn == 0 || sl.lsn > r.LSN
	}
	k := keysOf(o.DecisionID, o.ActionID, o.Type, o.OutcomeID)
	if k.id != "" {
		v, err := a.get(k.id)
		if err != nil {
			return &ApplyError{KindState, err}
		}
		if v != nil && firstLSNOf(v) != r.LSN {
			return nil // a re-sent outcome_id
		}
	}
	var entries []outcomeEntry
	if t.Aggregate != logs.AggSum {
		v, err := a.get(k.typ)
		if err != nil {
			return &ApplyError{KindState, err}
		}
		if entries, err = decodeEntries(v); err != nil {
			return &ApplyError{KindState, fmt.Errorf("%s: %w", k.typ, err)}
		}
		if t.Aggregate == logs.AggFirst && len(entries) > 0 && entries[0].lsn != r.LSN {
			return nil // a repeat of a first type
		}
	}
	var p *features.Profile
	if write && !held {
		var err error
		if p, err = a.profile(o.CustomerID, o.Time); err != nil {
			return &ApplyError{KindState, err}
		}
	}

	// the learning reward: the type's aggregate before this record, folded
	// for an attributed outcome, whether or not a learner listens (the
	// experiment sums take the change too)
	reward := t.Reward.Apply(o.Reward)
	learn := logs.Attributed(o.DecisionTime, o.Time, a.cfg.Window)
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
			return &ApplyError{KindState, err}
		}
	}

	// the volume counters and, for an experiment decision, its sums (held
	// back until the slot is shown)
	if write {
		if err := a.agg.outcome(o, t, learn && !held, delta, r.Time); err != nil {
			return err
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
		// the type's first attributed outcome is kept even when it changes
		// nothing (after a late one, with reward 0): the next one folds
		// onto it, not as the first
		case len(entries) == 0 || (learn && (delta != 0 || prev.N == 0) && len(entries) < maxOutcomeEntries && entries[len(entries)-1].lsn < r.LSN):
			a.set(b, k.typ, encodeEntries(append(entries, outcomeEntry{lsn: r.LSN, agg: next.Reward})))
		}
		switch {
		case held:
			sl := &ac.slots[ret.slot]
			if t.Converts(o.Reward) {
				sl.conversions++
				sl.lastConversion = later(sl.lastConversion, o.Time)
			}
			sl.lastOutcome = later(sl.lastOutcome, o.Time)
			if learn {
				dy, _ := experiment.OutcomeChange(t, o.Reward, delta, sl.converted())
				for m := range dy {
					sl.y[m] += dy[m]
				}
				sl.outcome = true
			}
		case p.LSN < r.LSN:
			features.RecordOutcome(p, o.ActionID, t.Converts(o.Reward), o.Time)
			if t.Reject {
				features.RecordReject(p, o.ActionID, o.Time)
			}
			p.LSN = r.LSN
		}
	}
	if !learn {
		if write && held {
			a.set(b, prefixActivation+o.DecisionID, encodeActivation(ac))
		}
		return nil
	}
	// the action's first learned outcome replaces the default reward (its
	// key is kept even for a record the model already holds: the store's
	// state may be behind the model snapshot after a crash)
	firstAny := false
	switch {
	case actionKey == nil && write:
		a.set(b, k.action, binary.BigEndian.AppendUint64(nil, r.LSN))
		firstAny = true
	case actionKey != nil:
		firstAny = firstLSNOf(actionKey) == r.LSN
	}
	if held {
		// learned once, when the slot is shown
		if write {
			ac.slots[ret.slot].learn += logs.ActionDelta(delta, a.cfg.DefaultReward, firstAny)
			a.set(b, prefixActivation+o.DecisionID, encodeActivation(ac))
		}
		return nil
	}
	if !a.learns(r.LSN) {
		return nil
	}
	if d := logs.ActionDelta(delta, a.cfg.DefaultReward, firstAny); d != 0 {
		c := *o // the handler reuses its outcome once Append returns
		a.work = append(a.work, LearnItem{LSN: r.LSN, Kind: LearnReward, Outcome: &c, Delta: d})
	}
	return nil
}

// get returns the value of key, as set earlier in this batch or stored;
// nil if there is none. The caller must not modify it.
func (a *Applier) get(key string) ([]byte, error) {
	if v, ok := a.seen[key]; ok {
		return v, nil
	}
	return a.st.get(key)
}

// returnedAction is where an outcome's action stands in its decision.
type returnedAction struct {
	// slot is the action's slot, -1 if the decision did not return it
	slot int
	// deferred: the decision was made with defer_activation; actions is
	// how many it returned
	deferred bool
	actions  int
}

// returned finds action among decision id's returned actions; a decision
// the index does not hold is taken as returning it in slot 0, made
// without defer_activation (an outcome for a decision the journal lacks
// is ruled on elsewhere, as before this check).
func (a *Applier) returned(id, action string) (returnedAction, error) {
	v, err := a.get(prefixDecision + id)
	if err != nil {
		return returnedAction{}, &ApplyError{KindState, err}
	}
	if v == nil {
		return returnedAction{}, nil
	}
	var d decisionActions
	if err := json.Unmarshal(v, &d); err != nil {
		return returnedAction{}, &ApplyError{KindDecode, fmt.Errorf("decision %s of an outcome: %w: %w", id, journal.ErrBadPayload, err)}
	}
	out := returnedAction{slot: -1, deferred: d.DeferActivation, actions: len(d.Actions)}
	for i, x := range d.Actions {
		if x.ActionID == action {
			out.slot = i
			break
		}
	}
	return out, nil
}

// decisionActions is the part of a decision's payload (journal.Decision)
// that returned reads: the returned actions' ids and whether their
// activation was deferred. Decoding only them spares the apply goroutine
// the decision's context and profile maps, once per outcome. (The
// payloads in the index are records the applier decoded whole when it
// applied them.)
type decisionActions struct {
	Actions []struct {
		ActionID string `json:"action_id"`
	} `json:"actions"`
	DeferActivation bool `json:"defer_activation"`
}

// later returns the later of t and u.
func later(t, u time.Time) time.Time {
	if u.After(t) {
		return u
	}
	return t
}

// set writes key in the batch and remembers it for the rest of the batch
// (Pebble's reads do not see an uncommitted batch).
func (a *Applier) set(b kv.Batch, key string, v []byte) {
	a.seen[key] = v
	b.Set(key, v)
}

func (a *Applier) applyEvent(r *journal.Record, l *Live) error {
	e, err := decoded(l.Event, r.Payload, journal.DecodeEvent)
	if err != nil {
		return err
	}
	p, err := a.profile(e.CustomerID, e.Time)
	if err != nil {
		return err
	}
	if p.LSN >= r.LSN {
		return nil
	}
	if err := a.agg.prepareEvent(); err != nil {
		return err
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
	if err := a.cfg.Spec.ApplyEvent(q, features.Event{Type: e.Type, Channel: e.Channel, Time: e.Time, Properties: e.Properties}); err != nil {
		return &ApplyError{KindEvent, fmt.Errorf("%s event for customer %s: %w", e.Type, e.CustomerID, err)}
	}
	if q != p {
		for name, c := range q.Counters {
			if math.IsNaN(c.Value) || math.IsInf(c.Value, 0) {
				return &ApplyError{KindEvent, fmt.Errorf("%s event for customer %s would make counter %s %v", e.Type, e.CustomerID, name, c.Value)}
			}
		}
		*p = *q
	}
	p.LSN = r.LSN
	a.agg.countEvent(r.Time)
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

var _ journal.Subscriber[Live] = (*Applier)(nil)
