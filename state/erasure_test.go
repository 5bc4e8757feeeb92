package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nextbest/erasure"
	"nextbest/journal"
	"nextbest/logs"
)

// erasureScenario is two customers with attributes, decisions (one in an
// experiment, one with a request id), outcomes and events; then the
// erasure of the first.
func erasureScenario(t *testing.T, gone, kept string) *records {
	r := &records{t: t}
	for i, c := range []string{gone, kept} {
		region := map[string]string{gone: "Zyzzogeton-Quarter", kept: "Keepsake-Heights"}[c]
		r.add(event(c, "profile_update", t0, map[string]any{"region": region, "tier": "gold"}))
		r.add(event(c, "page_view", t0.Add(time.Minute), nil))
		d := decision(decisionID(t0.Add(2*time.Minute), uint16(10*i+1)), c, "req-"+c, t0.Add(2*time.Minute), "A1", "A2")
		d.Profile = map[string]any{"region": region}
		d.Context = map[string]any{"campaign": "cmp-" + c}
		d.Experiment = &journal.ExperimentArm{Name: "exp1", Arm: "treatment"}
		r.add(d)
		r.add(outcome(d, "A1", "click", "out-"+c, 1, t0.Add(3*time.Minute)))
		d2 := decision(decisionID(t0.Add(4*time.Minute), uint16(10*i+2)), c, "", t0.Add(4*time.Minute), "A2")
		r.add(d2)
		r.add(outcome(d2, "A2", "conversion", "", 1, t0.Add(5*time.Minute)))
	}
	r.add(journal.Erasure{V: 1, ID: "er-1", CustomerID: gone, Time: t0.Add(10 * time.Minute), By: "privacy-desk"})
	return r
}

