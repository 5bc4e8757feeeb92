package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/features"
	"nextbest/models"
	"nextbest/serve"
)

// uiExperiments is the experiment the dashboard test runs: three arms on
// web and app, started yesterday (the binary runs on the real clock).
var uiExperiments = strings.Replace(`
experiments:
  - name: spring-offers
    description: Does the trained model beat the online bandit and random offers?
    start: START
    channels: [web, app]
    primary_metric: conversion
    guardrails: [revenue]
    control: control
    arms:
      - {name: control, policy: random, share: 1}
      - {name: bandit, policy: online, share: 1}
      - {name: trained, policy: "model:1", share: 1}
`, "START", time.Now().UTC().Add(-24*time.Hour).Truncate(time.Hour).Format(time.RFC3339), 1)

// TestDashboard runs the service with an experiment and a model registry,
// sends traffic, loads /ui/ in headless Chromium and checks that the
// numbers the page shows are the ones the JSON API returns; it writes a
// screenshot (to $NEXTBEST_SCREENSHOT_DIR when set) and checks it decodes.
func TestDashboard(t *testing.T) {
	browser := findChromium()
	if browser == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no chromium binary found (looked for $NEXTBEST_CHROMIUM, chromium, chromium-browser, google-chrome); CI must install it (.ci/run does)")
		}
		t.Skip("no chromium binary found (install Debian's chromium, or set NEXTBEST_CHROMIUM): skipping the dashboard browser test")
	}

	dir := t.TempDir()
	regDir := filepath.Join(dir, "models")
	saveModels(t, regDir)
	if _, err := decide.ParseExperiments([]byte(uiExperiments)); err != nil {
		t.Fatal(err)
	}
	expPath := filepath.Join(dir, "experiments.yaml")
	if err := os.WriteFile(expPath, []byte(uiExperiments), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, filepath.Join(dir, "data"), "--experiments", expPath, "--registry", regDir)
	checkUIFiles(t, s)
	sendTraffic(t, s)

	// The page as the browser rendered it, and the experiment analysis at
	// the same moment: if the service recomputed it between the two reads,
	// read both again.
	var (
		dom, computedAt string
		shown           map[string]string
		armResults      map[string]float64
		analysed        bool
	)
	for try := 0; ; try++ {
		dom = runChromium(t, browser, filepath.Join(dir, "chrome-dom"), "--window-size=1280,1600", "--dump-dom", s.base+"/ui/")
		if !strings.Contains(dom, `data-state="ready"`) {
			t.Fatalf("dashboard did not finish loading; DOM:\n%.3000s", dom)
		}
		shown = shownValues(dom)
		armResults, computedAt, analysed = experimentResults(t, s, "spring-offers")
		if !analysed || shown["experiments.computed_at"] == computedAt || try == 2 {
			break
		}
	}

	// The API at the same moment (no traffic runs now).
	var st struct {
		Decisions  map[string]float64            `json:"decisions_by_channel"`
		Actions    map[string]map[string]float64 `json:"actions_by_channel"`
		Outcomes   map[string]float64            `json:"outcomes_by_type"`
		Events     float64                       `json:"events"`
		Experiment map[string]map[string]float64 `json:"experiment_decisions"`
	}
	getInto(t, s.base+"/v1/stats", &st)
	var md struct {
		Serving  string `json:"serving"`
		Promoted int    `json:"promoted_version"`
		Online   struct {
			Name         string  `json:"name"`
			Observations float64 `json:"observations"`
		} `json:"online"`
		Registry []struct {
			Version  int
			Promoted bool
			Meta     struct{ Name string }
		} `json:"registry"`
		History []models.Event `json:"history"`
	}
	getInto(t, s.base+"/v1/models", &md)

	want := map[string]string{}
	var total, shownTotal float64
	for ch, n := range st.Decisions {
		want["decisions.channel."+ch] = count(n)
		total += n
	}
	want["decisions.total"] = count(total)
	want["decisions.channel_total"] = count(total)
	byChannel := map[string]float64{}
	for a, byCh := range st.Actions {
		var at float64
		for ch, n := range byCh {
			want["actions."+a+"."+ch] = count(n)
			at += n
			byChannel[ch] += n
		}
		want["actions."+a+".total"] = count(at)
		shownTotal += at
	}
	for ch, n := range byChannel {
		want["actions.channel_total."+ch] = count(n)
	}
	want["actions.total"] = count(shownTotal)
	want["actions.all"] = count(shownTotal)
	var outcomes float64
	for typ, n := range st.Outcomes {
		want["outcomes.type."+typ] = count(n)
		outcomes += n
	}
	want["outcomes.total"] = count(outcomes)
	want["events.total"] = count(st.Events)
	want["events.count"] = count(st.Events)
	want["models.serving"] = md.Serving
	want["models.promoted_version"] = "v" + strconv.Itoa(md.Promoted)
	want["models.online.name"] = md.Online.Name
	want["models.online.observations"] = count(md.Online.Observations)
	for _, e := range md.Registry {
		v := strconv.Itoa(e.Version)
		want["registry."+v+".version"] = "v" + v
		want["registry."+v+".name"] = e.Meta.Name
	}
	for i, e := range md.History {
		want["history."+strconv.Itoa(i)+".kind"] = e.Kind
		if e.Version > 0 {
			want["history."+strconv.Itoa(i)+".version"] = "v" + strconv.Itoa(e.Version)
		}
	}
	if len(md.History) != 1 || md.History[0].Kind != models.EventPromoted {
		t.Errorf("history: %+v", md.History)
	}
	for arm, n := range st.Experiment["spring-offers"] {
		want["exp.spring-offers."+arm+".live"] = count(n)
	}
	if analysed {
		want["experiments.computed_at"] = computedAt
		if len(armResults) != 3 {
			t.Errorf("/v1/experiments has no spring-offers with 3 arms: %v", armResults)
		}
		for arm, n := range armResults {
			want["exp.spring-offers."+arm+".decisions"] = count(n)
		}
	} else {
		t.Log("GET /v1/experiments answers 404: the page shows the live split of decisions only")
	}

	// sanity: the traffic reached every part the page shows
	if total < 100 || len(st.Decisions) < 3 || len(st.Actions) < 4 || st.Events == 0 || len(st.Outcomes) < 2 {
		t.Fatalf("traffic did not reach the stats: %+v", st)
	}
	if md.Promoted != 2 || len(md.Registry) != 2 || md.Serving != "ridge@v2" {
		t.Fatalf("models: %+v", md)
	}
	if len(st.Experiment["spring-offers"]) != 3 {
		t.Fatalf("experiment arms in stats: %v", st.Experiment)
	}

	for k, w := range want {
		got, ok := shown[k]
		if !ok {
			t.Errorf("dashboard shows no %s (API: %s)", k, w)
			continue
		}
		if got != w {
			t.Errorf("dashboard shows %s = %q, API says %q", k, got, w)
		}
	}
	// and it shows nothing the API does not have
	for k, got := range shown {
		if _, ok := want[k]; !ok && isCountKey(k) && got != "0" {
			t.Errorf("dashboard shows %s = %q, which the API does not report", k, got)
		}
	}
	if t.Failed() {
		t.Logf("shown: %v", shown)
	} else {
		t.Logf("the page shows the API's %d values", len(want))
	}

	// A screenshot a person can look at.
	out := os.Getenv("NEXTBEST_SCREENSHOT_DIR")
	if out == "" {
		out = t.TempDir()
	} else if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(out, "dashboard.png")
	os.Remove(shot)
	// the page writes its height into the DOM: the window fits the page
	height := 2000
	if m := pageHeight.FindStringSubmatch(dom); m != nil {
		if h, err := strconv.Atoi(m[1]); err == nil && h > 600 && h < 16000 {
			height = h
		}
	}
	runChromium(t, browser, filepath.Join(dir, "chrome-shot"), fmt.Sprintf("--window-size=1280,%d", height),
		"--screenshot="+shot, "--hide-scrollbars", s.base+"/ui/")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s does not decode as PNG: %v", shot, err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != height {
		t.Fatalf("screenshot is %v, want 1280×%d", b, height)
	}
	t.Logf("dashboard screenshot: %s", shot)
}

