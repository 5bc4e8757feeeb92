package features_test

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"nextbest/features"
)

// fnvBucket is FNV-1a 64 of key mod n, from the standard library: an
// implementation independent of the package's.
func fnvBucket(key string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(n))
}

// TestAssembleGolden checks testdata/good/small.yaml (dim 19) by hand:
//
//	[0]     bias = 1
//	[1]     visits: 3 visits one half-life (1d) ago decay to 1.5; log1p(1.5)
//	[2]     recency.buy: never bought -> default 365 days; min-max [0,100] -> 3.65
//	[3]     amount 20 clipped to 10; (10-5)/2 = 2.5
//	[4..6]  page "cart" -> slot 5 (home, cart, other)
//	[7..9]  action x cat "b" -> 8; action y cat "zzz" -> other slot 9
//	[10]    price: x 2.5; y missing -> default 0
//	[11..14] time.hour 13 -> 11 + fnv1a64("13") mod 4
//	[15..18] context.page x action.id -> 15 + fnv1a64("cart\x1f<id>") mod 4
func TestAssembleGolden(t *testing.T) {
	s := mustSpec(t, "testdata/good/small.yaml")
	now := time.Date(2026, 11, 20, 13, 30, 0, 0, time.UTC)
	p := &features.Profile{
		CustomerID: "c", FirstSeen: now.Add(-day(10)), Stage: "active",
		Counters: map[string]features.Counter{"visits": {Value: 3, At: now.Add(-day(1))}},
	}
	ctx := map[string]any{"page": "cart", "amount": 20.0}
	x, err := s.CompileAction("x", map[string]any{"cat": "b", "price": 2.5})
	if err != nil {
		t.Fatal(err)
	}
	y, err := s.CompileAction("y", map[string]any{"cat": "zzz"})
	if err != nil {
		t.Fatal(err)
	}
	var in features.Inputs
	s.Inputs(&in, p, "web", ctx, now)
	got := make([]float64, 2*s.Dim())
	s.Assemble(got, &in, []*features.ActionFeatures{x, y})

	want := make([]float64, 2*19)
	for r, a := range []struct {
		id    string
		cat   int
		price float64
	}{{"x", 8, 2.5}, {"y", 9, 0}} {
		row := want[r*19 : (r+1)*19]
		row[0] = 1
		row[1] = 0.9162907318741551 // log1p(1.5)
		row[2] = 3.65
		row[3] = 2.5
		row[5] = 1
		row[a.cat] = 1
		row[10] = a.price
		row[11+fnvBucket("13", 4)] = 1
		row[15+fnvBucket("cart\x1f"+a.id, 4)] = 1
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("row %d dim %d (%s) = %v, want %v", i/19, i%19, s.Names()[i%19], got[i], want[i])
		}
	}
	// Missing context: page one-hot and cross are empty, amount uses the
	// default 0 -> (0-5)/2.
	s.Inputs(&in, nil, "", nil, now)
	s.Assemble(got[:19], &in, []*features.ActionFeatures{x})
	if got[3] != -2.5 || got[4]+got[5]+got[6] != 0 || got[1] != 0 || got[2] != 3.65 {
		t.Errorf("missing inputs row = %v", got[:19])
	}
	for i := 15; i < 19; i++ {
		if got[i] != 0 {
			t.Errorf("cross with a missing side set dim %d", i)
		}
	}
}

var (
	pages    = []string{"home", "product", "category", "cart", "checkout", "account", "support", "elsewhere"}
	devices  = []string{"desktop", "mobile", "tablet", "tv"}
	tiers    = []string{"bronze", "silver", "gold", "platinum", "tin"}
	channels = []string{"web", "app", "email", "call_center", ""}
	cats     = []string{"discount", "content", "cross_sell", "retention", "service", "loyalty"}
	events   = []string{"page_view", "product_view", "add_to_cart", "cart_abandoned", "checkout_started",
		"purchase", "email_opened", "email_clicked", "support_call", "app_open"}
)

func randomProfile(r *rand.Rand, s *features.Spec, now time.Time) *features.Profile {
	p := s.NewProfile("c", now.Add(-day(r.Float64()*400)))
	t := p.FirstSeen
	for range r.IntN(40) {
		t = t.Add(time.Duration(r.Float64() * float64(day(10))))
		if t.After(now) {
			break
		}
		e := features.Event{Type: events[r.IntN(len(events))], Channel: channels[r.IntN(len(channels))], Time: t,
			Properties: map[string]any{"amount": math.Round(r.Float64()*20000) / 100}}
		if err := s.ApplyEvent(p, e); err != nil {
			panic(err)
		}
	}
	if r.IntN(4) > 0 {
		p.Attributes = map[string]any{"age": float64(16 + r.IntN(80)), "tier": tiers[r.IntN(len(tiers))], "email_opt_in": r.IntN(2) == 0}
	}
	return p
}

