package journal_test

import (
	"context"
	"testing"
	"time"

	"nextbest/journal"
)

// benchDecision returns a realistic decision payload (about 400 bytes).
func benchDecision(tb testing.TB) []byte {
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	_, p, err := journal.Encode(journal.Decision{
		DecisionID: "01JD3X9ZQ4K8M2N7P5R6S1T0VW", RequestID: "req-7f3a9c", CustomerID: "c-00012345",
		Channel: "web", Time: ts,
		Context: map[string]any{"page": "cart", "cart_value": 120.5, "device": "mobile"},
		Profile: map[string]any{"visits_30d": 4.2, "stage": "consideration"},
		Policy:  "linucb@v12", FeatureSpec: "9f2c41d7", Explorer: "epsilon_greedy(0.1)",
		Experiment: &journal.ExperimentArm{Name: "q4", Arm: "challenger"},
		Eligible:   []string{"offer-a", "offer-b", "offer-c", "offer-d"},
		Actions: []journal.LoggedAction{
			{ActionID: "offer-a", Slot: 0, Score: 0.1234, Estimate: 0.0612, Propensity: 0.8125},
			{ActionID: "offer-c", Slot: 1, Score: 0.0871, Estimate: 0.0433, Propensity: 0.5},
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkAppend measures group-commit throughput: many goroutines append
// concurrently. SetParallelism(64) runs 64×GOMAXPROCS appenders: a server
// has that many requests in flight, and with fewer the batches stay too
// small to amortise each fsync (fsync-par1, GOMAXPROCS appenders, shows it).
func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		name   string
		noSync bool
		par    int
	}{{"fsync", false, 64}, {"nosync", true, 64}, {"fsync-par1", false, 1}} {
		b.Run(bc.name, func(b *testing.B) {
			p := benchDecision(b)
			j, err := journal.Open(journal.Config{Dir: b.TempDir(), NoSync: bc.noSync})
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			benchParallel(b, j, p, bc.par, func() *journal.NoLive { return nil })
		})
	}
}

// benchParallel appends p to j b.N times from par×GOMAXPROCS goroutines,
// each passing the live value live() gives it (nil: a plain Append), and
// reports appends/s.
func benchParallel[L any](b *testing.B, j *journal.Journal[L], p []byte, par int, live func() *L) {
	ctx := context.Background()
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	b.SetParallelism(par)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		l := live()
		for pb.Next() {
			if _, err := j.AppendLive(ctx, journal.TypeDecision, time.Time{}, p, l); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkAppendSerial is one appender at a time: the latency of one
// write+fsync round trip, the floor group commit improves on.
func BenchmarkAppendSerial(b *testing.B) {
	p := benchDecision(b)
	j, err := journal.Open(journal.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := j.Append(context.Background(), journal.TypeDecision, time.Time{}, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkReplay measures reading back with checksum verification.
func BenchmarkReplay(b *testing.B) {
	p := benchDecision(b)
	j, err := journal.Open(journal.Config{Dir: b.TempDir(), NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	const n = 20000
	for range n {
		if _, err := j.Append(context.Background(), journal.TypeDecision, time.Time{}, p); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(n * (len(p) + journal.FrameHeaderSize)))
	b.ReportAllocs()
	for b.Loop() {
		count := 0
		if err := j.Replay(0, func(journal.Record) error { count++; return nil }); err != nil || count != n {
			b.Fatal(count, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAppendSubscribed is BenchmarkAppend's fsync and nosync cases
// with a subscriber that reads every record's live value: the two-stage
// pipeline a server runs (its state applier is the subscriber).
func BenchmarkAppendSubscribed(b *testing.B) {
	type live struct{ n int }
	for _, bc := range []struct {
		name   string
		noSync bool
	}{{"fsync", false}, {"nosync", true}} {
		b.Run(bc.name, func(b *testing.B) {
			p := benchDecision(b)
			sum := 0
			sub := journal.SubscriberFunc[live](func(recs []journal.Record, lv []*live) error {
				for i := range recs {
					if lv[i] != nil {
						sum += lv[i].n
					}
				}
				return nil
			})
			j, err := journal.OpenWith(journal.Config{Dir: b.TempDir(), NoSync: bc.noSync}, sub)
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			benchParallel(b, j, p, 64, func() *live { return &live{n: 1} })
		})
	}
}
