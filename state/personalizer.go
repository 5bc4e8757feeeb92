package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"nextbest/journal"
	"nextbest/kv"
	"nextbest/personalizer"
)

// The Personalizer-compatible namespace's events (z/…): each rank call's
// record by its event id, what has happened to it since (activation,
// rewards), and a time index for the sweep. Event ids are the caller's
// and may hold any character: they are path-escaped in keys.
const (
	prefixPZEvent = "z/e/" // z/e/<event id> → the rank record's LSN (8 bytes) and payload
	prefixPZState = "z/s/" // z/s/<event id> → pzState, JSON
	prefixPZTime  = "z/t/" // z/t/<unix nanos, 16 hex digits>/<event id> → nothing: the sweep's index
	prefixPZ      = "z/"
)

func pzEventKey(id string) string { return prefixPZEvent + esc(id) }
func pzStateKey(id string) string { return prefixPZState + esc(id) }
func pzTimeKey(at time.Time, id string) string {
	return fmt.Sprintf("%s%016x/%s", prefixPZTime, uint64(at.UnixNano()), esc(id))
}

// pzState is what has happened to a Personalizer event since its rank
// call: its activation (a deferred event's) and its rewards.
type pzState struct {
	// Activated is the LSN of the record that activated the event, 0
	// before; ActiveAt its time (Unix nanoseconds), when the reward wait
	// starts.
	Activated uint64 `json:"a,omitempty"`
	ActiveAt  int64  `json:"at,omitempty"`
	// Rewards are the rewards that count, in journal order (at most
	// personalizer.MaxRewards).
	Rewards []pzReward `json:"r,omitempty"`
}

// pzReward is one reward value of an event: the LSN of its record and
// its place in the record (a multi-slot reward call carries several), the
// slot's index and the value.
type pzReward struct {
	LSN   uint64  `json:"l"`
	Index int     `json:"i,omitempty"`
	Slot  int     `json:"s,omitempty"`
	Value float64 `json:"v"`
}

// before reports whether w was recorded before (lsn, index).
func (w pzReward) before(lsn uint64, index int) bool {
	return w.LSN < lsn || w.LSN == lsn && w.Index < index
}

// values returns the values of slot's rewards recorded before (lsn,
// index), in journal order.
func (s *pzState) values(slot int, lsn uint64, index int) []float64 {
	var out []float64
	for _, w := range s.Rewards {
		if w.Slot == slot && w.before(lsn, index) {
			out = append(out, w.Value)
		}
	}
	return out
}

// PersonalizerEvent is what the state holds of a Personalizer event.
type PersonalizerEvent struct {
	// Rank is the rank call's record, LSN its LSN.
	Rank *journal.PersonalizerRank
	LSN  uint64
	// Activated says a deferred event was activated.
	Activated bool
	// Rewards is how many reward values count so far.
	Rewards int
}

// PersonalizerEvent returns the Personalizer event id: ErrNotFound when
// the index does not hold it (unknown, or older than the retention),
// ErrCorrupt for an entry that does not decode, ErrUnavailable when the
// store cannot be read.
func (s *Store) PersonalizerEvent(id string) (*PersonalizerEvent, error) {
	v, err := s.kv.Get(pzEventKey(id))
	if err != nil {
		return nil, fmt.Errorf("%w: personalizer event %q: %w", ErrUnavailable, id, err)
	}
	if v == nil {
		return nil, fmt.Errorf("%w: personalizer event %q", ErrNotFound, id)
	}
	rk, lsn, err := decodePZEvent(v)
	if err != nil {
		return nil, fmt.Errorf("%w: personalizer event %q: %w", ErrCorrupt, id, err)
	}
	sv, err := s.kv.Get(pzStateKey(id))
	if err != nil {
		return nil, fmt.Errorf("%w: personalizer event %q: %w", ErrUnavailable, id, err)
	}
	st, err := decodePZState(sv)
	if err != nil {
		return nil, fmt.Errorf("%w: personalizer event %q: %w", ErrCorrupt, id, err)
	}
	return &PersonalizerEvent{Rank: rk, LSN: lsn, Activated: st.Activated != 0, Rewards: len(st.Rewards)}, nil
}

func decodePZEvent(v []byte) (*journal.PersonalizerRank, uint64, error) {
	if len(v) < 8 {
		return nil, 0, fmt.Errorf("%w: short entry", journal.ErrBadPayload)
	}
	rk := new(journal.PersonalizerRank)
	if err := journal.DecodePersonalizerRank(v[8:], rk); err != nil {
		return nil, 0, err
	}
	return rk, binary.BigEndian.Uint64(v), nil
}

