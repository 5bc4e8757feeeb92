package attribution_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"

	"nextbest/attribution"
)

func TestReport(t *testing.T) {
	dir := goldenJournal(t)
	journeys, st, err := attribution.Build(context.Background(), dir, attribution.BuildConfig{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := attribution.Attribute(journeys, attribution.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := &attribution.Report{Source: "golden", Stats: st, Result: res}

	// the headline, from the hand counts of goldenJournal: Markov gives
	// web ½, app and email ¼; last touch web and app ½ each (a tie its
	// leader breaks in the keys' order, Markov's: web). The differences
	// tie at 25 points; they are listed in the keys' order.
	head := r.Headline()
	for i, want := range []string{
		"Most conversions by the data-driven model: channel web drives 50.0% of the 2 conversions with a touch (1 conversions, 80 revenue)",
		"Against last touch: last touch credits the same channel (50.0%) most. The largest differences: app 25.0% by Markov against 50.0% by last touch; email 25.0% by Markov against 0.0% by last touch.",
		"Coverage: 3 conversions (161 revenue) from 3 journeys; 2 had a touch in the 30 days before them and are credited, 1 had none and are not.",
	} {
		if i >= len(head) || !strings.HasPrefix(head[i], want) {
			t.Errorf("headline line %d:\n got %q\nwant %q…", i, head, want)
		}
	}

	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	for _, want := range []string{"<svg", "Markov (removal effect)", "Last touch", "<li><b>Most conversions by the data-driven model:</b> channel web drives"} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "src=", "http://", "https://", "<link", "NaN"} {
		if strings.Contains(html, bad) {
			t.Errorf("the page is not self-contained or has a bad number: it contains %q", bad)
		}
	}

	var c bytes.Buffer
	if err := r.WriteCSV(&c); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&c).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+6*3 || strings.Join(rows[0], ",") != "by,model,key,conversions,revenue,share" {
		t.Errorf("CSV: %d rows, header %v; want 19 and by,model,key,conversions,revenue,share", len(rows), rows[0])
	}
	if got := strings.Join(rows[len(rows)-3], ","); got != "channel,markov,web,1,80,0.5" {
		t.Errorf("Markov's web row %q", got)
	}
}
