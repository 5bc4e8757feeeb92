package state

import (
	"context"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"nextbest/experiment"
	"nextbest/journal"
	"nextbest/logs"
)

// expScenario is a journal of an experiment's decisions over three days,
// with outcomes that arrive late, out of order, repeated, past the
// attribution window, for an earlier day's decision after the customer's
// later one, and for an action the decision did not return; decisions
// outside the experiment and events besides.
type expScenario struct {
	recs []journal.Record
	live []*Live
}

const (
	expName   = "offers"
	expWindow = 2 * 24 * time.Hour
)

func newExpScenario(t testing.TB) expScenario {
	r := &records{t: t}
	var live []*Live
	n := uint16(0)
	dec := func(customer, arm, channel, stage string, at time.Time, actions ...string) journal.Decision {
		n++
		d := decision(decisionID(at, n), customer, "", at, actions...)
		d.Channel = channel
		if arm != "" {
			d.Experiment = &journal.ExperimentArm{Name: expName, Arm: arm}
		}
		if stage != "" {
			d.Profile = map[string]any{"stage": stage}
		}
		r.add(d)
		live = append(live, &Live{Decision: &d})
		return d
	}
	out := func(d journal.Decision, action, typ, id string, reward float64, at time.Time) {
		o := outcome(d, action, typ, id, reward, at)
		r.add(o)
		live = append(live, &Live{Outcome: &o})
	}
	ev := func(customer string, at time.Time) {
		e := event(customer, "page_view", at, nil)
		r.add(e)
		live = append(live, &Live{Event: &e})
	}
	day := 24 * time.Hour
	d1 := dec("c-1", "control", "web", "new", t0, "free-shipping", "new-arrivals")
	d2 := dec("c-2", "treatment", "app", "loyal", t0.Add(time.Hour), "welcome-15")
	ev("c-1", t0.Add(2*time.Hour))
	out(d1, "free-shipping", "conversion", "o-1", 1, t0.Add(3*time.Hour))
	out(d1, "free-shipping", "conversion", "o-1", 1, t0.Add(3*time.Hour)) // re-sent: a duplicate
	out(d1, "free-shipping", "revenue", "", 40, t0.Add(3*time.Hour))
	d3 := dec("c-1", "control", "app", "new", t0.Add(day), "new-arrivals") // c-1 again, the next day
	d4 := dec("c-3", "treatment", "web", "", t0.Add(day+time.Hour), "welcome-15")
	dec("c-4", "control", "web", "loyal", t0.Add(day+2*time.Hour)) // nothing shown
	dec("c-5", "", "web", "", t0.Add(day+3*time.Hour), "free-shipping")
	out(d1, "new-arrivals", "click", "", 0.5, t0.Add(day+4*time.Hour))           // d1's, after d3
	out(d2, "welcome-15", "view_time", "", 2, t0.Add(day+5*time.Hour))           // a sum type
	out(d2, "welcome-15", "view_time", "", 3, t0.Add(day+5*time.Hour))           // counts again
	out(d4, "welcome-15", "purchase", "", 1, t0.Add(day+6*time.Hour))            // converts
	out(d3, "free-shipping", "conversion", "", 1, t0.Add(day+7*time.Hour))       // not returned by d3
	out(d3, "new-arrivals", "conversion", "", 0, t0.Add(day+8*time.Hour))        // reward 0: no conversion
	out(d2, "welcome-15", "revenue", "", 25, t0.Add(3*day))                      // past the window
	d6 := dec("c-2", "treatment", "app", "loyal", t0.Add(2*day), "new-arrivals") // c-2 again
	out(d6, "new-arrivals", "revenue", "", 12.5, t0.Add(2*day+time.Hour))
	out(d2, "welcome-15", "click", "", 1, t0.Add(2*day+2*time.Hour)) // d2's, after d6
	ev("c-2", t0.Add(2*day+3*time.Hour))
	return expScenario{recs: r.recs, live: live}
}

