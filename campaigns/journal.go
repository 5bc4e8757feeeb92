package campaigns

import (
	"context"

	"nextbest/attribution"
	"nextbest/logs"
)

// Config configures FromJournal.
type Config struct {
	// Join is the service's join: its attribution window, outcome types
	// and the period (From, To) of the decisions to report on.
	Join logs.JoinConfig
	// Options configure the analysis; its Outcomes and Window default to
	// the join's.
	Options Options
}

// FromJournal joins the journal in dir (logs.Join, read-only) and, when
// a lift is asked for, reads it into journeys (attribution.Build: the
// conversions of the held-out customers are their purchase events), then
// analyses it: the report the command writes and the dashboard serves.
// Report.Source is dir.
func FromJournal(ctx context.Context, dir string, cfg Config) (*Report, error) {
	joined, st, err := logs.Join(ctx, dir, cfg.Join)
	if err != nil {
		return nil, err
	}
	o := cfg.Options
	if o.Outcomes == nil {
		o.Outcomes = cfg.Join.Outcomes
	}
	if o.Window == 0 {
		o.Window = cfg.Join.Window
	}
	var journeys []attribution.Journey
	if o.Lift != nil {
		journeys, _, err = attribution.Build(ctx, dir, attribution.BuildConfig{Outcomes: o.Outcomes})
		if err != nil {
			return nil, err
		}
	}
	r, err := Analyze(joined, journeys, o)
	if err != nil {
		return nil, err
	}
	r.Source = dir
	r.Stats = Stats{Decisions: st.Decisions, Outcomes: st.Outcomes, Joined: st.Joined, Late: st.Late, Duplicate: st.Duplicate,
		UnknownType: st.UnknownType, Unknown: st.Unknown, Filtered: st.Filtered}
	return r, nil
}
