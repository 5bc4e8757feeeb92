package serve_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/features"
	"nextbest/internal/journaltest"
	"nextbest/journal"
	"nextbest/logs"
	"nextbest/models"
	"nextbest/serve"
	"nextbest/training"
)

// agreeTypes are the outcome types of the agreement test: every
// aggregation, a fixed weight and a conversion.
func agreeTypes() []logs.OutcomeType {
	two := 2.0
	return []logs.OutcomeType{
		{Name: "conversion", Conversion: true},
		{Name: "revenue", Aggregate: logs.AggSum},
		{Name: "basket", Aggregate: logs.AggMax},
		{Name: "signup", Conversion: true, Reward: logs.RewardRule{Weight: &two}},
		{Name: "click"},
	}
}

// agreeJournal returns the records of a journal that exercises every
// branch of the way back from the log: decisions of one to three actions
// (some no longer in the catalog, one made under another feature spec),
// and outcomes of every declared type with repeats (first, sum and max),
// re-sent outcome_ids, outcomes before their decision's time, outcomes
// past the attribution window, outcomes of undeclared types, a reward out
// of range and outcomes for decisions the journal does not hold. Records
// are in arrival order: an outcome after its decision. With rd, some
// decisions defer their activation (drawn from rd, so that r's draws stay
// those of the journal without): activated within the window (some
// slots, some twice, before or after their outcomes), too late, or never.
func agreeJournal(spec *features.Spec, cat *decide.Catalog, r, rd *rand.Rand, t0 time.Time, window time.Duration) []any {
	type rec struct {
		at time.Time
		v  any
	}
	var recs []rec
	ids := make([]string, 0, len(cat.Actions)+1)
	for _, a := range cat.Actions {
		ids = append(ids, a.ID)
	}
	ids = append(ids, "retired-offer") // not in the catalog any more
	stages := []string{"awareness", "consideration", "cart", "purchase", "retention"}
	pages := []string{"home", "product", "cart", "checkout"}
	types := []string{"conversion", "revenue", "basket", "signup", "click"}
	var in features.Inputs
	const decisions = 400
	for i := range decisions {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		p := spec.NewProfile(fmt.Sprintf("c-%d", i%97), at.Add(-time.Duration(r.IntN(90))*24*time.Hour))
		p.Stage = stages[r.IntN(len(stages))]
		p.Attributes = map[string]any{"tier": []string{"gold", "silver"}[r.IntN(2)], "age": float64(18 + r.IntN(60))}
		ctx := map[string]any{"page": pages[r.IntN(len(pages))], "cart_value": float64(r.IntN(500)), "device": "mobile"}
		spec.Inputs(&in, p, "web", ctx, at)
		d := journal.Decision{V: journal.SchemaVersion, DecisionID: fmt.Sprintf("d-%04d", i), CustomerID: p.CustomerID,
			Channel: "web", Time: at, Context: ctx, Profile: in.ProfileMap(), Policy: "linucb", FeatureSpec: spec.Hash()}
		if i == 7 {
			d.FeatureSpec = "another-spec"
		}
		shown := slices.Clone(ids)
		r.Shuffle(len(shown), func(a, b int) { shown[a], shown[b] = shown[b], shown[a] })
		shown = shown[:1+r.IntN(3)]
		d.Eligible = shown
		for k, id := range shown {
			d.Actions = append(d.Actions, journal.LoggedAction{ActionID: id, Slot: k, Propensity: 1 / float64(len(shown)-k)})
		}
		d.DeferActivation = rd != nil && i != 7 && rd.Float64() < 0.35 // 7 (another spec) is shown
		recs = append(recs, rec{at, d})
		if d.DeferActivation {
			activate := func(after time.Duration) {
				var slots []int
				for k := range d.Actions {
					if rd.Float64() < 0.6 {
						slots = append(slots, k)
					}
				}
				if slots == nil {
					slots = []int{rd.IntN(len(d.Actions))}
				}
				a := journal.Activation{V: journal.SchemaVersion, ActivationID: fmt.Sprintf("a-%d-%d", i, len(recs)), DecisionID: d.DecisionID,
					CustomerID: d.CustomerID, Slots: slots, Time: at.Add(after), DecisionTime: at}
				recs = append(recs, rec{a.Time.Add(time.Millisecond), a})
			}
			switch u := rd.Float64(); {
			case u < 0.2: // never activated
			case u < 0.3: // too late
				activate(window + time.Duration(1+rd.IntN(120))*time.Minute)
			default:
				activate(time.Duration(rd.IntN(int(window/time.Minute))) * time.Minute)
				if rd.Float64() < 0.3 { // more slots, or the same again
					activate(time.Duration(rd.IntN(int(window/time.Minute))) * time.Minute)
				}
			}
		}
		if r.Float64() < 0.3 {
			continue // no outcome: the default reward
		}
		for n := 1 + r.IntN(5); n > 0; n-- {
			o := journal.Outcome{V: journal.SchemaVersion, DecisionID: d.DecisionID, ActionID: shown[r.IntN(len(shown))],
				CustomerID: d.CustomerID, Type: types[r.IntN(len(types))], Reward: float64(r.IntN(41)-8) / 4, DecisionTime: at}
			switch u := r.Float64(); {
			case u < 0.15: // past the window
				o.Time = at.Add(window + time.Duration(1+r.IntN(120))*time.Minute)
			case u < 0.2: // the channel's clock is behind
				o.Time = at.Add(-time.Duration(1+r.IntN(5)) * time.Minute)
			default:
				o.Time = at.Add(time.Duration(r.IntN(int(window/time.Minute))) * time.Minute)
			}
			if r.Float64() < 0.2 {
				o.OutcomeID = fmt.Sprintf("o-%d", r.IntN(3)) // some ids repeat within the decision
			}
			arrive := o.Time
			if arrive.Before(at) {
				arrive = at
			}
			recs = append(recs, rec{arrive.Add(time.Millisecond), o})
			if r.Float64() < 0.1 { // a re-sent outcome, later
				recs = append(recs, rec{arrive.Add(time.Minute), o})
			}
		}
	}
	odd := func(o journal.Outcome) journal.Outcome {
		o.V, o.CustomerID, o.Time = journal.SchemaVersion, "c-odd", t0.Add(time.Hour)
		o.DecisionTime = t0
		return o
	}
	recs = append(recs,
		rec{t0.Add(time.Hour), odd(journal.Outcome{DecisionID: "ghost-1", ActionID: ids[0], Type: "conversion", Reward: 1})},
		rec{t0.Add(time.Hour), odd(journal.Outcome{DecisionID: "ghost-2", ActionID: ids[1], Type: "revenue", Reward: 40})},
		rec{t0.Add(time.Hour), odd(journal.Outcome{DecisionID: "d-0000", ActionID: recs[0].v.(journal.Decision).Actions[0].ActionID, Type: "refund", Reward: -5})},
		rec{t0.Add(time.Hour), odd(journal.Outcome{DecisionID: "d-0000", ActionID: recs[0].v.(journal.Decision).Actions[0].ActionID, Type: "revenue", Reward: 1e12})},
	)
	slices.SortStableFunc(recs, func(a, b rec) int { return a.at.Compare(b.at) })
	out := make([]any, len(recs))
	for i, x := range recs {
		out[i] = x.v
	}
	return out
}