// joinedAggregates are the scenario's sums the batch way: the journal in
// jdir joined (logs.Join) and summed with an experiment.Builder.
func joinedAggregates(t *testing.T, e env, jdir string) *experiment.Aggregates {
	t.Helper()
	joined, _, err := logs.Join(context.Background(), jdir, logs.JoinConfig{Window: expWindow, Outcomes: e.outcomes})
	if err != nil {
		t.Fatal(err)
	}
	b := experiment.NewBuilder(time.UTC)
	for i := range joined {
		if x := joined[i].Decision.Experiment; x != nil && x.Name == expName {
			y, out := experiment.JoinedValues(&joined[i])
			b.Add(&joined[i].Decision, &y, out)
		}
	}
	return b.Aggregates()
}

// TestExperimentAggregates: the sums the Applier keeps as records arrive
// (in batches, with live values) equal the sums of the joined journal;
// a restart keeps them, and a fresh store rebuilt from the journal holds
// the same bytes.
func TestExperimentAggregates(t *testing.T) {
	e := newEnv(t)
	sc := newExpScenario(t)
	jdir, sdir := dirs(t)
	writeJournal(t, jdir, sc.recs)
	want := joinedAggregates(t, e, jdir)

	st := openStore(t, sdir)
	a := e.applierOf(t, st, ApplierConfig{Window: expWindow})
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
	// the numbers by hand, for the control arm: c-1 (d1: converted,
	// revenue 40, reward 1+40+0.5; d3: an outcome of reward 0), c-4 (d5:
	// nothing shown)
	var ctl experiment.Sums
	for _, d := range got.Arms["control"].Days {
		ctl.Add(&d)
	}
	if w := (experiment.Sums{Customers: 2, Decisions: 3, WithOutcomes: 2, NN: 5,
		Y: experiment.Values{1, 40, 41.5}, YY: experiment.Values{1, 1600, 41.5 * 41.5}, YN: experiment.Values{2, 80, 83}}); ctl != w {
		t.Errorf("control sums %+v, want %+v", ctl, w)
	}
	if ch := got.Arms["treatment"].Channels; len(ch) != 2 || ch["app"].Decisions != 2 || ch["web"].Decisions != 1 {
		t.Errorf("treatment channels %+v", ch)
	}
	if st := got.Arms["treatment"].Stages; st[experiment.Unknown].Decisions != 1 || st["loyal"].Customers != 1 {
		t.Errorf("treatment stages %+v", st)
	}
	if empty, err := st.Experiment("none"); err != nil || len(empty.Arms) != 0 {
		t.Errorf("an experiment without decisions: %+v, %v", empty, err)
	}

	live := keyspace(t, st)
	vol, err := st.Volume()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, sdir)
	again, err := st.Experiment(expName)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, got) {
		t.Errorf("after a restart the sums are %+v, were %+v", again, got)
	}
	if v, err := st.Volume(); err != nil || !reflect.DeepEqual(v, vol) {
		t.Errorf("after a restart the volume is %+v (%v), was %+v", v, err, vol)
	}
	st.Close()

	// the state deleted and rebuilt from the journal, twice over
	fresh := t.TempDir()
	j := openJournal(t, jdir)
	for round := range 2 {
		st := openStore(t, fresh)
		a := e.applierOf(t, st, ApplierConfig{Window: expWindow})
		if err := a.CatchUp(j); err != nil {
			t.Fatal(err)
		}
		if d := diffKeys(live, keyspace(t, st)); d != "" {
			t.Fatalf("rebuild %d differs from the live state: %s", round+1, d)
		}
		st.Close()
	}
}

