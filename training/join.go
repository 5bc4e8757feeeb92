package training

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"nextbest/journal"
)

// DefaultWindow is the default attribution window: an outcome counts for a
// decision when it happens at most this long after the decision.
const DefaultWindow = 7 * 24 * time.Hour

// JoinConfig configures Join. The zero value joins everything with a 7-day
// window and a default reward of 0.
type JoinConfig struct {
	// Window is the attribution window. An outcome later than the
	// decision's time plus Window is ignored (counted in JoinStats.Late).
	// 0 means DefaultWindow; negative is an error.
	Window time.Duration
	// DefaultReward is the reward of a shown action that no outcome within
	// the window names.
	DefaultReward float64
	// From and To, when not zero, keep only decisions with From ≤ time < To.
	From, To time.Time
	// DropOpen leaves out decisions whose window has not closed by the time
	// of the last record read (their reward may still change). They are
	// counted in JoinStats.Open either way.
	DropOpen bool
}

func (c *JoinConfig) fill() error {
	if c.Window < 0 {
		return fmt.Errorf("%w: attribution window %v is negative", ErrBadConfig, c.Window)
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	return nil
}

// Joined is one logged decision with the learning reward of each returned
// action, in the order of Decision.Actions.
//
// The reward of an action is JoinConfig.DefaultReward if no outcome for it
// arrived within the window; otherwise the sum of the rewards of its
// distinct outcome types, where the first outcome of a type (in journal
// order) counts and later ones of the same type are duplicates. This is the
// rule serve's online learner applies, so a batch model and the online
// model learn the same targets.
type Joined struct {
	Decision journal.Decision
	LSN      uint64
	Rewards  []float64
	// Outcomes is the number of distinct outcome types joined per action.
	Outcomes []int
	// TypeRewards holds, per action, the joined reward of each distinct
	// outcome type (the first outcome of the type, as for Rewards), keyed
	// by the outcome's type ("click", "conversion", "revenue", ...). An
	// action with no joined outcome has a nil map, so Rewards[i] equals
	// the sum of TypeRewards[i] whenever Outcomes[i] > 0. Experiment
	// analysis reads it to tell conversions and revenue apart.
	TypeRewards []map[string]float64
}

// JoinStats counts what Join saw and what it left out.
type JoinStats struct {
	Records   int // records read
	Decisions int // decisions kept
	Filtered  int // decisions outside [From, To) or left out by DropOpen
	Events    int // event records (not used by the join)
	Outcomes  int // outcome records read
	Joined    int // outcomes that set or added to a reward
	Late      int // outcomes past the attribution window, ignored
	Duplicate int // repeat outcomes of a (decision, action, type), ignored
	NotShown  int // outcomes for an action the decision did not return, ignored
	Unknown   int // outcomes whose decision is not in the journal, ignored
	// Early counts outcomes timed before their decision; they are joined
	// (clocks differ between channels) but counted.
	Early    int
	Open     int // decisions whose window was still open at the last record
	BadLog   int // records whose payload did not decode, skipped
	Rewarded int // (decision, action) pairs with at least one joined outcome
	Shown    int // (decision, action) pairs, i.e. returned actions
}

type outcomeKey struct {
	action int // index in Decision.Actions
	typ    string
}

// Join reads the journal in dir from the start to its current end with a
// journal.Reader (read-only; another process may be appending) and joins
// outcomes to decisions as JoinConfig and Joined describe. Decisions are
// returned in journal order. A torn tail of the last segment is the end of
// the data; corruption elsewhere is an error.
func Join(ctx context.Context, dir string, cfg JoinConfig) ([]Joined, JoinStats, error) {
	var st JoinStats
	if err := cfg.fill(); err != nil {
		return nil, st, err
	}
	r, err := journal.NewReader(dir)
	if err != nil {
		return nil, st, fmt.Errorf("cannot read journal %q: %w", dir, err)
	}
	defer r.Close()

	var (
		out    []Joined
		byID   = make(map[string]int)
		seen   = make(map[int]map[outcomeKey]struct{}) // decision index → outcome types joined
		pend   []journal.Outcome                       // outcomes whose decision came later
		lastTS time.Time
	)
	for {
		if st.Records%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, st, err
			}
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, st, fmt.Errorf("cannot read journal %q: %w", dir, err)
		}
		st.Records++
		if rec.Time.After(lastTS) {
			lastTS = rec.Time
		}
		switch rec.Type {
		case journal.TypeDecision:
			var d journal.Decision
			if err := journal.DecodeDecision(rec.Payload, &d); err != nil {
				st.BadLog++
				continue
			}
			if _, dup := byID[d.DecisionID]; dup || d.DecisionID == "" {
				st.BadLog++
				continue
			}
			byID[d.DecisionID] = len(out)
			j := Joined{Decision: d, LSN: rec.LSN, Rewards: make([]float64, len(d.Actions)), Outcomes: make([]int, len(d.Actions)),
				TypeRewards: make([]map[string]float64, len(d.Actions))}
			for i := range j.Rewards {
				j.Rewards[i] = cfg.DefaultReward
			}
			out = append(out, j)
		case journal.TypeOutcome:
			st.Outcomes++
			v, err := journal.Decode(rec)
			if err != nil {
				st.BadLog++
				continue
			}
			o := v.(*journal.Outcome)
			if _, ok := byID[o.DecisionID]; !ok {
				pend = append(pend, *o)
				continue
			}
			applyOutcome(out, byID, seen, o, &cfg, &st)
		case journal.TypeEvent:
			st.Events++
		}
	}
	for i := range pend {
		if _, ok := byID[pend[i].DecisionID]; !ok {
			st.Unknown++
			continue
		}
		applyOutcome(out, byID, seen, &pend[i], &cfg, &st)
	}

	kept := out[:0]
	for _, j := range out {
		t := j.Decision.Time
		open := t.Add(cfg.Window).After(lastTS)
		if open {
			st.Open++
		}
		if (!cfg.From.IsZero() && t.Before(cfg.From)) || (!cfg.To.IsZero() && !t.Before(cfg.To)) || (open && cfg.DropOpen) {
			st.Filtered++
			continue
		}
		st.Shown += len(j.Rewards)
		for _, n := range j.Outcomes {
			if n > 0 {
				st.Rewarded++
			}
		}
		kept = append(kept, j)
	}
	st.Decisions = len(kept)
	return kept, st, nil
}

