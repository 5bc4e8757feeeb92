// Package training turns logs into models offline.
//
// # Journal → dataset
//
// Join reads a journal directory with journal.Reader (read-only; the
// service may be appending) and joins outcomes to decisions within an
// attribution window (default 7 days) with a default reward (default 0):
// a shown action's reward is the default unless outcomes arrive in the
// window, then the sum of the rewards of its distinct outcome types
// (duplicates of a type count once) — the rule serve's online learner
// applies. Late outcomes, outcomes for actions the decision did not
// return and outcomes of unknown decisions are ignored and counted in
// JoinStats. BuildDataset rebuilds each (decision, shown action) vector
// exactly as it was scored live (features.Spec.InputsFromLog + Assemble)
// and refuses decisions logged under another feature spec.
//
// # Data files
//
// ReadCBADF (Vowpal Wabbit cb_adf text), ReadDSJSON (VW / Azure
// Personalizer decision logs), ReadCSV and ReadParquet (with a ColumnMap)
// produce CBExamples; a Featurizer lays their named features out as dense
// rows (vocabulary slots, optional shared×action crosses as VW's -q sa) and
// an ExampleBuilder collects the logged action's row into a Dataset with
// reward = −cost.
//
// # Learners
//
// Train fits a batch ridge model (LinUCB / linear Thompson sampling;
// RidgeAccumulator folds rows into XᵀX with blocked BLAS Dsyrk and solves
// once), a logistic regression (models.TrainLogistic, Newton/IRLS) or an
// MLP (models.TrainMLP, gorgonia), per action or shared, and reports
// held-out log loss, AUC, ECE and RMSE. Progressive runs VW-style
// progressive validation of the ridge over a cb_adf stream.
//
// # Online cb_adf learning at VW's speed
//
// CBADFReader is a byte-level cb_adf reader (no per-line allocation) that
// resolves feature names to dense slots; SGD is Vowpal Wabbit's
// `--cb_adf` learner (mtr reduction; adaptive, normalized, invariant
// updates) with shared×action interactions computed on the fly;
// ProgressiveSGD runs the two as VW's progressive validation does.
//
// # What it is not
//
// It does not serve or hot-swap models (serve loads the registry's
// promoted artifact with models.LoadScorer), does not evaluate policies
// off-policy (package eval), and keeps datasets in memory: use
// Progressive for files larger than RAM.
package training
