package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"nextbest/experiment"
	"nextbest/journal"
	"nextbest/kv"
	"nextbest/logs"
)

// The figures the dashboard and GET /v1/experiments read are kept here,
// as the Applier applies the journal, in the same Pebble batch as the
// rest of a journal batch's state: they are exactly as durable as the
// applied LSN, and a replay, which skips records at or below it, never
// counts a record twice.
//
//	e/<exp>/<arm>/<dim>/<value>  experiment.Sums of a group (day, channel, stage)
//	e/<exp>/<arm>/span           first and last decision time of the arm
//	u/<exp>/<customer>           the customer's experiment.Unit
//	x/<decision_id>              an experiment decision's record (expDecision):
//	                             what its outcomes change
//	v/<counter>[/<label>...]     a volume counter (Volume)
//
// Key components are path-escaped (url.PathEscape), so none holds a "/".
// Experiment decisions are summed in days of UTC.

// Volume counters and their key prefixes.
const (
	volumeDecisions   = "decisions"   // v/decisions/<channel>
	volumeActions     = "actions"     // v/actions/<action>/<channel>
	volumeOutcomes    = "outcomes"    // v/outcomes/<type>
	volumeEvents      = "events"      // v/events
	volumeExperiments = "experiments" // v/experiments/<experiment>/<arm>
	volumeFallbacks   = "fallbacks"   // v/fallbacks/<experiment>/<arm>
	volumeDegenerate  = "degenerate"  // v/degenerate/<experiment>/<arm>
	volumeDeferred    = "deferred"    // v/deferred/<channel>
	volumeActivated   = "activated"   // v/activated/<channel>
	keySince          = prefixVolume + "since"
)

// Volume is what the applied journal holds, counted as the Applier
// applies it (records it skips are not counted): kept with the state, it
// survives restarts and is rebuilt with the state from the journal.
type Volume struct {
	// Since is the time of the first record counted.
	Since time.Time
	// Decisions counts decisions by channel; Actions the actions shown,
	// by action and channel (every returned action of a decision made
	// without defer_activation, the activated slots of one made with it:
	// the impressions); Experiments the decisions made (deferred ones:
	// activated) in an experiment, by experiment and arm.
	Decisions   map[string]int64
	Actions     map[string]map[string]int64
	Experiments map[string]map[string]int64
	// Deferred counts the decisions made with defer_activation, by
	// channel, and Activated those of them activated since (their first
	// activation counted).
	Deferred  map[string]int64
	Activated map[string]int64
	// Fallbacks counts the experiment decisions that fell back to the
	// value ranking (the arm's model failed: a non-finite score, a
	// timeout; or the profile store was down), by experiment and arm: how
	// the retraining loop tells a misbehaving canary.
	Fallbacks map[string]map[string]int64
	// Degenerate counts the experiment decisions whose model scored every
	// eligible action the same (journal.Decision.Degenerate), by
	// experiment and arm: a constant, broken canary.
	Degenerate map[string]map[string]int64
	// Outcomes counts outcomes by type, duplicates not counted (late ones
	// are: they reach the profile); Events the journey events.
	Outcomes map[string]int64
	Events   int64
}

// Experiment returns the sums of experiment name's decisions as of the
// last applied batch (an empty Aggregates for an experiment without
// decisions), for experiment.Analyze. It reads one key per arm and day,
// channel or stage, never the journal. Errors wrap ErrUnavailable or
// ErrCorrupt.
func (s *Store) Experiment(name string) (*experiment.Aggregates, error) {
	prefix := prefixExperiment + esc(name) + "/"
	agg := &experiment.Aggregates{}
	err := s.kv.Scan(prefix, func(key, value []byte) error {
		k := string(key)
		parts := strings.Split(k[len(prefix):], "/")
		if len(parts) == 2 && parts[1] == "span" {
			from, to, err := decodeSpan(value)
			arm, uerr := url.PathUnescape(parts[0])
			if err = errors.Join(err, uerr); err != nil {
				return corrupt(k, err)
			}
			agg.Seen(arm, from, to)
			return nil
		}
		g, err := parseGroup(parts)
		if err != nil {
			return corrupt(k, err)
		}
		sums, err := decodeSums(value)
		if err != nil {
			return corrupt(k, err)
		}
		agg.Add(g, &sums)
		return nil
	})
	if err != nil {
		return nil, scanError("experiment "+strconv.Quote(name), err)
	}
	return agg, nil
}