// TestErasure: an erasure record takes the customer's profile, units and
// decisions out of the state at once (the other customer untouched);
// readers of the journal skip their records at once; after Redact and
// FinishErasure no file of the journal or the store holds their id or
// their attribute values, the audit trail names the erasure but not the
// customer, and a rebuild from the redacted journal agrees with the live
// state on everything but the aggregates.
func TestErasure(t *testing.T) {
	e := newEnv(t)
	const gone, kept = "erase-me-7f3a", "keep-me-2b9c"
	sc := erasureScenario(t, gone, kept)
	jdir, sdir := dirs(t)
	writeJournal(t, jdir, sc.recs)
	j := openJournal(t, jdir)
	st := openStore(t, sdir)
	a := e.applierOf(t, st, ApplierConfig{})
	if err := a.CatchUp(j); err != nil {
		t.Fatal(err)
	}
	if p, err := st.Profiles().Get(gone); err != nil || p != nil {
		t.Fatalf("profile of the erased customer: %+v %v", p, err)
	}
	if p, err := st.Profiles().Get(kept); err != nil || p == nil || p.Attributes["region"] != "Keepsake-Heights" {
		t.Fatalf("profile of the other customer: %+v %v", p, err)
	}
	var goneDecs []string
	for _, r := range sc.recs {
		if r.Type == journal.TypeDecision {
			var d journal.Decision
			journal.DecodeDecision(r.Payload, &d)
			_, err := st.Decision(d.DecisionID)
			if d.CustomerID == gone {
				goneDecs = append(goneDecs, d.DecisionID)
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("decision %s of the erased customer: %v, want not found", d.DecisionID, err)
				}
			} else if err != nil {
				t.Errorf("decision %s of the other customer: %v", d.DecisionID, err)
			}
		}
	}
	if _, err := st.DecisionForRequest(gone, "req-"+gone); !errors.Is(err, ErrNotFound) {
		t.Errorf("request of the erased customer: %v", err)
	}
	if v, _ := st.get(unitKeyOf("exp1", gone)); v != nil {
		t.Error("the erased customer's experiment unit is still there")
	}
	if v, _ := st.get(unitKeyOf("exp1", kept)); v == nil {
		t.Error("the other customer's experiment unit is gone")
	}
	// readers skip the erased records before the journal is redacted
	seen := 0
	if _, err := logs.EachRecord(context.Background(), jdir, func(rec *journal.Record) error {
		if bytes.Contains(rec.Payload, []byte(gone)) && rec.Type != journal.TypeErasure {
			t.Errorf("EachRecord gave LSN %d of the erased customer", rec.LSN)
		}
		seen++
		return nil
	}); err != nil || seen != 7 {
		t.Fatalf("EachRecord: %d records (want the other customer's 6 and the erasure), %v", seen, err)
	}

	pending, err := st.PendingErasures()
	if err != nil || len(pending) != 1 || pending[0].Customer != gone || pending[0].LSN != 13 {
		t.Fatalf("PendingErasures: %+v %v", pending, err)
	}
	set := erasure.NewSet(pending)
	res, err := j.Redact(set.MaxLSN(), set.Redact)
	if err != nil || res.Records != 7 { // 6 erased, the erasure redacted
		t.Fatalf("Redact: %+v %v", res, err)
	}
	if err := st.FinishErasure(set); err != nil {
		t.Fatal(err)
	}
	if p, _ := st.PendingErasures(); len(p) != 0 {
		t.Fatalf("still pending: %+v", p)
	}
	for _, id := range goneDecs {
		if v, _ := st.get(prefixDecision + id); v != nil {
			t.Errorf("decision %s still indexed", id)
		}
	}
	audit, err := st.Audit(0)
	if err != nil || len(audit) != 1 || audit[0].Kind != "customer_erased" || audit[0].By != "privacy-desk" || !strings.Contains(audit[0].Detail, "er-1") {
		t.Fatalf("audit: %+v %v", audit, err)
	}

	// nothing about them in any file; the other customer is still there
	for _, needle := range []string{gone, "Zyzzogeton", "cmp-" + gone, "out-" + gone} {
		if hits := grepDir(t, filepath.Dir(jdir), needle); len(hits) > 0 {
			t.Errorf("%q is still in %v", needle, hits)
		}
	}
	if hits := grepDir(t, jdir, kept); len(hits) == 0 {
		t.Error("the other customer's id is in no file of the journal: the search finds nothing")
	}

	// a rebuild from the redacted journal: the same state but the aggregates
	live := keyspace(t, st)
	st2 := openStore(t, filepath.Join(t.TempDir(), "rebuilt"))
	if err := e.applierOf(t, st2, ApplierConfig{}).CatchUp(j); err != nil {
		t.Fatal(err)
	}
	rebuilt := keyspace(t, st2)
	for _, ks := range []map[string]string{live, rebuilt} {
		for k := range ks {
			if strings.HasPrefix(k, prefixExperiment) || strings.HasPrefix(k, prefixVolume) {
				delete(ks, k)
			}
		}
	}
	if d := diffKeys(live, rebuilt); d != "" {
		t.Fatalf("rebuild after the erasure differs: %s", d)
	}
}

