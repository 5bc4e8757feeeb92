package features_test

import (
	"reflect"
	"testing"

	"nextbest/features"
)

// TestSources lists what the retail vector reads: every source a feature
// or cross names, once, with its type; action fields that no feature
// reads would be left out (the retail spec reads both of its own).
func TestSources(t *testing.T) {
	s := mustSpec(t, retailPath)
	num, str := "number", "string"
	want := []features.Source{
		{Name: "profile.stage", Type: str},
		{Name: "profile.counters.visits_7d", Type: num},
		{Name: "profile.counters.product_views_7d", Type: num},
		{Name: "profile.counters.cart_adds_7d", Type: num},
		{Name: "profile.counters.purchases_30d", Type: num},
		{Name: "profile.counters.spend_30d", Type: num},
		{Name: "profile.counters.support_calls_30d", Type: num},
		{Name: "profile.counters.email_clicks_30d", Type: num},
		{Name: "profile.recency.purchase", Type: num},
		{Name: "profile.attributes.age", Type: num},
		{Name: "profile.attributes.tier", Type: str},
		{Name: "profile.attributes.email_opt_in", Type: "bool"},
		{Name: "context.page", Type: str},
		{Name: "context.cart_value", Type: num},
		{Name: "context.device", Type: str},
		{Name: "request.channel", Type: str},
		{Name: "action.id", Type: str, Action: true},
		{Name: "action.category", Type: str, Action: true},
		{Name: "action.discount", Type: num, Action: true},
	}
	if got := s.Sources(); !reflect.DeepEqual(got, want) {
		t.Errorf("Sources\n got %+v\nwant %+v", got, want)
	}
	// context.campaign is declared but no feature reads it
	for _, src := range s.Sources() {
		if src.Name == "context.campaign" {
			t.Errorf("unread field %s listed", src.Name)
		}
	}
}
