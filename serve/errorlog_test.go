package serve

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/valyala/fasthttp"

	"nextbest/examples/retail"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestEvery500IsLoggedAtError: a 500 (here writeErr's default branch,
// for a decision index entry that does not decode) is logged at ERROR
// with its endpoint: every request's answer passes the request metrics,
// whatever wrote it.
func TestEvery500IsLoggedAtError(t *testing.T) {
	var logs lockedBuffer
	s, err := Open(Config{DataDir: t.TempDir(), Catalog: retail.Catalog, FeatureSpec: retail.FeatureSpec, JournalNoSync: true,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.db.Set([]byte(prefixDecision+"0123abcd"), []byte("not a decision"), pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetRequestURI("/v1/outcomes")
	ctx.Request.SetBodyString(`{"decision_id":"0123abcd","action_id":"free-shipping","reward":1}`)
	s.Handler()(&ctx)
	if ctx.Response.StatusCode() != 500 {
		t.Fatalf("status %d, want 500: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "endpoint=outcomes") {
		t.Errorf("the 500 was not logged at ERROR:\n%s", l)
	}
}