// TestOnlineEqualsBatch is the property that the online and the batch
// paths learn the same thing from one journal: a service that replays the
// journal at start (the online learner: impressions at the default
// reward, then each outcome's reward delta) and the batch path
// (logs.Join, training.BuildDataset, training.TrainRidge) end with the
// same ridge sufficient statistics. Both fold outcomes with package logs'
// reward rule (Fold, ActionDelta / ActionReward) and rebuild rows with
// logs.RowBuilder; the de-duplication and the window check are the
// applier's, step by step the same as logs.Join's (logs.Attributed). Only
// the order of the float additions differs, so the statistics are
// compared to 1e-9 of their scale. Seeds are fixed; each seed is a
// different journal.
func TestOnlineEqualsBatch(t *testing.T) {
	const window = 2 * time.Hour
	t0 := testNow.Add(-48 * time.Hour)
	spec, cat := journaltest.Retail(t)
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			recs := agreeJournal(spec, cat, rand.New(rand.NewPCG(seed, 99)), rand.New(rand.NewPCG(seed, 7)), t0, window)
			jst, bst := checkOnlineEqualsBatch(t, spec, cat, recs, window)
			// the journal must exercise what it claims to
			if jst.Late == 0 || jst.Duplicate == 0 || jst.Unknown == 0 || jst.UnknownType == 0 || jst.BadReward == 0 ||
				jst.Early == 0 || bst.SpecMismatch == 0 || bst.UnknownAction == 0 ||
				jst.Activations == 0 || jst.LateActivation == 0 || jst.NotActivated == 0 {
				t.Fatalf("the journal misses a case: join %+v, dataset %+v", jst, bst)
			}
		})
	}
	t.Run("max after a late outcome", func(t *testing.T) {
		// The declared rule: a max type's reward is the largest of its
		// attributed outcomes, here max(0, -1) = 0; a late outcome does
		// not count. (The applier once dropped the attributed first
		// outcome, whose reward 0 changed nothing, and folded -1 as the
		// type's first.)
		var in features.Inputs
		p := spec.NewProfile("c-x", t0)
		spec.Inputs(&in, p, "web", nil, t0)
		id := cat.Actions[0].ID
		d := journal.Decision{V: journal.SchemaVersion, DecisionID: "d-x", CustomerID: "c-x", Channel: "web", Time: t0,
			Profile: in.ProfileMap(), FeatureSpec: spec.Hash(), Eligible: []string{id},
			Actions: []journal.LoggedAction{{ActionID: id, Propensity: 1}}}
		basket := func(r float64, after time.Duration) journal.Outcome {
			return journal.Outcome{V: journal.SchemaVersion, DecisionID: "d-x", ActionID: id, CustomerID: "c-x",
				Type: "basket", Reward: r, Time: t0.Add(after), DecisionTime: t0}
		}
		checkOnlineEqualsBatch(t, spec, cat, []any{d, basket(3, window+time.Hour), basket(0, time.Hour), basket(-1, time.Hour)}, window)
	})
	t.Run("a deferred decision never activated", func(t *testing.T) {
		// It teaches the model nothing, whatever its outcomes: the model
		// of the journal with it is the model of the journal without it,
		// bit for bit (and the batch path's, checked as every case is).
		var in features.Inputs
		p := spec.NewProfile("c-z", t0)
		spec.Inputs(&in, p, "web", nil, t0)
		a, b := cat.Actions[0].ID, cat.Actions[1].ID
		d := journal.Decision{V: journal.SchemaVersion, DecisionID: "d-z", CustomerID: "c-z", Channel: "web", Time: t0,
			Profile: in.ProfileMap(), FeatureSpec: spec.Hash(), Eligible: []string{a, b},
			Actions: []journal.LoggedAction{{ActionID: a, Propensity: 1}}}
		o := journal.Outcome{V: journal.SchemaVersion, DecisionID: "d-z", ActionID: a, CustomerID: "c-z",
			Type: "conversion", Reward: 1, Time: t0.Add(time.Minute), DecisionTime: t0}
		never := d
		never.DecisionID, never.DeferActivation, never.Time = "d-never", true, t0.Add(time.Second)
		never.Actions = []journal.LoggedAction{{ActionID: b, Propensity: 0.5}, {ActionID: a, Slot: 1, Propensity: 1}}
		no := o
		no.DecisionID, no.ActionID, no.DecisionTime = "d-never", b, never.Time
		with := []any{d, never, o, no}
		if jst, _ := checkOnlineEqualsBatch(t, spec, cat, with, window); jst.NotActivated != 1 {
			t.Errorf("the join counted %d decisions not activated, want 1", jst.NotActivated)
		}
		got, _ := onlineStats(t, with, window)
		want, _ := onlineStats(t, []any{d, o}, window)
		if !reflect.DeepEqual(got, want) {
			t.Error("a deferred decision never activated changed the online model")
		}
	})
	t.Run("an outcome for an action not shown", func(t *testing.T) {
		// The join leaves out an outcome for an action its decision did
		// not return (JoinStats.NotShown); the online learner must too,
		// whatever the HTTP edge lets through.
		var in features.Inputs
		p := spec.NewProfile("c-y", t0)
		spec.Inputs(&in, p, "web", nil, t0)
		shown, other := cat.Actions[0].ID, cat.Actions[1].ID
		d := journal.Decision{V: journal.SchemaVersion, DecisionID: "d-y", CustomerID: "c-y", Channel: "web", Time: t0,
			Profile: in.ProfileMap(), FeatureSpec: spec.Hash(), Eligible: []string{shown, other},
			Actions: []journal.LoggedAction{{ActionID: shown, Propensity: 1}}}
		o := journal.Outcome{V: journal.SchemaVersion, DecisionID: "d-y", ActionID: other, CustomerID: "c-y",
			Type: "conversion", Reward: 1, Time: t0.Add(time.Minute), DecisionTime: t0}
		if jst, _ := checkOnlineEqualsBatch(t, spec, cat, []any{d, o}, window); jst.NotShown != 1 {
			t.Errorf("the join counted %d outcomes not shown, want 1", jst.NotShown)
		}
		// nor may it take the outcome_id it carries: a later outcome of the
		// shown action with that id counts
		o.OutcomeID, o.Type = "order-1", "revenue"
		later := o
		later.ActionID, later.Time, later.Reward = shown, o.Time.Add(time.Minute), 2.5
		if jst, _ := checkOnlineEqualsBatch(t, spec, cat, []any{d, o, later}, window); jst.NotShown != 1 {
			t.Errorf("the join counted %d outcomes not shown, want 1", jst.NotShown)
		}
	})
}