func decodePZState(v []byte) (*pzState, error) {
	st := new(pzState)
	if v == nil {
		return st, nil
	}
	if err := json.Unmarshal(v, st); err != nil {
		return nil, fmt.Errorf("%w: %w", journal.ErrBadPayload, err)
	}
	return st, nil
}

// slots returns how many slots an event has: 1 for a rank call, the
// slots of a multi-slot one.
func pzSlots(rk *journal.PersonalizerRank) int {
	if len(rk.Slots) == 0 {
		return 1
	}
	return len(rk.Slots)
}

// pzChosen returns the action chosen for slot i of an event ("" none).
func pzChosen(rk *journal.PersonalizerRank, i int) string {
	if len(rk.Slots) == 0 {
		return rk.RewardActionID
	}
	return rk.Slots[i].ActionID
}

// pzSlotIndex returns the index of slot id of an event, -1 if it has
// none (a single-slot event's one slot is "").
func pzSlotIndex(rk *journal.PersonalizerRank, id string) int {
	if len(rk.Slots) == 0 {
		if id == "" {
			return 0
		}
		return -1
	}
	return slices.IndexFunc(rk.Slots, func(s journal.PersonalizerSlot) bool { return s.ID == id })
}

// learnsPZ reports whether the Personalizer learner wants the work of
// record lsn.
func (a *Applier) learnsPZ(lsn uint64) bool {
	return a.cfg.Personalizer != nil && lsn > a.cfg.PersonalizerFrom
}

// pzEvent returns the indexed rank record of event id and its LSN, nil
// when the index lacks it.
func (a *Applier) pzEvent(id string) (*journal.PersonalizerRank, uint64, error) {
	v, err := a.get(pzEventKey(id))
	if err != nil {
		return nil, 0, &ApplyError{KindState, err}
	}
	if v == nil {
		return nil, 0, nil
	}
	rk, lsn, err := decodePZEvent(v)
	if err != nil {
		return nil, 0, &ApplyError{KindDecode, fmt.Errorf("personalizer event %q: %w", id, err)}
	}
	return rk, lsn, nil
}

func (a *Applier) pzState(id string) (*pzState, error) {
	v, err := a.get(pzStateKey(id))
	if err != nil {
		return nil, &ApplyError{KindState, err}
	}
	st, err := decodePZState(v)
	if err != nil {
		return nil, &ApplyError{KindDecode, fmt.Errorf("personalizer event %q: %w", id, err)}
	}
	return st, nil
}

func (a *Applier) setPZState(b kv.Batch, id string, st *pzState) error {
	v, err := json.Marshal(st)
	if err != nil {
		return &ApplyError{KindState, err}
	}
	a.set(b, pzStateKey(id), v)
	return nil
}

// shown queues the learning of slot i of event rk with reward r.
func (a *Applier) pzShown(lsn uint64, rk *journal.PersonalizerRank, i int, r float64) {
	a.pzWork = append(a.pzWork, LearnItem{LSN: lsn, Kind: LearnPersonalizerShown, Rank: rk, Slot: i, Reward: r})
}

// applyPersonalizerRank indexes a rank call by its event id (a second
// record for an id, which concurrent calls can journal, is ignored: the
// first answer stands) and, for an event active at once (not deferred),
// learns each slot's chosen action with the default reward.
func (a *Applier) applyPersonalizerRank(b kv.Batch, r *journal.Record, l *Live, write bool) error {
	rk, err := decoded(l.PersonalizerRank, r.Payload, journal.DecodePersonalizerRank)
	if err != nil {
		return err
	}
	v, err := a.get(pzEventKey(rk.EventID))
	if err != nil {
		return &ApplyError{KindState, err}
	}
	var first uint64
	if len(v) >= 8 {
		first = binary.BigEndian.Uint64(v)
	}
	if first != 0 && first != r.LSN {
		return nil // a repeat of the event id
	}
	if write && first == 0 {
		a.set(b, pzEventKey(rk.EventID), append(binary.BigEndian.AppendUint64(nil, r.LSN), r.Payload...))
		b.Set(pzTimeKey(rk.Time, rk.EventID), nil)
	}
	if rk.Deferred || !personalizer.Mode(rk.Mode).Learns() || !a.learnsPZ(r.LSN) {
		return nil
	}
	for i := range pzSlots(rk) {
		if pzChosen(rk, i) != "" {
			a.pzShown(r.LSN, rk, i, rk.Learning.DefaultReward)
		}
	}
	return nil
}

