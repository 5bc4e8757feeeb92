package training_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"nextbest/training"
)

// parquetRow is how an analyst's export might look: typed columns.
type parquetRow struct {
	Age        float64 `parquet:"age"`
	Tier       string  `parquet:"tier"`
	Offer      string  `parquet:"offer"`
	Converted  float64 `parquet:"converted"`
	Propensity float64 `parquet:"propensity"`
}

// TestReadParquetMatchesCSV writes the same rows as Parquet (with
// parquet-go) and as CSV and checks both readers give the same examples.
func TestReadParquetMatchesCSV(t *testing.T) {
	rows := []parquetRow{
		{Age: 34, Tier: "gold", Offer: "free-shipping", Converted: 1, Propensity: 0.5},
		{Age: 51.5, Tier: "bronze", Offer: "welcome-15", Converted: 0, Propensity: 0.25},
		{Age: 22, Tier: "", Offer: "new-arrivals", Converted: 0, Propensity: 0.25},
	}
	path := filepath.Join(t.TempDir(), "log.parquet")
	if err := parquet.WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
	cols, err := training.ParseColumnMap("context=age,tier;action=offer;reward=converted;propensity=propensity")
	if err != nil {
		t.Fatal(err)
	}
	collect := func(read func(fn func(*training.CBExample) error) error) []string {
		var out []string
		err := read(func(ex *training.CBExample) error {
			var b strings.Builder
			for _, f := range ex.Shared {
				b.WriteString(f.Name + ":")
				b.WriteString(strings.TrimRight(strings.TrimRight(fmtFloat(f.Value), "0"), "."))
				b.WriteString(" ")
			}
			b.WriteString("| " + strings.Join(ex.ActionIDs, ",") + " r=" + fmtFloat(ex.Reward()) + " p=" + fmtFloat(ex.Prob))
			out = append(out, b.String())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	fromParquet := collect(func(fn func(*training.CBExample) error) error { return training.ReadParquet(path, cols, fn) })

	csv := "age,tier,offer,converted,propensity\n34,gold,free-shipping,1,0.5\n51.5,bronze,welcome-15,0,0.25\n22,,new-arrivals,0,0.25\n"
	csvPath := filepath.Join(t.TempDir(), "log.csv")
	if err := os.WriteFile(csvPath, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	fromCSV := collect(func(fn func(*training.CBExample) error) error {
		f, err := os.Open(csvPath)
		if err != nil {
			return err
		}
		defer f.Close()
		return training.ReadCSV(f, cols, fn)
	})
	if len(fromParquet) != len(rows) {
		t.Fatalf("parquet: %d examples, want %d: %v", len(fromParquet), len(rows), fromParquet)
	}
	for i := range fromParquet {
		if fromParquet[i] != fromCSV[i] {
			t.Errorf("row %d: parquet %q, csv %q", i, fromParquet[i], fromCSV[i])
		}
	}
	if !strings.Contains(fromParquet[0], "tier=gold:1") || !strings.Contains(fromParquet[0], "age:34") {
		t.Errorf("features of row 0: %q", fromParquet[0])
	}
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', 6, 64) }
