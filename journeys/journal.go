package journeys

import (
	"context"

	"nextbest/attribution"
	"nextbest/features"
	"nextbest/logs"
)

// Config configures FromJournal.
type Config struct {
	// Spec is the service's feature spec: its stages and transitions.
	Spec *features.Spec
	// Outcomes are the declared outcome types (what converts, for the
	// journey map's converted counts); nil means the defaults.
	Outcomes *logs.Outcomes
	// Options configure the analysis.
	Options Options
}

// FromJournal reads the journal in dir (read-only, once, with
// attribution.Build: every event and decision of every customer, and
// their conversions) and analyses it: the report the command writes and
// the dashboard serves. Report.Source is dir and Report.Stats.Journal
// what the read counted.
func FromJournal(ctx context.Context, dir string, cfg Config) (*Report, error) {
	journeys, st, err := attribution.Build(ctx, dir, attribution.BuildConfig{Outcomes: cfg.Outcomes, Everything: true})
	if err != nil {
		return nil, err
	}
	r, err := Analyze(journeys, cfg.Spec, cfg.Options)
	if err != nil {
		return nil, err
	}
	r.Source = dir
	r.Stats.Journal = &st
	return r, nil
}
