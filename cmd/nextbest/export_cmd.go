package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"nextbest/cluster/stream"
	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/export"
	"nextbest/features"
	"nextbest/serve"
)

// runExport implements "nextbest export": the journal as Parquet, CSV,
// JSON lines, DSJSON or cb_adf (docs/export.md).
func runExport(args []string) error {
	return exportCmd(args, os.Stdout, os.Stderr)
}

func exportCmd(args []string, stdout io.Writer, stderr *os.File) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	cf := addConfigFlags(fs, cfgCatalog|cfgWindow|cfgDefaultReward)
	dir := fs.String("journal", "", "the service's journal `directory`")
	streamURL := fs.String("stream", "", "cluster mode: the NATS `URL` whose JetStream journal is pulled into a temporary directory first (credentials and stream name from --config's cluster section)")
	format := fs.String("format", "", "output `format`: parquet, csv, jsonl, dsjson or cb_adf (required)")
	out := fs.String("out", "", "output `file` (default: stdout)")
	raw := fs.Bool("raw", false, "every record as journaled (type, lsn, time, payload) instead of the joined decisions: parquet, csv or jsonl")
	from := fs.String("from", "", "keep decisions (with --raw, records) at or after this `time` (RFC 3339 or YYYY-MM-DD, UTC)")
	to := fs.String("to", "", "keep decisions (with --raw, records) before this `time` (RFC 3339 or YYYY-MM-DD, UTC)")
	channel := fs.String("channel", "", "keep the decisions made on this `channel`")
	experiment := fs.String("experiment", "", "keep the decisions of this experiment (`name`)")
	includePII := fs.Bool("include-pii", false, "keep the profile inputs of attributes the feature spec marks pii (left out by default)")
	progress := fs.Bool("progress", false, "show progress on stderr even when it is not a terminal")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: nextbest export (--journal DIR | --stream URL) --format parquet|csv|jsonl|dsjson|cb_adf [--out FILE] [flags]

Exports the journal's decisions joined with their outcomes, as the service
joins them (give its --config for its attribution window, outcome types and
default reward): a table with one row per shown action (parquet, csv,
jsonl), or one Vowpal Wabbit example per decision labelled with its first
slot (dsjson, cb_adf; nextbest train reads both back; with a --catalog,
each candidate carries its catalog features). With --raw, every
record as it was journaled. Columns and formats: docs/export.md.

