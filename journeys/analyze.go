package journeys

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"nextbest/attribution"
	"nextbest/features"
)

// Defaults of Options.
const (
	DefaultInactive = 14 * 24 * time.Hour
	DefaultSteps    = 5
	DefaultPaths    = 10
	// FlowNodes is how many step labels the journey map draws per step;
	// the rest are drawn as one node, Other.
	FlowNodes = 6
)

// Labels the report uses for what is not a stage, a channel or a step.
const (
	// Start is the transition matrix's row of customers entering.
	Start = "(start)"
	// Stay is the transition matrix's column of customers still in the
	// stage at the end of the data.
	Stay = "(still there)"
	// Other is the journey map's node for the less frequent labels.
	Other = "other"
	// NoChannel is the channel of a decision that logged none.
	NoChannel = "unknown"
	// ShownPrefix starts the step of a decision that showed actions
	// ("shown free-shipping": its first slot); NothingShown is the step
	// of one that showed nothing.
	ShownPrefix  = "shown "
	NothingShown = "shown nothing"
)

// Options configure Analyze. The zero value follows every customer to
// the end of the data with the defaults.
type Options struct {
	// From and To, when not zero, make a cohort: only customers first
	// seen (their first event or decision) in [From, To) are followed,
	// and nothing at or after To is read, as if the journal ended there.
	From, To time.Time
	// End is the end of the data: stays still open are censored there,
	// and inactivity is measured to it. Zero: To if set, else the latest
	// time in the journeys (events, decisions, conversions).
	End time.Time
	// Inactive is how long without an event or a decision makes a
	// customer count as dropped off at their last stage. 0 is
	// DefaultInactive.
	Inactive time.Duration
	// Steps is how many steps of each journey the journey map follows;
	// 0 is DefaultSteps.
	Steps int
	// Paths is how many of the most frequent paths the report lists; 0
	// is DefaultPaths.
	Paths int
}

func (o *Options) fill() error {
	if o.Inactive < 0 || o.Steps < 0 || o.Paths < 0 {
		return fmt.Errorf("%w: inactive %v, steps %d, paths %d: none may be negative", ErrInvalidOptions, o.Inactive, o.Steps, o.Paths)
	}
	if !o.From.IsZero() && !o.To.IsZero() && !o.From.Before(o.To) {
		return fmt.Errorf("%w: from %s is not before to %s", ErrInvalidOptions, o.From.Format(time.RFC3339), o.To.Format(time.RFC3339))
	}
	o.Inactive = cmp.Or(o.Inactive, DefaultInactive)
	o.Steps = cmp.Or(o.Steps, DefaultSteps)
	o.Paths = cmp.Or(o.Paths, DefaultPaths)
	return nil
}

// Report is the journey analysis: every figure of the page, as JSON the
// dashboard can serve as it is. Times are UTC; durations are in days.
type Report struct {
	// Source names the data (a journal directory).
	Source string `json:"source,omitempty"`
	// Headline is the report's opening lines in plain words.
	Headline []string  `json:"headline"`
	From     time.Time `json:"from,omitzero"`
	To       time.Time `json:"to,omitzero"`
	// End is the end of the data (Options.End).
	End          time.Time `json:"end"`
	InactiveDays float64   `json:"inactive_days"`
	Steps        int       `json:"steps"`
	// Stages are the feature spec's journey stages in its order, and
	// DefaultStage the one a new profile starts in.
	Stages       []string `json:"stages"`
	DefaultStage string   `json:"default_stage"`
	Stats        Stats    `json:"stats"`

	Funnel      []FunnelStage `json:"funnel"`
	Transitions Transitions   `json:"transitions"`
	TimeInStage []StageTime   `json:"time_in_stage"`
	Paths       []PathCount   `json:"paths"`
	Flow        Flow          `json:"flow"`
	Gaps        Gaps          `json:"gaps"`
}

