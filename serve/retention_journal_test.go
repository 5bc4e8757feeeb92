package serve_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestJournalRetention: old journal segments are deleted once the state
// store and the model snapshot are past them, never before; the service
// restarts on the shortened journal with its state and LSNs intact, and
// the deletion is in the audit trail.
func TestJournalRetention(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := retailConfig(dir)
	cfg.JournalSegmentBytes = 4 << 10
	cfg.JournalRetention.MaxAge = 9 * 24 * time.Hour
	cfg.SnapshotEvery = time.Hour // snapshots only at Close, for the test
	in := start(t, cfg)
	for i := range 300 {
		in.mustCall("POST", "/v1/events", map[string]any{"customer_id": fmt.Sprintf("c-%04d", 1+i%50), "type": "page_view"}, 202)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "journal", "*.seg"))
	if len(segs) < 4 {
		t.Fatalf("%d segments", len(segs))
	}
	old := time.Now().Add(-10 * 24 * time.Hour)
	for _, p := range segs {
		os.Chtimes(p, old, old)
	}
	// the model snapshot is still the one the service started from (none):
	// nothing may go
	if res, err := in.svc.RetainJournal(); err != nil || res.Segments != 0 {
		t.Fatalf("before a snapshot: %+v %v", res, err)
	}
	stats := in.mustCall("GET", "/v1/stats", nil, 200)
	in.stop() // writes the snapshot

	in = start(t, cfg)
	segs, _ = filepath.Glob(filepath.Join(dir, "journal", "*.seg"))
	for _, p := range segs {
		os.Chtimes(p, old, old)
	}
	res, err := in.svc.RetainJournal()
	if err != nil || res.Segments != len(segs)-1 {
		t.Fatalf("after a snapshot: %+v %v (%d segments)", res, err, len(segs))
	}
	if got := in.mustCall("GET", "/v1/stats", nil, 200); fmt.Sprint(got["events"]) != fmt.Sprint(stats["events"]) {
		t.Errorf("events %v, were %v", got["events"], stats["events"])
	}
	audit := in.mustCall("GET", "/v1/audit", nil, 200)["audit"].([]any)
	if len(audit) == 0 || audit[len(audit)-1].(map[string]any)["kind"] != "journal_retention" {
		t.Errorf("audit %v", audit)
	}
	// a restart on the shortened journal: the state and the LSNs go on
	in.stop()
	in = start(t, cfg)
	ack := in.mustCall("POST", "/v1/events", map[string]any{"customer_id": "c-0001", "type": "page_view"}, 202)
	if lsn := ack["lsn"].(float64); lsn <= float64(res.FirstLSN) {
		t.Errorf("the next LSN %v, after a journal that starts at %d", lsn, res.FirstLSN)
	}
	if got := in.mustCall("GET", "/v1/stats", nil, 200); got["events"].(float64) != stats["events"].(float64)+1 {
		t.Errorf("after the restart: events %v, want %v + 1", got["events"], stats["events"])
	}
	if p := in.mustCall("GET", "/v1/profiles/c-0001", nil, 200); p["customer_id"] != "c-0001" {
		t.Errorf("profile %v", p)
	}
}
