package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"nextbest/decide"
	"nextbest/examples/retail"
	"nextbest/features"
	"nextbest/logs"
	"nextbest/models"
	"nextbest/training"
)

// runTrain implements "nextbest train": read a journal or a data file,
// train a model, print a summary, save the artifact.
func runTrain(args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	var (
		journalDir  = fs.String("journal", "", "journal directory to train from")
		csvPath     = fs.String("csv", "", "CSV file (with --columns)")
		parquetPath = fs.String("parquet", "", "Parquet file (with --columns)")
		adfPath     = fs.String("cb-adf", "", "Vowpal Wabbit cb_adf text file")
		dsjsonPath  = fs.String("dsjson", "", "DSJSON file (VW / Azure Personalizer decision log)")
		columns     = fs.String("columns", "", `column map for --csv/--parquet: "context=a,b;action=x;reward=y;propensity=p"`)
		layout      = fs.String("layout", layoutSpec, "data files: spec (the file's feature names map onto --features; the model can be served) or hashed (VW-style slots, --shared-dim/--action-dim/--interactions; metrics only, never saved)")
		mismatch    = fs.String("feature-mismatch", "refuse", "spec layout, a file whose feature names differ from the spec's inputs: refuse, or warn and train anyway")
		specPath    = fs.String("features", "", "feature spec YAML (default: the embedded retail sample)")
		catPath     = fs.String("catalog", "", "catalog YAML (default: the embedded retail sample)")
		model       = fs.String("model", "linucb", "model: linucb, lints, logistic, mlp; with --progressive: sgd (VW-style online) or ridge")
		perAction   = fs.Bool("per-action", false, "one model per action instead of one shared model with action features")
		inter       = fs.String("interactions", "", "--layout hashed, --progressive: shared×action namespace crosses, e.g. sa (as VW -q sa)")
		sharedDim   = fs.Int("shared-dim", 64, "--layout hashed, --progressive: shared feature slots")
		actionDim   = fs.Int("action-dim", 8, "--layout hashed, --progressive: action feature slots")
		window      = fs.String("window", "7d", "attribution window for the journal join")
		configPath  = fs.String("config", "", "nextbest serve's configuration file: the journal join folds outcomes by its outcome_types (default: the built-in types)")
		defReward   = fs.Float64("default-reward", 0, "reward of a shown action without outcome")
		lambda      = fs.Float64("lambda", 1, "ridge prior precision")
		l2          = fs.Float64("l2", 1, "logistic L2 penalty")
		hidden      = fs.Int("hidden", 32, "MLP hidden units")
		epochs      = fs.Int("epochs", 50, "MLP maximum epochs")
		holdOut     = fs.Float64("holdout", 0.2, "fraction of examples held out for metrics")
		seed        = fs.Uint64("seed", 1, "random seed (split, MLP)")
		registry    = fs.String("registry", "", "model registry directory to save the artifact in")
		out         = fs.String("out", "", "file to write the artifact to")
		progressive = fs.Bool("progressive", false, "cb_adf/dsjson, the VW comparison (benchmark only, saves no model): stream once with progressive validation on the hashed layout (--model sgd: VW's cb_adf learner on the fast cb_adf reader; otherwise ridge)")
		learnRate   = fs.Float64("learning-rate", 0.5, "--progressive --model sgd: learning rate (VW's -l)")
		parseOnly   = fs.Bool("parse-only", false, "--progressive --model sgd: only read and parse the file (throughput of the reader)")
		quiet       = fs.Bool("quiet", false, "print nothing but errors")
	)
	if err := fs.Parse(args); err != nil {
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
	if *progressive {
		if *registry != "" || *out != "" {
			return errors.New("--progressive is the VW comparison: its learners use the hashed layout, not the feature spec's vector, and cannot be served, so --registry and --out are refused; train without --progressive for a servable model")
		}
		path, read := *adfPath, training.ReadCBADF
		if *dsjsonPath != "" {
			path, read = *dsjsonPath, training.ReadDSJSON
		}
		if path == "" {
			return errors.New("--progressive needs --cb-adf or --dsjson")
		}
		f, err := training.NewFeaturizer(*sharedDim, *actionDim, interactions)
		if err != nil {
			return err
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		if *model == "sgd" {
			if *dsjsonPath != "" {
				return errors.New("--model sgd reads --cb-adf files")
			}
			return progressiveSGD(stdout, in, training.SGDConfig{SharedDim: *sharedDim, ActionDim: *actionDim,
				Interactions: interactions, LearningRate: *learnRate}, *parseOnly)
		}
		res, err := training.Progressive(in, f, training.ProgressiveConfig{PerAction: *perAction, Lambda: *lambda}, read)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "examples\t%d\nprogressive loss\t%.6f\nuniform random\t%.6f\ntime\t%v\nexamples/s\t%.0f\ndim\t%d\n",
			res.Examples, res.Loss, res.Random, res.Duration.Round(time.Millisecond), res.Rate, f.Dim())
		return nil
	}

	var (
		ds       *training.Dataset
		specHash string
		meta     models.Metadata
	)
	switch {
	case *journalDir != "":
		spec, cat, err := loadSample(*specPath, *catPath)
		if err != nil {
			return err
		}
		w, err := decide.ParseDuration(*window)
		if err != nil {
			return fmt.Errorf("--window: %w", err)
		}
		outcomes, err := loadOutcomeTypes(*configPath)
		if err != nil {
			return err
		}
		joined, st, err := logs.Join(context.Background(), *journalDir, logs.JoinConfig{Window: w.D(), DefaultReward: *defReward, Outcomes: outcomes})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "journal: %d decisions, %d outcomes joined (%d late, %d duplicate, %d not shown, %d unknown decision)\n",
			st.Decisions, st.Joined, st.Late, st.Duplicate, st.NotShown, st.Unknown)
		var bst training.BuildStats
		if ds, bst, err = training.BuildDataset(joined, spec, cat); err != nil {
			return err
		}
		if bst.SpecMismatch > 0 || bst.UnknownAction > 0 || bst.BadInputs > 0 {
			fmt.Fprintf(stderr, "dataset: refused %d decisions of another feature spec, %d with bad inputs; %d actions no longer in the catalog\n",
				bst.SpecMismatch, bst.BadInputs, bst.UnknownAction)
		}
		specHash = spec.Hash()
		meta.Source = "journal " + *journalDir
		for _, j := range joined {
			t := j.Decision.Time
			if meta.TrainFrom.IsZero() || t.Before(meta.TrainFrom) {
				meta.TrainFrom = t
			}
			if t.After(meta.TrainTo) {
				meta.TrainTo = t
			}
		}
	default:
		file, err := pickDataFile(*adfPath, *dsjsonPath, *csvPath, *parquetPath, *columns)
		if err != nil {
			return err
		}
		if *mismatch != "refuse" && *mismatch != "warn" {
			return fmt.Errorf("--feature-mismatch %q: want refuse or warn", *mismatch)
		}
		ds, meta, err = readDataFile(stderr, file, dataFileConfig{Layout: *layout, Warn: *mismatch == "warn", Saving: *registry != "" || *out != "",
			SpecPath: *specPath, CatPath: *catPath, SharedDim: *sharedDim, ActionDim: *actionDim, Interactions: interactions})
		if err != nil {
			return err
		}
		specHash = ds.FeatureSpec
	}
	if ds.Len() == 0 {
		return training.ErrNoData
	}

	prog, done := newProgress(stderr, *quiet, *model)
	res, err := training.Train(ds, training.TrainConfig{Model: *model, PerAction: *perAction, Lambda: *lambda, L2: *l2,
		Hidden: *hidden, Epochs: *epochs, HoldOut: *holdOut, Seed: *seed, Progress: prog})
	done()
	if err != nil {
		return err
	}
	printTrainSummary(stdout, ds, res)

	meta.Name, meta.FeatureSpec, meta.Examples, meta.Hyper = *model, specHash, res.TrainRows, res.Hyper
	if *perAction {
		meta.ActionIDs = ds.ActionIDs
	}
	meta.Metrics = map[string]float64{"log_loss": res.Metrics.LogLoss, "ece": res.Metrics.ECE, "rmse": res.Metrics.RMSE,
		"heldout_rows": float64(res.Metrics.N), "train_seconds": res.Duration.Seconds(), "examples_per_second": res.Rate}
	if !math.IsNaN(res.Metrics.AUC) {
		meta.Metrics["auc"] = res.Metrics.AUC
	}
	if *registry == "" && *out == "" {
		return nil
	}
	wt, ok := res.Scorer.(io.WriterTo)
	if !ok {
		return fmt.Errorf("BUG: model %T cannot be written", res.Scorer)
	}
	art, err := models.NewArtifact(meta, wt)
	if err != nil {
		return err
	}
	if *registry != "" {
		reg, err := models.OpenRegistry(*registry)
		if err != nil {
			return err
		}
		v, err := reg.Save(art)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "saved version %d in %s (promote with: nextbest models promote %d --registry %s)\n", v, *registry, v, *registry)
	}
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		if _, err := art.WriteTo(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", *out)
	}
	return nil
}

