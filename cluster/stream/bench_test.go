package stream_test

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nextbest/cluster/stream"
	"nextbest/internal/engines"
	"nextbest/journal"
)

const (
	// benchPublishers publish concurrently, each waiting for its ack
	// before its next record, as the service's handlers do.
	benchPublishers = 64
	// benchPublishFor is how long one b.N publishes.
	benchPublishFor = 2 * time.Second
)

// BenchmarkJetStreamPublish measures the journal's append rate on
// JetStream: benchPublishers goroutines publish ~600-byte decision
// records (each with its own Nats-Msg-Id, as the service's are) through
// one Stream and wait for each ack, against a real nats-server with
// sync_interval always: every ack follows an fsync of the message.
// Each b.N is benchPublishFor of publishing; ns/op, B/op and allocs/op
// are per record (client side only: the server is its own process).
func BenchmarkJetStreamPublish(b *testing.B) {
	srv := engines.NATS(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := stream.Open(ctx, stream.Config{URL: srv.URL, Name: "bench", Logger: testLogger(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := decisionPayload(b)
	// one publish first: the connection and the stream are warm
	if _, _, err := s.Publish(ctx, "warm", journal.TypeDecision, time.Now(), payload); err != nil {
		b.Fatal(err)
	}

	var (
		published atomic.Int64
		wg        sync.WaitGroup
		ms0, ms1  runtime.MemStats
		failed    atomic.Int64
	)
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	start := time.Now()
	deadline := start.Add(time.Duration(b.N) * benchPublishFor)
	for p := range benchPublishers {
		wg.Go(func() {
			prefix := "b" + strconv.Itoa(p) + "-"
			for i := 0; time.Now().Before(deadline); i++ {
				if _, _, err := s.Publish(ctx, prefix+strconv.Itoa(i), journal.TypeDecision, time.Now(), payload); err != nil {
					if failed.Add(1) <= 3 {
						b.Error(err)
					}
					return
				}
				published.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	n := float64(published.Load())
	if n == 0 {
		b.Fatal("nothing published")
	}
	b.ReportMetric(n/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(len(payload)), "payload-bytes")
	// per record, not per b.N
	b.ReportMetric(float64(elapsed.Nanoseconds())/n, "ns/op")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/n, "B/op")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/n, "allocs/op")
}

// decisionPayload is a decision record's payload of about 600 bytes, as
// the service journals them for the bench catalog: the request context,
// the profile inputs, the eligible actions and three returned ones.
func decisionPayload(b *testing.B) []byte {
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	d := journal.Decision{
		DecisionID: "0123456789abcdef0123456789abcdef", CustomerID: "b-00042", Channel: "web", Time: ts,
		Context: map[string]any{"page": "cart", "cart_value": 42.5, "device": "mobile"},
		Profile: map[string]any{"stage": "consideration", "tier": "silver", "age": 37, "visits_7d": 2.71},
		Policy:  "linucb@v3", FeatureSpec: "5f2c9a0e7b1d4c38", Explorer: "epsilon_greedy(0.1)",
		Eligible: []string{"act-00", "act-03", "act-06", "act-10", "act-13"},
		Actions: []journal.LoggedAction{
			{ActionID: "act-03", Slot: 0, Score: 4.187, Estimate: 0.419, Propensity: 0.92},
			{ActionID: "act-10", Slot: 1, Score: 3.902, Estimate: 0.39, Propensity: 0.02},
			{ActionID: "act-06", Slot: 2, Score: 3.551, Estimate: 0.355, Propensity: 0.02},
		},
	}
	_, payload, err := journal.Encode(d)
	if err != nil {
		b.Fatal(err)
	}
	return payload
}
