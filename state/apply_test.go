package state

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"nextbest/journal"
)

// scenario is a journal of two customers' decisions, events and outcomes,
// re-sent outcomes among them (old journals hold such repeats).
type scenario struct {
	recs       []journal.Record
	d1, d2, d3 journal.Decision
	// live is the appenders' live value of each record (the handlers'
	// decoded payloads)
	live []*Live
}

func newScenario(t testing.TB) scenario {
	r := &records{t: t}
	var sc scenario
	sc.d1 = decision(decisionID(t0, 1), "c-1", "req-1", t0, "free-shipping", "new-arrivals")
	sc.d2 = decision(decisionID(t0.Add(3*time.Minute), 2), "c-2", "", t0.Add(3*time.Minute), "welcome-15")
	sc.d3 = decision(decisionID(t0.Add(8*time.Minute), 3), "c-2", "req-3", t0.Add(8*time.Minute)) // nothing shown
	r.add(sc.d1)                                                                                  // 1
	r.add(event("c-1", "page_view", t0.Add(time.Minute), nil))                                    // 2
	r.add(event("c-1", "purchase", t0.Add(2*time.Minute), map[string]any{"amount": 50.0}))        // 3
	r.add(sc.d2)                                                                                  // 4
	r.add(outcome(sc.d1, "free-shipping", "conversion", "o-1", 1, t0.Add(4*time.Minute)))         // 5
	r.add(outcome(sc.d1, "free-shipping", "conversion", "o-1", 1, t0.Add(5*time.Minute)))         // 6: re-sent outcome_id
	r.add(outcome(sc.d1, "new-arrivals", "click", "", 1, t0.Add(6*time.Minute)))                  // 7
	r.add(outcome(sc.d1, "new-arrivals", "click", "", 1, t0.Add(6*time.Minute)))                  // 8: repeat of a first type
	r.add(outcome(sc.d2, "welcome-15", "view_time", "", 2, t0.Add(7*time.Minute)))                // 9: sum
	r.add(outcome(sc.d2, "welcome-15", "view_time", "", 3, t0.Add(7*time.Minute)))                // 10: sum, counts again
	r.add(sc.d3)                                                                                  // 11
	sc.recs = r.recs
	sc.live = make([]*Live, len(sc.recs))
	for i, rec := range sc.recs {
		switch rec.Type {
		case journal.TypeDecision:
			d := new(journal.Decision)
			if err := journal.DecodeDecision(rec.Payload, d); err != nil {
				t.Fatal(err)
			}
			sc.live[i] = &Live{Decision: d}
		case journal.TypeOutcome:
			o := new(journal.Outcome)
			if err := journal.DecodeOutcome(rec.Payload, o); err != nil {
				t.Fatal(err)
			}
			sc.live[i] = &Live{Outcome: o}
		case journal.TypeEvent:
			e := new(journal.Event)
			if err := journal.DecodeEvent(rec.Payload, e); err != nil {
				t.Fatal(err)
			}
			sc.live[i] = &Live{Event: e}
		}
	}
	return sc
}

