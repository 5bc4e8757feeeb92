package attribution_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"nextbest/attribution"
)

// The simulation: journeys whose channels have a known incremental
// effect, so that each model's credit can be compared with the truth.
//
// A customer gets 1 to 8 scheduled touches at uniform times over 28
// days. The channel of a touch depends on its position in the schedule
// (ρ from 0, first, to 1, last): display opens journeys, email closes
// them, social and search sit between. Each touch on channel c, on its
// own, makes the customer decide to buy with probability h_c (its
// incremental effect); the purchase follows after an exponential delay
// (mean 3 days). A customer who decides to buy is sent a triggered email
// (a cart reminder) with probability 0.6 at a uniform time before the
// purchase — it adds nothing the decision had not, but it is very often
// the last touch. A customer also buys with baseline probability p₀
// without any touch, at a uniform time over 30 days. The purchase is the
// earliest of these; the touches after it are not observed.
//
// The truth is removal: every random draw belongs to a touch (or to the
// baseline), so removing channel c's touches from every journey and
// re-simulating with the same draws gives the purchases lost without c.
// A channel's true share is its lost purchases over the sum of every
// channel's — the same normalisation the Markov removal effect uses.
type simChannel struct {
	name   string
	hazard float64
	weight func(rho float64) float64 // schedule weight at position ρ
}

// simScenario is a set of channels, the last of them the one that
// triggered touches use.
type simScenario struct {
	name     string
	channels []simChannel
	trigger  float64 // probability of a triggered touch after a decision
}

func early(r float64) float64  { return 0.2 + 3*(1-r) }
func late(r float64) float64   { return 0.2 + 3*r }
func flat(float64) float64     { return 1 }
func rising(r float64) float64 { return 0.5 + r }

// closerTrap is the brief's scenario: the opener (display) adds much, the
// closer (email) very little but is triggered by decisions to buy, so it
// is often last.
var closerTrap = simScenario{name: "closer trap", trigger: 0.6, channels: []simChannel{
	{"display", 0.10, early},
	{"social", 0.05, flat},
	{"search", 0.04, rising},
	{"email", 0.005, late},
}}

// openerTrap turns it round: display opens most journeys but adds
// little; search, late, adds most; no triggered touches. First touch is
// the biased rule here.
var openerTrap = simScenario{name: "opener trap", trigger: 0, channels: []simChannel{
	{"display", 0.005, early},
	{"social", 0.03, flat},
	{"search", 0.10, late},
	{"email", 0.02, rising},
}}

const (
	simBaseline     = 0.03
	simMeanDelay    = 3 * 24 * time.Hour
	simScheduleDays = 28
)

// simTouch is a scheduled touch with its own draws.
type simTouch struct {
	at      time.Duration
	channel int
	fires   bool
	delay   time.Duration
	// the triggered email the touch's firing sends, if any (-1: none),
	// as an offset into the delay
	trigger   bool
	triggerAt time.Duration
	// the triggered email's own firing and delay
	tFires bool
	tDelay time.Duration
}

type simJourney struct {
	touches  []simTouch
	baseline bool
	baseAt   time.Duration
}

