package state

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"nextbest/journal"
	"nextbest/logs"
)

// actScenario is the experiment scenario (expScenario) followed by
// decisions made with defer_activation: dA (three slots, in the
// experiment) with outcomes before its activation of slots 0 and 2, an
// activation repeated, and an outcome after; dB (in the experiment,
// capped actions) with an outcome and never activated; dC activated past
// the window; dD, a decision that returned nothing, activated.
type actScenario struct {
	expScenario
	base           int // the records of expScenario
	dA, dB, dC, dD journal.Decision
	// lsns of dA's records
	heldLSN, activateLSN, againLSN, afterLSN uint64
	// at is dA's activation time
	at time.Time
}

func newActScenario(t testing.TB) actScenario {
	sc := actScenario{expScenario: newExpScenario(t)}
	sc.base = len(sc.recs)
	r := &records{t: t, next: uint64(sc.base) + 1, recs: sc.recs}
	live := sc.live
	n := uint16(100)
	dec := func(customer, arm, channel string, at time.Time, actions ...string) journal.Decision {
		n++
		d := decision(decisionID(at, n), customer, "", at, actions...)
		d.Channel, d.DeferActivation = channel, true
		if arm != "" {
			d.Experiment = &journal.ExperimentArm{Name: expName, Arm: arm}
		}
		r.add(d)
		live = append(live, &Live{Decision: &d})
		return d
	}
	out := func(d journal.Decision, action, typ string, reward float64, at time.Time) uint64 {
		o := outcome(d, action, typ, "", reward, at)
		rec := r.add(o)
		live = append(live, &Live{Outcome: &o})
		return rec.LSN
	}
	activate := func(d journal.Decision, at time.Time, slots ...int) uint64 {
		a := journal.Activation{V: journal.SchemaVersion, ActivationID: fmt.Sprintf("a-%d", r.next), DecisionID: d.DecisionID,
			CustomerID: d.CustomerID, Slots: slots, Time: at, DecisionTime: d.Time}
		rec := r.add(a)
		live = append(live, &Live{Activation: &a})
		return rec.LSN
	}
	day := 24 * time.Hour
	T := t0.Add(2*day + 4*time.Hour)
	sc.at = T.Add(3 * time.Minute)
	sc.dA = dec("c-1", "control", "web", T, "free-shipping", "new-arrivals", "welcome-15")
	sc.heldLSN = out(sc.dA, "free-shipping", "conversion", 1, T.Add(time.Minute)) // before the activation
	out(sc.dA, "free-shipping", "revenue", 30, T.Add(time.Minute))
	out(sc.dA, "new-arrivals", "click", 1, T.Add(2*time.Minute)) // a slot never activated
	sc.activateLSN = activate(sc.dA, sc.at, 2, 0)
	sc.againLSN = activate(sc.dA, T.Add(4*time.Minute), 0)                   // again: nothing changes
	sc.afterLSN = out(sc.dA, "welcome-15", "click", 1, T.Add(5*time.Minute)) // after: learned at once
	sc.dB = dec("c-3", "treatment", "app", T.Add(10*time.Minute), "welcome-15", "free-shipping")
	out(sc.dB, "welcome-15", "purchase", 1, T.Add(11*time.Minute))
	sc.dC = dec("c-5", "", "web", T.Add(20*time.Minute), "free-shipping")
	activate(sc.dC, T.Add(20*time.Minute+expWindow+time.Minute), 0) // past the window
	sc.dD = dec("c-4", "control", "web", T.Add(30*time.Minute))
	activate(sc.dD, T.Add(31*time.Minute))
	sc.recs, sc.live = r.recs, live
	return sc
}