// Stats count what was read and what was left out.
type Stats struct {
	// Customers are the customers followed; LeftOut those first seen
	// outside [From, To).
	Customers int `json:"customers"`
	LeftOut   int `json:"left_out"`
	// Events are the followed customers' events; Refused those the
	// feature spec refused (an undeclared type, a bad property), which
	// move no stage but are steps of the journey map.
	Events  int `json:"events"`
	Refused int `json:"events_refused"`
	// NoChannel counts events without a channel (not in the gap view).
	NoChannel int `json:"events_without_channel"`
	// Decisions are the followed customers' decisions, Shown those that
	// showed an action.
	Decisions int `json:"decisions"`
	Shown     int `json:"decisions_shown"`
	// StageMismatch counts decisions whose logged stage differs from the
	// replayed one (late events, imported profiles).
	StageMismatch int `json:"stage_mismatch"`
	// Converted counts followed customers with a conversion.
	Converted int `json:"converted"`
	// Journal is what reading the journal counted, when the journeys came
	// from one.
	Journal *attribution.BuildStats `json:"journal,omitempty"`
}

// FunnelStage is one stage of the funnel, in the spec's order.
type FunnelStage struct {
	Stage string `json:"stage"`
	// Reached counts the customers who were ever in the stage.
	Reached int `json:"reached"`
	// WentOn counts those of them who later reached a stage further in
	// the spec's order, and Next those who later reached the very next
	// one. Conversion is WentOn/Reached (null for the last stage, or none
	// reached).
	WentOn     int      `json:"went_on"`
	Next       int      `json:"next"`
	Conversion *float64 `json:"conversion"`
	// Current counts the customers whose last stage it is; DroppedOff
	// those of them inactive for at least the inactivity period at the
	// end of the data.
	Current    int `json:"current"`
	DroppedOff int `json:"dropped_off"`
	// Final marks the spec's last stage: there is nothing to go on to.
	Final bool `json:"final,omitempty"`
}

// Transitions is the transition matrix: Counts[i][j] customers moved
// from Rows[i] to Columns[j] (a customer who moves twice counts twice).
// Rows are Start then the stages; columns the stages then Stay, whose
// counts are the customers whose last stage is the row's.
type Transitions struct {
	Rows    []string `json:"rows"`
	Columns []string `json:"columns"`
	Counts  [][]int  `json:"counts"`
}

// StageTime is the time customers stay in a stage: the Kaplan–Meier
// estimate of the time to leave it, stays still open at the end of the
// data censored there. A quartile is null when the estimate never falls
// to it (too many stays still open).
type StageTime struct {
	Stage string `json:"stage"`
	// Stays counts the stays (a customer may come back); Left those that
	// ended with a move, Open those still open at the end of the data.
	Stays      int      `json:"stays"`
	Left       int      `json:"left"`
	Open       int      `json:"open"`
	Q1Days     *float64 `json:"q1_days"`
	MedianDays *float64 `json:"median_days"`
	Q3Days     *float64 `json:"q3_days"`
}

// PathCount is one of the most frequent journey paths: the first steps
// of a journey (events by type, decisions by what they showed; repeats
// of a step in a row are one step).
type PathCount struct {
	Steps     []string `json:"steps"`
	Customers int      `json:"customers"`
	Share     float64  `json:"share"`
	// Converted counts the customers on the path with a conversion.
	Converted int `json:"converted"`
}

// Flow is the journey map drawn as a flow: per step, the labels
// customers are at (the FlowNodes most frequent, the rest as Other),
// and how many go from one to the next.
type Flow struct {
	Nodes []FlowNode `json:"nodes"`
	Links []FlowLink `json:"links"`
}

// FlowNode is the customers at one label at one step (0-based).
type FlowNode struct {
	Step      int    `json:"step"`
	Label     string `json:"label"`
	Customers int    `json:"customers"`
}

// FlowLink is the customers going from label From at step Step to label
// To at step Step+1.
type FlowLink struct {
	Step      int    `json:"step"`
	From      string `json:"from"`
	To        string `json:"to"`
	Customers int    `json:"customers"`
}

// Gaps is the touchpoint gap view: per stage and channel, the customers'
// visits (a stay in the stage during which the customer came on the
// channel: an event there or a decision asked there) and what they got.
type Gaps struct {
	Channels []string  `json:"channels"`
	Cells    []GapCell `json:"cells"`
}

