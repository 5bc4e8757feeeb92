package state

import (
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// TestSweep: a decision past the retention loses its index entry, its
// request-id key and its outcome keys; a recent one keeps them.
func TestSweep(t *testing.T) {
	e := newEnv(t)
	st := openStore(t, t.TempDir())
	a := e.applierOf(t, st, ApplierConfig{})
	r := &records{t: t}
	now := t0.Add(10 * 24 * time.Hour)
	old := decision(decisionID(t0, 1), "c-1", "req-old", t0, "free-shipping")
	recent := decision(decisionID(now.Add(-time.Hour), 2), "c-1", "req-new", now.Add(-time.Hour), "free-shipping")
	r.add(old)
	r.add(recent)
	r.add(outcome(old, "free-shipping", "conversion", "o-old", 1, t0.Add(time.Hour)))
	r.add(outcome(recent, "free-shipping", "conversion", "o-new", 1, now))
	if err := a.Apply(r.recs, nil); err != nil {
		t.Fatal(err)
	}
	conversion, _ := e.outcomes.Lookup("conversion")
	if err := st.Sweep(now, 8*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Decision(old.DecisionID); !errors.Is(err, ErrNotFound) {
		t.Errorf("old decision after the sweep: %v, want ErrNotFound", err)
	}
	if _, _, err := st.db.Get([]byte(prefixRequest + "c-1/req-old")); err != pebble.ErrNotFound {
		t.Errorf("the old decision's request-id key is still there (%v)", err)
	}
	for _, k := range DedupeKeys(old.DecisionID, "free-shipping", "o-old", conversion) {
		if lsn, err := st.OutcomeFirstLSN(k); err != nil || lsn != 0 {
			t.Errorf("outcome key %s after the sweep: %d, %v", k, lsn, err)
		}
	}
	if d, err := st.DecisionForRequest("c-1", "req-new"); err != nil || d.DecisionID != recent.DecisionID {
		t.Errorf("recent decision by request after the sweep: %v, %v", d, err)
	}
	for _, k := range DedupeKeys(recent.DecisionID, "free-shipping", "o-new", conversion) {
		if lsn, err := st.OutcomeFirstLSN(k); err != nil || lsn != 4 {
			t.Errorf("recent outcome key %s after the sweep: %d, %v; want 4", k, lsn, err)
		}
	}
	// profiles are not the sweep's
	if p, err := st.Profiles().Get("c-1"); err != nil || p == nil {
		t.Errorf("profile after the sweep: %v, %v", p, err)
	}
}

// TestCorruptDecision: an index entry that does not decode is ErrCorrupt,
// not ErrNotFound (serve answers it 500, a missing one 404).
func TestCorruptDecision(t *testing.T) {
	st := openStore(t, t.TempDir())
	if err := st.db.Set([]byte(prefixDecision+"0123abcd"), []byte("not a decision"), pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Decision("0123abcd"); !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotFound) {
		t.Errorf("corrupt entry: %v, want ErrCorrupt", err)
	}
	if _, err := st.Decision("ffff"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing entry: %v, want ErrNotFound", err)
	}
}

// TestSeeded: the seed marker survives a restart.
func TestSeeded(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	if ok, err := st.Seeded(); ok || err != nil {
		t.Fatalf("new store Seeded = %v, %v", ok, err)
	}
	if err := st.MarkSeeded(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = openStore(t, dir)
	if ok, err := st.Seeded(); !ok || err != nil {
		t.Errorf("Seeded after restart = %v, %v", ok, err)
	}
}

// TestOpenLocked: a second Open of the directory is a *LockedError
// naming the lock file, and leaves the first store working.
func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	_, err := Open(Config{Dir: dir})
	var le *LockedError
	if !errors.As(err, &le) || le.Path == "" {
		t.Fatalf("second Open: %v, want a *LockedError", err)
	}
	if ok, err := st.Seeded(); ok || err != nil {
		t.Errorf("first store after the second Open: %v, %v", ok, err)
	}
}
