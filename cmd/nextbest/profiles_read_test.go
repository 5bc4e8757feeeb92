package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"nextbest/examples/retail"
	"nextbest/features"
)

func retailReader(t *testing.T) *profileReader {
	t.Helper()
	spec, err := features.ParseSpec(retail.FeatureSpec)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newProfileReader(spec, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readAll(t *testing.T, r *profileReader, path string) ([]string, error) {
	t.Helper()
	format, err := importFormat(path, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = r.readProfiles(path, format, func(at string, rec *profileRecord) error {
		got = append(got, fmt.Sprintf("%s %s %v %s", at, rec.CustomerID, rec.Attributes, rec.TS))
		return nil
	})
	return got, err
}

// TestImportFormatsAgree: the same profiles as CSV, JSON lines and
// Parquet read to the same typed attributes.
func TestImportFormatsAgree(t *testing.T) {
	dir := t.TempDir()
	r := retailReader(t)
	csvPath := filepath.Join(dir, "p.csv")
	os.WriteFile(csvPath, []byte("customer_id,age,tier,email_opt_in\nc1,34,gold,true\nc2,51.5,,0\n"), 0o644)
	jsonPath := filepath.Join(dir, "p.jsonl")
	os.WriteFile(jsonPath, []byte(`{"customer_id":"c1","age":34,"tier":"gold","email_opt_in":true}`+"\n"+`{"customer_id":"c2","age":"51.5","email_opt_in":false,"tier":null}`+"\n"), 0o644)
	type row struct {
		CustomerID string  `parquet:"customer_id"`
		Age        float32 `parquet:"age"`
		Tier       *string `parquet:"tier,optional"`
		EmailOptIn bool    `parquet:"email_opt_in"`
	}
	gold := "gold"
	pqPath := filepath.Join(dir, "p.parquet")
	if err := parquet.WriteFile(pqPath, []row{{"c1", 34, &gold, true}, {"c2", 51.5, nil, false}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"c1 map[age:34 email_opt_in:true tier:gold] ", "c2 map[age:51.5 email_opt_in:false] "}
	for _, p := range []string{csvPath, jsonPath, pqPath} {
		got, err := readAll(t, r, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for i := range got {
			_, got[i], _ = strings.Cut(got[i], " ")
			_, got[i], _ = strings.Cut(got[i], " ") // "line 2 " / "row 1 "
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %q, want %q", filepath.Base(p), got, want)
		}
	}
}

func TestImportRefusals(t *testing.T) {
	dir := t.TempDir()
	r := retailReader(t)
	for _, c := range []struct{ name, content, want string }{
		{"a.csv", "customer_id,tier,shoe_size\nc1,gold,3\n", `header: column "shoe_size" is not a declared profile attribute`},
		{"b.csv", "customer_id,age\nc1,1\nc2,old\n", "line 3: column age: must be a number, not \"old\""},
		{"c.csv", "customer_id,email_opt_in\nc1,maybe\n", "line 2: column email_opt_in: must be true or false"},
		{"d.csv", "customer_id,age\nc1,2e9\n", "line 2: column age: must be between -1e9 and 1e9"},
		{"e.csv", "customer_id,age,ts\nc1,3,yesterday\n", "line 2: column ts: must be an RFC 3339 time"},
		{"f.csv", "customer_id,age\n,3\n", "line 2: column customer_id: is empty"},
		{"g.csv", "customer_id,age\nc1,\n", "line 2: no attribute is given"},
		{"h.jsonl", `{"customer_id":"c1","tier":7}` + "\n" + `{"customer_id":"c1","tier":true}`, "line 2: column tier: must be a string"},
		{"i.jsonl", "not json\n", "line 1: not a JSON object"},
	} {
		p := filepath.Join(dir, c.name)
		os.WriteFile(p, []byte(c.content), 0o644)
		_, err := readAll(t, r, p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := importFormat("x.txt", ""); err == nil {
		t.Error("x.txt: a format was guessed")
	}
}
