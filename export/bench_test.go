package export_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"nextbest/export"
	"nextbest/journal"
)

// benchDecisions is the size of the benchmark's journal: the target is an
// export of 1M decisions in under 30 s (internal/benchtab).
const benchDecisions = 1_000_000

var benchJournal struct {
	once    sync.Once
	dir     string
	records int
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchJournal.dir != "" {
		os.RemoveAll(benchJournal.dir)
	}
	os.Exit(code)
}

// writeBenchJournal writes benchDecisions two-slot decisions, with the
// retail sample's shape of logged inputs, and a click for one in five,
// with the real journal writer (no fsync), once per process.
func writeBenchJournal(b *testing.B) (string, int) {
	benchJournal.once.Do(func() {
		start := time.Now()
		dir, err := os.MkdirTemp("", "nextbest-export-bench-")
		if err != nil {
			benchJournal.err = err
			return
		}
		benchJournal.dir = dir
		j, err := journal.Open(journal.Config{Dir: dir, NoSync: true})
		if err != nil {
			benchJournal.err = err
			return
		}
		ctx := context.Background()
		actions := []string{"free-shipping", "cart-reminder-10", "new-arrivals", "style-guide", "loyalty-points", "winback-20"}
		pages := []string{"home", "product", "cart"}
		var buf []byte
		n := 0
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		for i := range benchDecisions {
			id := "d-" + strconv.Itoa(i)
			at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
			a0, a1 := actions[i%len(actions)], actions[(i+1)%len(actions)]
			d := journal.Decision{DecisionID: id, CustomerID: "c-" + strconv.Itoa(i%50000), Channel: "web", Time: at,
				Policy: "linucb@v3", FeatureSpec: "f00dfeed", Explorer: "epsilon_greedy(0.1)", Eligible: actions,
				Context: map[string]any{"page": pages[i%3], "cart_value": float64(i % 200), "device": "mobile"},
				Profile: map[string]any{"stage": "cart", "counters.visits_7d": float64(i % 9), "attributes.tier": "gold"},
				Actions: []journal.LoggedAction{{ActionID: a0, Slot: 0, Score: 0.5, Estimate: 0.1, Propensity: 0.85},
					{ActionID: a1, Slot: 1, Score: 0.4, Estimate: 0.08, Propensity: 0.12}}}
			if buf, err = journal.AppendDecision(buf[:0], &d); err == nil {
				_, err = j.Append(ctx, journal.TypeDecision, at, buf)
			}
			if err != nil {
				benchJournal.err = err
				return
			}
			n++
			if i%5 == 0 {
				_, payload, err := journal.Encode(journal.Outcome{DecisionID: id, ActionID: a0, CustomerID: d.CustomerID,
					Type: "click", Reward: 1, Time: at.Add(time.Minute), DecisionTime: at})
				if err == nil {
					_, err = j.Append(ctx, journal.TypeOutcome, at.Add(time.Minute), payload)
				}
				if err != nil {
					benchJournal.err = err
					return
				}
				n++
			}
		}
		benchJournal.records, benchJournal.err = n, j.Close()
		fmt.Fprintf(os.Stderr, "export benchmark: wrote %d records in %v\n", n, time.Since(start).Round(time.Millisecond))
	})
	if benchJournal.err != nil {
		b.Fatal(benchJournal.err)
	}
	return benchJournal.dir, benchJournal.records
}

// countingWriter counts the bytes written and drops them.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkExport exports a journal of 1M decisions (and 200k outcomes),
// joined, in each format: decisions/s and records/s of the whole export,
// the journal read and the join included.
func BenchmarkExport(b *testing.B) {
	for _, f := range []export.Format{export.Parquet, export.CSV, export.DSJSON, export.CBADF} {
		b.Run(string(f), func(b *testing.B) {
			dir, records := writeBenchJournal(b)
			b.ResetTimer()
			var bytes int64
			for range b.N {
				var w countingWriter
				st, err := export.Journal(context.Background(), dir, &w, export.Options{Format: f})
				if err != nil {
					b.Fatal(err)
				}
				if st.Decisions != benchDecisions {
					b.Fatalf("%d decisions exported, want %d", st.Decisions, benchDecisions)
				}
				bytes += w.n
			}
			s := b.Elapsed().Seconds()
			b.ReportMetric(float64(benchDecisions*b.N)/s, "decisions/s")
			b.ReportMetric(float64(records*b.N)/s, "records/s")
			b.ReportMetric(float64(bytes)/float64(b.N)/float64(benchDecisions), "bytes/decision")
		})
	}
}
