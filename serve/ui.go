package serve

import (
	"embed"
	"io/fs"
	"path"
	"strings"

	"github.com/valyala/fasthttp"
)

// The dashboard under /ui/ is a static page (HTML, CSS, plain JS) embedded
// in the binary. Its script reads the public JSON endpoints (/v1/stats,
// /v1/models, /v1/experiments, /v1/actions) every few seconds and draws
// its charts as inline SVG: it loads nothing from outside the service.

//go:embed ui/*
var uiFiles embed.FS

const routeUI = "ui"

// uiAsset is one embedded file, ready to send.
type uiAsset struct {
	body        []byte
	contentType string
}

// uiAssets maps the path under /ui/ ("index.html", "app.js") to its file.
var uiAssets = loadUIAssets()

func loadUIAssets() map[string]uiAsset {
	out := map[string]uiAsset{}
	entries, err := fs.ReadDir(uiFiles, "ui")
	if err != nil {
		panic("BUG: embedded ui directory: " + err.Error())
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := uiFiles.ReadFile("ui/" + e.Name())
		if err != nil {
			panic("BUG: embedded ui file: " + err.Error())
		}
		out[e.Name()] = uiAsset{body: b, contentType: uiContentType(e.Name())}
	}
	return out
}

func uiContentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	default:
		return "application/octet-stream"
	}
}

// uiCSP keeps the page self-contained: scripts, styles and data come from
// the service itself, nothing inline runs and nothing outside is reached.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// handleUI serves the dashboard's files for GET and HEAD of /ui/...;
// "/ui" redirects to "/ui/", which is index.html.
func (s *Service) handleUI(ctx *fasthttp.RequestCtx, p string) {
	if p == "/ui" {
		ctx.Response.Header.Set("Location", "/ui/")
		ctx.SetStatusCode(fasthttp.StatusMovedPermanently)
		return
	}
	name, ok := strings.CutPrefix(p, "/ui/")
	if !ok {
		writeError(ctx, 404, "not_found", "", "no such endpoint: "+p)
		return
	}
	if name == "" {
		name = "index.html"
	}
	a, ok := uiAssets[name]
	if !ok {
		writeError(ctx, 404, "not_found", "", "no such dashboard file: "+name)
		return
	}
	if m := string(ctx.Method()); m != "GET" && m != "HEAD" {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed", "", "use GET")
		return
	}
	h := &ctx.Response.Header
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("Referrer-Policy", "no-referrer")
	ctx.SetStatusCode(200)
	ctx.SetContentType(a.contentType)
	ctx.SetBody(a.body) // fasthttp copies; the embedded bytes are never written
}
