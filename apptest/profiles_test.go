package apptest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIProfilesImport imports a CSV and a JSON-lines file into a
// running service through nextbest profiles import, and refuses a file
// with an undeclared column, naming it, before sending anything.
func TestCLIProfilesImport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	dir := t.TempDir()
	s := startServer(t, filepath.Join(dir, "data"), "--profiles", "none")
	csvPath := filepath.Join(dir, "crm.csv")
	write(t, csvPath, "customer_id,age,region,tier,email_opt_in\n"+
		"crm-1,34,north,gold,true\n"+
		"crm-2,,south,silver,no\n"+
		"\"crm-3\",61.5,\"east, coast\",,\n")
	jsonPath := filepath.Join(dir, "crm.jsonl")
	write(t, jsonPath, `{"customer_id":"crm-4","tier":"platinum","age":"45"}`+"\n\n"+
		`{"customer_id":"crm-1","tier":"bronze","ts":"2026-11-01T00:00:00Z"}`+"\n")

	out := runCLI(t, "profiles", "import", csvPath, "--target", s.base, "--batch", "2")
	if !strings.Contains(out, "imported 3 profiles") {
		t.Errorf("csv import said %q", out)
	}
	out = runCLI(t, "profiles", "import", "--target", s.base, jsonPath)
	if !strings.Contains(out, "imported 2 profiles") {
		t.Errorf("jsonl import said %q", out)
	}
	for id, want := range map[string]string{
		"crm-1": "map[age:34 email_opt_in:true region:north tier:bronze]",
		"crm-2": "map[email_opt_in:false region:south tier:silver]",
		"crm-3": "map[age:61.5 region:east, coast]",
		"crm-4": "map[age:45 tier:platinum]",
	} {
		code, p := s.get("/v1/profiles/" + id)
		if got := fmt.Sprint(p["attributes"]); code != 200 || got != want {
			t.Errorf("%s: %d attributes %s, want %s", id, code, got, want)
		}
	}

	events := func() float64 {
		_, st := s.get("/v1/stats")
		return asFloat(st["events"])
	}
	if n := events(); n != 5 {
		t.Fatalf("%v events applied, want 5", n)
	}
	for _, c := range []struct {
		name, content string
		want          []string
	}{
		{"undeclared.csv", "customer_id,tier,shoe_size\nx-1,gold,42\n", []string{`column "shoe_size" is not a declared profile attribute`}},
		{"badtype.csv", "customer_id,tier,age\nx-1,gold,40\nx-2,gold,forty\n", []string{"badtype.csv: line 3: column age: must be a number"}},
		{"undeclared.jsonl", `{"customer_id":"x-1","tier":"gold"}` + "\n" + `{"customer_id":"x-2","shoe":1}` + "\n", []string{"line 2", `column "shoe"`}},
		{"nocustomer.csv", "tier\ngold\n", []string{"no customer_id column"}},
	} {
		path := filepath.Join(dir, c.name)
		write(t, path, c.content)
		out, err := exec.Command(binary, "profiles", "import", path, "--target", s.base).CombinedOutput()
		line := strings.TrimSpace(string(out))
		if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("%s: %v, want exit 1: %s", c.name, err, out)
		}
		for _, w := range c.want {
			if !strings.Contains(line, w) || strings.Count(line, "\n") > 0 {
				t.Errorf("%s: the one line %q does not say %q", c.name, line, w)
			}
		}
	}
	if n := events(); n != 5 {
		t.Errorf("%v events applied after refused files, want 5 (nothing sent)", n)
	}
}

// TestCLIProfilesExport exports the attributes of a stopped service's
// profiles and imports the file into another service: the same profiles.
func TestCLIProfilesExport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	p := startServing(t, data, "--profiles", "none")
	in := filepath.Join(dir, "in.csv")
	write(t, in, "customer_id,age,region,tier,email_opt_in\nx-2,34,north,gold,true\nx-1,,\"south, east\",silver,\n")
	runCLI(t, "profiles", "import", in, "--target", p.base)
	if code, _, err := p.post("/v1/events", map[string]any{"customer_id": "x-3", "type": "page_view"}); err != nil || code != 202 {
		t.Fatalf("event: %d %v", code, err)
	}
	out := filepath.Join(dir, "out.csv")
	if _, err := exec.Command(binary, "profiles", "export", "--data", data, "--out", out).CombinedOutput(); err == nil {
		t.Error("export while the service runs: no error")
	}
	p.stop()

	said := runCLI(t, "profiles", "export", "--data", data, "--out", out)
	if !strings.Contains(said, "exported 2 profiles") || !strings.Contains(said, "1 without attributes") {
		t.Errorf("export said %q", said)
	}
	got := readFile(t, out)
	want := "customer_id,age,region,tier,email_opt_in\nx-1,,\"south, east\",silver,\nx-2,34,north,gold,true\n"
	if got != want {
		t.Errorf("exported csv:\n%s\nwant:\n%s", got, want)
	}
	outJSON := filepath.Join(dir, "out.jsonl")
	runCLI(t, "profiles", "export", "--data", data, "--out", outJSON)
	if got := readFile(t, outJSON); !strings.Contains(got, `{"age":34,"customer_id":"x-2","email_opt_in":true,"region":"north","tier":"gold"}`) {
		t.Errorf("exported jsonl:\n%s", got)
	}

	q := startServer(t, filepath.Join(dir, "data2"), "--profiles", "none")
	runCLI(t, "profiles", "import", outJSON, "--target", q.base)
	for id, want := range map[string]string{
		"x-1": "map[region:south, east tier:silver]",
		"x-2": "map[age:34 email_opt_in:true region:north tier:gold]",
	} {
		if code, prof := q.get("/v1/profiles/" + id); code != 200 || fmt.Sprint(prof["attributes"]) != want {
			t.Errorf("re-imported %s: %d %v, want %s", id, code, prof["attributes"], want)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