// applyPersonalizerActivate activates a deferred event: from this record
// on its rewards are learned, and each slot's chosen action is learned
// with the reward its rewards so far make (the default reward without
// any). Activating an event that is active already changes nothing.
func (a *Applier) applyPersonalizerActivate(b kv.Batch, r *journal.Record, l *Live, write bool) error {
	act, err := decoded(l.PersonalizerActivate, r.Payload, journal.DecodePersonalizerActivate)
	if err != nil {
		return err
	}
	rk, _, err := a.pzEvent(act.EventID)
	if err != nil || rk == nil || !rk.Deferred {
		return err // unknown (the handler refuses it; a journal may hold a swept one), or active since its rank
	}
	st, err := a.pzState(act.EventID)
	if err != nil {
		return err
	}
	switch {
	case st.Activated == 0 && write:
		st.Activated, st.ActiveAt = r.LSN, act.Time.UnixNano()
		if err := a.setPZState(b, act.EventID, st); err != nil {
			return err
		}
	case st.Activated != r.LSN:
		return nil // activated by an earlier record
	}
	if !personalizer.Mode(rk.Mode).Learns() || !a.learnsPZ(r.LSN) {
		return nil
	}
	agg := personalizer.Aggregation(rk.Learning.Aggregation)
	for i := range pzSlots(rk) {
		if pzChosen(rk, i) != "" {
			a.pzShown(r.LSN, rk, i, personalizer.Learned(agg, rk.Learning.DefaultReward, st.values(i, r.LSN, 0)))
		}
	}
	return nil
}

// applyPersonalizerReward records an event's reward values and, for an
// active event, learns the change each makes to its slot's learned
// reward. A value after the reward wait (counted from the activation) is
// ignored, as is one past personalizer.MaxRewards; a deferred event's
// values before its activation are kept and learned at the activation.
func (a *Applier) applyPersonalizerReward(b kv.Batch, r *journal.Record, l *Live, write bool) error {
	rw, err := decoded(l.PersonalizerReward, r.Payload, journal.DecodePersonalizerReward)
	if err != nil {
		return err
	}
	for _, v := range rw.Rewards {
		if !(v.Value >= -1 && v.Value <= 1) {
			return &ApplyError{KindReward, fmt.Errorf("personalizer event %q: reward %v is not in [-1, 1]", rw.EventID, v.Value)}
		}
	}
	rk, _, err := a.pzEvent(rw.EventID)
	if err != nil || rk == nil {
		return err
	}
	st, err := a.pzState(rw.EventID)
	if err != nil {
		return err
	}
	active, activeAt := !rk.Deferred, rk.Time
	if rk.Deferred && st.Activated != 0 && st.Activated < r.LSN {
		active, activeAt = true, time.Unix(0, st.ActiveAt)
	}
	late := active && rw.Time.After(activeAt.Add(time.Duration(rk.Learning.RewardWaitMillis)*time.Millisecond))
	agg := personalizer.Aggregation(rk.Learning.Aggregation)
	changed := false
	for i, v := range rw.Rewards {
		slot := pzSlotIndex(rk, v.Slot)
		if slot < 0 || late {
			continue
		}
		k := slices.IndexFunc(st.Rewards, func(w pzReward) bool { return w.LSN == r.LSN && w.Index == i })
		if k < 0 && write && len(st.Rewards) < personalizer.MaxRewards {
			st.Rewards = append(st.Rewards, pzReward{LSN: r.LSN, Index: i, Slot: slot, Value: v.Value})
			k, changed = len(st.Rewards)-1, true
		}
		if k < 0 || !active || pzChosen(rk, slot) == "" || !personalizer.Mode(rk.Mode).Learns() || !a.learnsPZ(r.LSN) {
			continue
		}
		prev := st.values(slot, r.LSN, i)
		before := personalizer.Learned(agg, rk.Learning.DefaultReward, prev)
		after := personalizer.Learned(agg, rk.Learning.DefaultReward, append(prev, v.Value))
		if d := after - before; d != 0 && !math.IsNaN(d) {
			a.pzWork = append(a.pzWork, LearnItem{LSN: r.LSN, Kind: LearnPersonalizerReward, Rank: rk, Slot: slot, Delta: d})
		}
	}
	if changed {
		return a.setPZState(b, rw.EventID, st)
	}
	return nil
}
