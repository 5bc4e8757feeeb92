package apptest

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIJourneyAndCampaignReports runs a real service with a permanent
// holdout, sends it a day of journeys (events, decisions, purchases),
// stops it and runs nextbest report journeys and report campaigns on its
// journal with its configuration, as an analyst would: both write HTML,
// JSON and CSV; the journeys' stages, replayed through the feature spec,
// agree with the stages the service logged on every decision; bad flags
// are one line on stderr and exit status 1.
//
// Customer i (80 of them): a page_view on web (→ consideration) and a
// decision on the product page; every second one adds to cart (→ cart)
// and gets a decision on the cart page; every fourth one buys (a
// purchase event of 50, and a purchase outcome on the first action shown
// when one was); every fifth one is also asked on email.
func TestCLIJourneyAndCampaignReports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	dir := t.TempDir()
	exps, config := filepath.Join(dir, "experiments.yaml"), filepath.Join(dir, "nextbest.yaml")
	write(t, exps, `experiments:
  - name: hold
    holdout: true
    start: 2026-01-01T00:00:00Z
    control: programme
    arms:
      - {name: programme, policy: promoted, share: 0.8}
      - {name: held, policy: none, share: 0.2}
`)
	write(t, config, fmt.Sprintf("experiments: %s\nprofiles: none\n", exps))
	srv := startServing(t, filepath.Join(dir, "data"), "--config", config)
	decide := func(customer, channel string, ctx map[string]any) []any {
		code, out, err := srv.post("/v1/decide", map[string]any{"customer_id": customer, "channel": channel, "limit": 2, "context": ctx})
		if err != nil || code != 200 {
			t.Fatalf("decide: %d %v %v", code, out, err)
		}
		acts, _ := out["actions"].([]any)
		if len(acts) > 0 {
			return []any{out["decision_id"], acts[0].(map[string]any)["action_id"]}
		}
		return nil
	}
	decisions, buyers := 0, 0
	for i := range 80 {
		c := fmt.Sprintf("c-%02d", i)
		srv.mustPost(t, "/v1/events", map[string]any{"customer_id": c, "type": "page_view", "channel": "web"})
		decide(c, "web", map[string]any{"page": "product", "device": "mobile"})
		decisions++
		if i%2 == 0 {
			srv.mustPost(t, "/v1/events", map[string]any{"customer_id": c, "type": "add_to_cart", "channel": "web"})
			shown := decide(c, "web", map[string]any{"page": "cart", "cart_value": 80.0, "device": "mobile"})
			decisions++
			if i%4 == 0 {
				buyers++
				if shown != nil {
					srv.mustPost(t, "/v1/outcomes", map[string]any{"decision_id": shown[0], "action_id": shown[1], "type": "purchase", "reward": 50})
				}
				srv.mustPost(t, "/v1/events", map[string]any{"customer_id": c, "type": "purchase", "channel": "web", "properties": map[string]any{"amount": 50.0}})
			}
		}
		if i%5 == 0 {
			decide(c, "email", nil)
			decisions++
		}
	}
	srv.stop()
	journalDir := filepath.Join(dir, "data", "journal")
	out := t.TempDir()

	t.Run("journeys", func(t *testing.T) {
		html := filepath.Join(out, "journeys.html")
		stdout, stderr := runCLISplit(t, "report", "journeys", "--journal", journalDir, "--config", config, "--out", html)
		if !strings.HasPrefix(stdout, "Most customers stall at 'consideration': 50.0% of the 80 who reach it never go further.") {
			t.Errorf("stdout:\n%s", stdout)
		}
		if !strings.Contains(stderr, "80 customers followed") {
			t.Errorf("stderr:\n%s", stderr)
		}
		var r struct {
			Stats struct {
				Customers     int `json:"customers"`
				Events        int `json:"events"`
				Decisions     int `json:"decisions"`
				StageMismatch int `json:"stage_mismatch"`
				Converted     int `json:"converted"`
			} `json:"stats"`
			Funnel []struct {
				Stage   string `json:"stage"`
				Reached int    `json:"reached"`
			} `json:"funnel"`
		}
		readJSON(t, filepath.Join(out, "journeys.json"), &r)
		if r.Stats.Customers != 80 || r.Stats.Events != 80+40+buyers || r.Stats.Decisions != decisions || r.Stats.Converted != buyers {
			t.Errorf("stats %+v: want 80 customers, %d events, %d decisions, %d converted", r.Stats, 80+40+buyers, decisions, buyers)
		}
		// the replay of the events through the feature spec gives the stage
		// the service logged on every decision
		if r.Stats.StageMismatch != 0 {
			t.Errorf("%d decisions logged a stage other than the replayed one", r.Stats.StageMismatch)
		}
		reached := map[string]int{}
		for _, f := range r.Funnel {
			reached[f.Stage] = f.Reached
		}
		if reached["consideration"] != 80 || reached["cart"] != 40 || reached["purchase"] != buyers {
			t.Errorf("funnel %+v", r.Funnel)
		}
		readCSV(t, filepath.Join(out, "journeys.csv"), "section,row,column,metric,value")
		checkPage(t, html)
	})

	t.Run("campaigns", func(t *testing.T) {
		html := filepath.Join(out, "campaigns.html")
		stdout, _ := runCLISplit(t, "report", "campaigns", "--journal", journalDir, "--config", config, "--by", "week", "--out", html)
		if !strings.Contains(stdout, "Lift against the holdout 'hold': 'programme' converts") || !strings.Contains(stdout, "wrote "+html) {
			t.Errorf("stdout:\n%s", stdout)
		}
		var r struct {
			Total struct {
				Decisions   int `json:"decisions"`
				Impressions int `json:"impressions"`
				Conversions int `json:"conversions"`
			} `json:"total"`
			Lift struct {
				Holdout  bool   `json:"holdout"`
				Baseline string `json:"baseline"`
				Rows     []struct {
					By       string `json:"by"`
					Treated  struct{ Customers, Converted int }
					Baseline struct{ Customers, Converted int }
				} `json:"rows"`
			} `json:"lift"`
		}
		readJSON(t, filepath.Join(out, "campaigns.json"), &r)
		if r.Total.Decisions != decisions || r.Total.Impressions == 0 || r.Total.Conversions == 0 {
			t.Errorf("total %+v, want %d decisions", r.Total, decisions)
		}
		if !r.Lift.Holdout || r.Lift.Baseline != "held" || len(r.Lift.Rows) == 0 || r.Lift.Rows[0].By != "all" {
			t.Fatalf("lift %+v", r.Lift)
		}
		// every customer is in one arm, and the buyers converted in either
		if all := r.Lift.Rows[0]; all.Treated.Customers+all.Baseline.Customers != 80 || all.Treated.Converted+all.Baseline.Converted != buyers {
			t.Errorf("lift over all customers %+v: want 80 customers and %d converted", all, buyers)
		}
		readCSV(t, filepath.Join(out, "campaigns.csv"), "section,by,key,segment,segment_value,period,metric,value")
		checkPage(t, html)
	})

	t.Run("errors", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"report", "journeys"}, "report journeys: --journal is required"},
			{[]string{"report", "journeys", "--journal", journalDir, "--bogus"}, "-bogus"},
			{[]string{"report", "journeys", "--journal", journalDir, "--steps", "-1"}, "must be positive"},
			{[]string{"report", "journeys", "--journal", filepath.Join(dir, "nope")}, "no such file or directory"},
			{[]string{"report", "campaigns"}, "report campaigns: --journal is required"},
			{[]string{"report", "campaigns", "--journal", journalDir, "--by", "month"}, `--by "month"`},
			{[]string{"report", "campaigns", "--journal", journalDir, "--segment", "tier"}, `--segment "tier"`},
			{[]string{"report", "campaigns", "--journal", journalDir, "--config", config, "--lift", "nope", "--out", filepath.Join(out, "x.html")}, `no experiment "nope"`},
		} {
			if line := serveFails(t, c.args...); !strings.Contains(line, c.want) {
				t.Errorf("%v: %q does not say %q", c.args, line, c.want)
			}
		}
		for _, sub := range []string{"journeys", "campaigns"} {
			cmd := exec.Command(binary, "report", sub, "-h")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil || !strings.Contains(stderr.String(), "-config") || !strings.Contains(stderr.String(), "docs/reports.md") {
				t.Errorf("report %s -h: %v\n%s", sub, err, &stderr)
			}
		}
	})
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readCSV(t *testing.T, path, header string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 10 || strings.Join(rows[0], ",") != header {
		t.Errorf("%s: %v, %d rows, header %v", path, err, len(rows), rows[:min(1, len(rows))])
	}
}

// checkPage: the page has charts and loads nothing from anywhere.
func checkPage(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)
	if !strings.Contains(page, "<svg") || !strings.Contains(page, `id="headline"`) {
		t.Errorf("%s has no chart or no headline", path)
	}
	for _, bad := range []string{"http://", "https://", "src=", "href=", "<script", "url(", "@import", `style="`} {
		if strings.Contains(page, bad) {
			t.Errorf("%s contains %q", path, bad)
		}
	}
}
