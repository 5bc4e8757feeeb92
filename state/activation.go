package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"nextbest/experiment"
	"nextbest/features"
	"nextbest/journal"
	"nextbest/kv"
	"nextbest/logs"
)

// A decision made with defer_activation (journal.Decision.DeferActivation)
// is journaled and indexed like any other, but until an activation record
// (journal.Activation) shows a slot, that slot's action is no impression:
// the profile's contact history, the volume counters of actions, the
// experiment's sums and the learner do not see it. Its outcomes are kept
// (journaled, de-duplicated, aggregated under o/) from the start; what
// they would have changed is held in the decision's s/ entry and counted,
// once, when the slot is activated:
//
//	s/<decision_id>  activation: when the decision was first activated,
//	                 and per slot when it was shown and what its outcomes
//	                 held back (slotActivation)
//
// The entry is written by the first outcome or activation of a deferred
// decision; a deferred decision without one was never activated.

// slotActivation is one slot's part of an activation entry.
type slotActivation struct {
	// lsn is the activation record that showed the slot (0: not yet), at
	// its time.
	lsn uint64
	at  time.Time
	// What the slot's outcomes held back until it is shown: learn, the
	// change to the action's learning reward (Σ logs.ActionDelta); y, the
	// change to the decision's experiment values (Σ
	// experiment.OutcomeChange, the slot's own conversion counted once) and
	// outcome, whether an attributed outcome counted; conversions, the
	// outcomes that count as conversions, the last at lastConversion, and
	// lastOutcome, the latest outcome's time (the profile's).
	learn          float64
	y              experiment.Values
	outcome        bool
	conversions    uint64
	lastConversion time.Time
	lastOutcome    time.Time
}

// activation is the s/ entry of a deferred decision.
type activation struct {
	// lsn is the record that first activated the decision (0: never), at
	// its time
	lsn   uint64
	at    time.Time
	slots []slotActivation // one per returned action, in slot order
}

// converted reports whether an outcome held back for the slot converted.
func (s *slotActivation) converted() bool { return s.y[0] > 0 }

// Activation is a decision's activation as the decision's record (GET
// /v1/decisions/{id}) and the activate route answer it.
type Activation struct {
	// Deferred says the decision was made with defer_activation; one made
	// without it was activated whole when it was made.
	Deferred bool `json:"deferred"`
	// Activated says the decision was shown, At when first.
	Activated bool       `json:"activated"`
	At        *time.Time `json:"activated_at,omitempty"`
	// Slots are the activated slots, in slot order.
	Slots []ActivatedSlot `json:"slots"`
}

// ActivatedSlot is one shown slot of a decision.
type ActivatedSlot struct {
	Slot     int       `json:"slot"`
	ActionID string    `json:"action_id"`
	At       time.Time `json:"activated_at"`
	// LSN is the activation record that showed it (none for a decision
	// made without defer_activation).
	LSN uint64 `json:"lsn,omitempty"`
}

// Activation returns the activation of decision d (as Decision returned
// it) as of the last applied batch. Errors wrap ErrUnavailable or
// ErrCorrupt.
func (s *Store) Activation(d *journal.Decision) (*Activation, error) {
	out := &Activation{Deferred: d.DeferActivation, Slots: []ActivatedSlot{}}
	if !d.DeferActivation {
		at := d.Time
		out.Activated, out.At = true, &at
		for i, a := range d.Actions {
			out.Slots = append(out.Slots, ActivatedSlot{Slot: i, ActionID: a.ActionID, At: d.Time})
		}
		return out, nil
	}
	v, err := s.kv.Get(prefixActivation + d.DecisionID)
	if err != nil {
		return nil, fmt.Errorf("%w: activation of decision %q: %w", ErrUnavailable, d.DecisionID, err)
	}
	if v == nil {
		return out, nil
	}
	ac, err := decodeActivation(v)
	if err != nil {
		return nil, fmt.Errorf("%w: activation of decision %q: %w", ErrCorrupt, d.DecisionID, err)
	}
	if ac.lsn != 0 {
		at := ac.at
		out.Activated, out.At = true, &at
	}
	for i, sl := range ac.slots {
		if sl.lsn != 0 && i < len(d.Actions) {
			out.Slots = append(out.Slots, ActivatedSlot{Slot: i, ActionID: d.Actions[i].ActionID, At: sl.at, LSN: sl.lsn})
		}
	}
	return out, nil
}

