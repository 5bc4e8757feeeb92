package apptest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDecideBatchCLI: "nextbest decide --batch" decides for every
// customer of a CSV file through a running service and writes one JSON
// line per row, in file order; a bad row gets its error line; a re-run
// with the same request ids answers the same decisions; an unknown column
// is refused before anything is sent.
func TestDecideBatchCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, filepath.Join(dir, "data"))
	var csv strings.Builder
	csv.WriteString("customer_id,channel,request_id,context.page\n")
	for i := range 25 {
		ch := "email"
		if i == 4 {
			ch = "fax"
		}
		fmt.Fprintf(&csv, "c-%04d,%s,spring-%d,home\n", 1+i, ch, i)
	}
	in := filepath.Join(dir, "customers.csv")
	os.WriteFile(in, []byte(csv.String()), 0o644)
	out := filepath.Join(dir, "answers.jsonl")
	runCLI(t, "decide", "--batch", in, "--target", s.base, "--out", out, "--size", "10")
	lines := readLines(t, out)
	if len(lines) != 25 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		if l["row"] != float64(i+1) || l["customer_id"] != fmt.Sprintf("c-%04d", i+1) {
			t.Fatalf("line %d: %v", i, l)
		}
		want := 200.0
		if i == 4 {
			want = 422
		}
		if l["status"] != want {
			t.Errorf("line %d: %v", i, l)
		}
	}
	out2 := filepath.Join(dir, "again.jsonl")
	runCLI(t, "decide", "--batch", in, "--target", s.base, "--out", out2)
	for i, l := range readLines(t, out2) {
		if i == 4 {
			continue
		}
		a, b := l["decision"].(map[string]any)["decision_id"], lines[i]["decision"].(map[string]any)["decision_id"]
		if a != b {
			t.Errorf("row %d: re-run decided %v, first %v", i+1, a, b)
		}
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("customer_id,segment\nc-0001,x\n"), 0o644)
	line := serveFails(t, "decide", "--batch", bad, "--target", s.base)
	if !strings.Contains(line, `"segment"`) {
		t.Errorf("unknown column: %s", line)
	}
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}
