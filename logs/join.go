package logs

import (
	"context"
	"fmt"
	"time"

	"nextbest/journal"
)

// DefaultWindow is the default attribution window: an outcome counts for a
// decision when it happens at most this long after the decision.
const DefaultWindow = 7 * 24 * time.Hour

// Attributed reports whether an outcome at time at is attributed to a
// decision made at time decided under window: at − decided ≤ window. An
// outcome timed before its decision is attributed (channels' clocks
// differ). A window ≤ 0 attributes every outcome. Join and the online
// learner both ask it, so an outcome teaches the batch and the online
// model alike.
func Attributed(decided, at time.Time, window time.Duration) bool {
	return window <= 0 || at.Sub(decided) <= window
}

// ActivationCounts reports whether an activation at time at counts for a
// decision made at time decided, deferred saying the decision was made
// with defer_activation: a decision made without it was shown whole when
// it was made, and an activation past the attribution window comes too
// late (Attributed), as an outcome would. Join and the state applier both
// ask it.
func ActivationCounts(deferred bool, decided, at time.Time, window time.Duration) bool {
	return deferred && Attributed(decided, at, window)
}

// JoinConfig configures Join. The zero value joins everything with a 7-day
// window, a default reward of 0 and the default outcome types.
type JoinConfig struct {
	// Window is the attribution window. An outcome later than the
	// decision's time plus Window is not joined (counted in
	// JoinStats.Late). 0 means DefaultWindow; negative is an error.
	Window time.Duration
	// DefaultReward is the reward r₀ of a shown action that no outcome
	// within the window names.
	DefaultReward float64
	// Outcomes are the declared outcome types: each one's reward mapping,
	// conversion flag and aggregation. nil means DefaultOutcomeTypes. The
	// service's declarations give the rewards its online learner learns.
	Outcomes *Outcomes
	// From and To, when not zero, keep only decisions with From ≤ time < To.
	From, To time.Time
	// DropOpen leaves out decisions whose window has not closed by the time
	// of the last record read (their reward may still change). They are
	// counted in JoinStats.Open either way.
	DropOpen bool
}