// TestVolume: the counters count what was applied, duplicates not, late
// outcomes yes, records replayed once; they survive a restart.
func TestVolume(t *testing.T) {
	e := newEnv(t)
	sc := newExpScenario(t)
	sdir := t.TempDir()
	st := openStore(t, sdir)
	a := e.applierOf(t, st, ApplierConfig{Window: expWindow})
	if err := a.Apply(sc.recs, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(sc.recs, nil); err != nil { // a replay counts nothing
		t.Fatal(err)
	}
	v, err := st.Volume()
	if err != nil {
		t.Fatal(err)
	}
	want := &Volume{
		Since:     t0,
		Decisions: map[string]int64{"web": 4, "app": 3},
		Actions: map[string]map[string]int64{
			"free-shipping": {"web": 2}, "new-arrivals": {"web": 1, "app": 2}, "welcome-15": {"app": 1, "web": 1},
		},
		Experiments: map[string]map[string]int64{expName: {"control": 3, "treatment": 3}},
		Fallbacks:   map[string]map[string]int64{},
		Degenerate:  map[string]map[string]int64{},
		Deferred:    map[string]int64{},
		Activated:   map[string]int64{},
		// conversion: o-1 once, d3's for the action it returned (its
		// other is for an action d3 did not return: it counts for
		// nothing, as in logs.Join); revenue: d1, d2 (late), d6
		Outcomes: map[string]int64{"conversion": 2, "revenue": 3, "click": 2, "view_time": 2, "purchase": 1},
		Events:   2,
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("volume\n %+v\nwant\n %+v", v, want)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = openStore(t, sdir)
	if again, err := st.Volume(); err != nil || !reflect.DeepEqual(again, want) {
		t.Errorf("after a restart: %+v, %v", again, err)
	}
}

// TestSweepKeepsAggregates: the sweep drops an old experiment decision's
// record (no outcome can reach it any more), not the sums or counters.
func TestSweepKeepsAggregates(t *testing.T) {
	e := newEnv(t)
	sc := newExpScenario(t)
	st := openStore(t, t.TempDir())
	a := e.applierOf(t, st, ApplierConfig{Window: expWindow})
	if err := a.Apply(sc.recs, nil); err != nil {
		t.Fatal(err)
	}
	before := keyspace(t, st)
	if err := st.Sweep(t0.Add(30*24*time.Hour), 8*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	after := keyspace(t, st)
	for k := range before {
		_, kept := after[k]
		switch {
		case strings.HasPrefix(k, prefixExpDecision) && kept:
			t.Errorf("%s survived the sweep", k)
		case (strings.HasPrefix(k, prefixExperiment) || strings.HasPrefix(k, prefixUnit) || strings.HasPrefix(k, prefixVolume)) && !kept:
			t.Errorf("the sweep removed %s", k)
		}
	}
	if !slices.ContainsFunc(slices.Collect(maps.Keys(before)), func(k string) bool { return strings.HasPrefix(k, prefixExpDecision) }) {
		t.Fatal("no experiment decision record to sweep")
	}
}

// TestAggregateCodecs: every encoding reads back what it wrote, and a
// truncated value is an error, not a panic.
func TestAggregateCodecs(t *testing.T) {
	s := experiment.Sums{Customers: 3, Decisions: 5, WithOutcomes: 2, NN: 9, Y: experiment.Values{1, 2.5, -3}, YY: experiment.Values{1, 6.25, 9}, YN: experiment.Values{2, 5, -6}}
	if got, err := decodeSums(appendSums(nil, &s)); err != nil || got != s {
		t.Errorf("sums: %+v, %v", got, err)
	}
	u := &experiment.Unit{Cells: []experiment.Cell{
		{Group: experiment.Group{Arm: "a", Dim: experiment.DimChannel, Value: "web/x"}, N: 2, Y: experiment.Values{1, 0, math.Pi}},
		{Group: experiment.Group{Arm: "a", Dim: experiment.DimDay, Value: "2026-11-22"}, N: 1},
	}}
	if got, err := decodeUnit(encodeUnit(u), nil); err != nil || !reflect.DeepEqual(got, u) {
		t.Errorf("unit: %+v, %v", got, err)
	}
	d := &expDecision{experiment: "e", customer: "c", dec: experiment.Decision{Arm: "a", Date: "2026-11-22", Channel: "web", Stage: "new"},
		actions: []string{"x", "y"}, outcome: true}
	if got, err := decodeExpDecision(encodeExpDecision(d), nil); err != nil || !reflect.DeepEqual(got, d) {
		t.Errorf("decision: %+v, %v", got, err)
	}
	for _, b := range [][]byte{encodeUnit(u), encodeExpDecision(d)} {
		for n := range len(b) - 1 {
			decodeUnit(b[:n], nil)
			decodeExpDecision(b[:n], nil)
		}
	}
	if _, err := decodeUnit(encodeUnit(u)[:5], nil); err == nil {
		t.Error("a truncated unit decodes")
	}
}

func sameAggregates(got, want *experiment.Aggregates) error {
	if len(got.Arms) != len(want.Arms) {
		return fmt.Errorf("arms %v, want %v", slices.Sorted(maps.Keys(got.Arms)), slices.Sorted(maps.Keys(want.Arms)))
	}
	for name, w := range want.Arms {
		g := got.Arms[name]
		if g == nil {
			return fmt.Errorf("no arm %s", name)
		}
		if !g.From.Equal(w.From) || !g.To.Equal(w.To) {
			return fmt.Errorf("arm %s: span %v–%v, want %v–%v", name, g.From, g.To, w.From, w.To)
		}
		for _, dim := range []struct {
			name      string
			got, want map[string]experiment.Sums
		}{{"day", g.Days, w.Days}, {"channel", g.Channels, w.Channels}, {"stage", g.Stages, w.Stages}} {
			if !slices.Equal(slices.Sorted(maps.Keys(dim.got)), slices.Sorted(maps.Keys(dim.want))) {
				return fmt.Errorf("arm %s: %ss %v, want %v", name, dim.name, slices.Sorted(maps.Keys(dim.got)), slices.Sorted(maps.Keys(dim.want)))
			}
			for k, ws := range dim.want {
				gs := dim.got[k]
				if !nearSums(&gs, &ws) {
					return fmt.Errorf("arm %s, %s %s: %+v, want %+v", name, dim.name, k, gs, ws)
				}
			}
		}
	}
	return nil
}

// nearSums compares within 1e-9 relative: the applier adds the same
// terms as the batch in another order.
func nearSums(g, w *experiment.Sums) bool {
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b)) }
	ok := g.Customers == w.Customers && g.Decisions == w.Decisions && g.WithOutcomes == w.WithOutcomes && near(g.NN, w.NN)
	for m := range experiment.NumMetrics {
		ok = ok && near(g.Y[m], w.Y[m]) && near(g.YY[m], w.YY[m]) && near(g.YN[m], w.YN[m])
	}
	return ok
}

