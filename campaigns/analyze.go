package campaigns

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"nextbest/attribution"
	"nextbest/decide"
	"nextbest/experiment"
	"nextbest/journal"
	"nextbest/logs"
)

// Period is the length of the report's time buckets.
type Period string

// The periods.
const (
	// Day buckets by UTC date.
	Day Period = "day"
	// Week buckets by ISO week (Monday to Sunday, UTC), labelled with its
	// Monday's date.
	Week Period = "week"
)

// Segment is a dimension rows are broken down by.
type Segment string

// The segments.
const (
	// ByChannel is the decision's channel.
	ByChannel Segment = "channel"
	// ByStage is the customer's journey stage at the decision (its
	// logged profile input "stage").
	ByStage Segment = "stage"
	// ByArm is the decision's experiment and arm ("experiment/arm").
	ByArm Segment = "experiment-arm"
)

// Segments are every segment, in the report's order.
var Segments = []Segment{ByChannel, ByStage, ByArm}

// ParseSegment returns the segment named s.
func ParseSegment(s string) (Segment, error) {
	for _, g := range Segments {
		if string(g) == s {
			return g, nil
		}
	}
	return "", fmt.Errorf("%w: segment %q: want channel, stage or experiment-arm", ErrInvalidOptions, s)
}

// Dimension names of Row.By.
const (
	All     = "all"     // every decision
	Channel = "channel" // one channel
	Action  = "action"  // one action (campaign)
)

// Unknown is the channel, stage or arm of a decision that logged none
// ("none" for the arm: a decision outside every experiment).
const (
	Unknown = "unknown"
	NoArm   = "none"
)

// Options configure Analyze.
type Options struct {
	// Period is the time bucket of the series; "" is Day.
	Period Period
	// Segments are the breakdowns to compute; nil is none.
	Segments []Segment
	// Outcomes are the declared outcome types; nil means the defaults.
	Outcomes *logs.Outcomes
	// ClickTypes are the outcome types whose positive joined reward makes
	// an impression clicked. nil: "click" if declared, else none (the
	// report then has no click figures).
	ClickTypes []string
	// RevenueTypes are the outcome types whose joined rewards are
	// revenue. nil: those of "revenue" and "purchase" that are declared.
	RevenueTypes []string
	// Level is the intervals' confidence level; 0 is 0.95.
	Level float64
	// Lift is the experiment whose arms the lift compares (see
	// LiftExperiment); nil computes no lift.
	Lift *decide.Experiment
	// Window is how long after a customer's decision in the lift
	// experiment a conversion counts for them; 0 is logs.DefaultWindow.
	Window time.Duration
}

func (o *Options) fill() error {
	o.Period = cmp.Or(o.Period, Day)
	if o.Period != Day && o.Period != Week {
		return fmt.Errorf("%w: period %q: want day or week", ErrInvalidOptions, o.Period)
	}
	for _, s := range o.Segments {
		if _, err := ParseSegment(string(s)); err != nil {
			return err
		}
	}
	if o.Outcomes == nil {
		out, err := logs.NewOutcomes(nil)
		if err != nil {
			panic("BUG: campaigns: the default outcome types do not validate: " + err.Error())
		}
		o.Outcomes = out
	}
	declared := func(names []string, def ...string) ([]string, error) {
		if names == nil {
			var out []string
			for _, n := range def {
				if _, ok := o.Outcomes.Lookup(n); ok {
					out = append(out, n)
				}
			}
			return out, nil
		}
		for _, n := range names {
			if _, ok := o.Outcomes.Lookup(n); !ok {
				return nil, fmt.Errorf("%w: outcome type %q is not declared (declared: %s)", ErrInvalidOptions, n, o.Outcomes)
			}
		}
		return names, nil
	}
	var err error
	if o.ClickTypes, err = declared(o.ClickTypes, "click"); err != nil {
		return err
	}
	if o.RevenueTypes, err = declared(o.RevenueTypes, "revenue", "purchase"); err != nil {
		return err
	}
	if o.Level == 0 {
		o.Level = 0.95
	}
	if !(o.Level > 0 && o.Level < 1) {
		return fmt.Errorf("%w: level %v: want a number between 0 and 1", ErrInvalidOptions, o.Level)
	}
	if o.Window < 0 {
		return fmt.Errorf("%w: window %v is negative", ErrInvalidOptions, o.Window)
	}
	o.Window = cmp.Or(o.Window, logs.DefaultWindow)
	return nil
}

