package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"nextbest/serve"
)

// TestPersonalizerSDK runs the official Azure Personalizer client SDK for
// JavaScript (@azure/cognitiveservices-personalizer 2.0.1, the SDK
// generated from the preview v1.0 specification, vendored under
// testdata/personalizer-sdk with its dependencies: vendor.sh) against the
// service over loopback, pointed at its URL and otherwise unchanged:
// rank, reward, deferred rank and activate, a replay of an event id, an
// event id the SDK escapes, and calls the service refuses, which the SDK
// must report with Personalizer's status and code. Once with an API key
// in Ocp-Apim-Subscription-Key, once in development mode (no keys: the
// header is not checked). It needs Node.js (scripts/install-engines.sh
// installs it): without node it is skipped, except under CI.
func TestPersonalizerSDK(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		msg := "node (Node.js) not found: TestPersonalizerSDK runs the official Personalizer JavaScript SDK (scripts/install-engines.sh installs nodejs)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	for _, keyed := range []bool{true, false} {
		name := map[bool]string{true: "with an API key", false: "development mode"}[keyed]
		t.Run(name, func(t *testing.T) {
			cfg := retailConfig(t.TempDir())
			admin := ""
			if keyed {
				admin = "admin-key"
				cfg.Auth.Keys = []serve.APIKey{
					{Name: "sdk", SHA256: serve.HashKey("sdk-key"), Scopes: []string{serve.ScopeDecide, serve.ScopeIngest}},
					{Name: "admin", SHA256: serve.HashKey(admin), Scopes: []string{serve.ScopeAdmin}},
				}
			}
			in := start(t, cfg)
			// the model takes in what it learns at once (the test reads it)
			if code, out, _ := in.keyed("PUT", pzBase+"configurations/service", admin, "", pzServiceConfig("Online")); code != 200 {
				t.Fatalf("configuration: %d %v", code, out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "client.js", in.base, "sdk-key")
			cmd.Dir = "testdata/personalizer-sdk"
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.Output()
			if err != nil {
				t.Fatalf("client.js: %v\n%s", err, stderr.Bytes())
			}
			checkSDKRun(t, stdout)
			if err := in.svc.WaitLearned(context.Background()); err != nil {
				t.Fatal(err)
			}
			// learned: the first rank (active at once), the deferred one
			// (activated), the escaped one
			if n := in.svc.PersonalizerModel().Stats()[0].N; n != 3 {
				t.Errorf("the model holds %d observations, want 3", n)
			}
		})
	}
}

// checkSDKRun checks what client.js printed.
func checkSDKRun(t *testing.T, stdout []byte) {
	t.Helper()
	type rank struct {
		Ranking []struct {
			ID          string  `json:"id"`
			Probability float64 `json:"probability"`
		} `json:"ranking"`
		EventID        string `json:"eventId"`
		RewardActionID string `json:"rewardActionId"`
	}
	var out struct {
		Rank, Deferred, Replay, Escaped rank
		Errors                          map[string]struct {
			StatusCode int    `json:"statusCode"`
			Code       string `json:"code"`
			Message    string `json:"message"`
		}
	}
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatalf("client.js printed %s: %v", stdout, err)
	}
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(out.Rank.EventID) {
		t.Errorf("generated eventId %q", out.Rank.EventID)
	}
	probs := map[string]float64{}
	for _, r := range out.Rank.Ranking {
		probs[r.ID] = r.Probability
	}
	if len(probs) != 3 || probs["SportsArticle"] != 0 || probs["NewsArticle"] != 0.8 || probs["EntertainmentArticle"] != 0.2 || probs[out.Rank.RewardActionID] == 0 {
		t.Errorf("rank through the SDK: %+v", out.Rank)
	}
	if out.Deferred.EventID != "sdk-deferred" {
		t.Errorf("deferred rank: %+v", out.Deferred)
	}
	if a, b := mustJSON(t, out.Replay), mustJSON(t, out.Deferred); a != b {
		t.Errorf("a replay of sdk-deferred answered %s, the first call %s", a, b)
	}
	if out.Escaped.EventID != "sdk/with slash?&#" {
		t.Errorf("an eventId that needs escaping came back as %q", out.Escaped.EventID)
	}
	for name, want := range map[string]struct {
		status int
		code   string
	}{
		"reward out of range":             {400, "InvalidRewardRequest"},
		"reward of an unknown event":      {404, "ResourceNotFound"},
		"activate an unknown event":       {404, "ResourceNotFound"},
		"rank of 51 actions":              {400, "InvalidRankRequest"},
		"rank with every action excluded": {400, "InvalidRankRequest"},
	} {
		got := out.Errors[name]
		if got.StatusCode != want.status || got.Code != want.code || got.Message == "" {
			t.Errorf("%s: the SDK reported %+v, want %d %s with a message", name, got, want.status, want.code)
		}
	}
}