// TestErasureThenReturn: a customer erased and back in the same batch
// and later starts anew: a new profile without the old attributes, a new
// experiment unit; the records after the erasure are kept by Redact.
func TestErasureThenReturn(t *testing.T) {
	e := newEnv(t)
	const c = "back-again"
	sc := erasureScenario(t, c, "other")
	back := sc.add(event(c, "page_view", t0.Add(11*time.Minute), nil))
	d := decision(decisionID(t0.Add(12*time.Minute), 99), c, "req-"+c, t0.Add(12*time.Minute), "A1")
	d.Experiment = &journal.ExperimentArm{Name: "exp1", Arm: "control"}
	sc.add(d)
	jdir, sdir := dirs(t)
	writeJournal(t, jdir, sc.recs)
	j := openJournal(t, jdir)
	st := openStore(t, sdir)
	a := e.applierOf(t, st, ApplierConfig{})
	// one batch: the erasure and the return together
	if err := a.Apply(sc.recs, nil); err != nil {
		t.Fatal(err)
	}
	p, err := st.Profiles().Get(c)
	if err != nil || p == nil {
		t.Fatalf("profile after the return: %v %v", p, err)
	}
	if _, ok := p.Attributes["region"]; ok || p.Counters["visits_7d"].Value == 0 {
		t.Fatalf("profile after the return kept the old attributes or lost the new visit: %+v", p)
	}
	if got, err := st.DecisionForRequest(c, "req-"+c); err != nil || got.DecisionID != d.DecisionID {
		t.Fatalf("the new decision by its request: %+v %v", got, err)
	}
	u, _ := st.get(unitKeyOf("exp1", c))
	if u == nil {
		t.Fatal("no unit for the new decision")
	}
	pending, _ := st.PendingErasures()
	set := erasure.NewSet(pending)
	if _, err := j.Redact(set.MaxLSN(), set.Redact); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishErasure(set); err != nil {
		t.Fatal(err)
	}
	if got, err := st.DecisionForRequest(c, "req-"+c); err != nil || got.DecisionID != d.DecisionID {
		t.Fatalf("FinishErasure took the new decision's request: %+v %v", got, err)
	}
	n := 0
	logs.EachRecord(context.Background(), jdir, func(rec *journal.Record) error {
		if rec.LSN >= back.LSN {
			n++
		}
		return nil
	})
	if n != 2 {
		t.Fatalf("%d records after the erasure are left, want 2", n)
	}
}

// grepDir returns the files under dir that contain needle.
func grepDir(t *testing.T, dir, needle string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted meanwhile (Pebble rotates its files)
		}
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(needle)) {
			hits = append(hits, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// TestErasureSurvivesCrashAfterRedact: the store runs without a WAL, so a
// crash loses what it has not flushed; once the journal is redacted, a
// replay cannot redo an erasure (the redacted record no longer names the
// customer). Sync before Redact, as the eraser does, keeps it: after a
// crash between Redact and FinishErasure (the store closed without a
// flush) and a replay, the customer is still gone and still pending.
// Without the Sync the profile comes back — the fault this guards.
func TestErasureSurvivesCrashAfterRedact(t *testing.T) {
	for _, sync := range []bool{true, false} {
		t.Run(fmt.Sprint("sync=", sync), func(t *testing.T) {
			e := newEnv(t)
			const gone = "crash-gone"
			sc := erasureScenario(t, gone, "crash-kept")
			jdir, sdir := dirs(t)
			// everything but the erasure applied and flushed before
			writeJournal(t, jdir, sc.recs)
			j := openJournal(t, jdir)
			st, err := Open(Config{Dir: sdir})
			if err != nil {
				t.Fatal(err)
			}
			a := e.applierOf(t, st, ApplierConfig{})
			if err := a.Apply(sc.recs[:len(sc.recs)-1], nil); err != nil {
				t.Fatal(err)
			}
			if err := st.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := a.Apply(sc.recs[len(sc.recs)-1:], nil); err != nil { // the erasure
				t.Fatal(err)
			}
			if sync {
				if err := st.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			pending, _ := st.PendingErasures()
			set := erasure.NewSet(pending)
			if _, err := j.Redact(set.MaxLSN(), set.Redact); err != nil {
				t.Fatal(err)
			}
			if err := st.Close(); err != nil { // the crash: no flush
				t.Fatal(err)
			}
			st2 := openStore(t, sdir)
			if err := e.applierOf(t, st2, ApplierConfig{}).CatchUp(j); err != nil {
				t.Fatal(err)
			}
			p, _ := st2.Profiles().Get(gone)
			still, _ := st2.PendingErasures()
			switch {
			case sync && (p != nil || len(still) != 1):
				t.Fatalf("with Sync: profile %v, pending %v", p, still)
			case !sync && p == nil:
				t.Fatal("without Sync the profile should come back (the fault Sync guards); it did not: the test no longer shows it")
			}
		})
	}
}
