package serve_test

import (
	"net/http"
	"strings"
	"testing"

	"nextbest/serve"
)

// TestCORS: without configured origins no answer carries CORS headers (a
// page of another site can neither read answers nor have a preflight
// granted); with them, a configured origin's preflight is granted with the
// key headers and its answers are readable, while any other origin gets
// nothing; a bad origin in the configuration is refused naming it.
func TestCORS(t *testing.T) {
	t.Parallel()
	preflight := func(in *instance, origin string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", in.base+"/v1/decide", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	get := func(in *instance, origin string) *http.Response {
		req, _ := http.NewRequest("GET", in.base+"/v1/actions", nil)
		req.Header.Set("Origin", origin)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	off := start(t, retailConfig(t.TempDir()))
	if r := preflight(off, "https://shop.example.com"); r.Header.Get("Access-Control-Allow-Origin") != "" || r.StatusCode == 204 {
		t.Errorf("CORS off: preflight %d %v", r.StatusCode, r.Header)
	}
	if r := get(off, "https://shop.example.com"); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS off: answer readable cross-site: %v", r.Header)
	}

	cfg := retailConfig(t.TempDir())
	cfg.CORSOrigins = []string{"https://shop.example.com"}
	on := start(t, cfg)
	r := preflight(on, "https://shop.example.com")
	if r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("configured origin's preflight: %d %v", r.StatusCode, r.Header)
	}
	if r := get(on, "https://shop.example.com"); r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" {
		t.Errorf("configured origin's GET: %d %v", r.StatusCode, r.Header)
	}
	if r := preflight(on, "https://evil.example.net"); r.Header.Get("Access-Control-Allow-Origin") != "" || r.StatusCode == 204 {
		t.Errorf("other origin's preflight: %d %v", r.StatusCode, r.Header)
	}

	for _, bad := range []string{"*", "shop.example.com", "https://shop.example.com/", "ftp://x"} {
		cfg := retailConfig(t.TempDir())
		cfg.CORSOrigins = []string{bad}
		if _, err := serve.Open(cfg); err == nil || !strings.Contains(err.Error(), "cors_origins[0]") {
			t.Errorf("origin %q: %v", bad, err)
		}
	}
}
