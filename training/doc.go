// Package training turns logs into models: offline (Run), and online as
// the journal is applied (Online).
//
// # Journal → dataset
//
// BuildDataset takes a journal joined by logs.Join (the attribution
// window, the declared outcome types and the reward rule live in package
// logs, shared with the online learner) and rebuilds each (decision,
// shown action) vector exactly as it was scored live (logs.RowBuilder),
// labelled with its joined reward and logged propensity; decisions logged
// under another feature spec are refused and counted.
// BuildDatasetPositions (Job.Positions, Job.EstimatePositions) applies a
// position model to multi-slot decisions: the row of slot k scaled by the
// slot's examination factor θₖ (logs.PositionModel), so that the model
// learns the reward an action earns where it is looked at.
//
// # Data files
//
// ReadCBADF (Vowpal Wabbit cb_adf text), ReadDSJSON (VW / Azure
// Personalizer decision logs), ReadCSV and ReadParquet (with a ColumnMap)
// produce CBExamples; DataFile names a file and its format. A SpecBuilder
// featurizes them through the feature spec when their features are named
// after the spec's inputs ("profile.stage=cart", "context.cart_value:80",
// "action.id=free-shipping"; see SpecBuilder): each labelled example
// gives the row the service would have scored for the logged action,
// with reward = −cost. Check names the file's features the spec does not
// know and the spec's inputs the file lacks (*FeatureMismatchError);
// nextbest train refuses such a file unless told to warn.
//
// # Learners
//
// Train fits a batch ridge model (LinUCB / linear Thompson sampling;
// RidgeAccumulator folds rows into XᵀX with blocked BLAS Dsyrk and solves
// once), a logistic regression (models.TrainLogistic, Newton/IRLS) or an
// MLP (models.TrainMLP, gorgonia), per action or shared, and reports
// held-out log loss, AUC, ECE and RMSE. Every model Train returns is a
// models.Scorer that models.NewArtifact writes with the feature spec's
// hash, and that the service loads with models.LoadScorer: one model
// family, one artifact format.
//
// # The pipeline
//
// Run is the one way from a log to the registry: a Job names the source
// (a journal with its join configuration, or a DataFile), the feature
// spec and catalog, the learner (TrainConfig) and the registry; Run joins
// or reads, builds the dataset, trains, writes the artifact with its
// metadata (source, time range, spec hash, hyper-parameters, held-out
// metrics) and saves it as the registry's next version, unpromoted. Its
// Report carries the counts of each stage, the trained Result, the
// artifact and the version. nextbest train is flag parsing around one
// call of Run; tests and the retraining loop call it the same way.
//
// # The online learner
//
// Subpackage online (online.Learner) keeps the service's ridge model up to date in
// journal order: it is the state applier's state.Learner, so it takes
// each applied batch's impressions (learned with the default reward) and
// reward deltas (the declared rule of package logs, within the
// attribution window; b += Δr·x), rebuilds rows with logs.RowBuilder as
// BuildDataset does, and publishes the model at most every PublishEvery.
// Its watermark (WaitFor) says what the published model holds. It
// snapshots the model with the LSN it reflects in its own versioned file
// (online.LoadSnapshot reads it back). It is a package of its own so that
// the server links the learner without the offline pipeline. serve wires it; a
// property test there (TestOnlineEqualsBatch) requires the same ridge
// statistics online and from the batch path (logs.Join, BuildDataset,
// TrainRidge) on one journal.
//
// online.Personalizer is the second learner of the applier: the model of
// the Personalizer-compatible namespace, a ridge regression over package
// personalizer's hashed rows, learned by the same exact delayed rewards
// from the items the applier hands it (state.LearnPersonalizerShown and
// LearnPersonalizerReward) and published at the namespace's model update
// frequency, with a snapshot of its own.
//
// # Benchmark only: the Vowpal Wabbit comparison
//
// The hashed layout and its learners exist to compare nextbest with VW on
// VW's own files, for speed and progressive loss (make bench-vw,
// BenchmarkFastCBProgressive). They never give a servable model, because
// their rows are not the feature spec's vector:
//
//   - Featurizer lays any file's names out in dense slots (in order of
//     first appearance, hashed once full, optional shared×action crosses
//     as VW's -q sa) and ExampleBuilder collects them into a Dataset whose
//     FeatureSpec describes that layout: models.NewArtifact refuses it.
//   - Progressive runs VW-style progressive validation of the ridge over
//     that layout.
//   - CBADFReader is a byte-level cb_adf reader (no per-line allocation)
//     that resolves names to those slots; SGD is Vowpal Wabbit's
//     `--cb_adf` learner (mtr reduction; adaptive, normalized, invariant
//     updates) with shared×action interactions computed on the fly;
//     ProgressiveSGD runs the two as VW's progressive validation does. SGD
//     is not a models.Scorer and has no artifact encoding.
//
// Serving them would take the file's raw named features and the slot map
// at decision time, where the service has only the spec's vector; and a
// linear model over the spec's vector is what the ridge and logistic
// models already are. nextbest train keeps them behind --layout hashed
// and --progressive, which refuse --registry and --out.
//
// # What it is not
//
// It does not serve or hot-swap models (serve loads the registry's
// promoted artifact with models.LoadScorer), does not evaluate policies
// off-policy (package eval), and keeps datasets in memory (only the
// benchmark's Progressive streams a file larger than RAM).
package training
