package serve

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"nextbest/examples/retail"
)

// TestPanicBecomesJSON500 proves the recover in the handler: fasthttp does
// not recover panics itself, so a bug in a handler would otherwise take
// the process down.
func TestPanicBecomesJSON500(t *testing.T) {
	s, err := Open(Config{DataDir: t.TempDir(), Catalog: retail.Catalog, FeatureSpec: retail.FeatureSpec,
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.engine = nil // a programming error: the decide handler dereferences it
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetRequestURI("/v1/decide")
	ctx.Request.SetBodyString(`{"customer_id":"c-1","channel":"web"}`)
	s.Handler()(&ctx)
	if ctx.Response.StatusCode() != 500 {
		t.Fatalf("status %d, want 500", ctx.Response.StatusCode())
	}
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(ctx.Response.Body(), &body); err != nil || body.Error.Code != "internal" {
		t.Fatalf("body %q (%v)", ctx.Response.Body(), err)
	}
	// the service still answers
	var ok fasthttp.RequestCtx
	ok.Request.SetRequestURI("/healthz")
	s.Handler()(&ok)
	if ok.Response.StatusCode() != 200 {
		t.Fatalf("healthz after a panic: %d", ok.Response.StatusCode())
	}
}
