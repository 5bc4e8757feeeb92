package state

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/internal/journaltest"
	"nextbest/journal"
	"nextbest/logs"
)

// t0 is the time of the test records.
var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// env is a test's fixed inputs: the retail sample's spec, catalog and the
// default outcome types.
type env struct {
	spec     *features.Spec
	cat      *decide.Catalog
	outcomes *logs.Outcomes
}

func newEnv(t testing.TB) env {
	t.Helper()
	spec, cat := journaltest.Retail(t)
	outcomes, err := logs.NewOutcomes(append(logs.DefaultOutcomeTypes(),
		logs.OutcomeType{Name: "view_time", Aggregate: logs.AggSum}))
	if err != nil {
		t.Fatal(err)
	}
	return env{spec, cat, outcomes}
}

// openStore opens the store in dir and closes it at the end of the test
// unless the test did.
func openStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// applierOf returns st's applier configured by cfg, with e's spec,
// catalog and outcome types.
func (e env) applierOf(t testing.TB, st *Store, cfg ApplierConfig) *Applier {
	t.Helper()
	cfg.Spec, cfg.Catalog, cfg.Outcomes = e.spec, e.cat, e.outcomes
	a, err := NewApplier(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// decisionID makes a decision id of time at, as serve makes them: 48 bits
// of Unix milliseconds, then (here) n.
func decisionID(at time.Time, n uint16) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(at.UnixMilli())<<16)
	binary.BigEndian.PutUint16(b[14:], n)
	return hex.EncodeToString(b[:])
}

// records builds journal records with consecutive LSNs from first.
type records struct {
	t    testing.TB
	next uint64
	recs []journal.Record
}

func (r *records) add(v any) journal.Record {
	r.t.Helper()
	typ, p, err := journal.Encode(v)
	if err != nil {
		r.t.Fatal(err)
	}
	if r.next == 0 {
		r.next = 1
	}
	rec := journal.Record{LSN: r.next, Type: typ, Time: t0, Payload: p}
	r.next++
	r.recs = append(r.recs, rec)
	return rec
}

func decision(id, customer, requestID string, at time.Time, actions ...string) journal.Decision {
	d := journal.Decision{V: journal.SchemaVersion, DecisionID: id, RequestID: requestID, CustomerID: customer,
		Channel: "web", Time: at, Policy: "test", Explorer: "test"}
	for i, a := range actions {
		d.Eligible = append(d.Eligible, a)
		d.Actions = append(d.Actions, journal.LoggedAction{ActionID: a, Slot: i, Propensity: 1})
	}
	return d
}

func outcome(d journal.Decision, action, typ, outcomeID string, reward float64, at time.Time) journal.Outcome {
	return journal.Outcome{V: journal.SchemaVersion, DecisionID: d.DecisionID, ActionID: action, CustomerID: d.CustomerID,
		Type: typ, Reward: reward, Time: at, DecisionTime: d.Time, OutcomeID: outcomeID}
}

func event(customer, typ string, at time.Time, props map[string]any) journal.Event {
	return journal.Event{V: journal.SchemaVersion, CustomerID: customer, Type: typ, Channel: "web", Time: at, Properties: props}
}

// keyspace returns every key and value of the store; profiles as JSON
// (their binary encoding follows map order, which varies).
func keyspace(t testing.TB, s *Store) map[string]string {
	t.Helper()
	it, err := s.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	out := map[string]string{}
	for it.First(); it.Valid(); it.Next() {
		k := string(it.Key())
		if id, ok := strings.CutPrefix(k, prefixProfile); ok {
			p, err := s.profiles.Get(id)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			out[k] = string(b)
			continue
		}
		out[k] = string(it.Value())
	}
	return out
}

// diffKeys describes how two keyspaces differ, "" if they do not.
func diffKeys(a, b map[string]string) string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			out = append(out, fmt.Sprintf("only in the first: %q", k))
		} else if v != w {
			out = append(out, fmt.Sprintf("%q differs", k))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("only in the second: %q", k))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// learned records the learning work an applier hands over.
type learned struct {
	mu    sync.Mutex
	items []LearnItem
	upTo  uint64
}

func (l *learned) Learn(items []LearnItem, upTo uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, items...)
	l.upTo = upTo
}

// rewards returns the reward items learned, as "lsn:action:delta".
func (l *learned) rewards() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, it := range l.items {
		if it.Kind == LearnReward {
			out = append(out, fmt.Sprintf("%d:%s:%g", it.LSN, it.Outcome.ActionID, it.Delta))
		}
	}
	return out
}

// skipped records the records an applier skips.
type skipped struct {
	mu    sync.Mutex
	kinds map[uint64]string
}

func (s *skipped) Skip(lsn uint64, _ journal.Type, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kinds == nil {
		s.kinds = map[uint64]string{}
	}
	s.kinds[lsn] = KindOf(err)
}

func dirs(t testing.TB) (journalDir, stateDir string) {
	d := t.TempDir()
	return filepath.Join(d, "journal"), filepath.Join(d, "state")
}
