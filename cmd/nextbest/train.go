package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"nextbest/logs"
	"nextbest/training"
)

// Data-file layouts (--layout).
const (
	// layoutSpec maps the file's feature names onto the feature spec: the
	// rows are the vectors the service scores, the model can be served.
	layoutSpec = "spec"
	// layoutHashed lays names out in VW-style slots (training.Featurizer):
	// for comparing learners on any VW file, never saved or served.
	layoutHashed = "hashed"
)

const trainUsage = `Usage: nextbest train (--journal DIR | --dsjson FILE | --cb-adf FILE | --csv FILE | --parquet FILE) [flags]

Trains a model on the service's journal (joined with the service's
attribution window, default reward and outcome types: give its --config)
or on a logged-bandit data file whose features are named after the
feature spec's inputs (docs/training.md), prints its held-out metrics and
saves the artifact in the registry (--registry, or the config's registry)
as the next version, not promoted, and/or in --out.

Flags:
`

// runTrain implements "nextbest train": flags → training.Job →
// training.Run → a summary, and the artifact in --out.
func runTrain(args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), trainUsage); fs.PrintDefaults() }
	cf := addConfigFlags(fs, cfgCatalog|cfgFeatures|cfgWindow|cfgDefaultReward|cfgRegistry)
	var (
		journalDir  = fs.String("journal", "", "journal directory to train from")
		csvPath     = fs.String("csv", "", "CSV file (with --columns)")
		parquetPath = fs.String("parquet", "", "Parquet file (with --columns)")
		adfPath     = fs.String("cb-adf", "", "Vowpal Wabbit cb_adf text file")
		dsjsonPath  = fs.String("dsjson", "", "DSJSON file (VW / Azure Personalizer decision log)")
		columns     = fs.String("columns", "", `column map for --csv/--parquet: "context=a,b;action=x;reward=y;propensity=p"`)
		layout      = fs.String("layout", layoutSpec, "data files: spec (the file's feature names map onto --features; the model can be served) or hashed (VW-style slots, --shared-dim/--action-dim/--interactions; metrics only, never saved)")
		mismatch    = fs.String("feature-mismatch", "refuse", "spec layout, a file whose feature names differ from the spec's inputs: refuse, or warn and train anyway")
		model       = fs.String("model", "linucb", "model: linucb, lints, logistic, mlp; with --progressive: sgd (VW-style online) or ridge")
		perAction   = fs.Bool("per-action", false, "one model per action instead of one shared model with action features")
		inter       = fs.String("interactions", "", "--layout hashed, --progressive: shared×action namespace crosses, e.g. sa (as VW -q sa)")
		sharedDim   = fs.Int("shared-dim", 64, "--layout hashed, --progressive: shared feature slots")
		actionDim   = fs.Int("action-dim", 8, "--layout hashed, --progressive: action feature slots")
		lambda      = fs.Float64("lambda", 1, "ridge prior precision")
		l2          = fs.Float64("l2", 1, "logistic L2 penalty")
		hidden      = fs.Int("hidden", 32, "MLP hidden units")
		epochs      = fs.Int("epochs", 50, "MLP maximum epochs")
		holdOut     = fs.Float64("holdout", 0.2, "fraction of examples held out for metrics")
		seed        = fs.Uint64("seed", 1, "random seed (split, MLP)")
		out         = fs.String("out", "", "file to write the artifact to")
		progressive = fs.Bool("progressive", false, "cb_adf/dsjson, the VW comparison (benchmark only, saves no model): stream once with progressive validation on the hashed layout (--model sgd: VW's cb_adf learner on the fast cb_adf reader; otherwise ridge)")
		learnRate   = fs.Float64("learning-rate", 0.5, "--progressive --model sgd: learning rate (VW's -l)")
		parseOnly   = fs.Bool("parse-only", false, "--progressive --model sgd: only read and parse the file (throughput of the reader)")
		cacheFile   = fs.String("cache_file", "", "--progressive --model sgd --cb-adf: binary example cache (VW's --cache_file): written while the text is read, read instead of it on later runs while it matches the file")
		cacheAuto   = fs.Bool("c", false, "--progressive --model sgd --cb-adf: use the cache FILE.cache beside the --cb-adf FILE (VW's -c)")
		quiet       = fs.Bool("quiet", false, "print nothing but errors")
		positions   = fs.String("positions", "none", `--journal, multi-slot decisions: the position model (docs/evaluation.md): none; estimate (examination factors estimated from the journal's logged propensities, for --position-slots slots); or the factors, "1,0.5,0.3"`)
		posSlots    = fs.Int("position-slots", 3, "--positions estimate: the number of slots to estimate factors for")
	)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	stderr := io.Writer(os.Stderr)
	stdout := io.Writer(os.Stdout)
	if *quiet {
		stderr, stdout = io.Discard, io.Discard
	}
	var interactions []string
	if *inter != "" {
		interactions = strings.Split(*inter, ",")
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	if *progressive {
		if cfg.Registry != "" || *out != "" {
			return errors.New("--progressive is the VW comparison: its learners use the hashed layout, not the feature spec's vector, and cannot be served, so --registry (or the config's registry) and --out are refused; train without --progressive for a servable model")
		}
		cache := *cacheFile
		if *cacheAuto && cache == "" && *adfPath != "" {
			cache = *adfPath + ".cache"
		}
		if (cache != "" || *cacheAuto) && (*model != "sgd" || *adfPath == "") {
			return usageErrorf(fs, "--cache_file and -c cache --cb-adf files for --model sgd")
		}
		return trainProgressive(stdout, vwRun{
			adf: *adfPath, dsjson: *dsjsonPath, model: *model, perAction: *perAction, lambda: *lambda, parseOnly: *parseOnly, cache: cache,
			sgd: training.SGDConfig{SharedDim: *sharedDim, ActionDim: *actionDim, Interactions: interactions, LearningRate: *learnRate},
		})
	}

	if *mismatch != "refuse" && *mismatch != "warn" {
		return usageErrorf(fs, "--feature-mismatch %q: want refuse or warn", *mismatch)
	}
	job := training.Job{Journal: *journalDir, AllowMismatch: *mismatch == "warn",
		Train: training.TrainConfig{Model: *model, PerAction: *perAction, Lambda: *lambda, L2: *l2,
			Hidden: *hidden, Epochs: *epochs, HoldOut: *holdOut, Seed: *seed}}
	if *journalDir != "" {
		if *adfPath+*dsjsonPath+*csvPath+*parquetPath != "" {
			return usageErrorf(fs, "give one of --journal, --csv, --parquet, --cb-adf, --dsjson")
		}
		if job.Join, err = cfg.joinConfig(); err != nil {
			return err
		}
		if job.Positions, job.EstimatePositions, err = parsePositions(*positions, *posSlots); err != nil {
			return usageErrorf(fs, "%v", err)
		}
	} else if *positions != "none" {
		return usageErrorf(fs, "--positions is for a --journal's multi-slot decisions")
	} else if job.File, err = pickDataFile(*adfPath, *dsjsonPath, *csvPath, *parquetPath, *columns); err != nil {
		return usageErrorf(fs, "%v", err)
	}
	switch *layout {
	case layoutHashed:
		if job.Journal != "" {
			return usageErrorf(fs, "--layout hashed is for data files")
		}
		if cfg.Registry != "" || *out != "" {
			return errors.New("--layout hashed is for comparing learners (VW-style slots, not the feature spec's vector): its models cannot be served, so --registry (or the config's registry) and --out are refused; use --layout spec with the file's features named after the spec's inputs")
		}
		job.Hashed = &training.HashedLayout{SharedDim: *sharedDim, ActionDim: *actionDim, Interactions: interactions}
	case layoutSpec:
		if job.Spec, job.Catalog, err = cfg.specAndCatalog(); err != nil {
			return err
		}
	default:
		return usageErrorf(fs, "--layout %q: want spec or hashed", *layout)
	}
	if job.Registry, err = cfg.registry(); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var done func()
	job.Train.Progress, done = newProgress(stderr, *quiet, *model)
	rep, err := training.Run(ctx, job)
	done()
	if errors.Is(err, training.ErrFeatureMismatch) {
		return fmt.Errorf("%w. A model trained on it would not be servable with this spec: name the file's features after the spec's inputs (docs/training.md), give --feature-mismatch warn to train anyway, or --layout hashed to compare learners on it without saving", err)
	}
	if err != nil {
		return err
	}
	printTrainReport(stdout, stderr, &job, rep)
	if rep.Version > 0 {
		dir := job.Registry.Dir()
		fmt.Fprintf(stdout, "saved version %d in %s (promote with: nextbest models promote %d --registry %s)\n", rep.Version, dir, rep.Version, dir)
	}
	if *out != "" {
		if err := writeArtifact(*out, rep); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", *out)
	}
	return nil
}

