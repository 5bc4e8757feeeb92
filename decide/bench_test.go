package decide_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/features"
)

// benchCatalog has 20 actions, all offered on web, a third of them with an
// eligibility rule and all with a frequency cap, so that the benchmark
// pays for rules and contact checks as a real catalog would.
func benchCatalog(spec *features.Spec) (*decide.Catalog, error) {
	cats := []string{"discount", "content", "cross_sell", "retention", "service", "loyalty"}
	var b strings.Builder
	b.WriteString("version: 1\nchannels: [web, app, email, call_centre]\nactions:\n")
	for i := range 20 {
		fmt.Fprintf(&b, "  - id: act-%02d\n    channels: [web, app]\n    value: %d\n", i, 1+i%7)
		if i%3 == 0 {
			b.WriteString("    eligible: '(context.cart_value ?? 0) >= 0 && profile.stage != \"retention\"'\n")
		}
		fmt.Fprintf(&b, "    limits: [{max: 5, window: 24h}]\n    features: {category: %s, discount: %.2f}\n", cats[i%len(cats)], float64(i%5)/10)
	}
	return decide.ParseCatalog([]byte(b.String()), spec)
}

func BenchmarkDecide20x64(b *testing.B) {
	for _, pol := range []decide.Explorer{
		{Kind: decide.EpsilonGreedy, Alpha: 1},
		{Kind: decide.Thompson},
	} {
		b.Run(string(pol.Kind), func(b *testing.B) {
			spec, err := features.ParseSpec(retail.FeatureSpec)
			if err != nil {
				b.Fatal(err)
			}
			cat, err := benchCatalog(spec)
			if err != nil {
				b.Fatal(err)
			}
			e, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Explorer: pol, Seed: 1}, trainedRidge(b, spec.Dim(), 1))
			if err != nil {
				b.Fatal(err)
			}
			p := knownProfile(spec)
			req := &decide.Request{CustomerID: "c-1", Channel: "web", Context: map[string]any{"page": "cart", "cart_value": 42.0, "device": "mobile"}, Limit: 3, Now: now}
			var res decide.Result
			if err := e.Decide(context.Background(), req, p, &res); err != nil || len(res.Eligible) != 20 {
				b.Fatalf("want 20 eligible, got %d (%v)", len(res.Eligible), err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := e.Decide(context.Background(), req, p, &res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