func randomContext(r *rand.Rand) map[string]any {
	ctx := map[string]any{}
	if r.IntN(5) > 0 {
		ctx["page"] = pages[r.IntN(len(pages))]
	}
	if r.IntN(2) > 0 {
		ctx["cart_value"] = math.Round(r.Float64()*50000) / 100
	}
	if r.IntN(5) > 0 {
		ctx["device"] = devices[r.IntN(len(devices))]
	}
	return ctx
}

func retailActions(t testing.TB, s *features.Spec, n int) []*features.ActionFeatures {
	acts := make([]*features.ActionFeatures, n)
	for i := range acts {
		a, err := s.CompileAction("offer-"+string(rune('a'+i)), map[string]any{
			"category": cats[i%len(cats)], "discount": float64(i%6) / 10})
		if err != nil {
			t.Fatal(err)
		}
		acts[i] = a
	}
	return acts
}

// TestInputsFromLogMatchesLive is a property test: for random profiles and
// contexts (fixed seed), the vector rebuilt from the logged profile map and
// context after a JSON round trip equals the live vector bit for bit.
func TestInputsFromLogMatchesLive(t *testing.T) {
	s := mustSpec(t, retailPath)
	r := rand.New(rand.NewPCG(1, 1))
	acts := retailActions(t, s, 20)
	live := make([]float64, len(acts)*s.Dim())
	replay := make([]float64, len(acts)*s.Dim())
	var in, in2 features.Inputs
	for i := range 500 {
		now := t0.Add(time.Duration(r.Int64N(int64(day(30)))))
		p := randomProfile(r, s, now)
		ctx := randomContext(r)
		channel := channels[r.IntN(len(channels))]
		s.Inputs(&in, p, channel, ctx, now)
		s.Assemble(live, &in, acts)

		logged, err := json.Marshal(map[string]any{"profile": in.ProfileMap(), "context": ctx, "now": now})
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Profile map[string]any
			Context map[string]any
			Now     time.Time
		}
		if err := json.Unmarshal(logged, &rec); err != nil {
			t.Fatal(err)
		}
		if err := s.InputsFromLog(&in2, rec.Profile, channel, rec.Context, rec.Now); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		s.Assemble(replay, &in2, acts)
		for j := range live {
			if math.Float64bits(live[j]) != math.Float64bits(replay[j]) {
				t.Fatalf("case %d dim %d (%s): live %v, replayed %v\nlog %s", i, j%s.Dim(), s.Names()[j%s.Dim()], live[j], replay[j], logged)
			}
		}
	}
}

func TestInputsFromLogTypeError(t *testing.T) {
	s := mustSpec(t, retailPath)
	var in features.Inputs
	err := s.InputsFromLog(&in, map[string]any{"counters.visits_7d": "many"}, "web", nil, t0)
	if fe, ok := err.(*features.FieldError); !ok || fe.Field != "profile.counters.visits_7d" {
		t.Fatalf("InputsFromLog = %v, want a *FieldError on profile.counters.visits_7d", err)
	}
}

// TestInputsCounters checks that Inputs decays each counter the profile
// has once, to the value CounterValue gives, and yields exactly those.
func TestInputsCounters(t *testing.T) {
	s := mustSpec(t, retailPath)
	r := rand.New(rand.NewPCG(4, 4))
	var in features.Inputs
	for i := range 200 {
		now := t0.Add(time.Duration(r.Int64N(int64(day(30)))))
		p := randomProfile(r, s, now)
		s.Inputs(&in, p, "web", nil, now)
		got := map[string]float64{}
		for name, v := range in.Counters() {
			if _, dup := got[name]; dup {
				t.Fatalf("case %d: counter %s yielded twice", i, name)
			}
			got[name] = v
		}
		if len(got) != len(p.Counters) {
			t.Fatalf("case %d: yielded %v, profile has %v", i, got, p.Counters)
		}
		for name := range p.Counters {
			want, _ := s.CounterValue(p, name, now)
			if v, ok := got[name]; !ok || math.Float64bits(v) != math.Float64bits(want) {
				t.Fatalf("case %d: counter %s = %v (yielded %v), CounterValue %v", i, name, v, ok, want)
			}
		}
	}
}

