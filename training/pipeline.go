package training

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/logs"
	"nextbest/models"
)

// Job is one offline training run, from the log to the registry: where
// the examples come from, the vectors they become, the learner, and the
// registry that receives the model. Run executes it; nextbest train, the
// tests and the retraining loop all build one.
type Job struct {
	// Journal is a service's journal directory; File a logged-bandit data
	// file (File.Path "" for none). Exactly one of the two is set.
	Journal string
	File    DataFile
	// Join configures the journal join: the attribution window, the
	// default reward, the declared outcome types and the time range. Give
	// the service's own values, so that the batch model learns the
	// rewards the online one learns. Journal only.
	Join logs.JoinConfig
	// Spec gives the vectors: required, except with Hashed. Catalog names
	// the actions: required for a journal; for a data file it gives the
	// features of actions the file names by id only (may be nil). The
	// catalog must have been parsed against Spec.
	Spec    *features.Spec
	Catalog *decide.Catalog
	// AllowMismatch trains on a data file whose features differ from the
	// spec's inputs (Report.Mismatch says how); otherwise Run refuses the
	// file with a *FeatureMismatchError.
	AllowMismatch bool
	// Hashed, if not nil, lays a data file out in VW-style slots
	// (Featurizer) instead of the spec's vector: the benchmark-only
	// comparison with Vowpal Wabbit. No artifact is made, and a Registry
	// is refused.
	Hashed *HashedLayout
	// Positions, for a journal, is the position model of multi-slot
	// decisions (logs.PositionModel): the row of the action in slot k is
	// scaled by θₖ, so the model learns the reward an action earns when
	// looked at. nil (the default) learns every slot as slot 0.
	// EstimatePositions > 1 estimates θ for that many slots from the
	// joined journal itself (logs.EstimatePositions) instead;
	// Report.Positions holds the model used.
	Positions         *logs.PositionModel
	EstimatePositions int
	// Train configures the learner; Train.Model must be set.
	Train TrainConfig
	// Registry, if not nil, receives the artifact as its next version,
	// not promoted.
	Registry *models.Registry
}

// HashedLayout is the VW-style slot layout of Job.Hashed (see
// NewFeaturizer).
type HashedLayout struct {
	SharedDim, ActionDim int
	// Interactions are shared×action namespace crosses, e.g. "sa".
	Interactions []string
}

// FileStats counts what a data file gave.
type FileStats struct {
	Rows int
	// Unlabeled counts examples without a label, skipped.
	Unlabeled int
	// Bad counts labelled examples the spec refused; FirstBad says why
	// the first was. Spec layout only.
	Bad      int
	FirstBad string
}

// Report is what Run did: what it read, what it trained, what it saved.
type Report struct {
	// Source says where the examples came from ("journal DIR",
	// "dsjson FILE"); it is the artifact's Source.
	Source string
	// Join and Build count a journal's join and the rows rebuilt from it.
	Join  logs.JoinStats
	Build BuildStats
	// File counts a data file's examples.
	File FileStats
	// Mismatch is how a data file's features differ from the spec, when
	// Job.AllowMismatch let it train anyway; nil otherwise.
	Mismatch *FeatureMismatchError
	// Layout describes the vector: "feature spec HASH12" (the first 12
	// digits of the spec hash) or the hashed layout. Dim is its length;
	// ActionIDs names the dataset's actions.
	Layout    string
	Dim       int
	ActionIDs []string
	// Positions is the position model the journal's rows were built
	// with, nil for none.
	Positions *logs.PositionModel
	// Result is the trained model with its held-out metrics.
	Result *Result
	// Artifact is the servable model file (nil with Job.Hashed); Version
	// is its registry version (0 without Job.Registry).
	Artifact *models.Artifact
	Version  int
}

// Run executes job: it reads the journal (logs.Join, then BuildDataset)
// or the data file (SpecBuilder, or the hashed layout), trains
// job.Train.Model on the rows, writes the model and its metadata (source,
// time range, feature spec hash, hyper-parameters, held-out metrics) into
// an artifact and saves that in job.Registry. ctx is checked between
// stages. The errors wrap ErrBadConfig (a job that cannot run),
// ErrNoData, ErrFeatureMismatch (a data file the spec does not fit) or
// the reader's and the registry's errors.
func Run(ctx context.Context, job Job) (*Report, error) {
	if err := job.check(); err != nil {
		return nil, err
	}
	var (
		ds   *Dataset
		meta models.Metadata
		rep  = &Report{}
		err  error
	)
	if job.Journal != "" {
		ds, err = job.readJournal(ctx, rep, &meta)
	} else {
		ds, err = job.readFile(rep, &meta)
	}
	if err != nil {
		return nil, err
	}
	rep.Source = meta.Source
	rep.Dim, rep.ActionIDs = ds.Dim, ds.ActionIDs
	if ds.Len() == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoData, rep.Source)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	res, err := Train(ds, job.Train)
	if err != nil {
		return nil, err
	}
	rep.Result = res
	if job.Hashed != nil {
		return rep, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	meta.Name, meta.FeatureSpec, meta.Examples, meta.Hyper = res.Name, ds.FeatureSpec, res.TrainRows, res.Hyper
	if res.PerAction {
		meta.ActionIDs = ds.ActionIDs
	}
	meta.Metrics = map[string]float64{"log_loss": res.Metrics.LogLoss, "ece": res.Metrics.ECE, "rmse": res.Metrics.RMSE,
		"heldout_rows": float64(res.Metrics.N), "train_seconds": res.Duration.Seconds(), "examples_per_second": res.Rate}
	if !math.IsNaN(res.Metrics.AUC) {
		meta.Metrics["auc"] = res.Metrics.AUC
	}
	wt, ok := res.Scorer.(io.WriterTo)
	if !ok {
		panic(fmt.Sprintf("BUG: training: model %T cannot be written", res.Scorer))
	}
	if rep.Artifact, err = models.NewArtifact(meta, wt); err != nil {
		return nil, err
	}
	if job.Registry != nil {
		if rep.Version, err = job.Registry.Save(rep.Artifact); err != nil {
			return nil, fmt.Errorf("cannot save the model in registry %s: %w", job.Registry.Dir(), err)
		}
	}
	return rep, nil
}