// TestActivationAppliedAsJoined: the deferred decisions' sums equal the
// joined journal's (logs.Join: only activated decisions, only their
// shown slots, outcomes before the activation included); a restart keeps
// the state; the state rebuilt from the journal holds the same bytes and
// hands the learner the same work; a replay changes nothing.
func TestActivationAppliedAsJoined(t *testing.T) {
	e := newEnv(t)
	sc := newActScenario(t)
	jdir, sdir := dirs(t)
	writeJournal(t, jdir, sc.recs)
	want := joinedAggregates(t, e, jdir)

	st := openStore(t, sdir)
	var live learned
	a := e.applierOf(t, st, ApplierConfig{Window: expWindow, Learner: &live, DefaultReward: -0.25})
	for i := 0; i < len(sc.recs); i += 3 {
		end := min(i+3, len(sc.recs))
		if err := a.Apply(sc.recs[i:end], sc.live[i:end]); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Experiment(expName)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameAggregates(got, want); err != nil {
		t.Fatalf("applied sums differ from the joined journal's: %v", err)
	}
	state := keyspace(t, st)

	// a replay of everything changes nothing and teaches nothing new
	var again learned
	if err := e.applierOf(t, st, ApplierConfig{Window: expWindow, Learner: &again, LearnFrom: uint64(len(sc.recs)), DefaultReward: -0.25}).Apply(sc.recs, nil); err != nil {
		t.Fatal(err)
	}
	if d := diffKeys(state, keyspace(t, st)); d != "" {
		t.Fatalf("a replay changed the state: %s", d)
	}
	if len(again.items) != 0 {
		t.Errorf("a replay past the learner's LSN handed it %d items", len(again.items))
	}

	// rebuilt from the journal, twice over
	fresh := t.TempDir()
	j := openJournal(t, jdir)
	for round := range 2 {
		st := openStore(t, fresh)
		var lr learned
		a := e.applierOf(t, st, ApplierConfig{Window: expWindow, Learner: &lr, DefaultReward: -0.25})
		if err := a.CatchUp(j); err != nil {
			t.Fatal(err)
		}
		if d := diffKeys(state, keyspace(t, st)); d != "" {
			t.Fatalf("rebuild %d differs from the live state: %s", round+1, d)
		}
		if g, w := describe(lr.items), describe(live.items); !slices.Equal(g, w) {
			t.Errorf("rebuild %d handed the learner\n %v\nlive\n %v", round+1, g, w)
		}
		st.Close()
	}
}

// describe lists learning work as "lsn kind decision:action/slots delta".
func describe(items []LearnItem) []string {
	var out []string
	for _, it := range items {
		switch it.Kind {
		case LearnImpression:
			id := ""
			if it.Decision != nil {
				id = it.Decision.DecisionID
			}
			out = append(out, fmt.Sprintf("%d impression %s %v", it.LSN, id, it.Slots))
		case LearnReward:
			out = append(out, fmt.Sprintf("%d reward %s:%s %g", it.LSN, it.Outcome.DecisionID, it.Outcome.ActionID, it.Delta))
		}
	}
	return out
}

// TestDeferredNeverActivated: a deferred decision never activated, with
// an outcome, leaves the profiles (contact history, conversions), the
// experiment's sums and units, the impressions counted and the learner as
// the same journal without it leaves them; it is on record and counted as
// a decision made, and its outcome as an outcome received.
func TestDeferredNeverActivated(t *testing.T) {
	e := newEnv(t)
	sc := newExpScenario(t)
	r := &records{t: t, next: uint64(len(sc.recs)) + 1, recs: slices.Clone(sc.recs)}
	d := decision(decisionID(t0.Add(50*time.Hour), 200), "c-1", "req-9", t0.Add(50*time.Hour), "free-shipping", "welcome-15")
	d.DeferActivation, d.Experiment = true, &journal.ExperimentArm{Name: expName, Arm: "control"}
	r.add(d)
	r.add(outcome(d, "free-shipping", "conversion", "o-9", 1, t0.Add(51*time.Hour)))
	r.add(outcome(d, "welcome-15", "revenue", "", 20, t0.Add(51*time.Hour)))

	apply := func(recs []journal.Record) (map[string]string, *learned, *Store) {
		st := openStore(t, t.TempDir())
		var lr learned
		if err := e.applierOf(t, st, ApplierConfig{Window: expWindow, Learner: &lr}).Apply(recs, nil); err != nil {
			t.Fatal(err)
		}
		return keyspace(t, st), &lr, st
	}
	without, lw, sw := apply(sc.recs)
	with, lr, st := apply(r.recs)

	// what may differ: the decision on record (d/, r/, its outcomes' o/
	// and s/ entries), the decisions, deferred and outcomes counters, the
	// applied LSN
	id := d.DecisionID
	mayDiffer := func(k string) bool {
		for _, p := range []string{prefixDecision + id, prefixOutcome + id + "/", prefixActivation + id, prefixRequest + "c-1/req-9",
			prefixVolume + volumeDecisions + "/", prefixVolume + volumeDeferred + "/", prefixVolume + volumeOutcomes + "/", keyApplied} {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
		return false
	}
	for k, v := range with {
		if w, ok := without[k]; !mayDiffer(k) && (!ok || v != w) {
			t.Errorf("%s changed: %q, was %q", k, v, w)
		}
	}
	for k := range without {
		if _, ok := with[k]; !ok {
			t.Errorf("%s is gone", k)
		}
	}
	if g, w := describe(lr.items), describe(lw.items); !slices.Equal(g, w) {
		t.Errorf("the learner was handed\n %v\nwithout the decision\n %v", g, w)
	}
	// the caps count the same impressions
	p, _ := st.Profiles().Get("c-1")
	q, _ := sw.Profiles().Get("c-1")
	fs, _ := e.cat.Lookup("free-shipping")
	if n, m := fs.Limits[0].Seen(p.Contacts["free-shipping"], d.Time), fs.Limits[0].Seen(q.Contacts["free-shipping"], d.Time); n != m {
		t.Errorf("the cap counts %d impressions, %d without the decision", n, m)
	}
	v, err := st.Volume()
	if err != nil {
		t.Fatal(err)
	}
	if v.Deferred["web"] != 1 || v.Activated["web"] != 0 || v.Decisions["web"] != 5 {
		t.Errorf("volume: %d deferred, %d activated, %d decisions on web", v.Deferred["web"], v.Activated["web"], v.Decisions["web"])
	}
	act, err := st.Activation(&d)
	if err != nil || !act.Deferred || act.Activated || len(act.Slots) != 0 {
		t.Errorf("Activation = %+v, %v", act, err)
	}
}

// TestActivatedSlotsCounted: activating slots 0 and 2 of a three-slot
// decision makes exactly those actions impressions (the profile's contact
// history, the volume counters) and hands the learner exactly those
// rows; activating again changes nothing; the decision's record says what
// was activated when.
func TestActivatedSlotsCounted(t *testing.T) {
	e := newEnv(t)
	sc := newActScenario(t)
	st := openStore(t, t.TempDir())
	var lr learned
	a := e.applierOf(t, st, ApplierConfig{Window: expWindow, Learner: &lr})
	// the experiment scenario, then dA's records up to its activation
	upTo := int(sc.activateLSN) - 1
	if err := a.Apply(sc.recs[:upTo], sc.live[:upTo]); err != nil {
		t.Fatal(err)
	}
	impressions := func() map[string]int {
		p, err := st.Profiles().Get("c-1")
		if err != nil || p == nil {
			t.Fatal(p, err)
		}
		// the impressions at the activation's time (older ones are
		// trimmed to the caps' windows)
		out := map[string]int{}
		for id, c := range p.Contacts {
			for _, at := range c.Impressions {
				if at.Equal(sc.at) {
					out[id]++
				}
			}
		}
		return out
	}
	actions := func() map[string]int64 {
		v, err := st.Volume()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for id, m := range v.Actions {
			out[id] = m["web"]
		}
		return out
	}
	imps, acts := impressions(), actions()
	before := len(lr.items)
	// the activation, and the same slot again
	if err := a.Apply(sc.recs[upTo:sc.againLSN], sc.live[upTo:sc.againLSN]); err != nil {
		t.Fatal(err)
	}
	gotImps, gotActs := impressions(), actions()
	for _, id := range []string{"free-shipping", "new-arrivals", "welcome-15"} {
		want := 0
		if id != "new-arrivals" {
			want = 1
		}
		if gotImps[id]-imps[id] != want {
			t.Errorf("%s: %d impressions more in the profile, want %d", id, gotImps[id]-imps[id], want)
		}
		if gotActs[id]-acts[id] != int64(want) {
			t.Errorf("%s: %d more shown on web, want %d", id, gotActs[id]-acts[id], want)
		}
	}
	if got, want := describe(lr.items[before:]), []string{
		fmt.Sprintf("%d impression %s [0 2]", sc.activateLSN, sc.dA.DecisionID),
		fmt.Sprintf("%d reward %s:free-shipping 31", sc.activateLSN, sc.dA.DecisionID),
	}; !slices.Equal(got, want) {
		t.Errorf("learned %v, want %v", got, want)
	}
	act, err := st.Activation(&sc.dA)
	if err != nil {
		t.Fatal(err)
	}
	want := &Activation{Deferred: true, Activated: true, At: &sc.at, Slots: []ActivatedSlot{
		{Slot: 0, ActionID: "free-shipping", At: sc.at, LSN: sc.activateLSN},
		{Slot: 2, ActionID: "welcome-15", At: sc.at, LSN: sc.activateLSN}}}
	if !reflect.DeepEqual(act, want) {
		t.Errorf("Activation = %+v, want %+v", act, want)
	}
	// a decision made without defer_activation was activated whole
	plain := decision("d-plain", "c-9", "", t0, "a", "b")
	if act, err := st.Activation(&plain); err != nil || act.Deferred || !act.Activated || len(act.Slots) != 2 || !act.At.Equal(t0) {
		t.Errorf("Activation(not deferred) = %+v, %v", act, err)
	}
}

// TestRewardBeforeActivation: an outcome for a slot not yet activated is
// kept (de-duplicated, on record) but not learned until the slot is
// activated; then it is learned exactly once, whatever LSN the learner's
// model starts from (a snapshot before the outcome, between the outcome
// and the activation, after the activation); an outcome after the
// activation is learned at once. Its conversion reaches the profile with
// the activation.
func TestRewardBeforeActivation(t *testing.T) {
	e := newEnv(t)
	sc := newActScenario(t)
	jdir, sdir := dirs(t)
	writeJournal(t, jdir, sc.recs)
	st := openStore(t, sdir)
	var lr learned
	a := e.applierOf(t, st, ApplierConfig{Window: expWindow, Learner: &lr, DefaultReward: -0.25})
	upTo := int(sc.activateLSN) - 1
	if err := a.Apply(sc.recs[:upTo], sc.live[:upTo]); err != nil {
		t.Fatal(err)
	}
	dA := sc.dA.DecisionID
	for _, it := range lr.items {
		if it.Kind == LearnReward && it.Outcome.DecisionID == dA {
			t.Errorf("learned an outcome before its slot was activated: %v", describe([]LearnItem{it}))
		}
	}
	if first, err := st.OutcomeFirstLSN(DedupeKeys(dA, "free-shipping", "", mustType(t, e, "conversion"))[0]); err != nil || first != sc.heldLSN {
		t.Errorf("the held outcome's de-duplication key answers %d, %v; want %d", first, err, sc.heldLSN)
	}
	p, _ := st.Profiles().Get("c-1")
	convs := p.Contacts["free-shipping"].Conversions
	if err := a.Apply(sc.recs[upTo:], sc.live[upTo:]); err != nil {
		t.Fatal(err)
	}
	p, _ = st.Profiles().Get("c-1")
	if c := p.Contacts["free-shipping"]; c.Conversions != convs+1 || !c.LastConversion.Equal(t0.Add(2*24*time.Hour+4*time.Hour+time.Minute)) {
		t.Errorf("free-shipping after the activation: %+v, want one conversion more", c)
	}
	// r₀ = −0.25: the conversion (the action's first) 1 + 0.25, the
	// revenue 30; the click after the activation 1 + 0.25
	wantA := []string{
		fmt.Sprintf("%d impression %s [0 2]", sc.activateLSN, dA),
		fmt.Sprintf("%d reward %s:free-shipping 31.25", sc.activateLSN, dA),
		fmt.Sprintf("%d reward %s:welcome-15 1.25", sc.afterLSN, dA),
	}
	ofA := func(items []LearnItem) []string {
		var out []string
		for _, s := range describe(items) {
			if strings.Contains(s, dA) {
				out = append(out, s)
			}
		}
		return out
	}
	if got := ofA(lr.items); !slices.Equal(got, wantA) {
		t.Errorf("learned\n %v\nwant\n %v", got, wantA)
	}

	// the learner's model from a snapshot: at most once, whatever its LSN
	j := openJournal(t, jdir)
	for _, c := range []struct {
		from uint64
		want []string
	}{
		{sc.heldLSN - 1, wantA},
		{sc.heldLSN, wantA},
		{sc.activateLSN - 1, wantA},
		{sc.activateLSN, wantA[2:]},
		{sc.afterLSN, nil},
	} {
		var lr learned
		a := e.applierOf(t, st, ApplierConfig{Window: expWindow, Learner: &lr, LearnFrom: c.from, DefaultReward: -0.25})
		if err := a.CatchUp(j); err != nil {
			t.Fatal(err)
		}
		if got := ofA(lr.items); !slices.Equal(got, c.want) {
			t.Errorf("from LSN %d: learned %v, want %v", c.from, got, c.want)
		}
	}
}

func mustType(t *testing.T, e env, name string) *logs.OutcomeType {
	t.Helper()
	tp, ok := e.outcomes.Lookup(name)
	if !ok {
		t.Fatalf("type %s not declared", name)
	}
	return tp
}

// TestActivationCodec: the activation entry reads back what it wrote; a
// truncated one is an error, not a panic.
func TestActivationCodec(t *testing.T) {
	at := t0.Add(time.Minute)
	ac := &activation{lsn: 9, at: at, slots: []slotActivation{
		{lsn: 9, at: at, learn: 1.5, y: [3]float64{1, 30, 31}, outcome: true, conversions: 2, lastConversion: t0, lastOutcome: at},
		{},
	}}
	b := encodeActivation(ac)
	got, err := decodeActivation(b)
	if err != nil || !reflect.DeepEqual(got, ac) {
		t.Errorf("decoded %+v, %v; want %+v", got, err, ac)
	}
	for n := range len(b) - 1 {
		if _, err := decodeActivation(b[:n]); err == nil {
			t.Errorf("%d of %d bytes decode", n, len(b))
		}
	}
}