// checkUIFiles checks how /ui/ is served: a redirect from /ui, the files
// with their types and a strict CSP, 404 and 405 as JSON errors, and
// nothing in them that loads from outside the service.
func checkUIFiles(t *testing.T, s *server) {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(s.base + "/ui")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d Location %q, want 301 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	for path, ctype := range map[string]string{"/ui/": "text/html", "/ui/index.html": "text/html", "/ui/app.js": "text/javascript", "/ui/style.css": "text/css"} {
		resp, err := http.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(body) == 0 {
			t.Errorf("GET %s: %d %q, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
		if m := externalURL.Find(bytes.ReplaceAll(body, []byte(svgNamespace), nil)); m != nil {
			t.Errorf("%s refers to %s: the dashboard must be self-contained", path, m)
		}
	}
	for _, c := range []struct {
		method, path string
		status       int
	}{{"GET", "/ui/nope.js", 404}, {"GET", "/uix", 404}, {"POST", "/ui/", 405}} {
		req, _ := http.NewRequest(c.method, s.base+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %q, want %d JSON", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.status)
		}
	}
}

// externalURL matches a URL outside the service; svgNamespace looks like
// one but is a name, never fetched.
const svgNamespace = "http://www.w3.org/2000/svg"

var externalURL = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[/"']|url\(\s*['"]?https?:|@import`)

// experimentResults returns the per-arm decision counts that
// /v1/experiments reports for the experiment, and its computed_at; ok is
// false when the service does not serve /v1/experiments (404).
func experimentResults(t *testing.T, s *server, name string) (arms map[string]float64, computedAt string, ok bool) {
	t.Helper()
	resp, err := http.Get(s.base + "/v1/experiments")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 404 {
		return nil, "", false
	}
	var body struct {
		ComputedAt  string `json:"computed_at"`
		Experiments []struct {
			Experiment string `json:"experiment"`
			Arms       []struct {
				Name      string  `json:"name"`
				Decisions float64 `json:"decisions"`
			} `json:"arms"`
		} `json:"experiments"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/experiments: %d %v", resp.StatusCode, err)
	}
	arms = map[string]float64{}
	for _, e := range body.Experiments {
		if e.Experiment == name {
			for _, a := range e.Arms {
				arms[a.Name] = a.Decisions
			}
		}
	}
	return arms, body.ComputedAt, true
}

