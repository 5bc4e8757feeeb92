package state

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"nextbest/journal"
)

// pzRank is a rank call's record: actions a, b, c, the first chosen;
// slots, if any, make it a multi-slot call whose slots choose a, b, ….
func pzRank(id string, at time.Time, deferred bool, mode, agg string, slots ...string) journal.PersonalizerRank {
	rk := journal.PersonalizerRank{V: journal.SchemaVersion, EventID: id, Time: at, RequestHash: "h-" + id, Deferred: deferred, Mode: mode,
		ContextFeatures: []map[string]any{{"user": map[string]any{"tier": "gold"}}},
		Actions:         []journal.PersonalizerAction{{ID: "a"}, {ID: "b"}, {ID: "c"}},
		Learning:        journal.PersonalizerLearning{RewardWaitMillis: (10 * time.Minute).Milliseconds(), DefaultReward: 0, Aggregation: agg},
	}
	if len(slots) == 0 {
		rk.RewardActionID = "a"
		rk.Ranking = []journal.PersonalizerRanked{{ID: "a", Probability: 0.9}, {ID: "b", Probability: 0.05}, {ID: "c", Probability: 0.05}}
	}
	for i, s := range slots {
		rk.Slots = append(rk.Slots, journal.PersonalizerSlot{ID: s, Baseline: rk.Actions[i].ID, ActionID: rk.Actions[i].ID, Probability: 0.9})
	}
	return rk
}

func pzRewardRec(id string, at time.Time, rewards ...journal.PersonalizerSlotReward) journal.PersonalizerReward {
	return journal.PersonalizerReward{V: journal.SchemaVersion, EventID: id, Time: at, Rewards: rewards}
}

func value(v float64) journal.PersonalizerSlotReward { return journal.PersonalizerSlotReward{Value: v} }

func slotValue(slot string, v float64) journal.PersonalizerSlotReward {
	return journal.PersonalizerSlotReward{Slot: slot, Value: v}
}

// pz returns the Personalizer items learned, as
// "lsn:shown|reward:event/slot:value".
func (l *learned) pz() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, it := range l.items {
		switch it.Kind {
		case LearnPersonalizerShown:
			out = append(out, fmt.Sprintf("%d:shown:%s/%d:%.6g", it.LSN, it.Rank.EventID, it.Slot, it.Reward))
		case LearnPersonalizerReward:
			out = append(out, fmt.Sprintf("%d:reward:%s/%d:%.6g", it.LSN, it.Rank.EventID, it.Slot, it.Delta))
		}
	}
	return out
}

