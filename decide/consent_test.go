package decide_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/features"
)

// consentSpec is the retail spec with consent purposes.
func consentSpec(t testing.TB) *features.Spec {
	t.Helper()
	doc := strings.Replace(string(retail.FeatureSpec), "  events: [", "  events: [consent, ", 1)
	doc = strings.Replace(doc, "  attribute_events: [profile_update]",
		"  attribute_events: [profile_update]\n  consent: {event: consent, purposes: [marketing_email, personalisation, profiling]}", 1)
	s, err := features.ParseSpec([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConsentPurposes: for each purpose, an action that needs it is shown
// only after a grant on the decision's channel (or on every channel),
// never before one, and not after a withdrawal; a channel-specific entry
// overrides the every-channel one; the explanation names the purpose and
// the entry (source, time, wording) that decided; an unknown purpose in
// the catalog or the event is refused naming the field.
func TestConsentPurposes(t *testing.T) {
	spec := consentSpec(t)
	cat, err := decide.ParseCatalog([]byte(`
version: 1
channels: [web, email]
actions:
  - {id: news, channels: [web, email], value: 1, purposes: [marketing_email]}
  - {id: recs, channels: [web, email], value: 1, purposes: [personalisation]}
  - {id: lookalike, channels: [web, email], value: 1, purposes: [profiling, personalisation]}
  - {id: plain, channels: [web, email], value: 1}
`), spec)
	if err != nil {
		t.Fatal(err)
	}
	e, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Explorer: decide.Explorer{Kind: decide.EpsilonGreedy}, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	p := spec.NewProfile("c", at.Add(-time.Hour))
	consent := func(purpose, channel string, granted bool, minutes int) {
		props := map[string]any{"purpose": purpose, "granted": granted, "source": "crm", "text_version": "v3"}
		if channel != "" {
			props["channel"] = channel
		}
		if err := spec.ApplyEvent(p, features.Event{Type: "consent", Time: at.Add(time.Duration(minutes) * time.Minute), Properties: props}); err != nil {
			t.Fatal(err)
		}
	}
	eligible := func(channel string) (map[string]bool, map[string]string) {
		var res decide.Result
		req := &decide.Request{CustomerID: "c", Channel: channel, Limit: 4, Now: at.Add(time.Hour), Explain: true}
		if err := e.Decide(context.Background(), req, p, &res); err != nil {
			t.Fatal(err)
		}
		ok := map[string]bool{}
		for _, a := range res.Eligible {
			ok[a.ID] = true
		}
		why := map[string]string{}
		for _, d := range res.Explain.Dropped {
			why[d.ActionID] = d.Stage + ": " + d.Reason
		}
		return ok, why
	}
	check := func(step string, channel string, want ...string) map[string]string {
		t.Helper()
		ok, why := eligible(channel)
		if len(ok) != len(want) {
			t.Errorf("%s, %s: eligible %v, want %v (dropped %v)", step, channel, ok, want, why)
		}
		for _, w := range want {
			if !ok[w] {
				t.Errorf("%s, %s: %s not eligible (dropped %v)", step, channel, w, why)
			}
		}
		return why
	}
	why := check("no consent", "email", "plain")
	if !strings.Contains(why["news"], "consent: no consent for purpose marketing_email on channel email: never given") {
		t.Errorf("reason %q", why["news"])
	}
	consent("marketing_email", "", true, 1)
	check("marketing e-mail granted everywhere", "email", "plain", "news")
	consent("personalisation", "web", true, 2)
	check("personalisation granted on the web", "web", "plain", "news", "recs")
	check("personalisation granted on the web", "email", "plain", "news")
	consent("profiling", "", true, 3)
	check("profiling granted", "web", "plain", "news", "recs", "lookalike")
	consent("marketing_email", "email", false, 4)
	why = check("marketing e-mail withdrawn on e-mail", "email", "plain")
	if !strings.Contains(why["news"], "withdrawn for channel email on 2026-06-01T12:04:00Z via crm (text v3)") {
		t.Errorf("reason %q", why["news"])
	}
	check("marketing e-mail still granted on the web", "web", "plain", "news", "recs", "lookalike")
	if h := p.ConsentHistory; len(h) != 4 || h[3].Granted || h[3].Channel != "email" || h[0].Source != "crm" {
		t.Errorf("history %+v", h)
	}

	if _, err := decide.ParseCatalog([]byte("version: 1\nchannels: [web]\nactions:\n  - {id: x, channels: [web], value: 1, purposes: [spam]}\n"), spec); err == nil || !strings.Contains(err.Error(), "purposes[0]") {
		t.Errorf("an unknown purpose in the catalog: %v", err)
	}
	for field, props := range map[string]map[string]any{
		"properties.purpose": {"purpose": "spam", "granted": true, "source": "x"},
		"properties.granted": {"purpose": "profiling", "granted": "yes", "source": "x"},
		"properties.source":  {"purpose": "profiling", "granted": true},
	} {
		err := spec.ValidateEvent(features.Event{Type: "consent", Time: at, Properties: props})
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%v: %v, want an error naming %s", props, err, field)
		}
	}
}
