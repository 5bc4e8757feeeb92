package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"nextbest/campaigns"
	"nextbest/decide"
)

const campaignsUsage = `Usage:
  nextbest report campaigns --journal DIR [--config FILE] [--by day|week] [--segment channel,stage,experiment-arm]
                            [--from T] [--to T] [--lift EXPERIMENT] [--out campaigns.html] [--json FILE] [--csv FILE]

Campaign and channel report: per action (campaign) and per channel, per
day or week and by segment (channel, journey stage at the decision,
experiment arm): impressions (returned actions), clicks and conversions
with 95% intervals (Wilson score on the customer-clustered effective
count), revenue (the joined rewards of the revenue types), and the lift
of the programme against the permanent holdout (the config's experiment
with holdout: true; --lift NAME compares another experiment's arms with
its control). Outcomes are joined as the service joins them: the config's
outcome_types and attribution_window. Writes the HTML page to --out and
the JSON and CSV beside it (or to --json and --csv; "-" is stdout);
prints the opening lines. See docs/reports.md.
`

// reportCampaigns is "nextbest report campaigns".
func reportCampaigns(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report campaigns", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(stderr, campaignsUsage+"\nFlags:\n"); fs.SetOutput(stderr); fs.PrintDefaults() }
	cf := addConfigFlags(fs, cfgWindow|cfgExperiments)
	var (
		journalDir = fs.String("journal", "", "journal `directory` (required)")
		from       = fs.String("from", "", "keep decisions at or after this `time` (RFC 3339 or YYYY-MM-DD, UTC)")
		to         = fs.String("to", "", "keep decisions before this `time`")
		by         = fs.String("by", "day", "the series' `period`: day or week (UTC)")
		segments   = fs.String("segment", "channel,stage,experiment-arm", "comma-separated `segments` to break rows down by: channel, stage, experiment-arm; none for none")
		clicks     = fs.String("click-types", "", "comma-separated outcome `types` that are clicks (default: click, if declared)")
		revenue    = fs.String("revenue-types", "", "comma-separated outcome `types` whose rewards are revenue (default: revenue and purchase, those declared)")
		liftName   = fs.String("lift", "", "the `experiment` whose arms the lift compares (default: the config's holdout: true experiment)")
		level      = fs.Float64("level", 0.95, "the intervals' confidence `level`")
		out        reportOutputs
	)
	out.flags(fs, "campaigns.html")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *journalDir == "" {
		return usageErrorf(fs, "--journal is required")
	}
	o := campaigns.Options{Period: campaigns.Period(*by), Level: *level, ClickTypes: list(*clicks), RevenueTypes: list(*revenue)}
	if o.Period != campaigns.Day && o.Period != campaigns.Week {
		return usageErrorf(fs, "--by %q: want day or week", *by)
	}
	if !(*level > 0 && *level < 1) {
		return usageErrorf(fs, "--level %v: want a number between 0 and 1", *level)
	}
	o.Segments = []campaigns.Segment{}
	if *segments != "none" {
		for _, s := range list(*segments) {
			seg, err := campaigns.ParseSegment(s)
			if err != nil {
				return usageErrorf(fs, "--segment %q: want channel, stage, experiment-arm or none", s)
			}
			o.Segments = append(o.Segments, seg)
		}
	}
	f, t, err := period(fs, *from, *to)
	if err != nil {
		return err
	}
	if err := out.check(fs); err != nil {
		return err
	}
	cfg, err := cf.load()
	if err != nil {
		return fmt.Errorf("report campaigns: %w", err)
	}
	jc, err := cfg.joinConfig()
	if err != nil {
		return fmt.Errorf("report campaigns: %w", err)
	}
	jc.From, jc.To = f, t
	if cfg.Experiments != "" {
		exps, err := decide.LoadExperiments(cfg.Experiments)
		if err != nil {
			return fmt.Errorf("report campaigns: %w", err)
		}
		if o.Lift, err = campaigns.LiftExperiment(exps, *liftName); err != nil {
			return fmt.Errorf("report campaigns: --lift: %w", err)
		}
	} else if *liftName != "" {
		return usageErrorf(fs, "--lift %s: give the experiments (--experiments or the config's experiments)", *liftName)
	}
	if err := journalDirExists(*journalDir); err != nil {
		return fmt.Errorf("report campaigns: %w", err)
	}
	r, err := campaigns.FromJournal(context.Background(), *journalDir, campaigns.Config{Join: jc, Options: o})
	if err != nil {
		return fmt.Errorf("report campaigns: journal %s: %w", *journalDir, err)
	}
	if err := out.write("report campaigns", stdout, r.Headline, r.WriteHTML, r.WriteJSON, r.WriteCSV); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "journal: %d decisions, %d outcomes joined (%d late, %d duplicate), %d impressions\n",
		r.Stats.Decisions, r.Stats.Joined, r.Stats.Late, r.Stats.Duplicate, r.Total.Impressions)
	return nil
}

// list splits a comma-separated flag value; "" is nil.
func list(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