// failOnce fails the first commit it is asked to make.
type failOnce struct{ failed bool }

func (f *failOnce) Commit(_ []Reservation, commit func() error) error {
	if !f.failed {
		f.failed = true
		return fmt.Errorf("injected commit failure")
	}
	return commit()
}

// TestVolumeAfterFailedCommit: a batch whose commit fails counts nothing
// (the applier's cache of counters is not ahead of the store), and the
// same records applied again count once.
func TestVolumeAfterFailedCommit(t *testing.T) {
	e := newEnv(t)
	sc := newExpScenario(t)
	st := openStore(t, t.TempDir())
	a := e.applierOf(t, st, ApplierConfig{Window: expWindow, Contacts: &failOnce{}})
	if err := a.Apply(sc.recs[:4], sc.live[:4]); err == nil {
		t.Fatal("the injected failure did not fail the batch")
	}
	if v, err := st.Volume(); err != nil || len(v.Decisions) != 0 || v.Events != 0 {
		t.Fatalf("a failed batch counted: %+v, %v", v, err)
	}
	if err := a.Apply(sc.recs, sc.live); err != nil {
		t.Fatal(err)
	}
	ref := openStore(t, t.TempDir())
	if err := e.applierOf(t, ref, ApplierConfig{Window: expWindow}).Apply(sc.recs, nil); err != nil {
		t.Fatal(err)
	}
	got, err := st.Volume()
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Volume()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after a failed batch and a retry: %+v, want %+v", got, want)
	}
	if d := diffKeys(keyspace(t, ref), keyspace(t, st)); d != "" {
		t.Errorf("the retried state differs: %s", d)
	}
}