// corrupt is the error of a store entry k that does not decode.
func corrupt(k string, err error) error {
	return &corruptEntry{fmt.Errorf("%w: %s: %w", ErrCorrupt, k, err)}
}

type corruptEntry struct{ error }

func (c *corruptEntry) Unwrap() error { return c.error }

// scanError is the error of a Scan of what: a corrupt entry as it is, a
// failure of the store as ErrUnavailable.
func scanError(what string, err error) error {
	if _, ok := err.(*corruptEntry); ok {
		return err
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}

// Volume returns the volume counters as of the last applied batch. Errors
// wrap ErrUnavailable or ErrCorrupt.
func (s *Store) Volume() (*Volume, error) {
	v := &Volume{Decisions: map[string]int64{}, Actions: map[string]map[string]int64{}, Deferred: map[string]int64{}, Activated: map[string]int64{},
		Experiments: map[string]map[string]int64{}, Fallbacks: map[string]map[string]int64{}, Degenerate: map[string]map[string]int64{}, Outcomes: map[string]int64{}}
	nested := func(m map[string]map[string]int64, a, b string, n int64) {
		if m[a] == nil {
			m[a] = map[string]int64{}
		}
		m[a][b] = n
	}
	err := s.kv.Scan(prefixVolume, func(key, val []byte) error {
		k := string(key)
		if len(val) != 8 {
			return corrupt(k, fmt.Errorf("%d bytes", len(val)))
		}
		n := int64(binary.BigEndian.Uint64(val))
		if k == keySince {
			v.Since = time.Unix(0, n).UTC()
			return nil
		}
		parts := strings.Split(k[len(prefixVolume):], "/")
		for i := range parts {
			var err error
			if parts[i], err = url.PathUnescape(parts[i]); err != nil {
				return corrupt(k, err)
			}
		}
		switch {
		case parts[0] == volumeDecisions && len(parts) == 2:
			v.Decisions[parts[1]] = n
		case parts[0] == volumeDeferred && len(parts) == 2:
			v.Deferred[parts[1]] = n
		case parts[0] == volumeActivated && len(parts) == 2:
			v.Activated[parts[1]] = n
		case parts[0] == volumeActions && len(parts) == 3:
			nested(v.Actions, parts[1], parts[2], n)
		case parts[0] == volumeExperiments && len(parts) == 3:
			nested(v.Experiments, parts[1], parts[2], n)
		case parts[0] == volumeFallbacks && len(parts) == 3:
			nested(v.Fallbacks, parts[1], parts[2], n)
		case parts[0] == volumeDegenerate && len(parts) == 3:
			nested(v.Degenerate, parts[1], parts[2], n)
		case parts[0] == volumeOutcomes && len(parts) == 2:
			v.Outcomes[parts[1]] = n
		case parts[0] == volumeEvents && len(parts) == 1:
			v.Events = n
		default:
			return corrupt(k, errors.New("unknown volume key"))
		}
		return nil
	})
	if err != nil {
		return nil, scanError("volume", err)
	}
	return v, nil
}

// aggregates is the Applier's working copy, for one journal batch, of the
// sums, spans, units, experiment decision records and counters the batch
// changes: read from the store on first use, written into the batch by
// stage. A record's changes are worked out before any of them is made, so
// a record that fails (the store cannot be read) changes nothing.
//
// Sums, spans and counters are few (per experiment, arm and day, channel
// or stage; per label) and every batch touches the same ones: the
// Applier, their one writer, keeps their committed values (known*) and
// reads each from the store once. committed moves a batch's values there
// once the batch is in the store. Units and decision records are one per
// customer and decision: they are read from the store.
type aggregates struct {
	st    *Store
	sums  map[groupRef]batchSums
	spans map[spanRef]batchSpan
	units map[string]*experiment.Unit
	decs  map[string]*expDecision
	dirty map[string]bool // the units and decision records changed
	// counts are the batch's counters
	counts map[counterKey]counter
	// the committed values and store keys
	knownSums   map[groupRef]*storedSums
	knownSpans  map[spanRef]*storedSpan
	knownCounts map[counterKey]*storedCounter
	// since is the time of the first record counted, to be written when
	// the store has none (sinceStored)
	since                    time.Time
	sinceLoaded, sinceStored bool
	// names interns the strings decoded from units and decision records
	// (arms, dates, channels, stages, actions: few)
	names map[string]string
	// scratch
	ck  []counterKey
	chg []groupChange
	all []int
}

// groupRef names the sums of group g of experiment exp.
type groupRef struct {
	exp string
	g   experiment.Group
}

// spanRef names the span of an experiment's arm.
type spanRef struct{ exp, arm string }

// groupChange is a change to the sums of a group.
type groupChange struct {
	ref  groupRef
	sums experiment.Sums
}

type batchSums struct {
	s     experiment.Sums
	dirty bool
}

type batchSpan struct {
	from, to time.Time
	dirty    bool
}

type storedSums struct {
	key []byte
	s   experiment.Sums
}

type storedSpan struct {
	key      []byte
	from, to time.Time
}

// maxNames bounds the interned strings.
const maxNames = 1 << 14

func newAggregates(st *Store) *aggregates {
	return &aggregates{st: st, sums: map[groupRef]batchSums{}, spans: map[spanRef]batchSpan{},
		units: map[string]*experiment.Unit{}, decs: map[string]*expDecision{}, dirty: map[string]bool{},
		counts: map[counterKey]counter{}, knownSums: map[groupRef]*storedSums{}, knownSpans: map[spanRef]*storedSpan{},
		knownCounts: map[counterKey]*storedCounter{}, names: map[string]string{}}
}

// reset forgets the working copy: a new batch starts.
func (g *aggregates) reset() {
	clear(g.sums)
	clear(g.spans)
	clear(g.units)
	clear(g.decs)
	clear(g.dirty)
	clear(g.counts)
	g.since, g.sinceLoaded = time.Time{}, g.sinceStored
}

// committed is told that the batch staged last is in the store.
func (g *aggregates) committed() {
	for k, c := range g.counts {
		if c.dirty {
			g.knownCounts[k].n = c.n
		}
	}
	for r, bs := range g.sums {
		if bs.dirty {
			g.knownSums[r].s = bs.s
		}
	}
	for r, sp := range g.spans {
		if sp.dirty {
			k := g.knownSpans[r]
			k.from, k.to = sp.from, sp.to
		}
	}
	if !g.since.IsZero() {
		g.sinceStored = true
	}
}

// intern returns b as a string, the same one for the same bytes while
// there are not too many.
func (g *aggregates) intern(b []byte) string {
	if s, ok := g.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(g.names) < maxNames {
		g.names[s] = s
	}
	return s
}

// expDecision is the record of an experiment decision that returned
// actions: where its outcomes change the sums, and what they already
// changed (converted, outcome).
type expDecision struct {
	experiment string
	customer   string
	dec        experiment.Decision
	actions    []string
	converted  bool // an outcome counted as a conversion
	outcome    bool // an outcome was joined
}

// decision counts decision d (record at time at) and, unless it was
// made with defer_activation (its activation shows it: activation),
// shows it whole: its actions and its experiment's sums.
func (g *aggregates) decision(d *journal.Decision, at time.Time) error {
	if d.DeferActivation {
		return g.change(d, at, true, nil, false, nil)
	}
	all := g.all[:0]
	for i := range d.Actions {
		all = append(all, i)
	}
	g.all = all[:0]
	return g.change(d, at, true, all, true, nil)
}

// activation counts what an activation (record at time at) of deferred
// decision d shows: the slots fresh, shown for the first time, with what
// their outcomes held back (held, per slot of d); first says it is d's
// first activation, which adds d to its experiment's sums.
func (g *aggregates) activation(d *journal.Decision, fresh []int, first bool, held []slotActivation, at time.Time) error {
	return g.change(d, at, false, fresh, first, held)
}

// change counts decision d (record at time at): the decision itself if
// decided (its record is applied), the actions of its slots shown, and,
// if first (it is shown for the first time), its experiment decision;
// held, if not nil, is what the shown slots' outcomes held back until
// they were shown (their experiment values).
func (g *aggregates) change(d *journal.Decision, at time.Time, decided bool, shown []int, first bool, held []slotActivation) error {
	// everything the record changes, read first
	keys := g.ck[:0]
	if decided {
		keys = append(keys, counterKey{volumeDecisions, d.Channel, ""})
		if d.DeferActivation {
			keys = append(keys, counterKey{volumeDeferred, d.Channel, ""})
		}
	} else if first {
		keys = append(keys, counterKey{volumeActivated, d.Channel, ""})
	}
	for _, s := range shown {
		keys = append(keys, counterKey{volumeActions, d.Actions[s].ActionID, d.Channel})
	}
	g.ck = keys[:0] // kept for the next record; this one's stay in keys
	var (
		unit     *experiment.Unit
		rec      *expDecision
		unitKey  string
		exp, arm string
	)
	changes := g.chg[:0]
	if e := d.Experiment; e != nil && (first || len(shown) > 0) {
		exp, arm = e.Name, e.Arm
		if first {
			keys = append(keys, counterKey{volumeExperiments, exp, arm})
			if d.Fallback {
				keys = append(keys, counterKey{volumeFallbacks, exp, arm})
			}
			if d.Degenerate {
				keys = append(keys, counterKey{volumeDegenerate, exp, arm})
			}
			rec = &expDecision{experiment: exp, customer: d.CustomerID, dec: experiment.DecisionOf(d, time.UTC)}
		} else {
			r, err := g.expDecision(prefixExpDecision + d.DecisionID)
			if err != nil {
				return err
			}
			if r != nil { // else swept: its sums take nothing more
				next := *r
				next.actions = slices.Clone(r.actions)
				rec = &next
			}
		}
	}
	if rec != nil {
		// the decision (when first shown) and what its newly shown slots'
		// outcomes held back
		var dn, dOut int64
		var dy experiment.Values
		if first {
			dn = 1
		}
		converted, outcome := false, false
		for _, s := range shown {
			rec.actions = append(rec.actions, d.Actions[s].ActionID)
			if held == nil {
				continue
			}
			h := &held[s]
			dy[1] += h.y[1]
			dy[2] += h.y[2]
			converted = converted || h.converted()
			outcome = outcome || h.outcome
		}
		if converted && !rec.converted {
			dy[0], rec.converted = 1, true
		}
		if outcome && !rec.outcome {
			dOut, rec.outcome = 1, true
		}
		if dn != 0 || dy != (experiment.Values{}) || dOut != 0 {
			unitKey = unitKeyOf(rec.experiment, rec.customer)
			u, err := g.unit(unitKey)
			if err != nil {
				return err
			}
			unit = cloneUnit(u)
			unit.Change(&rec.dec, dn, &dy, dOut, func(gr experiment.Group, s *experiment.Sums) {
				changes = append(changes, groupChange{groupRef{rec.experiment, gr}, *s})
			})
			g.chg = changes[:0]
			if err := g.loadSums(changes); err != nil {
				return err
			}
		}
		if first {
			if err := g.loadSpan(spanRef{exp, arm}); err != nil {
				return err
			}
		}
	}
	if err := g.loadCounts(keys); err != nil {
		return err
	}
	if err := g.loadSince(); err != nil {
		return err
	}

	// nothing fails from here
	for _, k := range keys {
		g.add1(k)
	}
	g.count(at)
	if rec == nil {
		return nil
	}
	if unit != nil {
		g.units[unitKey], g.dirty[unitKey] = unit, true
		g.add(changes)
	}
	if first {
		sp := g.spans[spanRef{exp, arm}]
		if sp.from.IsZero() || d.Time.Before(sp.from) {
			sp.from = d.Time
		}
		if d.Time.After(sp.to) {
			sp.to = d.Time
		}
		sp.dirty = true
		g.spans[spanRef{exp, arm}] = sp
	}
	if len(rec.actions) > 0 { // else no outcome can name it
		g.decs[prefixExpDecision+d.DecisionID] = rec
		g.dirty[prefixExpDecision+d.DecisionID] = true
	}
	return nil
}

// add adds changes to the sums (loaded by loadSums).
func (g *aggregates) add(changes []groupChange) {
	for _, c := range changes {
		bs := g.sums[c.ref]
		bs.s.Add(&c.sums)
		bs.dirty = true
		g.sums[c.ref] = bs
	}
}

// outcome counts outcome o of type t (record at time at) and, if it is
// attributed to its decision, of an experiment, adds the change it makes
// to the decision's values (experiment.OutcomeChange, with typeDelta the
// change to the type's aggregate reward, logs.OutcomeType.Fold) and, if it
// is the decision's first, to its decisions with outcomes. The caller has
// told duplicates apart: o counts.
func (g *aggregates) outcome(o *journal.Outcome, t *logs.OutcomeType, attributed bool, typeDelta float64, at time.Time) error {
	key := counterKey{volumeOutcomes, o.Type, ""}
	if err := g.loadCount(key); err != nil {
		return err
	}
	if err := g.loadSince(); err != nil {
		return err
	}
	var (
		rec     *expDecision
		unit    *experiment.Unit
		unitKey string
	)
	changes := g.chg[:0]
	if attributed {
		r, err := g.expDecision(prefixExpDecision + o.DecisionID)
		if err != nil {
			return err
		}
		if r != nil && slices.Contains(r.actions, o.ActionID) {
			next := *r
			var dy experiment.Values
			dy, next.converted = experiment.OutcomeChange(t, o.Reward, typeDelta, r.converted)
			var dOut int64
			if !next.outcome {
				dOut, next.outcome = 1, true
			}
			if dy != (experiment.Values{}) || dOut != 0 {
				unitKey = unitKeyOf(r.experiment, r.customer)
				u, err := g.unit(unitKey)
				if err != nil {
					return err
				}
				unit = cloneUnit(u)
				unit.Change(&next.dec, 0, &dy, dOut, func(gr experiment.Group, s *experiment.Sums) {
					changes = append(changes, groupChange{groupRef{r.experiment, gr}, *s})
				})
				g.chg = changes[:0]
				if err := g.loadSums(changes); err != nil {
					return err
				}
				rec = &next
			}
		}
	}

	// nothing fails from here
	g.add1(key)
	g.count(at)
	if rec != nil {
		g.decs[prefixExpDecision+o.DecisionID] = rec
		g.dirty[prefixExpDecision+o.DecisionID] = true
		g.units[unitKey], g.dirty[unitKey] = unit, true
		g.add(changes)
	}
	return nil
}

// prepareEvent reads what counting a journey event changes, so that
// countEvent cannot fail.
func (g *aggregates) prepareEvent() error {
	if err := g.loadCount(counterKey{name: volumeEvents}); err != nil {
		return err
	}
	return g.loadSince()
}

// countEvent counts an applied journey event (record at time at), after
// prepareEvent.
func (g *aggregates) countEvent(at time.Time) {
	g.add1(counterKey{name: volumeEvents})
	g.count(at)
}

// count notes that a record at time at was counted: the first one is
// Volume.Since.
func (g *aggregates) count(at time.Time) {
	if !g.sinceStored && g.since.IsZero() {
		g.since = at
	}
}

// stage writes the batch's changes into b.
func (g *aggregates) stage(b kv.Batch) error {
	var errs []error
	set := func(k, v []byte) { b.Set(string(k), v) } // Set copies
	var buf [sumsSize]byte
	for r, bs := range g.sums {
		if bs.dirty {
			set(g.knownSums[r].key, appendSums(buf[:0], &bs.s))
		}
	}
	for r, sp := range g.spans {
		if sp.dirty {
			set(g.knownSpans[r].key, appendSpan(buf[:0], sp.from, sp.to))
		}
	}
	for k, c := range g.counts {
		if c.dirty {
			set(g.knownCounts[k].key, binary.BigEndian.AppendUint64(buf[:0], uint64(c.n)))
		}
	}
	for k := range g.dirty {
		if u := g.units[k]; u != nil {
			set([]byte(k), encodeUnit(u))
		} else {
			set([]byte(k), encodeExpDecision(g.decs[k]))
		}
	}
	if !g.sinceStored && !g.since.IsZero() {
		set([]byte(keySince), binary.BigEndian.AppendUint64(buf[:0], uint64(g.since.UnixNano())))
	}
	return errors.Join(errs...)
}

// get reads key from the store; nil if there is none. Its error is a
// KindState ApplyError.
func (g *aggregates) get(key string) ([]byte, error) {
	v, err := g.st.get(key)
	if err != nil {
		return nil, &ApplyError{KindState, fmt.Errorf("cannot read %s: %w", key, err)}
	}
	return v, nil
}

// loadSums reads the sums the changes change into the working copy.
func (g *aggregates) loadSums(changes []groupChange) error {
	for _, c := range changes {
		if _, ok := g.sums[c.ref]; ok {
			continue
		}
		k := g.knownSums[c.ref]
		if k == nil {
			key := groupKey(c.ref.exp, c.ref.g)
			v, err := g.get(key)
			if err != nil {
				return err
			}
			k = &storedSums{key: []byte(key)}
			if v != nil {
				if k.s, err = decodeSums(v); err != nil {
					return &ApplyError{KindState, fmt.Errorf("%s: %w", key, err)}
				}
			}
			r := groupRef{strings.Clone(c.ref.exp), experiment.Group{Arm: strings.Clone(c.ref.g.Arm), Dim: c.ref.g.Dim, Value: strings.Clone(c.ref.g.Value)}}
			g.knownSums[r] = k
		}
		g.sums[c.ref] = batchSums{s: k.s}
	}
	return nil
}

// loadSpan reads the span of arm r into the working copy.
func (g *aggregates) loadSpan(r spanRef) error {
	if _, ok := g.spans[r]; ok {
		return nil
	}
	k := g.knownSpans[r]
	if k == nil {
		key := prefixExperiment + esc(r.exp) + "/" + esc(r.arm) + "/span"
		v, err := g.get(key)
		if err != nil {
			return err
		}
		k = &storedSpan{key: []byte(key)}
		if v != nil {
			if k.from, k.to, err = decodeSpan(v); err != nil {
				return &ApplyError{KindState, fmt.Errorf("%s: %w", key, err)}
			}
		}
		g.knownSpans[spanRef{strings.Clone(r.exp), strings.Clone(r.arm)}] = k
	}
	g.spans[r] = batchSpan{from: k.from, to: k.to}
	return nil
}

func (g *aggregates) unit(key string) (*experiment.Unit, error) {
	if u, ok := g.units[key]; ok {
		if u == nil { // erased in this batch (forgetUnit): a new one
			u = new(experiment.Unit)
			g.units[key] = u
		}
		return u, nil
	}
	v, err := g.get(key)
	if err != nil {
		return nil, err
	}
	u := new(experiment.Unit)
	if v != nil {
		if u, err = decodeUnit(v, g.intern); err != nil {
			return nil, &ApplyError{KindState, fmt.Errorf("%s: %w", key, err)}
		}
	}
	g.units[key] = u
	return u, nil
}

// expDecision returns the record under key; nil if there is none (not an
// experiment decision, or swept).
func (g *aggregates) expDecision(key string) (*expDecision, error) {
	if d, ok := g.decs[key]; ok {
		return d, nil
	}
	v, err := g.get(key)
	if err != nil || v == nil {
		return nil, err
	}
	d, err := decodeExpDecision(v, g.intern)
	if err != nil {
		return nil, &ApplyError{KindState, fmt.Errorf("%s: %w", key, err)}
	}
	g.decs[key] = d
	return d, nil
}

func (g *aggregates) loadCounts(keys []counterKey) error {
	for _, k := range keys {
		if err := g.loadCount(k); err != nil {
			return err
		}
	}
	return nil
}

// loadCount reads counter k into the working copy, once per batch.
func (g *aggregates) loadCount(k counterKey) error {
	if _, ok := g.counts[k]; ok {
		return nil
	}
	if sc := g.knownCounts[k]; sc != nil {
		g.counts[sc.k] = counter{n: sc.n}
		return nil
	}
	key := k.storeKey()
	v, err := g.get(key)
	if err != nil {
		return err
	}
	var n int64
	if v != nil {
		if len(v) != 8 {
			return &ApplyError{KindState, fmt.Errorf("%s: %d bytes", key, len(v))}
		}
		n = int64(binary.BigEndian.Uint64(v))
	}
	k = counterKey{strings.Clone(k.name), strings.Clone(k.a), strings.Clone(k.b)}
	g.knownCounts[k] = &storedCounter{k: k, key: []byte(key), n: n}
	g.counts[k] = counter{n: n}
	return nil
}

// add1 adds one to counter k (loaded).
func (g *aggregates) add1(k counterKey) {
	c := g.counts[k]
	c.n++
	c.dirty = true
	g.counts[k] = c
}

// loadSince finds out, once per batch, whether the store holds the time
// of its first counted record.
func (g *aggregates) loadSince() error {
	if g.sinceLoaded {
		return nil
	}
	v, err := g.get(keySince)
	if err != nil {
		return err
	}
	g.sinceLoaded, g.sinceStored = true, v != nil
	return nil
}

func cloneUnit(u *experiment.Unit) *experiment.Unit {
	return &experiment.Unit{Cells: slices.Clone(u.Cells), X: u.X}
}

// unitKeyOf is the key of customer's Unit in experiment exp.
func unitKeyOf(exp, customer string) string { return prefixUnit + esc(exp) + "/" + esc(customer) }

// esc escapes one key component.
func esc(s string) string { return url.PathEscape(s) }

// counterKey names a volume counter and its labels (a and b, in the
// order of its key; "" for none): a map key that costs no allocation.
type counterKey struct{ name, a, b string }

// storedCounter is a counter as the store holds it.
type storedCounter struct {
	k   counterKey
	key []byte
	n   int64
}

// counter is a volume counter's value in the working copy.
type counter struct {
	n     int64
	dirty bool
}

// storeKey is the key of the counter: v/<name>[/<a>[/<b>]].
func (k counterKey) storeKey() string {
	key := prefixVolume + k.name
	if k.name == volumeEvents {
		return key
	}
	key += "/" + esc(k.a)
	if k.b != "" || k.name == volumeActions || k.name == volumeExperiments || k.name == volumeFallbacks || k.name == volumeDegenerate {
		key += "/" + esc(k.b)
	}
	return key
}

// groupKey is the key of experiment exp's sums of group gr.
func groupKey(exp string, gr experiment.Group) string {
	return prefixExperiment + esc(exp) + "/" + esc(gr.Arm) + "/" + gr.Dim + "/" + esc(gr.Value)
}

// parseGroup reads a group from the parts of its key after the
// experiment.
func parseGroup(parts []string) (experiment.Group, error) {
	if len(parts) != 3 {
		return experiment.Group{}, errors.New("not a group key")
	}
	switch parts[1] {
	case experiment.DimDay, experiment.DimChannel, experiment.DimStage:
	default:
		return experiment.Group{}, fmt.Errorf("unknown dimension %q", parts[1])
	}
	arm, err1 := url.PathUnescape(parts[0])
	val, err2 := url.PathUnescape(parts[2])
	return experiment.Group{Arm: arm, Dim: parts[1], Value: val}, errors.Join(err1, err2)
}

// prefixEnd is the first key after every key with prefix p (p ends in
// "/", which is not the largest byte).
func prefixEnd(p string) []byte {
	b := []byte(p)
	b[len(b)-1]++
	return b
}

// The encodings: big-endian integers and float64 bits, strings as a
// uvarint length and the bytes.

// sumsSize is the length of an encoded Sums: 3 counts and 16 floats (the
// CUPED cross-moments last); sumsSizeV1, without them, is still read.
const (
	sumsSize   = 19 * 8
	sumsSizeV1 = 13 * 8
)

func appendSums(b []byte, s *experiment.Sums) []byte {
	for _, n := range []int64{s.Customers, s.Decisions, s.WithOutcomes} {
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(s.NN))
	for _, vs := range []*experiment.Values{&s.Y, &s.YY, &s.YN} {
		for _, x := range vs {
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(x))
		}
	}
	for _, x := range [...]float64{s.X, s.XX, s.XN, s.XY[0], s.XY[1], s.XY[2]} {
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

func decodeSums(b []byte) (experiment.Sums, error) {
	var s experiment.Sums
	if len(b) != sumsSize && len(b) != sumsSizeV1 {
		return s, fmt.Errorf("sums of %d bytes, want %d", len(b), sumsSize)
	}
	u := func() uint64 { v := binary.BigEndian.Uint64(b); b = b[8:]; return v }
	s.Customers, s.Decisions, s.WithOutcomes = int64(u()), int64(u()), int64(u())
	s.NN = math.Float64frombits(u())
	for _, vs := range []*experiment.Values{&s.Y, &s.YY, &s.YN} {
		for m := range vs {
			vs[m] = math.Float64frombits(u())
		}
	}
	if len(b) > 0 {
		s.X, s.XX, s.XN = math.Float64frombits(u()), math.Float64frombits(u()), math.Float64frombits(u())
		for m := range s.XY {
			s.XY[m] = math.Float64frombits(u())
		}
	}
	return s, nil
}

func appendSpan(b []byte, from, to time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(from.UnixNano()))
	return binary.BigEndian.AppendUint64(b, uint64(to.UnixNano()))
}

func decodeSpan(b []byte) (from, to time.Time, err error) {
	if len(b) != 16 {
		return from, to, fmt.Errorf("span of %d bytes", len(b))
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC(), time.Unix(0, int64(binary.BigEndian.Uint64(b[8:]))).UTC(), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader reads what the append functions wrote; its first failure sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// string reads a string, made by intern (nil: a new one).
func (r *reader) string(intern func([]byte) string) string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if uint64(len(r.b)) < n {
		r.err = errors.New("truncated")
		return ""
	}
	b := r.b[:n]
	r.b = r.b[n:]
	if intern == nil {
		return string(b)
	}
	return intern(b)
}

func (r *reader) float() float64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.err = errors.New("truncated")
		return 0
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

// done returns the first error, or one for bytes left over.
func (r *reader) done() error {
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%d bytes left over", len(r.b))
	}
	return r.err
}

// encodeUnit writes the cells: their number, then each one's arm,
// dimension, value, N and values; then the covariate when it is not 0
// (units written before covariates end after the cells, and read as 0).
func encodeUnit(u *experiment.Unit) []byte {
	b := binary.AppendUvarint(nil, uint64(len(u.Cells)))
	for _, c := range u.Cells {
		b = appendString(b, c.Group.Arm)
		b = appendString(b, c.Group.Dim)
		b = appendString(b, c.Group.Value)
		b = binary.AppendUvarint(b, uint64(c.N))
		for _, x := range c.Y {
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(x))
		}
	}
	if u.X != 0 {
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(u.X))
	}
	return b
}

