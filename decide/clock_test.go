package decide_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the test's time zone, whatever the machine has

	"nextbest/decide"
	"nextbest/features"
)

// TestRulesAndFeaturesShareTheClock checks that an eligibility rule on
// hour (weekday) and the feature time.hour (time.weekday) read the same
// clock in the feature spec's time zone. India (UTC+5:30) is never on the
// UTC hour, and its day starts 5h30 before UTC's. The catalog has one
// action per hour and one per weekday, so exactly one of each is eligible
// at every decision, and it must be the one the vector says.
func TestRulesAndFeaturesShareTheClock(t *testing.T) {
	spec, err := features.ParseSpec([]byte(`
profile:
  events: [visit]
  stages: [new]
vector:
  timezone: Asia/Kolkata
  features:
    - {type: bias}
    - {source: time.hour, type: numeric}
    - {source: time.weekday, type: numeric}
`))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("version: 1\nchannels: [web]\nactions:\n")
	for h := range 24 {
		fmt.Fprintf(&b, "  - {id: hour-%d, channels: [web], value: 1, eligible: 'hour == %d'}\n", h, h)
	}
	for d := range 7 {
		fmt.Fprintf(&b, "  - {id: weekday-%d, channels: [web], value: 1, eligible: 'weekday == %d'}\n", d, d)
	}
	cat, err := decide.ParseCatalog([]byte(b.String()), spec)
	if err != nil {
		t.Fatal(err)
	}
	e, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hourAt, weekdayAt := slices.Index(spec.Names(), "time.hour"), slices.Index(spec.Names(), "time.weekday")
	check := func(at time.Time, wantHour, wantWeekday int) {
		t.Helper()
		p := spec.NewProfile("c-1", at)
		req := &decide.Request{CustomerID: "c-1", Channel: "web", Limit: 2, Now: at}
		var res decide.Result
		if err := e.Decide(context.Background(), req, p, &res); err != nil {
			t.Fatalf("%v: %v", at, err)
		}
		var eligible []string
		for _, a := range res.Eligible {
			eligible = append(eligible, a.ID)
		}
		row := res.Inputs.Row()
		want := []string{fmt.Sprintf("hour-%v", row[hourAt]), fmt.Sprintf("weekday-%v", row[weekdayAt])}
		if !slices.Equal(eligible, want) {
			t.Errorf("%v: rules made %v eligible, the vector's time.hour and time.weekday say %v", at, eligible, want)
		}
		if wantHour >= 0 && (row[hourAt] != float64(wantHour) || row[weekdayAt] != float64(wantWeekday)) {
			t.Errorf("%v: time.hour %v, time.weekday %v, want %d and %d", at, row[hourAt], row[weekdayAt], wantHour, wantWeekday)
		}
	}
	// Sunday 20:00 UTC is Monday 01:30 in India: hour 1, weekday 1 (UTC
	// would say 20 and 0)
	check(time.Date(2026, 11, 22, 20, 0, 0, 0, time.UTC), 1, int(time.Monday))
	// and every 20 minutes over two days, across both midnights
	for at := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC); at.Before(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)); at = at.Add(20 * time.Minute) {
		check(at, -1, -1)
	}
}