// checkOnlineEqualsBatch writes recs as a service's journal, opens the
// service on it (recovery replays it through the online learner), runs
// the batch path on the same journal with the same window, default
// reward and outcome types, and fails t unless the two ridge models hold
// the same statistics. It returns the batch path's counts.
func checkOnlineEqualsBatch(t *testing.T, spec *features.Spec, cat *decide.Catalog, recs []any, window time.Duration) (logs.JoinStats, training.BuildStats) {
	t.Helper()
	online, jdir := onlineStats(t, recs, window)

	// batch: the join, the rows, the ridge
	outs, err := logs.NewOutcomes(agreeTypes())
	if err != nil {
		t.Fatal(err)
	}
	joined, jst, err := logs.Join(context.Background(), jdir, logs.JoinConfig{Window: window, DefaultReward: agreeR0, Outcomes: outs})
	if err != nil {
		t.Fatal(err)
	}
	ds, bst, err := training.BuildDataset(joined, spec, cat)
	if err != nil {
		t.Fatal(err)
	}
	m, err := training.TrainRidge(ds, models.RidgeConfig{Dim: spec.Dim(), Actions: len(cat.Actions)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	batch := m.Stats()
	t.Logf("join %+v; dataset %+v", jst, bst)

	if len(online) != len(batch) {
		t.Fatalf("%d online posteriors, %d batch", len(online), len(batch))
	}
	for a := range online {
		o, b := online[a], batch[a]
		if o.N != b.N {
			t.Errorf("action %s: %d online observations, %d batch", cat.Actions[a].ID, o.N, b.N)
		}
		if d, scale := maxDiff(o.XtX, b.XtX); d > 1e-9*scale {
			t.Errorf("action %s: XtX differs by %g (scale %g)", cat.Actions[a].ID, d, scale)
		}
		if d, scale := maxDiff(o.Xty, b.Xty); d > 1e-9*scale {
			t.Errorf("action %s: Xty differs by %g (scale %g)\nonline %v\nbatch  %v", cat.Actions[a].ID, d, scale, o.Xty, b.Xty)
		}
	}
	return jst, bst
}

// agreeR0 is the default reward of the agreement tests.
const agreeR0 = -0.25

// onlineStats writes recs as a service's journal, opens the service on it
// (recovery replays it through the online learner) and returns the
// online model's statistics and the journal's directory.
func onlineStats(t *testing.T, recs []any, window time.Duration) ([]models.RidgeStats, string) {
	t.Helper()
	data := t.TempDir()
	jdir := filepath.Join(data, "journal")
	journaltest.WriteDir(t, jdir, recs...)
	cfg := serve.Config{
		DataDir: data, Catalog: retail.Catalog, FeatureSpec: retail.FeatureSpec,
		AttributionWindow: window, DefaultReward: agreeR0, OutcomeTypes: agreeTypes(),
		JournalNoSync: true, Seed: 1, Logger: testLogger(), Now: func() time.Time { return testNow },
	}
	svc, err := serve.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.WaitLearned(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	return svc.Model().Stats(), jdir
}

// maxDiff returns the largest absolute difference of a and b, and their
// scale: 1 plus the largest magnitude in either.
func maxDiff(a, b []float64) (diff, scale float64) {
	scale = 1
	for i := range a {
		diff = max(diff, math.Abs(a[i]-b[i]))
		scale = max(scale, math.Abs(a[i]), math.Abs(b[i]))
	}
	return diff, scale
}
