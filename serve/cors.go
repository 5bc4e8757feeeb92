package serve

import (
	"fmt"
	"net/url"

	"github.com/valyala/fasthttp"
)

// corsOrigins validates Config.CORSOrigins: each an origin as browsers
// send it (scheme://host[:port], nothing after), never "*" (a key-bearing
// API open to every page is what CORS exists to prevent).
func corsOrigins(origins []string) (map[string]bool, error) {
	if len(origins) == 0 {
		return nil, nil
	}
	set := make(map[string]bool, len(origins))
	for i, o := range origins {
		u, err := url.Parse(o)
		if err != nil || o == "*" || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("cors_origins[%d]: %q is not an origin (scheme://host[:port], e.g. https://shop.example.com; \"*\" is refused)", i, o)
		}
		set[o] = true
	}
	return set, nil
}

// cors answers CORS for a request from a configured origin: the
// response may be read by that page (Access-Control-Allow-Origin), and a
// preflight (OPTIONS with Access-Control-Request-Method) is answered 204
// here, reporting true. Requests from other origins get no CORS headers:
// the browser keeps their answers from the page, and refuses to send
// their JSON writes. Without configured origins CORS is off.
func (s *Service) cors(ctx *fasthttp.RequestCtx) (answered bool) {
	origin := ctx.Request.Header.Peek("Origin")
	if len(origin) == 0 || !s.corsAllowed[string(origin)] {
		return false
	}
	h := &ctx.Response.Header
	h.SetBytesV("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	if !ctx.IsOptions() || len(ctx.Request.Header.Peek("Access-Control-Request-Method")) == 0 {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Ocp-Apim-Subscription-Key")
	h.Set("Access-Control-Max-Age", "600")
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return true
}