// TestInputsTime checks that Inputs.Time is the clock of time.hour and
// time.weekday: the decision time in vector.timezone.
func TestInputsTime(t *testing.T) {
	s, err := features.ParseSpec([]byte(`
profile:
  events: [visit]
  stages: [new]
vector:
  timezone: Asia/Kolkata
  features:
    - {source: time.hour, type: numeric}
    - {source: time.weekday, type: numeric}
`))
	if err != nil {
		t.Fatal(err)
	}
	// 20:00 UTC on Sunday is 01:30 on Monday in India (UTC+5:30)
	now := time.Date(2026, 11, 22, 20, 0, 0, 0, time.UTC)
	var in features.Inputs
	s.Inputs(&in, nil, "", nil, now)
	lt := in.Time()
	if !lt.Equal(now) || lt.Location().String() != "Asia/Kolkata" || lt.Hour() != 1 || lt.Weekday() != time.Monday {
		t.Fatalf("Time() = %v, want %v in Asia/Kolkata (01:30 Monday)", lt, now)
	}
	if row := in.Row(); row[0] != 1 || row[1] != 1 {
		t.Errorf("time.hour, time.weekday = %v, want [1 1]", row)
	}
}

func TestAssembleAllocs(t *testing.T) {
	s := mustSpec(t, retailPath)
	r := rand.New(rand.NewPCG(2, 2))
	p := randomProfile(r, s, t0)
	ctx := map[string]any{"page": "cart", "cart_value": 120.5, "device": "mobile"}
	acts := retailActions(t, s, 20)
	dst := make([]float64, len(acts)*s.Dim())
	var in features.Inputs
	s.Inputs(&in, p, "web", ctx, t0)
	if n := testing.AllocsPerRun(100, func() {
		s.Inputs(&in, p, "web", ctx, t0)
		s.Assemble(dst, &in, acts)
	}); n != 0 {
		t.Errorf("Inputs+Assemble allocate %v times per run, want 0", n)
	}
	sum := 0.0
	if n := testing.AllocsPerRun(100, func() {
		for _, v := range in.Counters() {
			sum += v
		}
	}); n != 0 {
		t.Errorf("Inputs.Counters allocates %v times per run, want 0", n)
	}
}

func BenchmarkAssemble(b *testing.B) {
	s := mustSpec(b, retailPath)
	p := randomProfile(rand.New(rand.NewPCG(3, 3)), s, t0)
	ctx := map[string]any{"page": "cart", "cart_value": 120.5, "device": "mobile"}
	acts := retailActions(b, s, 20)
	dst := make([]float64, len(acts)*s.Dim())
	var in features.Inputs
	s.Inputs(&in, p, "web", ctx, t0)
	b.ReportAllocs()
	b.SetBytes(int64(len(dst) * 8))
	for b.Loop() {
		s.Assemble(dst, &in, acts)
	}
}

func BenchmarkInputs(b *testing.B) {
	s := mustSpec(b, retailPath)
	p := randomProfile(rand.New(rand.NewPCG(3, 3)), s, t0)
	ctx := map[string]any{"page": "cart", "cart_value": 120.5, "device": "mobile"}
	var in features.Inputs
	b.ReportAllocs()
	for b.Loop() {
		s.Inputs(&in, p, "web", ctx, t0)
	}
}

// TestFillProfileMapAllocs checks that FillProfileMap writes what
// ProfileMap does into the map it is given (stale entries gone), and
// that into a reused map it boxes only the values it derives: the
// profile's attributes go in as the interfaces the profile holds. This
// profile derives two values that box (the stage and a recency); its
// seven absent counters log 0, which Go boxes without allocating.
func TestFillProfileMapAllocs(t *testing.T) {
	s := mustSpec(t, retailPath)
	p := s.NewProfile("c-1", t0.Add(-30*24*time.Hour))
	p.Cold, p.Stage = false, "cart"
	p.Attributes = map[string]any{"tier": "gold", "age": 35.0, "email_opt_in": true}
	p.LastEvent = map[string]time.Time{"purchase": t0.Add(-50 * time.Hour)}
	var in features.Inputs
	s.Inputs(&in, p, "web", nil, t0)
	want := in.ProfileMap()
	m := map[string]any{"stale": 1.0}
	if got := in.FillProfileMap(m); !reflect.DeepEqual(got, want) || !reflect.DeepEqual(m, want) {
		t.Fatalf("FillProfileMap wrote %v into the map given (returned %v), ProfileMap says %v", m, got, want)
	}
	for _, k := range []string{"attributes.tier", "attributes.age", "attributes.email_opt_in", "stage", "recency.purchase", "counters.visits_7d"} {
		if _, ok := want[k]; !ok {
			t.Errorf("ProfileMap lacks %q: %v", k, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { in.FillProfileMap(m) }); n > 2 {
		t.Errorf("FillProfileMap into a reused map allocates %v times, want at most 2", n)
	}
}
