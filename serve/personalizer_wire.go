package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"

	"nextbest/personalizer"
)

// The wire types of the Personalizer-compatible API (/personalizer/v1.0/),
// the names and shapes of Personalizer's REST specification (stable v1.0,
// and the 2022-09-01-preview's multi-slot calls), and their checks. The
// native API's are in wire.go; both decode with decodeJSON.

// pzRankRequest is the body of POST rank (RankRequest) and of POST
// multislot/rank (MultiSlotRankRequest: Slots instead of
// ExcludedActions).
type pzRankRequest struct {
	ContextFeatures []map[string]any `json:"contextFeatures"`
	Actions         []pzActionWire   `json:"actions"`
	ExcludedActions []string         `json:"excludedActions"`
	Slots           []pzSlotWire     `json:"slots"`
	EventID         *string          `json:"eventId"`
	DeferActivation bool             `json:"deferActivation"`
}

// pzActionWire is a RankableAction.
type pzActionWire struct {
	ID       string           `json:"id"`
	Features []map[string]any `json:"features"`
}

// pzSlotWire is a multi-slot request's SlotRequest.
type pzSlotWire struct {
	ID              string           `json:"id"`
	Features        []map[string]any `json:"features"`
	ExcludedActions []string         `json:"excludedActions"`
	BaselineAction  string           `json:"baselineAction"`
}

// pzRankResponse is a RankResponse.
type pzRankResponse struct {
	Ranking        []pzRankedWire `json:"ranking"`
	EventID        string         `json:"eventId"`
	RewardActionID string         `json:"rewardActionId"`
}

// pzRankedWire is a RankedAction.
type pzRankedWire struct {
	ID          string  `json:"id"`
	Probability float64 `json:"probability"`
}

// pzMultiRankResponse is a MultiSlotRankResponse.
type pzMultiRankResponse struct {
	Slots   []pzSlotAnswer `json:"slots"`
	EventID string         `json:"eventId"`
}

// pzSlotAnswer is a SlotResponse; a slot left without an action (every
// one excluded or taken by an earlier slot) has no rewardActionId.
type pzSlotAnswer struct {
	ID             string `json:"id"`
	RewardActionID string `json:"rewardActionId,omitempty"`
}

// pzRewardRequest is the body of POST events/{eventId}/reward
// (RewardRequest) and of POST multislot/events/{eventId}/reward
// (MultiSlotRewardRequest).
type pzRewardRequest struct {
	Value  *float64        `json:"value"`
	Reward []pzSlotRewardW `json:"reward"`
}

// pzSlotRewardW is a SlotReward.
type pzSlotRewardW struct {
	SlotID string   `json:"slotId"`
	Value  *float64 `json:"value"`
}

// pzID checks an event, action or slot id: not empty, at most
// personalizer.MaxIDLen characters, valid UTF-8 (the decoder has checked)
// without control characters.
func pzID(code, field, v string) error {
	switch {
	case v == "":
		return personalizer.Errorf(code, field, "is required and must not be empty")
	case utf8.RuneCountInString(v) > personalizer.MaxIDLen:
		return personalizer.Errorf(code, field, "must be at most %d characters", personalizer.MaxIDLen)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return personalizer.Errorf(code, field, "must not contain control characters")
		}
	}
	return nil
}

// pzFeatures checks a feature list's values as the native context's are
// (checkValues: finite numbers within ±1e9, at most 128 keys per object,
// nesting at most 4 deep).
func pzFeatures(field string, list []map[string]any) error {
	for i, m := range list {
		if fe := checkValues(fmt.Sprintf("%s[%d]", field, i), m, 0); fe != nil {
			return personalizer.Errorf(personalizer.CodeInvalidRankRequest, fe.field, "%s", fe.reason)
		}
	}
	return nil
}

