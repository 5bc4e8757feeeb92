package serve

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"nextbest/examples/retail"
	"nextbest/journal"
	"nextbest/state"
)

// LogBuffer is a log sink the service's goroutines may share. It is
// exported (by a test file) for the package's external tests too.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *LogBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *LogBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestEvery500IsLoggedAtError: a 500 (here writeErr's default branch,
// for a decision index entry that does not decode) is logged at ERROR
// with its endpoint: every request's answer passes the request metrics,
// whatever wrote it. The index is a stand-in that answers what the
// embedded one answers for such an entry (state's TestCorruptDecision).
func TestEvery500IsLoggedAtError(t *testing.T) {
	var logs LogBuffer
	s, err := Open(Config{DataDir: t.TempDir(), Catalog: retail.Catalog, FeatureSpec: retail.FeatureSpec, JournalNoSync: true,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.index = corruptIndex{s.index}
	a := serveOne(s, "POST", "/v1/outcomes", "application/json", `{"decision_id":"0123abcd","action_id":"free-shipping","reward":1}`)
	if a.status != 500 {
		t.Fatalf("status %d, want 500: %s", a.status, a.body)
	}
	if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "endpoint=outcomes") {
		t.Errorf("the 500 was not logged at ERROR:\n%s", l)
	}
}

// corruptIndex is a DecisionIndex whose every decision entry is corrupt.
type corruptIndex struct{ DecisionIndex }

func (corruptIndex) Decision(id string) (*journal.Decision, error) {
	return nil, fmt.Errorf("%w: decision %q: %w", state.ErrCorrupt, id, journal.ErrBadPayload)
}