// writeJournal writes recs to a journal in dir (their LSNs are 1..n).
func writeJournal(t testing.TB, dir string, recs []journal.Record) {
	t.Helper()
	j, err := journal.Open(journal.Config{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		lsn, err := j.Append(context.Background(), r.Type, r.Time, r.Payload)
		if err != nil || lsn != r.LSN {
			t.Fatalf("append %d: %d, %v", r.LSN, lsn, err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

func openJournal(t testing.TB, dir string) *journal.Journal[journal.NoLive] {
	t.Helper()
	j, err := journal.Open(journal.Config{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// TestApplyScenario applies the scenario in two batches, with the live
// values of the first, and checks what each lookup and profile says.
func TestApplyScenario(t *testing.T) {
	e := newEnv(t)
	sc := newScenario(t)
	st := openStore(t, t.TempDir())
	var lr learned
	a := e.applierOf(t, st, ApplierConfig{Learner: &lr, Window: 7 * 24 * time.Hour})
	if err := a.Apply(sc.recs[:5], sc.live[:5]); err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(sc.recs[5:], nil); err != nil {
		t.Fatal(err)
	}
	if got := a.Applied(); got != 11 {
		t.Errorf("Applied = %d, want 11", got)
	}

	d, err := st.Decision(sc.d1.DecisionID)
	if err != nil || d.DecisionID != sc.d1.DecisionID || len(d.Actions) != 2 {
		t.Errorf("Decision(d1) = %+v, %v", d, err)
	}
	if d, err := st.DecisionForRequest("c-1", "req-1"); err != nil || d.DecisionID != sc.d1.DecisionID {
		t.Errorf("DecisionForRequest(c-1, req-1) = %+v, %v", d, err)
	}
	// a decision that showed nothing is on record too, and a retry of its
	// request answers it (it takes no outcome: it has no action)
	if d, err := st.Decision(sc.d3.DecisionID); err != nil || len(d.Actions) != 0 {
		t.Errorf("Decision(d3, nothing shown) = %+v, %v", d, err)
	}
	if d, err := st.DecisionForRequest("c-2", "req-3"); err != nil || d.DecisionID != sc.d3.DecisionID {
		t.Errorf("DecisionForRequest(c-2, req-3) = %+v, %v", d, err)
	}

	p, err := st.Profiles().Get("c-1")
	if err != nil || p == nil {
		t.Fatalf("profile c-1: %v, %v", p, err)
	}
	if c := p.Contacts["free-shipping"]; c == nil || len(c.Impressions) != 1 || c.Conversions != 1 {
		t.Errorf("c-1 free-shipping contact %+v, want 1 impression and 1 conversion (the re-sent one not counted)", c)
	}
	if c := p.Contacts["new-arrivals"]; c == nil || len(c.Impressions) != 1 || c.Conversions != 0 {
		t.Errorf("c-1 new-arrivals contact %+v, want 1 impression, no conversion (click is not one)", c)
	}
	// record 8, a duplicate, left the profile alone
	if p.Counters["purchases_30d"].Value <= 0 || p.LSN != 7 {
		t.Errorf("c-1 counters %v, LSN %d: want a purchase and LSN 7", p.Counters, p.LSN)
	}

	// learning work: impressions of the two decisions that showed
	// something, the rewards of the counted outcomes (r₀ = 0: Δ = reward)
	var imps []uint64
	for _, it := range lr.items {
		if it.Kind == LearnImpression {
			imps = append(imps, it.LSN)
		}
	}
	if !slices.Equal(imps, []uint64{1, 4}) {
		t.Errorf("impressions learned at %v, want [1 4]", imps)
	}
	if got, want := lr.rewards(), []string{"5:free-shipping:1", "7:new-arrivals:1", "9:welcome-15:2", "10:welcome-15:3"}; !slices.Equal(got, want) {
		t.Errorf("rewards learned %v, want %v", got, want)
	}
	if lr.upTo != 11 {
		t.Errorf("learner watermark %d, want 11", lr.upTo)
	}
}

// TestDuplicateOutcomes: the de-duplication keys of an applied outcome
// answer its LSN, so a repeat is told from a first; a repeatable type
// without an outcome_id has none.
func TestDuplicateOutcomes(t *testing.T) {
	e := newEnv(t)
	sc := newScenario(t)
	st := openStore(t, t.TempDir())
	a := e.applierOf(t, st, ApplierConfig{})
	if err := a.Apply(sc.recs, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name             string
		decision, action string
		outcomeID        string
		typ              string
		want             []uint64 // OutcomeFirstLSN of each key
	}{
		{"outcome_id and first type", sc.d1.DecisionID, "free-shipping", "o-1", "conversion", []uint64{5, 5}},
		{"first type without id", sc.d1.DecisionID, "new-arrivals", "", "click", []uint64{7}},
		{"another outcome_id", sc.d1.DecisionID, "new-arrivals", "o-2", "click", []uint64{0, 7}},
		{"sum type without id", sc.d2.DecisionID, "welcome-15", "", "view_time", nil},
		{"sum type with a new id", sc.d2.DecisionID, "welcome-15", "o-9", "view_time", []uint64{0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tp, ok := e.outcomes.Lookup(c.typ)
			if !ok {
				t.Fatalf("type %s not declared", c.typ)
			}
			keys := DedupeKeys(c.decision, c.action, c.outcomeID, tp)
			var got []uint64
			for _, k := range keys {
				lsn, err := st.OutcomeFirstLSN(k)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, lsn)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("keys %q answer %v, want %v", keys, got, c.want)
			}
		})
	}
}

// TestReplayIsIdempotent: the scenario's state, applied live, is the
// state that replaying it again (twice), restarting, or rebuilding it
// from the journal in a fresh store gives; and each replay hands the
// learner the same work.
func TestReplayIsIdempotent(t *testing.T) {
	e := newEnv(t)
	sc := newScenario(t)
	jdir, sdir := dirs(t)
	writeJournal(t, jdir, sc.recs)
	j := openJournal(t, jdir)

	st := openStore(t, sdir)
	var live learned
	a := e.applierOf(t, st, ApplierConfig{Learner: &live})
	for i := 0; i < len(sc.recs); i += 4 { // batches of 4, with live values
		end := min(i+4, len(sc.recs))
		if err := a.Apply(sc.recs[i:end], sc.live[i:end]); err != nil {
			t.Fatal(err)
		}
	}
	want := keyspace(t, st)
	if len(want) == 0 {
		t.Fatal("nothing applied")
	}

	for round := range 2 {
		var lr learned
		a := e.applierOf(t, st, ApplierConfig{Learner: &lr})
		if err := a.Apply(sc.recs, nil); err != nil {
			t.Fatal(err)
		}
		if d := diffKeys(want, keyspace(t, st)); d != "" {
			t.Fatalf("replay %d changed the state: %s", round+1, d)
		}
		if a.Applied() != 11 {
			t.Errorf("replay %d: Applied = %d", round+1, a.Applied())
		}
		if got, want := lr.rewards(), live.rewards(); !slices.Equal(got, want) {
			t.Errorf("replay %d handed the learner rewards %v, live %v", round+1, got, want)
		}
		if len(lr.items) != len(live.items) {
			t.Errorf("replay %d handed the learner %d items, live %d", round+1, len(lr.items), len(live.items))
		}
	}

	// restart: the applied LSN survives a flush; catching up replays nothing
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, sdir)
	var none learned
	a = e.applierOf(t, st, ApplierConfig{Learner: &none, LearnFrom: 11})
	if a.Applied() != 11 {
		t.Fatalf("Applied after restart = %d, want 11", a.Applied())
	}
	if err := a.CatchUp(j); err != nil {
		t.Fatal(err)
	}
	if d := diffKeys(want, keyspace(t, st)); d != "" {
		t.Fatalf("restart changed the state: %s", d)
	}
	if len(none.items) != 0 {
		t.Errorf("catch-up past the learner's LSN handed it %d items", len(none.items))
	}
	st.Close()

	// a fresh store rebuilt from the journal, restarted without a flush
	// (Pebble keeps what it flushed, maybe nothing), and caught up again
	fresh := t.TempDir()
	for round := range 2 {
		st := openStore(t, fresh)
		var lr learned
		a := e.applierOf(t, st, ApplierConfig{Learner: &lr})
		if err := a.CatchUp(j); err != nil {
			t.Fatal(err)
		}
		if d := diffKeys(want, keyspace(t, st)); d != "" {
			t.Fatalf("rebuild %d differs from the live state: %s", round+1, d)
		}
		if got, want := lr.rewards(), live.rewards(); !slices.Equal(got, want) {
			t.Errorf("rebuild %d handed the learner rewards %v, live %v", round+1, got, want)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAppliedLSN: the applied LSN follows the last record written, is
// kept in the store, and a batch of records already applied leaves it
// (and the store) alone.
func TestAppliedLSN(t *testing.T) {
	e := newEnv(t)
	sc := newScenario(t)
	dir := t.TempDir()
	st := openStore(t, dir)
	a := e.applierOf(t, st, ApplierConfig{})
	if a.Applied() != 0 {
		t.Fatalf("Applied of a new store = %d", a.Applied())
	}
	for i, r := range sc.recs[:6] {
		if err := a.Apply([]journal.Record{r}, nil); err != nil {
			t.Fatal(err)
		}
		if a.Applied() != uint64(i+1) {
			t.Fatalf("after record %d Applied = %d", r.LSN, a.Applied())
		}
	}
	before := keyspace(t, st)
	if err := a.Apply(sc.recs[2:4], nil); err != nil {
		t.Fatal(err)
	}
	if a.Applied() != 6 {
		t.Errorf("re-applying records 3-4 moved Applied to %d", a.Applied())
	}
	if d := diffKeys(before, keyspace(t, st)); d != "" {
		t.Errorf("re-applying records 3-4 changed the store: %s", d)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = openStore(t, dir)
	if a := e.applierOf(t, st, ApplierConfig{}); a.Applied() != 6 {
		t.Errorf("Applied after restart = %d, want 6", a.Applied())
	}
}

// TestSkippedRecords: a record that cannot be applied is reported with
// its kind and skipped whole; the batch's other records apply and the
// applied LSN passes it.
func TestSkippedRecords(t *testing.T) {
	e := newEnv(t)
	st := openStore(t, t.TempDir())
	var sk skipped
	var lr learned
	a := e.applierOf(t, st, ApplierConfig{Skips: &sk, Learner: &lr})
	r := &records{t: t}
	d := decision(decisionID(t0, 1), "c-1", "", t0, "free-shipping")
	r.add(d)                                                                   // 1
	r.add(outcome(d, "free-shipping", "refund", "", 1, t0))                    // 2: undeclared type
	r.add(outcome(d, "free-shipping", "conversion", "", 1e12, t0))             // 3: reward out of range
	r.add(event("c-1", "no_such_event", t0, nil))                              // 4: the spec refuses it
	r.add(outcome(d, "free-shipping", "conversion", "", 1, t0.Add(time.Hour))) // 5: fine
	recs := append(r.recs, journal.Record{LSN: 6, Type: journal.TypeDecision, Time: t0, Payload: []byte("{")})
	if err := a.Apply(recs, nil); err != nil {
		t.Fatal(err)
	}
	want := map[uint64]string{2: KindType, 3: KindReward, 4: KindEvent, 6: KindDecode}
	if fmt.Sprint(sk.kinds) != fmt.Sprint(want) {
		t.Errorf("skipped %v, want %v", sk.kinds, want)
	}
	if a.Applied() != 6 {
		t.Errorf("Applied = %d, want 6", a.Applied())
	}
	p, err := st.Profiles().Get("c-1")
	if err != nil || p == nil || p.Contacts["free-shipping"].Conversions != 1 {
		t.Errorf("c-1 after the batch: %+v, %v; want the one good conversion", p, err)
	}
	if got := lr.rewards(); !slices.Equal(got, []string{"5:free-shipping:1"}) {
		t.Errorf("rewards learned %v", got)
	}
}

// contactLog is a Contacts that records what each commit released, and
// whether the profiles were committed by then.
type contactLog struct {
	st       *Store
	released [][]Reservation
	seen     []int // impressions of c-1's free-shipping visible inside each commit, before and after
}

func (c *contactLog) Commit(rs []Reservation, commit func() error) error {
	before := c.impressions()
	if err := commit(); err != nil {
		return err
	}
	c.seen = append(c.seen, before, c.impressions())
	c.released = append(c.released, slices.Clone(rs))
	return nil
}

func (c *contactLog) impressions() int {
	p, _ := c.st.Profiles().Get("c-1")
	if p == nil || p.Contacts["free-shipping"] == nil {
		return 0
	}
	return len(p.Contacts["free-shipping"].Impressions)
}

// TestContactsReleasedWithCommit: the reservations that live decisions
// carry are released in the step that commits their impressions, once:
// not again when the record is replayed.
func TestContactsReleasedWithCommit(t *testing.T) {
	e := newEnv(t)
	st := openStore(t, t.TempDir())
	cl := &contactLog{st: st}
	a := e.applierOf(t, st, ApplierConfig{Contacts: cl})
	r := &records{t: t}
	d := decision(decisionID(t0, 1), "c-1", "", t0, "free-shipping")
	r.add(d)
	r.add(event("c-1", "page_view", t0, nil))
	resv := &Reservation{Customer: "c-1", ID: 7, Shard: 3}
	live := []*Live{{Decision: &d, Reservation: resv}, nil}
	if err := a.Apply(r.recs, live); err != nil {
		t.Fatal(err)
	}
	if len(cl.released) != 1 || !slices.Equal(cl.released[0], []Reservation{*resv}) {
		t.Fatalf("released %v, want [[%v]]", cl.released, *resv)
	}
	if !slices.Equal(cl.seen, []int{0, 1}) {
		t.Errorf("impressions visible before and after the commit: %v, want [0 1]", cl.seen)
	}
	if err := a.Apply(r.recs, live); err != nil { // already applied
		t.Fatal(err)
	}
	if len(cl.released) != 1 {
		t.Errorf("a replay released again: %v", cl.released)
	}
}
