package serve_test

import (
	"strings"
	"testing"

	"nextbest/examples/retail"
	"nextbest/serve"
)

// consentSpec and consentCatalog: the retail sample with consent purposes
// and an action that needs marketing e-mail consent.
func consentSpec() []byte {
	doc := strings.Replace(string(retail.FeatureSpec), "  events: [", "  events: [consent, ", 1)
	return []byte(strings.Replace(doc, "  attribute_events: [profile_update]",
		"  attribute_events: [profile_update]\n  consent: {event: consent, purposes: [marketing_email, personalisation]}", 1))
}

const consentCatalog = `
version: 1
channels: [web, email]
actions:
  - {id: newsletter, channels: [email], value: 5, purposes: [marketing_email]}
  - {id: plain-mail, channels: [email], value: 1}
`

// testConsentWithdrawal: a consent granted through the events API makes
// the action eligible; its withdrawal holds for the very next decision,
// on whichever instance (ins[1] on the cluster); the profile shows the
// history with source, channel, wording and time; a bad consent event is
// refused naming the field and changes nothing.
func testConsentWithdrawal(t *testing.T, ins ...*instance) {
	a, b := ins[0], ins[len(ins)-1]
	eligible := func(in *instance) bool {
		dec := in.mustCall("POST", "/v1/decide", map[string]any{"customer_id": "cons-1", "channel": "email", "explain": true}, 200)
		for _, x := range dec["explain"].(map[string]any)["eligible"].([]any) {
			if x == "newsletter" {
				return true
			}
		}
		return false
	}
	if eligible(b) {
		t.Fatal("newsletter eligible before any consent")
	}
	a.mustCall("POST", "/v1/events", map[string]any{"customer_id": "cons-1", "type": "consent",
		"properties": map[string]any{"purpose": "marketing_email", "granted": true, "source": "web-signup", "text_version": "2026-01"}}, 202)
	if !eligible(b) {
		t.Fatal("newsletter not eligible after the grant")
	}
	a.mustCall("POST", "/v1/events", map[string]any{"customer_id": "cons-1", "type": "consent",
		"properties": map[string]any{"purpose": "marketing_email", "granted": false, "source": "unsubscribe-link", "channel": "email"}}, 202)
	if eligible(b) {
		t.Fatal("newsletter still eligible on the decision after the withdrawal")
	}
	code, out := a.call("POST", "/v1/events", map[string]any{"customer_id": "cons-1", "type": "consent",
		"properties": map[string]any{"purpose": "spam", "granted": true, "source": "x"}})
	if code/100 != 4 || out["error"].(map[string]any)["field"] != "properties.purpose" {
		t.Fatalf("a consent for an unknown purpose: %d %v", code, out)
	}
	hist := b.mustCall("GET", "/v1/profiles/cons-1", nil, 200)["consent_history"].([]any)
	if len(hist) != 2 {
		t.Fatalf("history %v", hist)
	}
	first, last := hist[0].(map[string]any), hist[1].(map[string]any)
	if first["granted"] != true || first["source"] != "web-signup" || first["text_version"] != "2026-01" || first["at"] == nil ||
		last["granted"] != false || last["channel"] != "email" || last["source"] != "unsubscribe-link" {
		t.Errorf("history %v", hist)
	}
}

func consentConfig(cfg serve.Config) serve.Config {
	cfg.FeatureSpec, cfg.Catalog, cfg.Profiles = consentSpec(), []byte(consentCatalog), nil
	return cfg
}

func TestConsentWithdrawal(t *testing.T) {
	t.Parallel()
	testConsentWithdrawal(t, start(t, consentConfig(retailConfig(t.TempDir()))))
}

func TestClusterConsentWithdrawal(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	testConsentWithdrawal(t, start(t, consentConfig(c.config(t))), start(t, consentConfig(c.config(t))))
}