func applyOutcome(out []Joined, byID map[string]int, seen map[int]map[outcomeKey]struct{}, o *journal.Outcome, cfg *JoinConfig, st *JoinStats) {
	di := byID[o.DecisionID]
	j := &out[di]
	ai := -1
	for i, a := range j.Decision.Actions {
		if a.ActionID == o.ActionID {
			ai = i
			break
		}
	}
	if ai < 0 {
		st.NotShown++
		return
	}
	dt := o.Time.Sub(j.Decision.Time)
	if dt > cfg.Window {
		st.Late++
		return
	}
	if dt < 0 {
		st.Early++
	}
	k := outcomeKey{ai, o.Type}
	m := seen[di]
	if m == nil {
		m = make(map[outcomeKey]struct{}, 2)
		seen[di] = m
	}
	if _, dup := m[k]; dup {
		st.Duplicate++
		return
	}
	m[k] = struct{}{}
	if j.Outcomes[ai] == 0 {
		j.Rewards[ai] = o.Reward
	} else {
		j.Rewards[ai] += o.Reward
	}
	j.Outcomes[ai]++
	if j.TypeRewards[ai] == nil {
		j.TypeRewards[ai] = make(map[string]float64, 2)
	}
	j.TypeRewards[ai][o.Type] = o.Reward
	st.Joined++
}