// progressiveSGD prints progressive validation of the SGD learner (or,
// parseOnly, the reader's throughput alone) on a cb_adf stream.
func progressiveSGD(w io.Writer, in io.Reader, cfg training.SGDConfig, parseOnly bool) error {
	if parseOnly {
		rd, err := training.NewCBADFReader(in, training.CBADFReaderConfig{SharedDim: cfg.SharedDim, ActionDim: cfg.ActionDim})
		if err != nil {
			return err
		}
		start, n := time.Now(), 0
		for {
			_, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			n++
		}
		el := time.Since(start)
		fmt.Fprintf(w, "examples\t%d\ntime\t%v\nexamples/s\t%.0f (parse only)\n", n, el.Round(time.Millisecond), float64(n)/el.Seconds())
		return nil
	}
	res, m, err := training.ProgressiveSGD(in, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "examples\t%d\nprogressive loss\t%.6f\nuniform random\t%.6f\ntime\t%v\nexamples/s\t%.0f\ndim\t%d\nmodel\t%s\n",
		res.Examples, res.Loss, res.Random, res.Duration.Round(time.Millisecond), res.Rate, m.Dim(), m.Describe())
	return nil
}

// loadSample loads the feature spec and catalog, defaulting to the
// embedded retail sample.
func loadSample(specPath, catPath string) (*features.Spec, *decide.Catalog, error) {
	specData, catData := retail.FeatureSpec, retail.Catalog
	var err error
	if specPath != "" {
		if specData, err = os.ReadFile(specPath); err != nil {
			return nil, nil, err
		}
	}
	if catPath != "" {
		if catData, err = os.ReadFile(catPath); err != nil {
			return nil, nil, err
		}
	}
	spec, err := features.ParseSpec(specData)
	if err != nil {
		return nil, nil, fmt.Errorf("feature spec: %w", err)
	}
	cat, err := decide.ParseCatalog(catData, spec)
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: %w", err)
	}
	return spec, cat, nil
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

func printTrainSummary(w io.Writer, ds *training.Dataset, res *training.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	m := res.Metrics
	fmt.Fprintf(tw, "model\t%s (per-action %v)\n", res.Name, res.PerAction)
	fmt.Fprintf(tw, "examples used\t%d train, %d held out (dim %d)\n", res.TrainRows, m.N, ds.Dim)
	for a, n := range m.PerAction {
		if n > 0 {
			fmt.Fprintf(tw, "  action %s\t%d\n", ds.ActionIDs[a], n)
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
