package htmlreport

import (
	"strings"
	"testing"
)

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Pct(0.1234), "12.3%"}, {SignedPct(0.05), "+5.0%"}, {SignedPct(-0.04), "-4.0%"},
		{Count(1234567), "1,234,567"}, {Num(1500), "1,500"}, {Num(2.5), "2.50"},
		{Days(14), "14 days"}, {Days(1), "1 day"}, {Days(3.25), "3.2 days"}, {Days(0.5), "12 hours"},
		{Days(1.0 / 24), "1 hour"}, {Days(0.2 / 24), "12 minutes"},
		{Heat(0), "h0"}, {Heat(0.01), "h1"}, {Heat(0.5), "h3"}, {Heat(1), "h5"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}

// TestPage: the head has the one style sheet and no style attribute, and
// the opening lines escape what they say.
func TestPage(t *testing.T) {
	var b strings.Builder
	Head(&b, "A <b> report")
	Headline(&b, []string{"Head: a <rest>", "no colon here"})
	Foot(&b)
	page := b.String()
	for _, want := range []string{"<title>A &lt;b&gt; report</title>", "<li><b>Head:</b> a &lt;rest&gt;</li>", "<li>no colon here</li>", "</html>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q:\n%s", want, page)
		}
	}
	if strings.Count(page, "<style>") != 1 || strings.Contains(page, "style=") {
		t.Errorf("want exactly one <style> element and no style attribute")
	}
}
