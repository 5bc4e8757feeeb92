package serve

import (
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"nextbest/examples/retail"
	"nextbest/state"
)

// TestSweepDropsOldDecisions: a decision past its retention no longer
// takes outcomes; a recent one still does.
func TestSweepDropsOldDecisions(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := Open(Config{DataDir: t.TempDir(), Catalog: retail.Catalog, FeatureSpec: retail.FeatureSpec,
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return clock() }, JournalNoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old := decideOnce(t, s, "c-1")
	first := decideWithRequestID(t, s, "c-1", "req-1")
	now = now.Add(7*24*time.Hour + 23*time.Hour) // inside the retention (window + 1 day)
	recent := decideOnce(t, s, "c-2")
	if code := outcomeOnce(t, s, old); code != 202 {
		t.Fatalf("outcome within retention: %d", code)
	}
	now = now.Add(2 * time.Hour) // old is now past the retention
	if err := s.sweep(now); err != nil {
		t.Fatal(err)
	}
	if code := outcomeOnce(t, s, old); code != 404 {
		t.Errorf("outcome for a swept decision: %d, want 404", code)
	}
	if code := outcomeOnce(t, s, recent); code != 202 {
		t.Errorf("outcome for a recent decision: %d, want 202", code)
	}
	// the request_id key went with it (state's TestSweep checks the key
	// itself, not only the decision it names)
	if _, err := s.index.DecisionForRequest("c-1", "req-1"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("the request_id of swept decision %s still finds %v", first, err)
	}
	if again := decideWithRequestID(t, s, "c-1", "req-1"); again == first {
		t.Errorf("request_id of a swept decision still replays %s", first)
	}
}

func decideWithRequestID(t *testing.T, s *Service, cust, rid string) string {
	t.Helper()
	a := serveOne(s, "POST", "/v1/decide", "application/json", `{"customer_id":"`+cust+`","channel":"app","request_id":"`+rid+`"}`)
	var out struct {
		DecisionID string `json:"decision_id"`
	}
	if err := json.Unmarshal(a.body, &out); err != nil {
		t.Fatal(err)
	}
	return out.DecisionID
}

type decided struct{ id, action string }

func decideOnce(t *testing.T, s *Service, cust string) decided {
	t.Helper()
	a := serveOne(s, "POST", "/v1/decide", "application/json", `{"customer_id":"`+cust+`","channel":"app"}`)
	var out struct {
		DecisionID string `json:"decision_id"`
		Actions    []struct {
			ActionID string `json:"action_id"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(a.body, &out); err != nil || len(out.Actions) == 0 {
		t.Fatalf("decide: %s (%v)", a.body, err)
	}
	return decided{out.DecisionID, out.Actions[0].ActionID}
}

func outcomeOnce(t *testing.T, s *Service, d decided) int {
	t.Helper()
	return serveOne(s, "POST", "/v1/outcomes", "application/json", `{"decision_id":"`+d.id+`","action_id":"`+d.action+`","reward":1}`).status
}