func isCountKey(k string) bool {
	return strings.HasPrefix(k, "decisions.") || strings.HasPrefix(k, "actions.") || strings.HasPrefix(k, "outcomes.")
}

// count formats n as the dashboard does: an integer with thousands
// separators.
func count(n float64) string {
	s := strconv.FormatInt(int64(n+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// dataK matches an element tagged data-k and its text (tagged elements
// hold text only).
var dataK = regexp.MustCompile(`<[a-z]+[^>]*\sdata-k="([^"]+)"[^>]*>([^<]*)<`)

// pageHeight matches the height the page reports of itself.
var pageHeight = regexp.MustCompile(`<body[^>]*\sdata-height="(\d+)"`)

// shownValues returns data-k → text of the rendered page.
func shownValues(dom string) map[string]string {
	out := map[string]string{}
	for _, m := range dataK.FindAllStringSubmatch(dom, -1) {
		out[html.UnescapeString(m[1])] = strings.TrimSpace(html.UnescapeString(m[2]))
	}
	return out
}

// findChromium returns the browser to drive: $NEXTBEST_CHROMIUM, else the
// first of the usual names on PATH.
func findChromium() string {
	if p := os.Getenv("NEXTBEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// runChromium runs one headless browser command on url and returns its
// stdout. Virtual time lets the page's fetches finish and render before
// the DOM or the screenshot is taken; the flags keep it off the network.
func runChromium(t *testing.T, browser, profile string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-quic", "--no-first-run", "--no-default-browser-check",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-default-apps", "--mute-audio",
		"--user-data-dir=" + profile, "--force-device-scale-factor=1",
		"--virtual-time-budget=4000", "--run-all-compositor-stages-before-draw",
	}
	cmd := exec.CommandContext(ctx, browser, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(browser), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

func getInto(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// saveModels fills a registry with two small ridge models fitted to random
// data, and promotes the second.
func saveModels(t *testing.T, dir string) {
	t.Helper()
	spec, err := features.ParseSpec(retail.FeatureSpec)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := models.OpenRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 1))
	x := make([]float64, spec.Dim())
	for i := range 2 {
		m, err := models.NewRidge(models.RidgeConfig{Dim: spec.Dim(), Name: "ridge"})
		if err != nil {
			t.Fatal(err)
		}
		for range 200 {
			for j := range x {
				x[j] = r.Float64()
			}
			m.Update(0, x, r.Float64())
		}
		m.Publish()
		art, err := models.NewArtifact(models.Metadata{Name: "ridge", FeatureSpec: spec.Hash(), Source: "apptest", Examples: 200}, m)
		if err != nil {
			t.Fatal(err)
		}
		v, err := reg.Save(art)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			// as nextbest models promote does: validated and recorded
			if _, err := models.PromoteChecked(reg, v, nil, "apptest", "the dashboard's test model"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// sendTraffic makes decisions on three channels for demo customers, and
// reports outcomes and events for some of them.
func sendTraffic(t *testing.T, s *server) {
	t.Helper()
	r := rand.New(rand.NewPCG(11, 3))
	channels := []string{"web", "app", "web", "email"}
	pages := []string{"home", "product", "cart", "checkout"}
	for i := range 160 {
		cust := fmt.Sprintf("c-%04d", 1+r.IntN(200))
		ch := channels[i%len(channels)]
		req := map[string]any{"customer_id": cust, "channel": ch, "limit": 2}
		if ch != "email" {
			req["context"] = map[string]any{"page": pages[r.IntN(len(pages))], "cart_value": 20 + 80*r.Float64()}
		}
		code, dec, err := s.post("/v1/decide", req)
		if err != nil || code != 200 {
			t.Fatalf("decide: %d %v %v", code, dec, err)
		}
		acts, _ := dec["actions"].([]any)
		if len(acts) > 0 && r.IntN(4) == 0 {
			a := acts[0].(map[string]any)["action_id"]
			s.mustPost(t, "/v1/outcomes", map[string]any{"decision_id": dec["decision_id"], "action_id": a, "reward": 1, "type": "conversion"})
			if r.IntN(2) == 0 {
				s.mustPost(t, "/v1/outcomes", map[string]any{"decision_id": dec["decision_id"], "action_id": a, "reward": 25 + r.IntN(60), "type": "revenue"})
			}
		}
		if i%5 == 0 {
			s.mustPost(t, "/v1/events", map[string]any{"customer_id": cust, "type": "product_view", "channel": ch})
		}
	}
}

func (s *server) mustPost(t *testing.T, path string, body any) {
	t.Helper()
	code, out, err := s.post(path, body)
	if err != nil || code/100 != 2 {
		t.Fatalf("POST %s: %d %v %v", path, code, out, err)
	}
}

// TestDashboardAsksForAKey: with API keys configured, the dashboard's
// page loads (it needs no key) and, its data routes answering 401, shows
// the key prompt in a real browser instead of numbers, on the overview
// and on a report's page.
func TestDashboardAsksForAKey(t *testing.T) {
	browser := findChromium()
	if browser == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no chromium binary found; CI must install it (.ci/run does)")
		}
		t.Skip("no chromium binary found: skipping the dashboard browser test")
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "nextbest.yaml")
	doc := "auth:\n  keys:\n    - {name: dash, sha256: " + serve.HashKey("dash-key") + ", scopes: [read]}\n"
	if err := os.WriteFile(config, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, filepath.Join(dir, "data"), "--config", config)
	// the overview and a report page alike
	for _, page := range []string{"", "#campaigns"} {
		dom := runChromium(t, browser, filepath.Join(dir, "chrome-dom"), "--window-size=1280,900", "--dump-dom", s.base+"/ui/"+page)
		if !strings.Contains(dom, `data-state="login"`) || !regexp.MustCompile(`<form id="login" class="banner">`).MatchString(dom) {
			t.Fatalf("the dashboard%s does not ask for a key; DOM:\n%.3000s", page, dom)
		}
		if !strings.Contains(dom, "an API key is needed") {
			t.Errorf("the prompt%s does not say why:\n%.3000s", page, dom)
		}
	}
}
