package decide_test

import (
	"context"
	"fmt"
	"time"

	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/features"
)

// A decision on the shipped retail sample, served by the fallback ranking
// (no model yet; value × weight): the funnel drops what the channel, the
// rules and the contact policy forbid, and every returned action carries
// the exact probability that the explorer put it in its slot — here
// 0.9 + 0.1/3 for the best of three, then 0.9 + 0.1/2 for the best of the
// remaining two.
func ExampleEngine_Decide() {
	spec, err := features.ParseSpec(retail.FeatureSpec)
	if err != nil {
		fmt.Println(err)
		return
	}
	cat, err := decide.ParseCatalog(retail.Catalog, spec)
	if err != nil {
		fmt.Println(err)
		return
	}
	eng, err := decide.New(decide.Config{
		Catalog: cat, Spec: spec, Seed: 1,
		Explorer: decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: 0.1},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	req := decide.Request{
		CustomerID: "c-0042", Channel: "web", Now: now, Limit: 2,
		Context:    map[string]any{"page": "cart", "cart_value": 120.5},
		Candidates: []string{"free-shipping", "welcome-15", "new-arrivals"},
	}
	var res decide.Result
	if err := eng.Decide(context.Background(), &req, spec.NewProfile("c-0042", now), &res); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("fallback:", res.Fallback)
	for _, c := range res.Actions {
		fmt.Printf("slot %d: %s with probability %.4f\n", c.Slot, c.Action.ID, c.Propensity)
	}
	// Output:
	// fallback: true
	// slot 0: welcome-15 with probability 0.9333
	// slot 1: free-shipping with probability 0.9500
}

// A slot's context is merged over the request's: the slot's values win,
// the request's others stay.
func ExampleSlotContext() {
	req := map[string]any{"page": "product", "device": "mobile"}
	hero := decide.SlotContext(nil, req, map[string]any{"placement": "hero", "device": "desktop"})
	fmt.Println(hero["page"], hero["device"], hero["placement"])
	// Output: product desktop hero
}