// writeArtifact writes rep's artifact to the file path.
func writeArtifact(path string, rep *training.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := rep.Artifact.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// newProgress returns a progress callback: a bar with rate and ETA when
// stderr is a terminal, a plain line at most every 2s otherwise, nothing
// when quiet. done finishes the bar.
func newProgress(w io.Writer, quiet bool, what string) (func(done, total int), func()) {
	if quiet {
		return nil, func() {}
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		var bar *progressbar.ProgressBar
		return func(done, total int) {
				if bar == nil {
					bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("training "+what),
						progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetPredictTime(true),
						progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
				}
				bar.Set(done)
			}, func() {
				if bar != nil {
					bar.Finish()
				}
			}
	}
	start, last := time.Now(), time.Time{}
	return func(done, total int) {
		if now := time.Now(); now.Sub(last) >= 2*time.Second || done == total {
			last = now
			el := now.Sub(start).Seconds()
			rate := float64(done) / max(el, 1e-9)
			eta := time.Duration(float64(total-done) / max(rate, 1e-9) * float64(time.Second))
			fmt.Fprintf(w, "training %s: %d/%d (%.0f/s, eta %v)\n", what, done, total, rate, eta.Round(time.Second))
		}
	}, func() {}
}

// printTrainReport prints what Run read (on stderr) and trained (on
// stdout).
func printTrainReport(stdout, stderr io.Writer, job *training.Job, rep *training.Report) {
	if job.Journal != "" {
		st, bst := rep.Join, rep.Build
		fmt.Fprintf(stderr, "journal: %d decisions, %d outcomes joined (%d late, %d duplicate, %d not shown, %d unknown decision)\n",
			st.Decisions, st.Joined, st.Late, st.Duplicate, st.NotShown, st.Unknown)
		if pm := rep.Positions; pm != nil {
			fmt.Fprint(stderr, "position model: slot factors")
			for k, v := range pm.Exam {
				fmt.Fprintf(stderr, " %.4g", v)
				if k > 0 && k < len(pm.SE) {
					fmt.Fprintf(stderr, " (SE %.2g, %d decisions)", pm.SE[k], pm.Decisions[k])
				}
			}
			fmt.Fprintln(stderr)
		}
		if bst.SpecMismatch > 0 || bst.UnknownAction > 0 || bst.BadInputs > 0 {
			fmt.Fprintf(stderr, "dataset: refused %d decisions of another feature spec, %d with bad inputs; %d actions no longer in the catalog\n",
				bst.SpecMismatch, bst.BadInputs, bst.UnknownAction)
		}
	} else {
		f := rep.File
		fmt.Fprintf(stderr, "%s: %d rows of %s", rep.Source, f.Rows, rep.Layout)
		if f.Unlabeled > 0 {
			fmt.Fprintf(stderr, ", %d unlabelled examples skipped", f.Unlabeled)
		}
		if f.Bad > 0 {
			fmt.Fprintf(stderr, ", %d refused by the spec (first: %s)", f.Bad, f.FirstBad)
		}
		fmt.Fprintln(stderr)
		if rep.Mismatch != nil {
			fmt.Fprintf(stderr, "warning: %v; training anyway: unknown features are ignored, missing ones take the spec's defaults\n", rep.Mismatch)
		}
	}
	res := rep.Result
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	m := res.Metrics
	fmt.Fprintf(tw, "model\t%s (per-action %v)\n", res.Name, res.PerAction)
	fmt.Fprintf(tw, "examples used\t%d train, %d held out (dim %d)\n", res.TrainRows, m.N, rep.Dim)
	for a, n := range m.PerAction {
		if n > 0 {
			fmt.Fprintf(tw, "  action %s\t%d\n", rep.ActionIDs[a], n)
		}
	}
	fmt.Fprintf(tw, "log loss\t%.5f\n", m.LogLoss)
	fmt.Fprintf(tw, "AUC\t%.4f\n", m.AUC)
	fmt.Fprintf(tw, "calibration error (ECE, 10 bins)\t%.5f\n", m.ECE)
	fmt.Fprintf(tw, "RMSE\t%.5f\n", m.RMSE)
	fmt.Fprintf(tw, "training time\t%v\n", res.Duration.Round(time.Microsecond))
	fmt.Fprintf(tw, "examples/s\t%.0f\n", res.Rate)
	tw.Flush()
}

// parsePositions reads --positions: none, estimate (for slots slots), or
// the examination factors.
func parsePositions(s string, slots int) (*logs.PositionModel, int, error) {
	switch s {
	case "none", "":
		return nil, 0, nil
	case "estimate":
		if slots < 2 {
			return nil, 0, fmt.Errorf("--position-slots %d: estimate at least 2 slots", slots)
		}
		return nil, slots, nil
	}
	var exam []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, 0, fmt.Errorf("--positions %q: want none, estimate or the slot factors, like 1,0.5,0.3", s)
		}
		exam = append(exam, v)
	}
	pm, err := logs.NewPositionModel(exam)
	return pm, 0, err
}