// GapCell is one stage and channel. A visit counts once, as the best it
// got: Shown (an action was shown on the channel during the stay), else
// EligibleNotShown (decisions were asked and actions eligible, none
// shown: a holdout arm, limits), else NoneEligible (decisions were asked
// and no action was eligible), else NotAsked (events only, no decision
// asked there). Gap = NoneEligible + NotAsked, GapShare = Gap/Visits:
// the visits the catalog or the channel's integration left without an
// action. Unserved = Visits − Shown also counts the visits where actions
// were eligible and none was shown (by design, for a holdout).
type GapCell struct {
	Stage            string  `json:"stage"`
	Channel          string  `json:"channel"`
	Visits           int     `json:"visits"`
	Shown            int     `json:"shown"`
	EligibleNotShown int     `json:"eligible_not_shown"`
	NoneEligible     int     `json:"none_eligible"`
	NotAsked         int     `json:"not_asked"`
	Gap              int     `json:"gap"`
	GapShare         float64 `json:"gap_share"`
	Unserved         int     `json:"unserved"`
	// Decisions counts the decisions asked there, Empty those with no
	// eligible action.
	Decisions int `json:"decisions"`
	Empty     int `json:"decisions_none_eligible"`
}

// visit classes, best last
const (
	notAsked = iota
	noneEligible
	eligibleNotShown
	shown
)

// item is one event or decision of a journey, in time order.
type item struct {
	t time.Time
	e *attribution.Event
	d *attribution.Touch
}

// stay is one stay of a customer in a stage.
type stay struct {
	stage    string
	from, to time.Time
	open     bool
	visits   map[string]*visit // by channel
}

// visit is what a customer got on one channel during one stay.
type visit struct {
	best      int // the best class
	decisions int // decisions asked
	empty     int // of which with no eligible action
}

// customer is what the replay gives of one journey.
type customer struct {
	stays     []stay
	moves     [][2]string // from, to
	entry     string
	last      time.Time // last activity
	steps     []string
	converted bool
}

// Analyze computes the journey report of journeys (sorted, as
// attribution.Build returns them, with Everything) under the feature
// spec spec. It is pure: the same input gives the same report.
func Analyze(journeys []attribution.Journey, spec *features.Spec, o Options) (*Report, error) {
	if spec == nil {
		return nil, fmt.Errorf("%w: no feature spec", ErrInvalidOptions)
	}
	if err := o.fill(); err != nil {
		return nil, err
	}
	stages := spec.Stages()
	r := &Report{From: o.From, To: o.To, InactiveDays: days(o.Inactive), Steps: o.Steps, Stages: stages}
	r.DefaultStage = spec.NewProfile("", time.Time{}).Stage
	end := o.End
	if end.IsZero() {
		end = o.To
	}
	if end.IsZero() {
		for i := range journeys {
			end = latest(&journeys[i], end)
		}
	}
	r.End = end.UTC()

	var custs []customer
	for i := range journeys {
		j := &journeys[i]
		items := itemsOf(j)
		if len(items) == 0 {
			continue
		}
		if first := items[0].t; (!o.From.IsZero() && first.Before(o.From)) || (!o.To.IsZero() && !first.Before(o.To)) {
			r.Stats.LeftOut++
			continue
		}
		if !o.To.IsZero() {
			n, _ := slices.BinarySearchFunc(items, o.To, func(it item, t time.Time) int { return it.t.Compare(t) })
			items = items[:n]
		}
		c := replay(spec, j, items, end, &r.Stats)
		for _, cv := range j.Conversions {
			if !cv.Time.Before(items[0].t) && (o.To.IsZero() || cv.Time.Before(o.To)) {
				c.converted = true
				r.Stats.Converted++
				break
			}
		}
		custs = append(custs, c)
	}
	if len(custs) == 0 {
		return nil, ErrNoCustomers
	}
	r.Stats.Customers = len(custs)
	r.Funnel = funnel(stages, custs, end, o.Inactive)
	r.Transitions = transitions(stages, custs)
	r.TimeInStage = timeInStage(stages, custs, end)
	r.Paths, r.Flow = paths(custs, o.Steps, o.Paths)
	r.Gaps = gaps(stages, custs)
	r.Headline = headline(r)
	return r, nil
}

// latest returns the latest of t and the times in j.
func latest(j *attribution.Journey, t time.Time) time.Time {
	up := func(x time.Time) {
		if x.After(t) {
			t = x
		}
	}
	for _, e := range j.Events {
		up(e.Time)
	}
	for _, d := range j.Touches {
		up(d.Time)
	}
	for _, d := range j.Quiet {
		up(d.Time)
	}
	for _, c := range j.Conversions {
		up(c.Time)
	}
	return t
}