Flags:
`)
		fs.PrintDefaults()
	}
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	var o export.Options
	var err error
	switch {
	case *format == "":
		return usageErrorf(fs, "--format is required (parquet, csv, jsonl, dsjson or cb_adf)")
	case *dir == "" && *streamURL == "":
		return usageErrorf(fs, "give --journal DIR or --stream URL")
	case *dir != "" && *streamURL != "":
		return usageErrorf(fs, "give --journal or --stream, not both")
	}
	if o.Format, err = export.ParseFormat(*format); err != nil {
		return usageErrorf(fs, "--format %q is not parquet, csv, jsonl, dsjson or cb_adf", *format)
	}
	if o.From, err = parseWhen(*from); err != nil {
		return usageErrorf(fs, "--from %q: %v", *from, err)
	}
	if o.To, err = parseWhen(*to); err != nil {
		return usageErrorf(fs, "--to %q: %v", *to, err)
	}
	o.Raw, o.Channel, o.Experiment = *raw, *channel, *experiment
	if o.Raw && (o.Format == export.DSJSON || o.Format == export.CBADF) {
		return usageErrorf(fs, "--raw exports parquet, csv or jsonl, not %s", o.Format)
	}
	if !o.From.IsZero() && !o.To.IsZero() && !o.From.Before(o.To) {
		return usageErrorf(fs, "--from %s is not before --to %s", *from, *to)
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	if o.Join, err = cfg.joinConfig(); err != nil {
		return err
	}
	if !*includePII {
		data, err := readOr(serve.InputFeatureSpec, cfg.FeatureSpec, retail.FeatureSpec)
		if err != nil {
			return err
		}
		spec, err := features.ParseSpec(data)
		if err != nil {
			return inputError(serve.InputFeatureSpec, cfg.FeatureSpec, err)
		}
		o.Personal = spec.IsPII
	}
	if cfg.Catalog != "" && (o.Format == export.DSJSON || o.Format == export.CBADF) {
		data, err := readInput(serve.InputCatalog, cfg.Catalog)
		if err != nil {
			return err
		}
		cat, err := decide.ParseCatalog(data, nil)
		if err != nil {
			return inputError(serve.InputCatalog, cfg.Catalog, err)
		}
		o.ActionFeatures = make(map[string]map[string]any, len(cat.Actions))
		for _, a := range cat.Actions {
			o.ActionFeatures[a.ID] = a.Features
		}
	}
	ctx := context.Background()
	if *streamURL != "" {
		cc, err := clusterOf(cfg.path, cfg.fileConfig)
		if err != nil {
			return err
		}
		nc := stream.Config{}
		if cc != nil {
			nc = cc.NATS
		}
		nc.URL = *streamURL
		tmp, err := os.MkdirTemp("", "nextbest-export-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		n, _, _, err := pullStream(ctx, nc, tmp)
		if err != nil {
			return fmt.Errorf("cannot pull the journal from %s: %w", nc.URL, err)
		}
		fmt.Fprintf(stderr, "pulled %d records from %s\n", n, nc.URL)
		*dir = tmp
	}
	if _, err := os.Stat(*dir); err != nil {
		return fmt.Errorf("journal %w", err)
	}

	w, commit, abort, err := exportOutput(*out, stdout)
	if err != nil {
		return err
	}
	bar, finish := exportProgress(stderr, *progress)
	o.Progress = bar
	start := time.Now()
	st, err := export.Journal(ctx, *dir, w, o)
	finish()
	if err != nil {
		abort()
		return err
	}
	if err := commit(); err != nil {
		return err
	}
	el := time.Since(start)
	dest := *out
	if dest == "" {
		dest = "stdout"
	}
	what := "decisions"
	if o.Raw {
		what = "records"
	}
	fmt.Fprintf(stderr, "exported %d %s (%d rows) of %d records to %s as %s in %v (%.0f records/s)", st.Decisions, what, st.Rows,
		st.Records, dest, o.Format, el.Round(time.Millisecond), float64(st.Records)/max(el.Seconds(), 1e-9))
	if st.Filtered > 0 || st.Skipped > 0 {
		fmt.Fprintf(stderr, "; %d filtered out, %d without a labellable first slot", st.Filtered, st.Skipped)
	}
	if !o.Raw {
		fmt.Fprintf(stderr, "; %d outcomes joined, %d late, %d duplicate", st.Join.Joined, st.Join.Late, st.Join.Duplicate)
	}
	fmt.Fprintln(stderr)
	return nil
}

// parseWhen parses --from and --to: RFC 3339, or a date (midnight UTC).
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, errors.New("not an RFC 3339 time or a YYYY-MM-DD date")
	}
	return t, nil
}

// exportOutput opens the export's destination: stdout for "", otherwise a
// temporary file beside path that commit renames onto path (abort
// removes it), so that a failed export leaves no half file.
func exportOutput(path string, stdout io.Writer) (w io.Writer, commit func() error, abort func(), err error) {
	if path == "" {
		return stdout, func() error { return nil }, func() {}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cannot create output: %w", err)
	}
	abort = func() { f.Close(); os.Remove(f.Name()) }
	commit = func() error {
		err := errors.Join(f.Chmod(0o644), f.Sync(), f.Close())
		if err == nil {
			err = os.Rename(f.Name(), path)
		}
		if err != nil {
			os.Remove(f.Name())
			return fmt.Errorf("cannot write %s: %w", path, err)
		}
		return nil
	}
	return f, commit, abort, nil
}

// exportProgress returns the export's progress callback: a bar of rows
// written with their rate when stderr is a terminal, a line every 2s when
// it is not and --progress asks for it, nothing otherwise.
func exportProgress(stderr *os.File, force bool) (func(export.Progress), func()) {
	if simIsTerminal(stderr) {
		bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("exporting"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("rows"),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		return func(p export.Progress) { bar.Set(p.Rows) }, func() { bar.Finish() }
	}
	if !force {
		return nil, func() {}
	}
	start, last := time.Now(), time.Now()
	return func(p export.Progress) {
		if now := time.Now(); now.Sub(last) >= 2*time.Second || p.Done {
			last = now
			fmt.Fprintf(stderr, "exporting: %d records read, %d rows written, %.0f rows/s\n", p.Records, p.Rows, float64(p.Rows)/max(now.Sub(start).Seconds(), 1e-9))
		}
	}, func() {}
}
