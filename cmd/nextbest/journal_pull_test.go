package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nextbest/cluster/stream"
	"nextbest/internal/engines"
	"nextbest/journal"
)

// TestJournalPull copies a stream into a local journal twice (the second
// pull continues) and reads it back: same LSNs, types, times, payloads.
func TestJournalPull(t *testing.T) {
	t.Parallel()
	nats := engines.NATS(t)
	st, err := stream.Open(context.Background(), stream.Config{URL: nats.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var want []journal.Record
	publish := func(n int) {
		for i := 0; i < n; i++ {
			k := len(want)
			p := []byte(fmt.Sprintf(`{"v":1,"customer_id":"c-%d","type":"page_view","ts":"2026-11-01T12:00:00Z"}`, k))
			seq, _, err := st.Publish(context.Background(), fmt.Sprint("e", k), journal.TypeEvent, t0.Add(time.Duration(k)*time.Second), p)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, journal.Record{LSN: seq, Type: journal.TypeEvent, Time: t0.Add(time.Duration(k) * time.Second), Payload: p})
		}
	}
	cfgPath := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfgPath, []byte("storage: cluster\ncluster:\n  redis: 127.0.0.1:1\n  nats: "+nats.URL+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "journal")
	pull := func() string {
		var out bytes.Buffer
		if err := journalCmd([]string{"pull", "--config", cfgPath, "--dir", dir}, &out); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	publish(30)
	if out := pull(); !strings.Contains(out, "pulled 30 records (LSN 1 to 30)") {
		t.Errorf("first pull: %s", out)
	}
	publish(12)
	if out := pull(); !strings.Contains(out, "pulled 12 records (LSN 31 to 42)") {
		t.Errorf("second pull: %s", out)
	}
	r, err := journal.NewReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; ; i++ {
		rec, err := r.Next()
		if err != nil {
			if i != len(want) {
				t.Fatalf("read %d records, want %d: %v", i, len(want), err)
			}
			break
		}
		w := want[i]
		if rec.LSN != w.LSN || rec.Type != w.Type || !rec.Time.Equal(w.Time) || !bytes.Equal(rec.Payload, w.Payload) {
			t.Fatalf("record %d: %+v, want %+v", i, rec, w)
		}
	}
}