func (c *JoinConfig) fill() error {
	if c.Window < 0 {
		return fmt.Errorf("%w: attribution window %v is negative", ErrInvalidConfig, c.Window)
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Outcomes == nil {
		o, err := NewOutcomes(nil)
		if err != nil {
			panic("BUG: logs: the default outcome types do not validate: " + err.Error())
		}
		c.Outcomes = o
	}
	return nil
}

// Joined is one logged decision with the learning reward of each returned
// action, in the order of Decision.Actions.
//
// The reward of an action is the reward rule's (see the package doc):
// JoinConfig.DefaultReward if no outcome for it was joined, otherwise the
// sum over its outcome types of each type's aggregate (ActionReward). An
// outcome is joined when its type is declared, its reward is usable
// (CheckReward), it is not a duplicate (its outcome_id already seen for
// the decision, or a repeat of a first-aggregated type, in journal order,
// late ones included) and it is attributed (Attributed). This is the rule
// the online learner applies, so a batch model and the online model learn
// the same targets.
type Joined struct {
	Decision journal.Decision
	LSN      uint64
	Rewards  []float64
	// Outcomes is the number of outcome types joined per action.
	Outcomes []int
	// TypeRewards holds, per action, the aggregate reward of each joined
	// outcome type (first, sum or max of the mapped rewards), keyed by the
	// type's name ("click", "conversion", "revenue", ...). An action with
	// no joined outcome has a nil map, so Rewards[i] equals the sum of
	// TypeRewards[i] whenever Outcomes[i] > 0. Experiment analysis reads
	// it to tell revenue apart.
	TypeRewards []map[string]float64
	// Converted is, per action, whether a joined outcome counts as a
	// conversion by its declaration (OutcomeType.Converts).
	Converted []bool
	// Activated is, for a decision made with defer_activation, whether
	// each action's slot was activated (shown); nil for a decision made
	// without it, whose actions were all shown. Only shown actions are
	// impressions: training, evaluation and experiment analysis skip the
	// others (Shown). A deferred decision never activated is not joined
	// at all (JoinStats.NotActivated).
	Activated []bool
}

// Shown reports whether the action in slot i of j's decision was shown:
// always for a decision made without defer_activation, once its slot was
// activated for one made with it.
func (j *Joined) Shown(i int) bool {
	return j.Activated == nil || (i < len(j.Activated) && j.Activated[i])
}

// JoinStats counts what Join saw and what it left out.
type JoinStats struct {
	Records   int // records read
	Decisions int // decisions kept
	Filtered  int // decisions outside [From, To) or left out by DropOpen
	Events    int // event records (not used by the join)
	Outcomes  int // outcome records read
	Joined    int // outcomes folded into a reward
	Late      int // outcomes past the attribution window, not joined
	Duplicate int // repeats (outcome_id, or a first type's (decision, action, type)), ignored
	NotShown  int // outcomes for an action the decision did not return, ignored
	Unknown   int // outcomes whose decision is not in the journal, ignored
	// UnknownType counts outcomes of a type the declarations do not name,
	// and BadReward outcomes whose reward CheckReward refuses; both are
	// skipped, as the online learner skips them.
	UnknownType int
	BadReward   int
	// Early counts outcomes timed before their decision; they are joined
	// (clocks differ between channels) but counted.
	Early    int
	Open     int // decisions whose window was still open at the last record
	BadLog   int // records whose payload did not decode, skipped
	Rewarded int // shown (decision, action) pairs with at least one joined outcome
	Shown    int // shown (decision, action) pairs: returned actions, activated ones of deferred decisions
	// Activations counts activation records read; LateActivation those
	// past their decision's attribution window (ActivationCounts), and
	// NotActivated the deferred decisions left out because no activation
	// counted for them (yet: one whose window is still open is also Open).
	Activations    int
	LateActivation int
	NotActivated   int
}

// typeKey names one outcome type of one returned action.
type typeKey struct {
	action int // index in Decision.Actions
	typ    string
}

// folds is what the outcomes of one decision have added up to so far.
type folds struct {
	aggs map[typeKey]Aggregate // joined outcomes, per action and type
	seen Seen                  // what the outcomes took (joined or late): the duplicate rule
}

// Join reads the journal in dir from the start to its current end with a
// journal.Reader (read-only; another process may be appending) and joins
// outcomes to decisions as JoinConfig and Joined describe. Decisions are
// returned in journal order. An outcome journaled before its decision is
// joined after the last record. A torn tail of the last segment is the end
// of the data; corruption elsewhere is an error.
func Join(ctx context.Context, dir string, cfg JoinConfig) ([]Joined, JoinStats, error) {
	var st JoinStats
	if err := cfg.fill(); err != nil {
		return nil, st, err
	}

	var (
		out      []Joined
		byID     = make(map[string]int)
		state    = make(map[int]*folds) // decision index → its outcomes so far
		pend     []journal.Outcome      // outcomes whose decision came later
		pendActs []journal.Activation   // activations whose decision came later
		active   = make(map[int]bool)   // deferred decisions activated
		lastTS   time.Time
	)
	n, err := EachRecord(ctx, dir, func(rec *journal.Record) error {
		if rec.Time.After(lastTS) {
			lastTS = rec.Time
		}
		switch rec.Type {
		case journal.TypeDecision:
			var d journal.Decision
			if err := journal.DecodeDecision(rec.Payload, &d); err != nil {
				st.BadLog++
				return nil
			}
			if _, dup := byID[d.DecisionID]; dup || d.DecisionID == "" {
				st.BadLog++
				return nil
			}
			byID[d.DecisionID] = len(out)
			n := len(d.Actions)
			out = append(out, Joined{Decision: d, LSN: rec.LSN, Rewards: make([]float64, n), Outcomes: make([]int, n),
				TypeRewards: make([]map[string]float64, n), Converted: make([]bool, n)})
		case journal.TypeOutcome:
			st.Outcomes++
			var o journal.Outcome
			if err := journal.DecodeOutcome(rec.Payload, &o); err != nil {
				st.BadLog++
				return nil
			}
			if _, ok := byID[o.DecisionID]; !ok {
				pend = append(pend, o)
				return nil
			}
			join(out, byID, state, &o, &cfg, &st)
		case journal.TypeActivation:
			st.Activations++
			var a journal.Activation
			if err := journal.DecodeActivation(rec.Payload, &a); err != nil {
				st.BadLog++
				return nil
			}
			if _, ok := byID[a.DecisionID]; !ok {
				pendActs = append(pendActs, a)
				return nil
			}
			activate(out, byID, active, &a, &cfg, &st)
		case journal.TypeEvent:
			st.Events++
		}
		return nil
	})
	st.Records = n
	if err != nil {
		return nil, st, err
	}
	for i := range pend {
		if _, ok := byID[pend[i].DecisionID]; !ok {
			st.Unknown++
			continue
		}
		join(out, byID, state, &pend[i], &cfg, &st)
	}
	for i := range pendActs {
		if _, ok := byID[pendActs[i].DecisionID]; ok {
			activate(out, byID, active, &pendActs[i], &cfg, &st)
		}
	}

	kept := out[:0]
	for di := range out {
		j := out[di]
		if f := state[di]; f != nil {
			reward(&j, f, cfg.DefaultReward)
		} else {
			for i := range j.Rewards {
				j.Rewards[i] = cfg.DefaultReward
			}
		}
		t := j.Decision.Time
		open := t.Add(cfg.Window).After(lastTS)
		if open {
			st.Open++
		}
		if (!cfg.From.IsZero() && t.Before(cfg.From)) || (!cfg.To.IsZero() && !t.Before(cfg.To)) || (open && cfg.DropOpen) {
			st.Filtered++
			continue
		}
		if j.Decision.DeferActivation && !active[di] {
			// never shown: no impression, nothing to learn or count
			st.NotActivated++
			continue
		}
		for i, n := range j.Outcomes {
			if !j.Shown(i) {
				continue
			}
			st.Shown++
			if n > 0 {
				st.Rewarded++
			}
		}
		kept = append(kept, j)
	}
	st.Decisions = len(kept)
	return kept, st, nil
}

// join folds outcome o into its decision's state, in the order the
// online learner checks it: a returned action, a declared type, a usable
// reward, not a duplicate, attributed.
func join(out []Joined, byID map[string]int, state map[int]*folds, o *journal.Outcome, cfg *JoinConfig, st *JoinStats) {
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
	t, ok := cfg.Outcomes.Lookup(o.Type)
	if !ok {
		st.UnknownType++
		return
	}
	if CheckReward(o.Reward) != nil {
		st.BadReward++
		return
	}
	f := state[di]
	if f == nil {
		f = &folds{aggs: make(map[typeKey]Aggregate, 2)}
		state[di] = f
	}
	k := typeKey{ai, o.Type}
	// a counted outcome takes its outcome_id, and the first outcome of a
	// first type takes the type, attributed or not; a duplicate takes
	// nothing
	if f.seen.Take(o, t) {
		st.Duplicate++
		return
	}
	if !Attributed(j.Decision.Time, o.Time, cfg.Window) {
		st.Late++
		return
	}
	if o.Time.Before(j.Decision.Time) {
		st.Early++
	}
	next, _, counted := t.Fold(f.aggs[k], t.Reward.Apply(o.Reward))
	if !counted {
		st.Duplicate++
		return
	}
	f.aggs[k] = next
	if t.Converts(o.Reward) {
		j.Converted[ai] = true
	}
	st.Joined++
}

// activate applies activation a to its decision: the decision counts as
// shown, and the slots it names (in range) are activated, unless a does
// not count (ActivationCounts).
func activate(out []Joined, byID map[string]int, active map[int]bool, a *journal.Activation, cfg *JoinConfig, st *JoinStats) {
	di := byID[a.DecisionID]
	j := &out[di]
	if !ActivationCounts(j.Decision.DeferActivation, j.Decision.Time, a.Time, cfg.Window) {
		if j.Decision.DeferActivation {
			st.LateActivation++
		}
		return
	}
	active[di] = true
	if j.Activated == nil {
		j.Activated = make([]bool, len(j.Decision.Actions))
	}
	for _, s := range a.Slots {
		if s >= 0 && s < len(j.Activated) {
			j.Activated[s] = true
		}
	}
}

// reward writes j's rewards, outcome counts and type rewards from its
// folded outcomes f (ActionReward per action).
func reward(j *Joined, f *folds, r0 float64) {
	per := make([]map[string]Aggregate, len(j.Rewards))
	for k, a := range f.aggs {
		if per[k.action] == nil {
			per[k.action] = make(map[string]Aggregate, 2)
		}
		per[k.action][k.typ] = a
	}
	for i, aggs := range per {
		j.Rewards[i] = ActionReward(r0, aggs)
		if len(aggs) == 0 {
			continue
		}
		j.Outcomes[i] = len(aggs)
		j.TypeRewards[i] = make(map[string]float64, len(aggs))
		for typ, a := range aggs {
			j.TypeRewards[i][typ] = a.Reward
		}
	}
}
