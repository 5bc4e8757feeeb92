package serve

import (
	"fmt"
	"strings"
	"testing"
)

// plainJournal hides the journal's AppendBatch, as the cluster's stream
// has none.
type plainJournal struct{ Journal }

// TestProfilesBatchWithoutBatchAppend: on a journal without a batch
// append the rows are appended concurrently, and a customer's later row
// still wins.
func TestProfilesBatchWithoutBatchAppend(t *testing.T) {
	s := openStrict(t, false)
	if _, ok := s.journal.(batchAppender); !ok {
		t.Fatal("the embedded journal has no AppendBatch")
	}
	s.journal = plainJournal{s.journal}
	var rows []string
	for i := range 200 {
		rows = append(rows, fmt.Sprintf(`{"customer_id":"c-%d","attributes":{"tier":"t%d"}}`, i%10, i))
	}
	a := serveOne(s, "POST", "/v1/profiles:batch", "application/json", `{"profiles":[`+strings.Join(rows, ",")+`]}`)
	if a.status != 202 || !strings.Contains(string(a.body), `"lsn":200`) {
		t.Fatalf("%d %s", a.status, a.body)
	}
	for c := range 10 {
		p, err := s.profiles.Get(fmt.Sprintf("c-%d", c))
		if err != nil || p == nil {
			t.Fatalf("c-%d: %v %v", c, p, err)
		}
		if want := fmt.Sprintf("t%d", 190+c); p.Attributes["tier"] != want {
			t.Errorf("c-%d: tier %v, want the last row's %s", c, p.Attributes["tier"], want)
		}
	}
}
