package state

import (
	"encoding/binary"
	"fmt"
	"math"

	"nextbest/journal"
	"nextbest/logs"
)

// outcomeKeys are the de-duplication keys of an outcome in the store;
// they all start with the decision's id, so the retention sweep removes
// them with the decision (see retention.go).
//
//	o/<decision>/<action>         LSN of the action's first learned outcome
//	o/<decision>/<action>/<type>  entries of the type: the first outcome's,
//	                              the first attributed one's (after a late
//	                              one), and for max each increase
//	                              (outcomeEntry)
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

// DedupeKeys returns the de-duplication keys of an outcome of type t for
// decisionID's actionID (outcomeID may be empty): the keys that, once an
// outcome has been applied under them, make a repeat of it a duplicate
// (OutcomeFirstLSN). They are its outcome_id's, and for a
// first-aggregated type its (decision, action, type)'s; none for a
// repeatable type without an outcome_id.
func DedupeKeys(decisionID, actionID, outcomeID string, t *logs.OutcomeType) []string {
	return keysOf(decisionID, actionID, t.Name, outcomeID).dedupe(t)
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

// firstLSNOf reads the LSN stored under an outcome key (the first of its
// entries); 0 if there is none.
func firstLSNOf(v []byte) uint64 {
	if len(v) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// OutcomeSummary is what one action of a decision has received of one
// outcome type so far.
type OutcomeSummary struct {
	ActionID string `json:"action_id"`
	Type     string `json:"type"`
	// Reward is the type's aggregate reward (its fold: first, sum, max);
	// Late is set when the last outcome came after the attribution window
	// (it is kept to de-duplicate, not learned from).
	Reward float64 `json:"reward"`
	Late   bool    `json:"late,omitempty"`
	// FirstLSN is the journal LSN of its first outcome.
	FirstLSN uint64 `json:"first_lsn"`
}

// DecisionOutcomes returns what each of decision d's actions has received
// of each of types so far, in action then type order; actions and types
// without an outcome are left out. It reads the applied state, so an
// outcome just acknowledged may not be in it yet.
func (s *Store) DecisionOutcomes(d *journal.Decision, types []string) ([]OutcomeSummary, error) {
	var out []OutcomeSummary
	for _, a := range d.Actions {
		for _, t := range types {
			v, err := s.kv.Get(keysOf(d.DecisionID, a.ActionID, t, "").typ)
			if err != nil {
				return nil, fmt.Errorf("%w: outcomes of decision %q: %w", ErrUnavailable, d.DecisionID, err)
			}
			if v == nil {
				continue
			}
			es, err := decodeEntries(v)
			if err != nil || len(es) == 0 {
				return nil, fmt.Errorf("%w: outcomes of decision %q: %v", ErrCorrupt, d.DecisionID, err)
			}
			last := es[len(es)-1]
			sum := OutcomeSummary{ActionID: a.ActionID, Type: t, Reward: last.agg, FirstLSN: es[0].lsn}
			if math.IsNaN(last.agg) {
				sum.Reward, sum.Late = 0, true
				for i := len(es) - 1; i >= 0; i-- {
					if !math.IsNaN(es[i].agg) {
						sum.Reward = es[i].agg
						break
					}
				}
			}
			out = append(out, sum)
		}
	}
	return out, nil
}