// activation returns a copy of decision id's activation entry, as set
// earlier in this batch or stored, or a new one of n slots.
func (a *Applier) activation(id string, n int) (*activation, error) {
	v, err := a.get(prefixActivation + id)
	if err != nil {
		return nil, &ApplyError{KindState, err}
	}
	if v == nil {
		return &activation{slots: make([]slotActivation, n)}, nil
	}
	ac, err := decodeActivation(v)
	if err != nil {
		return nil, &ApplyError{KindState, fmt.Errorf("%s%s: %w", prefixActivation, id, err)}
	}
	if len(ac.slots) != n {
		return nil, &ApplyError{KindState, fmt.Errorf("%s%s: %d slots, the decision returned %d actions", prefixActivation, id, len(ac.slots), n)}
	}
	return ac, nil
}

// The encoding of an activation entry: a version byte (1), the decision's
// LSN (uvarint) and time, the number of slots (uvarint), then per slot its
// LSN and time, learn and y (float64 bits), a flags byte (1: outcome), the
// conversions (uvarint), lastConversion and lastOutcome. Times are Unix
// nanoseconds, 0 for none.
const activationVersion = 1

func encodeActivation(ac *activation) []byte {
	b := []byte{activationVersion}
	b = binary.AppendUvarint(b, ac.lsn)
	b = appendTime(b, ac.at)
	b = binary.AppendUvarint(b, uint64(len(ac.slots)))
	for i := range ac.slots {
		s := &ac.slots[i]
		b = binary.AppendUvarint(b, s.lsn)
		b = appendTime(b, s.at)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(s.learn))
		for _, y := range s.y {
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(y))
		}
		var flags byte
		if s.outcome {
			flags |= 1
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, s.conversions)
		b = appendTime(b, s.lastConversion)
		b = appendTime(b, s.lastOutcome)
	}
	return b
}

func decodeActivation(b []byte) (*activation, error) {
	if len(b) < 1 || b[0] != activationVersion {
		return nil, errors.New("bad activation: unknown version")
	}
	r := reader{b: b[1:]}
	ac := &activation{lsn: r.uvarint(), at: r.time()}
	n := r.uvarint()
	if n > uint64(len(b)) {
		return nil, errors.New("bad activation: too many slots")
	}
	ac.slots = make([]slotActivation, n)
	for i := range ac.slots {
		s := &ac.slots[i]
		s.lsn, s.at = r.uvarint(), r.time()
		s.learn = r.float()
		for m := range s.y {
			s.y[m] = r.float()
		}
		s.outcome = r.byte()&1 != 0
		s.conversions = r.uvarint()
		s.lastConversion, s.lastOutcome = r.time(), r.time()
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("bad activation: %w", err)
	}
	return ac, nil
}

// appendTime writes t as Unix nanoseconds, 0 for the zero time.
func appendTime(b []byte, t time.Time) []byte {
	var n int64
	if !t.IsZero() {
		n = t.UnixNano()
	}
	return binary.BigEndian.AppendUint64(b, uint64(n))
}