// itemsOf merges j's events and decisions in time order, events first
// at equal times (an event updates the profile before the decision it
// triggers).
func itemsOf(j *attribution.Journey) []item {
	items := make([]item, 0, len(j.Events)+len(j.Touches)+len(j.Quiet))
	for i := range j.Events {
		items = append(items, item{t: j.Events[i].Time, e: &j.Events[i]})
	}
	for _, ds := range [][]attribution.Touch{j.Touches, j.Quiet} {
		for i := range ds {
			items = append(items, item{t: ds[i].Time, d: &ds[i]})
		}
	}
	slices.SortStableFunc(items, func(a, b item) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return cmp.Compare(kind(a), kind(b))
	})
	return items
}

func kind(it item) int {
	if it.e != nil {
		return 0
	}
	return 1
}

// replay runs one customer's items through the spec on a fresh profile.
// The customer enters at the default stage with their first activity,
// unless that very activity is an event that moves them on: then they
// enter at the stage it moves them to. An event's visit belongs to the
// stay it leads into (the stage a decision right after it sees).
func replay(spec *features.Spec, j *attribution.Journey, items []item, end time.Time, st *Stats) customer {
	var c customer
	p := spec.NewProfile(j.Customer, items[0].t)
	cur := stay{stage: p.Stage, from: items[0].t, visits: map[string]*visit{}}
	c.entry = p.Stage
	arrive := func(ch string, class int) *visit {
		v := cur.visits[ch]
		if v == nil {
			v = &visit{best: class}
			cur.visits[ch] = v
		}
		v.best = max(v.best, class)
		return v
	}
	for i, it := range items {
		c.last = it.t
		if e := it.e; e != nil {
			st.Events++
			c.steps = appendStep(c.steps, e.Type)
			before := p.Stage
			if err := spec.ApplyEvent(p, features.Event{Type: e.Type, Channel: e.Channel, Time: e.Time, Properties: e.Properties}); err != nil {
				st.Refused++
			} else if p.Stage != before {
				if i == 0 {
					cur.stage, c.entry = p.Stage, p.Stage
				} else {
					cur.to = it.t
					c.stays = append(c.stays, cur)
					c.moves = append(c.moves, [2]string{before, p.Stage})
					cur = stay{stage: p.Stage, from: it.t, visits: map[string]*visit{}}
				}
			}
			if e.Channel == "" {
				st.NoChannel++
			} else {
				arrive(e.Channel, notAsked)
			}
			continue
		}
		d := it.d
		st.Decisions++
		if d.Stage != "" && d.Stage != p.Stage {
			st.StageMismatch++
		}
		ch := cmp.Or(d.Channel, NoChannel)
		var v *visit
		switch {
		case len(d.Actions) > 0:
			st.Shown++
			v = arrive(ch, shown)
			c.steps = appendStep(c.steps, ShownPrefix+d.Actions[0])
		case d.Eligible > 0:
			v = arrive(ch, eligibleNotShown)
			c.steps = appendStep(c.steps, NothingShown)
		default:
			v = arrive(ch, noneEligible)
			v.empty++
			c.steps = appendStep(c.steps, NothingShown)
		}
		v.decisions++
	}
	cur.to, cur.open = end, true
	c.stays = append(c.stays, cur)
	return c
}

// appendStep appends step to steps unless it repeats the last one.
func appendStep(steps []string, step string) []string {
	if n := len(steps); n > 0 && steps[n-1] == step {
		return steps
	}
	return append(steps, step)
}

