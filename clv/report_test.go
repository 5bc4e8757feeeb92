package clv_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"nextbest/clv"
)

// TestReport builds the CDNOW report from the fixture (which lacks the
// weekly actuals, so the tracking chart draws the expected line only)
// and checks the headline, the per-customer files and the page.
func TestReport(t *testing.T) {
	s := readFixture(t)
	s.Repeats = make([]int, 78)
	bg, err := clv.FitBGNBD(s.Histories())
	if err != nil {
		t.Fatal(err)
	}
	gg, err := clv.FitGammaGamma(s.Histories())
	if err != nil {
		t.Fatal(err)
	}
	r, err := clv.BuildReport(s, bg, gg, clv.ReportOptions{AnnualDiscount: 0.1, Source: "CDNOW <sample>", Files: []string{"report.csv"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Customers != 2357 || r.RepeatBuyers != 946 || len(r.Values) != 2357 || r.HoldoutActual != 1882 {
		t.Fatalf("customers %d, repeat buyers %d, values %d, holdout %v", r.Customers, r.RepeatBuyers, len(r.Values), r.HoldoutActual)
	}
	sum := 0.0
	for i, v := range r.Values {
		sum += v.CLV
		if i > 0 && v.CLV > r.Values[i-1].CLV {
			t.Fatalf("values not sorted at %d", i)
		}
	}
	if !relClose(sum, r.TotalCLV, 1e-9) || r.TopDecileShare <= 0.1 || r.TopDecileShare >= 1 {
		t.Errorf("total %v vs sum %v; top decile share %v", r.TotalCLV, sum, r.TopDecileShare)
	}
	// every one-time buyer is "alive" in the BG/NBD: 1411 at least
	if r.LikelyAlive < 1411 || r.LikelyAliveRepeat > 946 || r.LikelyAlive-r.LikelyAliveRepeat != 1411 {
		t.Errorf("likely alive %d, among repeat buyers %d", r.LikelyAlive, r.LikelyAliveRepeat)
	}
	// the Quickstart's correlation of zbar with x among the 946: 0.113884
	// (on the cents-rounded zbar; ours are exact)
	if r.SpendFrequencyCorr < 0.11 || r.SpendFrequencyCorr > 0.12 {
		t.Errorf("spend–frequency correlation %.4f, lifetimes 0.1139", r.SpendFrequencyCorr)
	}
	// FHL 2005 §7 (secondary summary in SOURCE.md): individual conditional
	// expectations correlate 0.626 with the actual holdout counts
	if math.Round(1000*r.HoldoutCorr) != 626 {
		t.Errorf("holdout correlation %.4f, FHL 2005 0.626", r.HoldoutCorr)
	}
	head := r.Headline()
	if len(head) != 4 || !strings.HasPrefix(head[0], "Expected value of the customer base: ") || !strings.Contains(head[3], "they made 1,882") {
		t.Errorf("headline %q", head)
	}
	t.Log(strings.Join(head, "\n"))

	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	h := page.String()
	for _, want := range []string{"<svg", "holdout →", "CDNOW &lt;sample&gt;", `<a href="report.csv">`, "Top 20 customers", "7+"} {
		if !strings.Contains(h, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://", "NaN", "+Inf", ">Inf"} {
		if strings.Contains(h, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if i := strings.Index(h, "<li>"); i < 0 || !strings.Contains(h[i:i+200], "Expected value of the customer base") {
		t.Error("the page does not open with the headline")
	}

	var csvOut bytes.Buffer
	if err := r.WriteCustomersCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil || len(rows) != 2358 || rows[0][0] != "customer_id" || rows[0][9] != "clv" {
		t.Fatalf("csv: %d rows, %v", len(rows), err)
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		TotalCLV float64 `json:"total_clv"`
		Values   []struct {
			ID  string  `json:"customer_id"`
			CLV float64 `json:"clv"`
		} `json:"values"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.TotalCLV != r.TotalCLV || len(back.Values) != 2357 || back.Values[0].ID != r.Values[0].ID {
		t.Errorf("json round trip: %v", err)
	}
}