// time reads what appendTime wrote.
func (r *reader) time() time.Time {
	if r.err != nil {
		return time.Time{}
	}
	if len(r.b) < 8 {
		r.err = errors.New("truncated")
		return time.Time{}
	}
	n := int64(binary.BigEndian.Uint64(r.b))
	r.b = r.b[8:]
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.err = errors.New("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// applyActivation applies an activation record: the slots it shows for
// the first time become impressions (the profile's contact history, the
// volume counters) with what their outcomes held back (conversions, the
// experiment's values, the learning reward), and the decision's first
// activation counts it in its experiment. An activation that does not
// count (logs.ActivationCounts: the decision was not deferred, or the
// window closed) or shows nothing new changes nothing.
func (a *Applier) applyActivation(b kv.Batch, r *journal.Record, l *Live, write bool) error {
	act, err := decoded(l.Activation, r.Payload, journal.DecodeActivation)
	if err != nil {
		return err
	}
	v, err := a.get(prefixDecision + act.DecisionID)
	if err != nil {
		return &ApplyError{KindState, err}
	}
	if v == nil {
		return &ApplyError{KindState, fmt.Errorf("activation of decision %s, which the index does not hold", act.DecisionID)}
	}
	d := new(journal.Decision)
	if err := journal.DecodeDecision(v, d); err != nil {
		return &ApplyError{KindDecode, fmt.Errorf("decision %s of an activation: %w", act.DecisionID, err)}
	}
	if !logs.ActivationCounts(d.DeferActivation, d.Time, act.Time, a.cfg.Window) {
		return nil
	}
	ac, err := a.activation(d.DecisionID, len(d.Actions))
	if err != nil {
		return err
	}
	// the slots this record shows first, and whether it is the decision's
	// first activation; below the applied LSN (a replay for the learner)
	// the entry is already as of later records, and says which were its
	fresh := a.slots[:0]
	first := false
	if write {
		for _, s := range act.Slots {
			if s >= 0 && s < len(ac.slots) && ac.slots[s].lsn == 0 && !slices.Contains(fresh, s) {
				fresh = append(fresh, s)
			}
		}
		first = ac.lsn == 0
		slices.Sort(fresh)
	} else {
		for s := range ac.slots {
			if ac.slots[s].lsn == r.LSN {
				fresh = append(fresh, s)
			}
		}
		first = ac.lsn == r.LSN
	}
	a.slots = fresh[:0]
	if !first && len(fresh) == 0 {
		return nil // activated before: nothing changes
	}
	if write {
		var p *features.Profile
		if len(fresh) > 0 {
			if p, err = a.profile(d.CustomerID, act.Time); err != nil {
				return err
			}
		}
		if err := a.agg.activation(d, fresh, first, ac.slots, r.Time); err != nil {
			return err
		}

		// nothing fails from here
		if a.cfg.ReservationKeys {
			b.Delete(ReservationKey(act.CustomerID, act.ActivationID))
		}
		if p != nil && p.LSN < r.LSN {
			for _, s := range fresh {
				id, sl := d.Actions[s].ActionID, &ac.slots[s]
				features.RecordImpression(p, id, act.Time)
				features.TrimImpressions(p, id, act.Time.Add(-a.lookback(id)))
				for range sl.conversions {
					features.RecordOutcome(p, id, true, sl.lastConversion)
				}
				if !sl.lastOutcome.IsZero() {
					features.RecordOutcome(p, id, false, sl.lastOutcome)
				}
			}
			p.LSN = r.LSN
		}
		if first {
			ac.lsn, ac.at = r.LSN, act.Time
		}
		for _, s := range fresh {
			ac.slots[s].lsn, ac.slots[s].at = r.LSN, act.Time
		}
		a.set(b, prefixActivation+d.DecisionID, encodeActivation(ac))
	}
	if !a.learns(r.LSN) || len(fresh) == 0 {
		return nil
	}
	// the slots' impressions at the default reward, then what their
	// outcomes held back: the learner gets each exactly once
	a.work = append(a.work, LearnItem{LSN: r.LSN, Kind: LearnImpression, Decision: d, Slots: slices.Clone(fresh)})
	for _, s := range fresh {
		if dr := ac.slots[s].learn; dr != 0 {
			o := &journal.Outcome{V: journal.SchemaVersion, DecisionID: d.DecisionID, ActionID: d.Actions[s].ActionID,
				CustomerID: d.CustomerID, Time: act.Time, DecisionTime: d.Time}
			a.work = append(a.work, LearnItem{LSN: r.LSN, Kind: LearnReward, Outcome: o, Delta: dr})
		}
	}
	return nil
}