// funnel counts, per stage in the spec's order, who reached it, went on,
// stayed and dropped off.
func funnel(stages []string, custs []customer, end time.Time, inactive time.Duration) []FunnelStage {
	idx := index(stages)
	out := make([]FunnelStage, len(stages))
	for i, s := range stages {
		out[i] = FunnelStage{Stage: s, Final: i == len(stages)-1}
	}
	for _, c := range custs {
		// the first time each stage is entered
		firstIn := map[int]time.Time{}
		for _, s := range c.stays {
			k, ok := idx[s.stage]
			if !ok {
				continue
			}
			if _, seen := firstIn[k]; !seen {
				firstIn[k] = s.from
			}
		}
		for k, t := range firstIn {
			out[k].Reached++
			wentOn, next := false, false
			for _, s := range c.stays {
				k2, ok := idx[s.stage]
				if !ok || k2 <= k || s.from.Before(t) {
					continue
				}
				wentOn = true
				next = next || k2 == k+1
			}
			if wentOn {
				out[k].WentOn++
			}
			if next {
				out[k].Next++
			}
		}
		if k, ok := idx[c.stays[len(c.stays)-1].stage]; ok {
			out[k].Current++
			if end.Sub(c.last) >= inactive {
				out[k].DroppedOff++
			}
		}
	}
	for i := range out {
		if f := &out[i]; !f.Final && f.Reached > 0 {
			v := float64(f.WentOn) / float64(f.Reached)
			f.Conversion = &v
		}
	}
	return out
}

func index(stages []string) map[string]int {
	m := make(map[string]int, len(stages))
	for i, s := range stages {
		m[s] = i
	}
	return m
}

// transitions counts the moves between stages, the entries and the
// customers still in each stage.
func transitions(stages []string, custs []customer) Transitions {
	idx := index(stages)
	t := Transitions{Rows: append([]string{Start}, stages...), Columns: append(slices.Clone(stages), Stay)}
	t.Counts = make([][]int, len(t.Rows))
	for i := range t.Counts {
		t.Counts[i] = make([]int, len(t.Columns))
	}
	for _, c := range custs {
		t.Counts[0][idx[c.entry]]++
		for _, m := range c.moves {
			t.Counts[1+idx[m[0]]][idx[m[1]]]++
		}
		t.Counts[1+idx[c.stays[len(c.stays)-1].stage]][len(stages)]++
	}
	return t
}

// timeInStage estimates, per stage, the quartiles of the time to leave
// it (Kaplan–Meier, open stays censored at the end of the data).
func timeInStage(stages []string, custs []customer, end time.Time) []StageTime {
	out := make([]StageTime, len(stages))
	for i, s := range stages {
		var obs []Survival
		for _, c := range custs {
			for _, st := range c.stays {
				if st.stage == s {
					obs = append(obs, Survival{Days: days(st.to.Sub(st.from)), Ended: !st.open})
				}
			}
		}
		o := StageTime{Stage: s, Stays: len(obs)}
		for _, x := range obs {
			if x.Ended {
				o.Left++
			} else {
				o.Open++
			}
		}
		q := KaplanMeierQuantiles(obs, 0.25, 0.5, 0.75)
		o.Q1Days, o.MedianDays, o.Q3Days = q[0], q[1], q[2]
		out[i] = o
	}
	return out
}

// Survival is one observed duration, in days: how long, and whether it
// ended (the customer left the stage) or was censored (still there at
// the end of the data).
type Survival struct {
	Days  float64
	Ended bool
}

// KaplanMeierQuantiles returns, for each p, the p-quantile of the
// Kaplan–Meier estimate of the duration distribution of obs: the
// smallest observed duration t with Ŝ(t) ≤ 1 − p, where
// Ŝ(t) = Π_{tᵢ ≤ t} (1 − dᵢ/nᵢ) over the distinct durations tᵢ at which
// dᵢ stays ended, nᵢ being the stays still running just before tᵢ
// (ended or censored at tᵢ or later; a stay censored at tᵢ counts as
// running at tᵢ). nil where Ŝ never falls that far.
func KaplanMeierQuantiles(obs []Survival, ps ...float64) []*float64 {
	out := make([]*float64, len(ps))
	sorted := slices.Clone(obs)
	slices.SortFunc(sorted, func(a, b Survival) int { return cmp.Compare(a.Days, b.Days) })
	s, n := 1.0, len(sorted)
	for i := 0; i < len(sorted); {
		t := sorted[i].Days
		d, at := 0, 0
		for i+at < len(sorted) && sorted[i+at].Days == t {
			if sorted[i+at].Ended {
				d++
			}
			at++
		}
		if d > 0 {
			s *= 1 - float64(d)/float64(n)
			for k, p := range ps {
				if out[k] == nil && s <= 1-p+1e-12 {
					v := t
					out[k] = &v
				}
			}
		}
		n -= at
		i += at
	}
	return out
}