// checkPZRank checks a rank (multi false) or multi-slot rank request:
// 1 to 50 actions with distinct ids, feature values in range, an event
// id if given; for a rank, not every action excluded; for a multi-slot
// rank, 1 to 50 slots with distinct ids, each with a baselineAction that
// is one of the actions, is not excluded, and is no other slot's.
// Excluded ids that name no action are ignored.
func checkPZRank(r *pzRankRequest, multi bool) error {
	bad := func(field, format string, args ...any) error {
		return personalizer.Errorf(personalizer.CodeInvalidRankRequest, field, format, args...)
	}
	if r.EventID != nil {
		if err := pzID(personalizer.CodeInvalidRankRequest, "eventId", *r.EventID); err != nil {
			return err
		}
	}
	switch n := len(r.Actions); {
	case n == 0:
		return bad("actions", "at least one action is required")
	case n > personalizer.MaxActions:
		return bad("actions", "%d actions: at most %d may be ranked", n, personalizer.MaxActions)
	}
	if err := pzFeatures("contextFeatures", r.ContextFeatures); err != nil {
		return err
	}
	ids := make(map[string]bool, len(r.Actions))
	for i, a := range r.Actions {
		field := fmt.Sprintf("actions[%d]", i)
		if err := pzID(personalizer.CodeInvalidRankRequest, field+".id", a.ID); err != nil {
			return err
		}
		if ids[a.ID] {
			return bad(field+".id", "duplicate action id %q", a.ID)
		}
		ids[a.ID] = true
		if err := pzFeatures(field+".features", a.Features); err != nil {
			return err
		}
	}
	if !multi {
		excluded := 0
		for _, id := range slices.Compact(slices.Sorted(slices.Values(r.ExcludedActions))) {
			if ids[id] {
				excluded++
			}
		}
		if excluded == len(r.Actions) {
			return bad("excludedActions", "every action is excluded: nothing to rank")
		}
		return nil
	}
	switch n := len(r.Slots); {
	case n == 0:
		return bad("slots", "at least one slot is required")
	case n > personalizer.MaxSlots:
		return bad("slots", "%d slots: at most %d", n, personalizer.MaxSlots)
	}
	slotIDs, baselines := map[string]bool{}, map[string]bool{}
	for i, sl := range r.Slots {
		field := fmt.Sprintf("slots[%d]", i)
		if err := pzID(personalizer.CodeInvalidRankRequest, field+".id", sl.ID); err != nil {
			return err
		}
		if slotIDs[sl.ID] {
			return bad(field+".id", "duplicate slot id %q", sl.ID)
		}
		slotIDs[sl.ID] = true
		switch b := sl.BaselineAction; {
		case b == "":
			return bad(field+".baselineAction", "is required: the action the application would show in the slot without Personalizer")
		case !ids[b]:
			return bad(field+".baselineAction", "%q is not one of the actions", b)
		case baselines[b]:
			return bad(field+".baselineAction", "%q is another slot's baseline: each slot's must be unique", b)
		case slices.Contains(sl.ExcludedActions, b):
			return bad(field+".baselineAction", "%q is excluded from the slot", b)
		}
		baselines[sl.BaselineAction] = true
		if err := pzFeatures(field+".features", sl.Features); err != nil {
			return err
		}
	}
	return nil
}

// pzRequestHash is the SHA-256 (hex) of a rank request without its event
// id, keys sorted (encoding/json sorts map keys): what a replay of the
// event id must match.
func pzRequestHash(r *pzRankRequest, multi bool) string {
	c := *r
	c.EventID = nil
	if multi {
		c.ExcludedActions = nil
	} else {
		c.Slots = nil
	}
	b, err := json.Marshal(struct {
		Multi bool `json:"multi"`
		*pzRankRequest
	}{multi, &c})
	if err != nil {
		panic("BUG: a decoded rank request does not encode: " + err.Error())
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// checkPZReward checks a reward (multi false: Value) or multi-slot reward
// (Reward) request: values finite and in [-1, 1], slot ids given and
// distinct.
func checkPZReward(r *pzRewardRequest, multi bool) error {
	bad := func(field, format string, args ...any) error {
		return personalizer.Errorf(personalizer.CodeInvalidRewardRequest, field, format, args...)
	}
	value := func(field string, v *float64) error {
		switch {
		case v == nil:
			return bad(field, "is required (a number in [-1, 1])")
		case !(*v >= -1 && *v <= 1):
			return bad(field, "%v is not in [-1, 1]", *v)
		}
		return nil
	}
	if !multi {
		return value("value", r.Value)
	}
	if len(r.Reward) == 0 {
		return bad("reward", "at least one slot's reward is required")
	}
	seen := map[string]bool{}
	for i, w := range r.Reward {
		field := fmt.Sprintf("reward[%d]", i)
		if err := pzID(personalizer.CodeInvalidRewardRequest, field+".slotId", w.SlotID); err != nil {
			return err
		}
		if seen[w.SlotID] {
			return bad(field+".slotId", "slot %q has a reward already in this request", w.SlotID)
		}
		seen[w.SlotID] = true
		if err := value(field+".value", w.Value); err != nil {
			return err
		}
	}
	return nil
}
