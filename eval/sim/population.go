package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/features"
)

// Config configures a Population. Zero values take the documented defaults.
type Config struct {
	// Customers is the population size (default 1000). The first ones are
	// the demo profiles of Profiles (c-0001..c-0200 in the retail sample),
	// in file order; the rest are made up, with ids continuing the pattern
	// (c-0201, ...), and start as unknown customers.
	Customers int
	// Seed makes the population and its truth: segments, tastes, made-up
	// customers. The same seed gives the same population.
	Seed uint64
	// Catalog, FeatureSpec and Profiles default to the embedded retail
	// sample. The truth knows the retail action ids; other actions get only
	// the category, discount, channel, stage and latent effects.
	Catalog, FeatureSpec, Profiles []byte
	// Drift, if set, changes a segment's preferences at a point in time.
	Drift *Drift
}

// Drift changes what a segment likes at time At: from then on its
// latent taste for action From falls by Shift and for To rises by Shift,
// so a segment that preferred From now prefers To.
type Drift struct {
	At       time.Time
	Segment  string
	From, To string
	// Shift in logit units (default 2.5).
	Shift float64
}

// Customer is one simulated customer: its hidden segment and tastes, and
// its profile as the service would hold it (the same events, impressions
// and outcomes applied the same way).
type Customer struct {
	ID      string
	Index   int
	Segment string
	// Profile is the customer's state. It is owned by whoever steps the
	// customer: one goroutine at a time.
	Profile *features.Profile

	seg      int
	taste    [nCat]float64 // own taste per category
	attrs    map[string]any
	activity float64
}

// Population is a set of customers and the ground truth of how they
// respond. The truth is read-only after New; customers' state changes as
// visits are stepped (see Begin and Respond).
type Population struct {
	cat       *decide.Catalog
	spec      *features.Spec
	funnel    *decide.Engine
	customers []*Customer
	maxAct    float64

	// per action index
	aCat   []int
	aDisc  []float64
	aValue []float64
	aBase  []float64
	aPage  [][nPage]float64
	aDev   [][nDev]float64
	aTier  [][nTier]float64
	// taste[segment][action]
	taste [][]float64

	drift                     *Drift
	driftSeg, driftFrom, drTo int
	chanIdx                   map[string]int
	emailOK                   []bool // per customer: email consent
}