var simT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (sc *simScenario) simulate(r *rand.Rand) simJourney {
	simChannels := sc.channels
	var j simJourney
	n := 1 + r.IntN(8)
	at := make([]time.Duration, n)
	for i := range at {
		at[i] = time.Duration(r.Float64() * simScheduleDays * 24 * float64(time.Hour))
	}
	// sorted schedule (insertion sort: n ≤ 8)
	for i := 1; i < n; i++ {
		for k := i; k > 0 && at[k] < at[k-1]; k-- {
			at[k], at[k-1] = at[k-1], at[k]
		}
	}
	exp := func() time.Duration { return time.Duration(r.ExpFloat64() * float64(simMeanDelay)) }
	email := len(simChannels) - 1
	for i := range n {
		rho := 0.0
		if n > 1 {
			rho = float64(i) / float64(n-1)
		}
		total := 0.0
		for _, c := range simChannels {
			total += c.weight(rho)
		}
		u, ch := r.Float64()*total, 0
		for ch < len(simChannels)-1 && u >= simChannels[ch].weight(rho) {
			u -= simChannels[ch].weight(rho)
			ch++
		}
		t := simTouch{at: at[i], channel: ch}
		t.fires = r.Float64() < simChannels[ch].hazard
		t.delay = exp()
		t.trigger = r.Float64() < sc.trigger
		t.triggerAt = time.Duration(r.Float64() * float64(t.delay))
		t.tFires = r.Float64() < simChannels[email].hazard
		t.tDelay = exp()
		j.touches = append(j.touches, t)
	}
	j.baseline = r.Float64() < simBaseline
	j.baseAt = time.Duration(r.Float64() * 30 * 24 * float64(time.Hour))
	return j
}

// outcome plays the journey without the channel removed (-1: none): the
// touches that happen, in time order, and the purchase time (ok false
// without a purchase). Touches after the purchase are cut off.
func (sc *simScenario) outcome(j *simJourney, removed int) (touches []attribution.Touch, buy time.Duration, ok bool) {
	simChannels := sc.channels
	email := len(simChannels) - 1
	type ev struct {
		at      time.Duration
		channel int
	}
	var evs []ev
	buy = time.Duration(math.MaxInt64)
	if j.baseline {
		buy, ok = j.baseAt, true
	}
	for _, t := range j.touches {
		if t.channel == removed {
			continue
		}
		evs = append(evs, ev{t.at, t.channel})
		if !t.fires {
			continue
		}
		ok = true
		buy = min(buy, t.at+t.delay)
		if t.trigger && removed != email {
			evs = append(evs, ev{t.at + t.triggerAt, email})
			if t.tFires {
				buy = min(buy, t.at+t.triggerAt+t.tDelay)
			}
		}
	}
	for i := 1; i < len(evs); i++ {
		for k := i; k > 0 && evs[k].at < evs[k-1].at; k-- {
			evs[k], evs[k-1] = evs[k-1], evs[k]
		}
	}
	for _, e := range evs {
		if ok && e.at > buy {
			break
		}
		touches = append(touches, attribution.Touch{Time: simT0.Add(e.at), Channel: simChannels[e.channel].name})
	}
	return touches, buy, ok
}

// simResult is the simulation's journeys and each channel's true share.
type simResult struct {
	journeys []attribution.Journey
	truth    map[string]float64
	lost     []int
}

func (sc *simScenario) run(seed uint64, n int) simResult {
	simChannels := sc.channels
	r := rand.New(rand.NewPCG(seed, 2))
	res := simResult{truth: map[string]float64{}, lost: make([]int, len(simChannels))}
	for i := range n {
		j := sc.simulate(r)
		touches, buy, ok := sc.outcome(&j, -1)
		jr := attribution.Journey{Customer: fmt.Sprintf("c%06d", i), Touches: touches}
		if ok {
			jr.Conversions = []attribution.Conversion{{Time: simT0.Add(buy), Revenue: 10}}
			for c := range simChannels {
				if _, _, still := sc.outcome(&j, c); !still {
					res.lost[c]++
				}
			}
		}
		res.journeys = append(res.journeys, jr)
	}
	total := 0
	for _, l := range res.lost {
		total += l
	}
	for c, l := range res.lost {
		res.truth[simChannels[c].name] = float64(l) / float64(total)
	}
	return res
}

// shareError is the total absolute difference of two share vectors.
func shareError(got, want map[string]float64) float64 {
	e := 0.0
	for k, w := range want {
		e += math.Abs(got[k] - w)
	}
	return e
}