// check validates the job's shape (not the files it names).
func (job *Job) check() error {
	switch {
	case (job.Journal == "") == (job.File.Path == ""):
		return fmt.Errorf("%w: give exactly one source, a journal or a data file", ErrBadConfig)
	case job.Train.Model == "":
		return fmt.Errorf("%w: no model to train", ErrBadConfig)
	case job.Hashed != nil && job.Journal != "":
		return fmt.Errorf("%w: the hashed layout is for data files; a journal is featurized by its feature spec", ErrBadConfig)
	case job.Hashed != nil && job.Registry != nil:
		return fmt.Errorf("%w: the hashed layout's models cannot be served (VW-style slots, not the feature spec's vector), so they are not saved in a registry", ErrBadConfig)
	case job.Hashed == nil && job.Spec == nil:
		return fmt.Errorf("%w: no feature spec", ErrBadConfig)
	case job.Journal != "" && job.Catalog == nil:
		return fmt.Errorf("%w: a journal needs the catalog its actions come from", ErrBadConfig)
	case (job.Positions != nil || job.EstimatePositions > 1) && job.Journal == "":
		return fmt.Errorf("%w: the position model is for a journal's multi-slot decisions", ErrBadConfig)
	}
	return nil
}

// readJournal joins the journal and rebuilds its rows.
func (job *Job) readJournal(ctx context.Context, rep *Report, meta *models.Metadata) (*Dataset, error) {
	joined, st, err := logs.Join(ctx, job.Journal, job.Join)
	rep.Join = st
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pm := job.Positions
	if job.EstimatePositions > 1 {
		if pm, err = logs.EstimatePositions(joined, job.EstimatePositions); err != nil {
			return nil, err
		}
	}
	rep.Positions = pm
	ds, bst, err := BuildDatasetPositions(joined, job.Spec, job.Catalog, pm)
	rep.Build = bst
	if err != nil {
		return nil, err
	}
	meta.Source = "journal " + job.Journal
	for i := range joined {
		t := joined[i].Decision.Time
		if meta.TrainFrom.IsZero() || t.Before(meta.TrainFrom) {
			meta.TrainFrom = t
		}
		if t.After(meta.TrainTo) {
			meta.TrainTo = t
		}
	}
	rep.Layout = fmt.Sprintf("feature spec %.12s", ds.FeatureSpec)
	return ds, nil
}

// readFile reads the data file in the spec's layout (checking that its
// features fit) or the hashed one.
func (job *Job) readFile(rep *Report, meta *models.Metadata) (*Dataset, error) {
	meta.Source = job.File.String()
	if h := job.Hashed; h != nil {
		f, err := NewFeaturizer(h.SharedDim, h.ActionDim, h.Interactions)
		if err != nil {
			return nil, err
		}
		b := NewExampleBuilder(f, job.File.String())
		if err := job.File.Read(b.Add); err != nil {
			return nil, err
		}
		rep.Layout, rep.File.Rows = f.Describe()+" (benchmark only: not servable)", b.DS.Len()
		return b.DS, nil
	}
	b := NewSpecBuilder(job.Spec, job.Catalog, job.File.String())
	if err := job.File.Read(b.Add); err != nil {
		return nil, err
	}
	rep.File = FileStats{Rows: b.DS.Len(), Unlabeled: b.Unlabeled, Bad: b.Bad, FirstBad: b.FirstBad}
	rep.Layout = fmt.Sprintf("feature spec %.12s", b.DS.FeatureSpec)
	if err := b.Check(); err != nil {
		var fm *FeatureMismatchError
		if !job.AllowMismatch || !errors.As(err, &fm) {
			return nil, err
		}
		rep.Mismatch = fm
	}
	meta.TrainFrom, meta.TrainTo = b.From, b.To
	return b.DS, nil
}
