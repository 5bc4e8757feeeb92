package personalizer

import "nextbest/journal"

// ContextFeatures appends the features of a rank call's contextFeatures.
func ContextFeatures(dst []Feature, list []map[string]any) []Feature {
	return Flatten(dst, Context, list)
}

// ActionFeatures appends an action's features: its id's and its list's.
func ActionFeatures(dst []Feature, id string, list []map[string]any) []Feature {
	return Flatten(append(dst, IDFeature(Action, id)), Action, list)
}

// SlotFeatures appends a slot's features: its id's and its list's.
func SlotFeatures(dst []Feature, id string, list []map[string]any) []Feature {
	return Flatten(append(dst, IDFeature(Slot, id)), Slot, list)
}

// Scratch is the reusable storage of EventRow.
type Scratch struct {
	ctx, act, slot []Feature
}

// EventRow builds into r (reset first) the row of the action chosen for
// slot i of a journaled rank call (i is 0 for a single-slot call), as
// the call built it. It reports false when the slot has no chosen action
// or names one the call does not list.
func EventRow(r *Row, s *Scratch, bits int, rk *journal.PersonalizerRank, i int) bool {
	r.Reset()
	id := rk.RewardActionID
	s.slot = s.slot[:0]
	if len(rk.Slots) > 0 {
		if i < 0 || i >= len(rk.Slots) {
			return false
		}
		sl := &rk.Slots[i]
		id = sl.ActionID
		s.slot = SlotFeatures(s.slot, sl.ID, sl.Features)
	}
	if id == "" {
		return false
	}
	k := -1
	for j := range rk.Actions {
		if rk.Actions[j].ID == id {
			k = j
			break
		}
	}
	if k < 0 {
		return false
	}
	s.ctx = ContextFeatures(s.ctx[:0], rk.ContextFeatures)
	s.act = ActionFeatures(s.act[:0], id, rk.Actions[k].Features)
	r.Build(bits, s.ctx, s.act, s.slot)
	return true
}