// Report is the campaign and channel report: every figure of the page,
// as JSON the dashboard can serve as it is.
type Report struct {
	// Source names the data (a journal directory).
	Source string `json:"source,omitempty"`
	// Headline is the report's opening lines in plain words.
	Headline []string `json:"headline"`
	// From and To are the times of the first and the last decision.
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Period Period    `json:"period"`
	// Level is the intervals' confidence level and Interval their method.
	Level        float64   `json:"level"`
	Interval     string    `json:"interval"`
	Segments     []Segment `json:"segments"`
	ClickTypes   []string  `json:"click_types"`
	RevenueTypes []string  `json:"revenue_types"`
	// ActivationsRecorded says whether the journal records activations;
	// when it does not, every row's activations are null and an
	// impression is a returned action.
	ActivationsRecorded bool  `json:"activations_recorded"`
	Stats               Stats `json:"stats"`

	// Total is every decision; Actions one row per action (campaign),
	// Channels one per channel, most impressions (decisions) first.
	Total    Row   `json:"total"`
	Actions  []Row `json:"actions"`
	Channels []Row `json:"channels"`
	// Breakdowns are the rows of Total, each channel and each action by
	// each segment of Segments.
	Breakdowns []Row `json:"breakdowns"`
	// Series are the rows of Total, each channel and each action per
	// period.
	Series []Row `json:"series"`
	// Lift compares the lift experiment's arms; nil when there is none.
	Lift *Lift `json:"lift"`
}

// Stats count what the join read.
type Stats struct {
	Decisions   int `json:"decisions"`
	Outcomes    int `json:"outcomes"`
	Joined      int `json:"outcomes_joined"`
	Late        int `json:"outcomes_late"`
	Duplicate   int `json:"outcomes_duplicate"`
	UnknownType int `json:"outcomes_unknown_type"`
	Unknown     int `json:"outcomes_unknown_decision"`
	// Filtered counts decisions outside [From, To).
	Filtered int `json:"decisions_filtered"`
}

// Row is the figures of one set of decisions: all of them, a channel's,
// an action's, or one of those in one segment or one period.
type Row struct {
	// By is All, Channel or Action, and Key the channel or the action
	// ("all" for All).
	By  string `json:"by"`
	Key string `json:"key"`
	// Segment and Value name the breakdown ("stage", "cart"); empty for
	// an undivided row.
	Segment Segment `json:"segment,omitempty"`
	Value   string  `json:"value,omitempty"`
	// Period is the day's or the week's first date; empty for the whole
	// time.
	Period string `json:"period,omitempty"`
	// Decisions counts the decisions (for an action: those that showed
	// it) and Filled those that showed at least one action.
	Decisions int `json:"decisions"`
	Filled    int `json:"filled"`
	// Impressions counts the returned actions, Customers the customers
	// they were shown to. Activations is null: see
	// Report.ActivationsRecorded.
	Impressions int  `json:"impressions"`
	Customers   int  `json:"customers"`
	Activations *int `json:"activations"`
	// Clicks and Conversions count impressions clicked and converted;
	// the rates are per impression, with intervals (Report.Interval).
	Clicks         int  `json:"clicks"`
	ClickRate      Rate `json:"click_rate"`
	Conversions    int  `json:"conversions"`
	ConversionRate Rate `json:"conversion_rate"`
	// Revenue is the sum of the revenue types' joined rewards, and
	// RevenuePerImpression its mean per impression.
	Revenue              float64 `json:"revenue"`
	RevenuePerImpression float64 `json:"revenue_per_impression"`
}

// Rate is a proportion with its interval (at Report.Level).
type Rate struct {
	Estimate float64 `json:"estimate"`
	Lo       float64 `json:"lo"`
	Hi       float64 `json:"hi"`
}

// FillRate is Filled/Decisions, 0 without decisions.
func (r *Row) FillRate() float64 {
	if r.Decisions == 0 {
		return 0
	}
	return float64(r.Filled) / float64(r.Decisions)
}