// TestPersonalizerLearning: what the applier hands the Personalizer
// learner, record by record: an event active at its rank call is learned
// with the default reward, each reward with the change it makes to its
// slot's aggregate; a deferred event only from its activation, with the
// rewards it got before; nothing after the reward wait, nothing of a
// deferred event never activated, nothing in LoggingOnly mode, nothing
// of a second record for an event id. A replay of the journal for a
// learner that lacks it (the store has applied it) hands over the same
// work, and a rebuild of the store from the journal writes the same keys.
func TestPersonalizerLearning(t *testing.T) {
	e := newEnv(t)
	minute := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	r := &records{t: t}
	r.add(pzRank("e1", t0, false, "Online", "earliest"))                           // 1: shown e1 with 0
	r.add(pzRewardRec("e1", minute(1), value(0.5)))                                // 2: +0.5
	r.add(pzRewardRec("e1", minute(2), value(1)))                                  // 3: earliest: no change
	r.add(pzRank("e2", t0, true, "Online", "earliest"))                            // 4: deferred: nothing
	r.add(pzRewardRec("e2", minute(1), value(0.7)))                                // 5: kept
	r.add(journal.PersonalizerActivate{V: 1, EventID: "e2", Time: minute(3)})      // 6: shown e2 with 0.7
	r.add(pzRewardRec("e2", minute(14), value(1)))                                 // 7: after 3+10 minutes: ignored
	r.add(pzRank("e3", t0, true, "Online", "earliest"))                            // 8: never activated
	r.add(pzRewardRec("e3", minute(1), value(1)))                                  // 9: kept, never learned
	r.add(pzRank("e4", t0, false, "LoggingOnly", "earliest"))                      // 10: not learned
	r.add(pzRewardRec("e4", minute(1), value(1)))                                  // 11: not learned
	r.add(pzRank("e1", minute(5), false, "Online", "earliest"))                    // 12: a repeat of e1: ignored
	r.add(journal.PersonalizerActivate{V: 1, EventID: "e1", Time: minute(5)})      // 13: e1 is active already
	r.add(pzRank("e5", t0, false, "Apprentice", "average", "s1", "s2"))            // 14: shown s1 and s2 with 0
	r.add(pzRewardRec("e5", minute(1), slotValue("s2", 0.4)))                      // 15: s2 +0.4
	r.add(pzRewardRec("e5", minute(2), slotValue("s2", 0.8), slotValue("s1", -1))) // 16: s2 average 0.6: +0.2; s1 −1
	r.add(journal.PersonalizerActivate{V: 1, EventID: "e2", Time: minute(4)})      // 17: activated already
	r.add(pzRewardRec("nope", minute(1), value(1)))                                // 18: no such event
	r.add(pzRank("e6", t0, false, "Online", "sum"))                                // 19: shown 0
	r.add(pzRewardRec("e6", minute(1), value(0.5)))                                // 20: +0.5
	r.add(pzRewardRec("e6", minute(2), value(0.25)))                               // 21: +0.25
	want := []string{
		"1:shown:e1/0:0", "2:reward:e1/0:0.5",
		"6:shown:e2/0:0.7",
		"14:shown:e5/0:0", "14:shown:e5/1:0", "15:reward:e5/1:0.4", "16:reward:e5/1:0.2", "16:reward:e5/0:-1",
		"19:shown:e6/0:0", "20:reward:e6/0:0.5", "21:reward:e6/0:0.25",
	}

	// live: one record per batch, as the journal's group commits may
	st := openStore(t, t.TempDir())
	var live learned
	a := e.applierOf(t, st, ApplierConfig{Personalizer: &live})
	for _, rec := range r.recs {
		if err := a.Apply([]journal.Record{rec}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := live.pz(); !slices.Equal(got, want) {
		t.Errorf("learned\n%v\nwant\n%v", got, want)
	}
	ev, err := st.PersonalizerEvent("e2")
	if err != nil || !ev.Activated || ev.Rewards != 1 || ev.LSN != 4 {
		t.Errorf("e2: %+v %v", ev, err)
	}
	if ev, err := st.PersonalizerEvent("e1"); err != nil || ev.LSN != 1 || ev.Rank.Time != t0 {
		t.Errorf("e1 (the first record stands): %+v %v", ev, err)
	}
	if _, err := st.PersonalizerEvent("nope"); err == nil {
		t.Error("an event never ranked is found")
	}

	// a learner that lacks everything, on the store that has it all
	var replay learned
	b := e.applierOf(t, st, ApplierConfig{Personalizer: &replay})
	if err := b.Apply(r.recs, nil); err != nil {
		t.Fatal(err)
	}
	if got := replay.pz(); !slices.Equal(got, want) {
		t.Errorf("replayed\n%v\nwant\n%v", got, want)
	}

	// a rebuild, the whole journal in one batch
	st2 := openStore(t, t.TempDir())
	var rebuilt learned
	if err := e.applierOf(t, st2, ApplierConfig{Personalizer: &rebuilt}).Apply(r.recs, nil); err != nil {
		t.Fatal(err)
	}
	if got := rebuilt.pz(); !slices.Equal(got, want) {
		t.Errorf("rebuilt\n%v\nwant\n%v", got, want)
	}
	if d := diffKeys(keyspace(t, st), keyspace(t, st2)); d != "" {
		t.Errorf("the rebuilt state differs: %s", d)
	}

	// the sweep forgets events ranked before the retention
	if err := st.Sweep(t0.Add(48*time.Hour), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	for k := range keyspace(t, st) {
		if len(k) > 2 && k[:2] == "z/" {
			t.Errorf("%s survived the sweep", k)
		}
	}
}