// New builds the population of cfg.
func New(cfg Config) (*Population, error) {
	if cfg.Customers == 0 {
		cfg.Customers = 1000
	}
	if cfg.Customers < 1 {
		return nil, fmt.Errorf("sim: Customers must be >= 1, got %d", cfg.Customers)
	}
	if cfg.Catalog == nil {
		cfg.Catalog = retail.Catalog
	}
	if cfg.FeatureSpec == nil {
		cfg.FeatureSpec = retail.FeatureSpec
	}
	if cfg.Profiles == nil {
		cfg.Profiles = retail.Profiles
	}
	spec, err := features.ParseSpec(cfg.FeatureSpec)
	if err != nil {
		return nil, fmt.Errorf("sim: feature spec: %w", err)
	}
	cat, err := decide.ParseCatalog(cfg.Catalog, spec)
	if err != nil {
		return nil, fmt.Errorf("sim: catalog: %w", err)
	}
	funnel, err := decide.New(decide.Config{Catalog: cat, Spec: spec, Seed: 1}, nil)
	if err != nil {
		return nil, err
	}
	p := &Population{cat: cat, spec: spec, funnel: funnel, chanIdx: map[string]int{}}
	for i, c := range channels {
		p.chanIdx[c] = i
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	p.buildTruth(r)
	if err := p.buildCustomers(r, cfg); err != nil {
		return nil, err
	}
	if d := cfg.Drift; d != nil {
		dd := *d
		if dd.Shift == 0 {
			dd.Shift = 2.5
		}
		p.driftSeg = segIndex(dd.Segment)
		from, ok1 := cat.Lookup(dd.From)
		to, ok2 := cat.Lookup(dd.To)
		if p.driftSeg < 0 || !ok1 || !ok2 || dd.At.IsZero() {
			return nil, fmt.Errorf("sim: drift needs a known segment, two catalog actions and a time: %+v", dd)
		}
		p.driftFrom, p.drTo = from.Index(), to.Index()
		p.drift = &dd
	}
	return p, nil
}

func segIndex(name string) int {
	for i, s := range segments {
		if s.name == name {
			return i
		}
	}
	return -1
}

// Segments lists the segment names.
func Segments() []string {
	out := make([]string, len(segments))
	for i, s := range segments {
		out[i] = s.name
	}
	return out
}

func (p *Population) buildTruth(r *rand.Rand) {
	n := len(p.cat.Actions)
	p.aCat = make([]int, n)
	p.aDisc = make([]float64, n)
	p.aValue = make([]float64, n)
	p.aBase = make([]float64, n)
	p.aPage = make([][nPage]float64, n)
	p.aDev = make([][nDev]float64, n)
	p.aTier = make([][nTier]float64, n)
	for i, a := range p.cat.Actions {
		c, _ := a.Features["category"].(string)
		p.aCat[i] = max(indexOf(categories, c), 0)
		switch d := a.Features["discount"].(type) {
		case float64:
			p.aDisc[i] = d
		case int:
			p.aDisc[i] = float64(d)
		}
		p.aValue[i] = a.Value
		// dearer actions convert less often
		p.aBase[i] = baseLogit - 0.35*math.Log(math.Max(a.Value, 0.5)/5)
		if e, ok := actionEffects[a.ID]; ok {
			p.aBase[i] += e.base
			for k, v := range e.page {
				p.aPage[i][k] = v
			}
			for k, v := range e.device {
				p.aDev[i][k] = v
			}
			for k, v := range e.tier {
				p.aTier[i][k] = v
			}
		}
	}
	p.taste = make([][]float64, len(segments))
	for s := range segments {
		p.taste[s] = make([]float64, n)
		for i := range n {
			p.taste[s][i] = tasteSD * r.NormFloat64()
		}
	}
}

func (p *Population) buildCustomers(r *rand.Rand, cfg Config) error {
	sc := bufio.NewScanner(bytes.NewReader(cfg.Profiles))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() && len(p.customers) < cfg.Customers {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		prof := &features.Profile{}
		if err := json.Unmarshal(b, prof); err != nil {
			return fmt.Errorf("sim: profiles line %d: %w", len(p.customers)+1, err)
		}
		prof.Cold = false
		c := &Customer{ID: prof.CustomerID, Index: len(p.customers), Profile: prof}
		c.seg = demoSegment(r, prof)
		p.finishCustomer(r, c)
		p.customers = append(p.customers, c)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("sim: profiles: %w", err)
	}
	for len(p.customers) < cfg.Customers {
		i := len(p.customers)
		c := &Customer{ID: fmt.Sprintf("c-%04d", i+1), Index: i}
		c.seg = drawSegment(r)
		seg := &segments[c.seg]
		attrs := map[string]any{
			"age":          float64(18 + r.IntN(58)),
			"region":       []string{"north", "south", "east", "west"}[r.IntN(4)],
			"email_opt_in": r.Float64() < 0.85,
		}
		if t := pick(r, seg.tier[:]); t >= 0 {
			attrs["tier"] = tiers[t+1]
		}
		c.attrs = attrs
		// an unknown customer: the first visit introduces it with a
		// profile_update event
		c.Profile = p.spec.NewProfile(c.ID, time.Time{})
		p.finishCustomer(r, c)
		p.customers = append(p.customers, c)
	}
	return nil
}

func (p *Population) finishCustomer(r *rand.Rand, c *Customer) {
	c.Segment = segments[c.seg].name
	for k := range c.taste {
		c.taste[k] = customerTasteSD * r.NormFloat64()
	}
	c.activity = segments[c.seg].activity * math.Exp(0.5*r.NormFloat64())
	p.maxAct = math.Max(p.maxAct, c.activity)
}

// demoSegment guesses a plausible segment for a demo profile from what it
// shows: high tiers are mostly loyal, long-silent customers mostly lapsing.
func demoSegment(r *rand.Rand, prof *features.Profile) int {
	tier, _ := prof.Attributes["tier"].(string)
	last, bought := prof.LastEvent["purchase"]
	u := r.Float64()
	switch {
	case (tier == "gold" || tier == "platinum") && u < 0.7:
		return 1
	case bought && prof.UpdatedAt.Sub(last) > 45*24*time.Hour && u < 0.6:
		return 3
	}
	return drawSegment(r)
}

func drawSegment(r *rand.Rand) int {
	w := make([]float64, len(segments))
	for i, s := range segments {
		w[i] = s.share
	}
	return pick(r, w)
}

// pick draws an index with probability proportional to w; -1 when the
// weights sum to less than 1 and the draw falls in the remainder.
func pick(r *rand.Rand, w []float64) int {
	u := r.Float64()
	tot := 0.0
	for _, x := range w {
		tot += x
	}
	if tot > 1 {
		u *= tot
	}
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	if tot >= 1 {
		return len(w) - 1
	}
	return -1
}

// Catalog is the population's action catalog.
func (p *Population) Catalog() *decide.Catalog { return p.cat }

// Spec is the population's feature spec.
func (p *Population) Spec() *features.Spec { return p.spec }

// Customers returns the customers, by index.
func (p *Population) Customers() []*Customer { return p.customers }

// Drift returns the configured drift (nil if none), defaults filled in.
func (p *Population) Drift() *Drift { return p.drift }

// PickCustomer draws a customer among customers[lo:hi] with probability
// proportional to its activity (by rejection).
func (p *Population) PickCustomer(r *rand.Rand, lo, hi int) *Customer {
	for {
		c := p.customers[lo+r.IntN(hi-lo)]
		if r.Float64()*p.maxAct < c.activity {
			return c
		}
	}
}

// logit is the true log-odds of a conversion on action a in slot 0.
func (p *Population) logit(c *Customer, ch, page, dev, stage, hour, a int, now time.Time) float64 {
	seg := &segments[c.seg]
	k := p.aCat[a]
	l := p.aBase[a] + seg.affinity[k] + c.taste[k] + p.taste[c.seg][a] + seg.discountSens*p.aDisc[a]
	if stage >= 0 {
		l += stageCat[stage][k]
	}
	l += channelCat[ch][k] + deviceCat[dev][k] + p.aPage[a][page] + p.aDev[a][dev]
	tier, _ := c.Profile.Attributes["tier"].(string)
	l += p.aTier[a][max(indexOf(tiers, tier), 0)]
	l += hourEffect(hour, ch)
	if d := p.drift; d != nil && c.seg == p.driftSeg && !now.Before(d.At) {
		switch a {
		case p.driftFrom:
			l -= d.Shift
		case p.drTo:
			l += d.Shift
		}
	}
	if ct := c.Profile.Contacts[p.cat.Actions[a].ID]; ct != nil {
		from := now.Add(-FatigueWindow)
		n := 0
		for i := len(ct.Impressions) - 1; i >= 0 && ct.Impressions[i].After(from); i-- {
			n++
		}
		l -= FatiguePerImpression * float64(n)
	}
	return l
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// ConversionProb is the true probability that customer c converts on
// action a shown in the first slot on channel with request context ctx at
// now, given c's current state (journey stage, tier, recent impressions
// of a).
func (p *Population) ConversionProb(c *Customer, channel string, ctx map[string]any, a *decide.Action, now time.Time) float64 {
	ch, ok := p.chanIdx[channel]
	if !ok {
		return 0
	}
	page, _ := ctx["page"].(string)
	dev, _ := ctx["device"].(string)
	return sigmoid(p.logit(c, ch, max(indexOf(pages, page), 0), max(indexOf(devices, dev), 0),
		indexOf(stages, c.Profile.Stage), now.UTC().Hour(), a.Index(), now))
}

// TrueReward is the expected reward of showing action a to customer c in
// the first slot: the true conversion probability times the action's
// business value. The oracle picks the eligible action with the largest.
func (p *Population) TrueReward(c *Customer, channel string, ctx map[string]any, a *decide.Action, now time.Time) float64 {
	return p.ConversionProb(c, channel, ctx, a, now) * a.Value
}

// Eligible runs the decision funnel (channel, consent, eligibility rules,
// contact policy) of the catalog for visit v and returns the actions that
// pass, in catalog order, in res.Eligible. It returns decide.ErrNoActions
// when none does.
func (p *Population) Eligible(ctx context.Context, v *Visit, res *decide.Result) ([]*decide.Action, error) {
	req := decide.Request{CustomerID: v.Customer.ID, Channel: v.Channel, Context: v.Context, Limit: 1, Now: v.Time}
	err := p.funnel.Decide(ctx, &req, v.Customer.Profile, res)
	if err != nil {
		return nil, err
	}
	return res.Eligible, nil
}

// Oracle returns the action of eligible with the largest true expected
// reward for visit v, and that reward. It returns nil, 0 for an empty set.
func (p *Population) Oracle(v *Visit, eligible []*decide.Action) (*decide.Action, float64) {
	var best *decide.Action
	bestR := math.Inf(-1)
	for _, a := range eligible {
		if r := v.TrueReward(a); r > bestR {
			best, bestR = a, r
		}
	}
	if best == nil {
		return nil, 0
	}
	return best, bestR
}

// ErrUnknownAction is returned when a service answers with an action id
// the population's catalog does not have.
var ErrUnknownAction = errors.New("sim: unknown action id")
