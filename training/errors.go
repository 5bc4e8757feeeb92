package training

import "errors"

// Sentinel errors returned by this package. Test for them with errors.Is;
// the returned errors wrap them with the detail (file, line, field).
var (
	// ErrBadConfig is returned for a configuration that cannot work: a
	// negative window, a column mapping that names no reward column, an
	// unknown model type.
	ErrBadConfig = errors.New("training: invalid config")
	// ErrParse is returned by the data-file readers (cb_adf, DSJSON, CSV,
	// Parquet) for input they cannot understand; the error names the line
	// or row.
	ErrParse = errors.New("training: cannot parse input")
	// ErrNoData is returned when a dataset has no usable example.
	ErrNoData = errors.New("training: no usable examples")
	// ErrCacheCorrupt is returned by CachedCBADFReader.Next for a cache
	// block that fails its checksum or does not decode; the caller starts
	// over from the text (ProgressiveSGDFile does).
	ErrCacheCorrupt = errors.New("training: example cache is corrupt")
	// ErrFeatureMismatch is wrapped by the *FeatureMismatchError that
	// SpecBuilder.Check returns for a data file whose feature names differ
	// from the feature spec's inputs.
	ErrFeatureMismatch = errors.New("training: the file's features do not match the feature spec")
)