// table runs the scenario and returns each model's share error and the
// results as a markdown table.
func (sc *simScenario) table(t *testing.T, seed uint64, n int) (map[attribution.Model]float64, *attribution.Result, simResult, string) {
	t.Helper()
	sim := sc.run(seed, n)
	res, err := attribution.Attribute(sim.journeys, attribution.Options{})
	if err != nil {
		t.Fatal(err)
	}
	errs := map[attribution.Model]float64{}
	var b strings.Builder
	fmt.Fprintf(&b, "%s, seed %d: %d journeys, %d purchases (%d with a touch); lost without each channel:", sc.name, seed, res.Journeys, res.Conversions, res.Attributed)
	for c, l := range sim.lost {
		fmt.Fprintf(&b, " %s %d", sc.channels[c].name, l)
	}
	b.WriteString("\n\n| model |")
	for _, c := range sc.channels {
		fmt.Fprintf(&b, " %s (h=%g) |", c.name, c.hazard)
	}
	b.WriteString(" total abs. error |\n|---|---|---|---|---|---|\n| truth (removal) |")
	for _, c := range sc.channels {
		fmt.Fprintf(&b, " %.3f |", sim.truth[c.name])
	}
	b.WriteString(" — |\n")
	for _, m := range attribution.Models() {
		s := res.Model(m).Shares()
		errs[m] = shareError(s, sim.truth)
		fmt.Fprintf(&b, "| %s |", m.Title())
		for _, c := range sc.channels {
			fmt.Fprintf(&b, " %.3f |", s[c.name])
		}
		fmt.Fprintf(&b, " %.3f |\n", errs[m])
	}
	return errs, res, sim, b.String()
}

// TestSimulationKnownTruth compares every model's channel shares with
// the simulation's true incremental shares, in two scenarios.
//
// In the closer trap (the case the data-driven model is asked to beat)
// last touch hands the closer, email, the purchases display caused; the
// Markov error must be below last touch's by at least 0.3. In the
// opener trap first touch hands display the purchases search caused;
// the Markov error must be below first touch's by at least 0.3. Neither
// single-touch rule is good in both; the assertions ask Markov to beat
// the rule each trap is built against. They do not ask it to find the
// truth: it does not (in the opener trap it credits display, which is on
// most paths, more than search), and docs/attribution.md says why.
//
// Margins: 40,000 journeys give about 9,000 purchases. Each share is a
// ratio of counts in the thousands (standard error about 0.01), so the
// sum of four absolute differences moves by about 0.02–0.03 from seed to
// seed; 0.3 is ten times that. The gaps measured (seed 1 in
// docs/attribution.md) are 0.41 and 0.47; on seeds 1 to 5, run while
// writing the test, they stayed within 0.40–0.45 and 0.47–0.49.
func TestSimulationKnownTruth(t *testing.T) {
	errs, res, sim, table := closerTrap.table(t, 1, 40000)
	t.Log("\n" + table)
	if sim.truth["email"] >= sim.truth["display"] || res.Model(attribution.LastTouch).Shares()["email"] <= sim.truth["email"]+0.1 {
		t.Errorf("the closer trap is not set: email's last-touch share should far exceed its true share")
	}
	if d := errs[attribution.LastTouch] - errs[attribution.Markov]; d < 0.3 {
		t.Errorf("closer trap: Markov's share error %.3f is not below last touch's %.3f by 0.3", errs[attribution.Markov], errs[attribution.LastTouch])
	}
	if got, want := res.Keys[0], "display"; got != want {
		t.Errorf("closer trap: Markov credits %s most; the truth is %s", got, want)
	}

	errs, _, _, table = openerTrap.table(t, 1, 40000)
	t.Log("\n" + table)
	if d := errs[attribution.FirstTouch] - errs[attribution.Markov]; d < 0.3 {
		t.Errorf("opener trap: Markov's share error %.3f is not below first touch's %.3f by 0.3", errs[attribution.Markov], errs[attribution.FirstTouch])
	}
}