// paths counts the customers' first steps and builds the flow.
func paths(custs []customer, steps, top int) ([]PathCount, Flow) {
	type agg struct {
		steps        []string
		n, converted int
	}
	byKey := map[string]*agg{}
	for _, c := range custs {
		s := c.steps[:min(len(c.steps), steps)]
		if len(s) == 0 {
			continue
		}
		k := strings.Join(s, "\x00")
		a := byKey[k]
		if a == nil {
			a = &agg{steps: s}
			byKey[k] = a
		}
		a.n++
		if c.converted {
			a.converted++
		}
	}
	all := slices.Collect(maps.Values(byKey))
	slices.SortFunc(all, func(a, b *agg) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(strings.Join(a.steps, "\x00"), strings.Join(b.steps, "\x00")))
	})
	var out []PathCount
	for _, a := range all[:min(top, len(all))] {
		out = append(out, PathCount{Steps: a.steps, Customers: a.n, Share: float64(a.n) / float64(len(custs)), Converted: a.converted})
	}

	// the flow: the FlowNodes most frequent labels per step
	counts := make([]map[string]int, steps)
	for i := range counts {
		counts[i] = map[string]int{}
	}
	for _, c := range custs {
		for i, l := range c.steps[:min(len(c.steps), steps)] {
			counts[i][l]++
		}
	}
	keep := make([]map[string]bool, steps)
	var f Flow
	for i, m := range counts {
		labels := slices.Collect(maps.Keys(m))
		slices.SortFunc(labels, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
		keep[i] = map[string]bool{}
		other := 0
		for k, l := range labels {
			if k < FlowNodes {
				keep[i][l] = true
				f.Nodes = append(f.Nodes, FlowNode{Step: i, Label: l, Customers: m[l]})
			} else {
				other += m[l]
			}
		}
		if other > 0 {
			f.Nodes = append(f.Nodes, FlowNode{Step: i, Label: Other, Customers: other})
		}
	}
	label := func(i int, l string) string {
		if keep[i][l] {
			return l
		}
		return Other
	}
	links := map[FlowLink]int{}
	for _, c := range custs {
		s := c.steps[:min(len(c.steps), steps)]
		for i := 0; i+1 < len(s); i++ {
			links[FlowLink{Step: i, From: label(i, s[i]), To: label(i+1, s[i+1])}]++
		}
	}
	for l, n := range links {
		l.Customers = n
		f.Links = append(f.Links, l)
	}
	slices.SortFunc(f.Links, func(a, b FlowLink) int {
		return cmp.Or(cmp.Compare(a.Step, b.Step), cmp.Compare(b.Customers, a.Customers), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	return out, f
}

// gaps counts, per stage and channel, the visits and what they got.
func gaps(stages []string, custs []customer) Gaps {
	type key struct{ stage, channel string }
	cells := map[key]*GapCell{}
	channels := map[string]bool{}
	for _, c := range custs {
		for _, s := range c.stays {
			for ch, v := range s.visits {
				cell := cells[key{s.stage, ch}]
				if cell == nil {
					cell = &GapCell{Stage: s.stage, Channel: ch}
					cells[key{s.stage, ch}] = cell
				}
				channels[ch] = true
				cell.Visits++
				cell.Decisions += v.decisions
				cell.Empty += v.empty
				switch v.best {
				case shown:
					cell.Shown++
				case eligibleNotShown:
					cell.EligibleNotShown++
				case noneEligible:
					cell.NoneEligible++
				default:
					cell.NotAsked++
				}
			}
		}
	}
	g := Gaps{Channels: slices.Sorted(maps.Keys(channels))}
	for _, s := range stages {
		for _, ch := range g.Channels {
			if cell := cells[key{s, ch}]; cell != nil {
				cell.Gap = cell.NoneEligible + cell.NotAsked
				cell.Unserved = cell.Visits - cell.Shown
				cell.GapShare = float64(cell.Gap) / float64(cell.Visits)
				g.Cells = append(g.Cells, *cell)
			}
		}
	}
	return g
}

// Cell returns the gap cell of stage and channel, nil if no visit.
func (g *Gaps) Cell(stage, channel string) *GapCell {
	for i := range g.Cells {
		if c := &g.Cells[i]; c.Stage == stage && c.Channel == channel {
			return c
		}
	}
	return nil
}

func days(d time.Duration) float64 { return d.Hours() / 24 }