// cellKey names one row.
type cellKey struct {
	by, key string
	seg     Segment
	value   string
	period  string
}

// tally is one customer's impressions in a cell and what they did:
// Values slot 0 conversions, 1 revenue, 2 clicks.
type tally struct {
	n int64
	y experiment.Values
}

// The slots of a tally's values.
const (
	slotConversion = 0
	slotRevenue    = 1
	slotClick      = 2
)

type cell struct {
	decisions, filled int
	customers         map[string]*tally
}

// Analyze computes the report of joined decisions (logs.Join's, in
// journal order). journeys (attribution.Build's) give the lift's
// conversions; they are read only when Options.Lift is set. It is pure.
func Analyze(joined []logs.Joined, journeys []attribution.Journey, o Options) (*Report, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	if len(joined) == 0 {
		return nil, ErrNoDecisions
	}
	r := &Report{Period: o.Period, Level: o.Level, Segments: o.Segments, ClickTypes: o.ClickTypes, RevenueTypes: o.RevenueTypes,
		Interval: "Wilson score on the customer-clustered effective count"}
	if r.Segments == nil {
		r.Segments = []Segment{}
	}
	cells := map[cellKey]*cell{}
	get := func(k cellKey) *cell {
		c := cells[k]
		if c == nil {
			c = &cell{customers: map[string]*tally{}}
			cells[k] = c
		}
		return c
	}
	for ji := range joined {
		j := &joined[ji]
		d := &j.Decision
		if r.From.IsZero() || d.Time.Before(r.From) {
			r.From = d.Time
		}
		if d.Time.After(r.To) {
			r.To = d.Time
		}
		ch := cmp.Or(d.Channel, Unknown)
		period := periodOf(d.Time, o.Period)
		segs := make([][2]string, 0, len(o.Segments))
		for _, s := range o.Segments {
			segs = append(segs, [2]string{string(s), segmentValue(d, s)})
		}
		// the keys a decision counts in: all and its channel, whole, by
		// segment and by period
		var keys []cellKey
		for _, base := range []cellKey{{by: All, key: All}, {by: Channel, key: ch}} {
			keys = append(keys, base)
			for _, s := range segs {
				if base.by == Channel && Segment(s[0]) == ByChannel {
					continue
				}
				k := base
				k.seg, k.value = Segment(s[0]), s[1]
				keys = append(keys, k)
			}
			k := base
			k.period = period
			keys = append(keys, k)
		}
		filled := len(d.Actions) > 0
		for _, k := range keys {
			c := get(k)
			c.decisions++
			if filled {
				c.filled++
			}
		}
		for i, a := range d.Actions {
			y := impressionValues(j, i, &o)
			for _, k := range keys {
				get(k).add(d.CustomerID, &y)
			}
			base := cellKey{by: Action, key: a.ActionID}
			akeys := []cellKey{base}
			for _, s := range segs {
				k := base
				k.seg, k.value = Segment(s[0]), s[1]
				akeys = append(akeys, k)
			}
			k := base
			k.period = period
			akeys = append(akeys, k)
			for _, k := range akeys {
				c := get(k)
				c.decisions++
				c.filled++
				c.add(d.CustomerID, &y)
			}
		}
	}
	r.From, r.To = r.From.UTC(), r.To.UTC()

	rows := make(map[cellKey]Row, len(cells))
	for k, c := range cells {
		rows[k] = c.row(k, o.Level)
	}
	r.Total = rows[cellKey{by: All, key: All}]
	for k, row := range rows {
		if k.seg != "" || k.period != "" {
			continue
		}
		switch k.by {
		case Action:
			r.Actions = append(r.Actions, row)
		case Channel:
			r.Channels = append(r.Channels, row)
		}
	}
	slices.SortFunc(r.Actions, func(a, b Row) int {
		return cmp.Or(cmp.Compare(b.Impressions, a.Impressions), cmp.Compare(a.Key, b.Key))
	})
	slices.SortFunc(r.Channels, func(a, b Row) int { return cmp.Or(cmp.Compare(b.Decisions, a.Decisions), cmp.Compare(a.Key, b.Key)) })
	order := map[string]int{}
	for i, row := range r.Channels {
		order[Channel+"\x00"+row.Key] = i
	}
	for i, row := range r.Actions {
		order[Action+"\x00"+row.Key] = i
	}
	dimOrder := map[string]int{All: 0, Channel: 1, Action: 2}
	segOrder := map[Segment]int{}
	for i, s := range o.Segments {
		segOrder[s] = i
	}
	byRow := func(a, b Row) int {
		return cmp.Or(cmp.Compare(dimOrder[a.By], dimOrder[b.By]), cmp.Compare(order[a.By+"\x00"+a.Key], order[b.By+"\x00"+b.Key]),
			cmp.Compare(segOrder[a.Segment], segOrder[b.Segment]), cmp.Compare(a.Value, b.Value), cmp.Compare(a.Period, b.Period))
	}
	for _, k := range slices.SortedFunc(maps.Keys(rows), func(a, b cellKey) int { return byRow(rows[a], rows[b]) }) {
		switch {
		case k.seg != "":
			r.Breakdowns = append(r.Breakdowns, rows[k])
		case k.period != "":
			r.Series = append(r.Series, rows[k])
		}
	}

	if o.Lift != nil {
		r.Lift = lift(o.Lift, joined, journeys, o.Window, o.Level)
	}
	r.Headline = headline(r)
	return r, nil
}

