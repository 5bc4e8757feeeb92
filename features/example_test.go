package features_test

import (
	"fmt"
	"time"

	"nextbest/features"
)

// A feature spec declares how events update a profile and how a profile,
// the request and an action become the model's vector. Here: a bias, one
// decayed counter (three page views a half-life ago count 1.5), the
// channel one-hot (with a slot for channels it does not list), and the
// action's discount.
func ExampleSpec_Assemble() {
	spec, err := features.ParseSpec([]byte(`
profile:
  events: [page_view]
  stages: [new]
  counters:
    - {name: views_7d, half_life: 7d, events: [page_view]}
vector:
  action:
    - {name: discount, type: number, min: 0, max: 0.5}
  features:
    - {type: bias}
    - {source: profile.counters.views_7d, type: numeric}
    - {source: request.channel, type: onehot, values: [web, app]}
    - {source: action.discount, type: numeric}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	p := spec.NewProfile("c-1", now)
	for range 3 {
		if err := spec.ApplyEvent(p, features.Event{Type: "page_view", Time: now}); err != nil {
			fmt.Println(err)
			return
		}
	}
	act, err := spec.CompileAction("ten-off", map[string]any{"discount": 0.1})
	if err != nil {
		fmt.Println(err)
		return
	}
	var in features.Inputs
	spec.Inputs(&in, p, "app", nil, now.Add(7*24*time.Hour))
	x := make([]float64, spec.Dim())
	spec.Assemble(x, &in, []*features.ActionFeatures{act})
	for i, name := range spec.Names() {
		fmt.Printf("%s = %.4f\n", name, x[i])
	}
	// Output:
	// bias = 1.0000
	// profile.counters.views_7d = 1.5000
	// request.channel=web = 0.0000
	// request.channel=app = 1.0000
	// request.channel=<other> = 0.0000
	// action.discount = 0.1000
}