// decodeUnit reads what encodeUnit wrote; intern (nil: none) makes its
// strings.
func decodeUnit(b []byte, intern func([]byte) string) (*experiment.Unit, error) {
	r := reader{b: b}
	n := r.uvarint()
	if n > uint64(len(b)) {
		return nil, errors.New("bad unit: too many cells")
	}
	u := &experiment.Unit{Cells: make([]experiment.Cell, 0, n)}
	for range n {
		var c experiment.Cell
		c.Group = experiment.Group{Arm: r.string(intern), Dim: r.string(intern), Value: r.string(intern)}
		c.N = int64(r.uvarint())
		for m := range c.Y {
			c.Y[m] = r.float()
		}
		u.Cells = append(u.Cells, c)
	}
	if r.err == nil && len(r.b) == 8 {
		u.X = r.float()
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("bad unit: %w", err)
	}
	return u, nil
}

// encodeExpDecision writes a version byte (1), the strings, the actions
// and a flags byte (1: converted, 2: outcome).
func encodeExpDecision(d *expDecision) []byte {
	b := []byte{1}
	for _, s := range []string{d.experiment, d.customer, d.dec.Arm, d.dec.Date, d.dec.Channel, d.dec.Stage} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(d.actions)))
	for _, a := range d.actions {
		b = appendString(b, a)
	}
	var flags byte
	if d.converted {
		flags |= 1
	}
	if d.outcome {
		flags |= 2
	}
	return append(b, flags)
}

// decodeExpDecision reads what encodeExpDecision wrote; intern (nil:
// none) makes its strings, but the customer's.
func decodeExpDecision(b []byte, intern func([]byte) string) (*expDecision, error) {
	if len(b) < 2 || b[0] != 1 {
		return nil, errors.New("bad experiment decision: unknown version")
	}
	flags := b[len(b)-1]
	r := reader{b: b[1 : len(b)-1]}
	d := &expDecision{experiment: r.string(intern), customer: r.string(nil),
		dec:       experiment.Decision{Arm: r.string(intern), Date: r.string(intern), Channel: r.string(intern), Stage: r.string(intern)},
		converted: flags&1 != 0, outcome: flags&2 != 0}
	n := r.uvarint()
	if n > uint64(len(b)) {
		return nil, errors.New("bad experiment decision: too many actions")
	}
	for range n {
		d.actions = append(d.actions, r.string(intern))
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("bad experiment decision: %w", err)
	}
	return d, nil
}