// impressionValues returns the values of returned action i of j: whether
// it converted, its revenue, whether it was clicked.
func impressionValues(j *logs.Joined, i int, o *Options) experiment.Values {
	var y experiment.Values
	if i < len(j.Converted) && j.Converted[i] {
		y[slotConversion] = 1
	}
	if i < len(j.TypeRewards) {
		tr := j.TypeRewards[i]
		for _, t := range o.RevenueTypes {
			y[slotRevenue] += tr[t]
		}
		for _, t := range o.ClickTypes {
			if tr[t] > 0 {
				y[slotClick] = 1
			}
		}
	}
	return y
}

func (c *cell) add(customer string, y *experiment.Values) {
	t := c.customers[customer]
	if t == nil {
		t = &tally{}
		c.customers[customer] = t
	}
	t.n++
	for m := range y {
		t.y[m] += y[m]
	}
}

// row sums the cell's customers (in name order, so the sums' bits do not
// depend on map order) and computes the rates.
func (c *cell) row(k cellKey, level float64) Row {
	var s experiment.Sums
	for _, id := range slices.Sorted(maps.Keys(c.customers)) {
		t := c.customers[id]
		cs := experiment.CustomerSums(t.n, &t.y)
		s.Add(&cs)
	}
	row := Row{By: k.by, Key: k.key, Segment: k.seg, Value: k.value, Period: k.period, Decisions: c.decisions, Filled: c.filled,
		Impressions: int(s.Decisions), Customers: int(s.Customers),
		Clicks: int(s.Y[slotClick] + 0.5), Conversions: int(s.Y[slotConversion] + 0.5), Revenue: s.Y[slotRevenue]}
	if s.Decisions > 0 {
		row.ClickRate = rate(s.ProportionInterval(slotClick, level))
		row.ConversionRate = rate(s.ProportionInterval(slotConversion, level))
		row.RevenuePerImpression = s.Y[slotRevenue] / float64(s.Decisions)
	}
	return row
}

func rate(iv experiment.Interval) Rate { return Rate{Estimate: iv.Estimate, Lo: iv.Lo, Hi: iv.Hi} }

// periodOf returns the label of t's period: its UTC date, or its ISO
// week's Monday.
func periodOf(t time.Time, p Period) string {
	t = t.UTC()
	if p == Week {
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		t = t.AddDate(0, 0, -back)
	}
	return t.Format(time.DateOnly)
}

// segmentValue is d's value of segment s.
func segmentValue(d *journal.Decision, s Segment) string {
	switch s {
	case ByChannel:
		return cmp.Or(d.Channel, Unknown)
	case ByStage:
		st, _ := d.Profile["stage"].(string)
		return cmp.Or(st, Unknown)
	case ByArm:
		if d.Experiment == nil {
			return NoArm
		}
		return d.Experiment.Name + "/" + d.Experiment.Arm
	}
	panic("BUG: campaigns: unknown segment " + string(s))
}
