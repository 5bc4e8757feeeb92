package apptest

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"nextbest/internal/journaltest"
	"nextbest/journal"
)

// TestCLIErasureExcluded: between an erasure and the server's purge of
// the journal, the offline tools skip the erased customer: export (joined
// and raw) names them nowhere, and a training run uses exactly the rows
// of a journal that never had them.
func TestCLIErasureExcluded(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	spec, _ := journaltest.Retail(t)
	ids := []string{"free-shipping", "new-arrivals", "style-guide"}
	build := func(withErased bool) string {
		var recs []any
		for i := range 30 {
			id := fmt.Sprintf("d%03d", i)
			at := journaltest.T0.Add(time.Duration(i) * time.Minute)
			d := journaltest.Decision(id, at, spec.Hash(), ids[i%3], ids[(i+1)%3])
			erased := i%3 == 1
			if erased && !withErased {
				continue
			}
			if erased {
				d.CustomerID = "erase-me-cli"
			}
			recs = append(recs, d)
			if i%2 == 0 {
				o := journaltest.Outcome(id, ids[i%3], "click", 1, at.Add(time.Minute))
				o.DecisionTime, o.CustomerID = at, d.CustomerID
				recs = append(recs, o)
			}
		}
		if withErased {
			recs = append(recs, journal.Erasure{ID: "er-cli", CustomerID: "erase-me-cli", Time: journaltest.T0.Add(time.Hour), By: "dpo"})
		}
		return journaltest.Write(t, recs...)
	}
	erased, clean := build(true), build(false)
	for _, args := range [][]string{
		{"export", "--journal", erased, "--format", "csv"},
		{"export", "--journal", erased, "--format", "jsonl", "--raw"},
		{"export", "--journal", erased, "--format", "dsjson"},
	} {
		out, _ := runCLISplit(t, args...)
		if strings.Contains(out, "erase-me-cli") || out == "" {
			t.Errorf("%v names the erased customer (or is empty):\n%s", args, out)
		}
	}
	audit := runCLI(t, "audit", "--journal", erased)
	if !strings.Contains(audit, "customer_erased") || !strings.Contains(audit, "er-cli") || strings.Contains(audit, "erase-me-cli") {
		t.Errorf("audit --journal:\n%s", audit)
	}
	used := regexp.MustCompile(`examples used\s+\d+ train, \d+ held out`)
	train := func(dir string) string {
		out := runCLI(t, "train", "--journal", dir, "--model", "linucb", "--registry", filepath.Join(t.TempDir(), "reg"), "--seed", "1", "--feature-mismatch", "warn")
		return used.FindString(out)
	}
	if a, b := train(erased), train(clean); a == "" || a != b {
		t.Errorf("training with a pending erasure used %q, a journal without the customer %q", a, b)
	}
}
