package main

import (
	"errors"
	"fmt"
	"io"

	"nextbest/models"
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

// dataFileConfig is what "nextbest train" needs to read a data file.
type dataFileConfig struct {
	Layout string
	// Warn trains on a spec-layout file whose features differ from the
	// spec (after printing how); otherwise it is refused.
	Warn bool
	// Saving is set when the model is to be written (--registry, --out).
	Saving bool
	// SpecPath and CatPath are the feature spec and catalog (default: the
	// embedded retail sample); spec layout only.
	SpecPath, CatPath string
	// SharedDim, ActionDim and Interactions lay out a hashed file.
	SharedDim, ActionDim int
	Interactions         []string
}

// pickDataFile returns the one data file the flags name.
func pickDataFile(adf, dsjson, csv, parquet, columns string) (training.DataFile, error) {
	var files []training.DataFile
	for _, f := range []training.DataFile{{Format: training.FormatCBADF, Path: adf}, {Format: training.FormatDSJSON, Path: dsjson},
		{Format: training.FormatCSV, Path: csv}, {Format: training.FormatParquet, Path: parquet}} {
		if f.Path != "" {
			files = append(files, f)
		}
	}
	if len(files) != 1 {
		return training.DataFile{}, errors.New("give one of --journal, --csv, --parquet, --cb-adf, --dsjson")
	}
	f := files[0]
	if f.Format == training.FormatCSV || f.Format == training.FormatParquet {
		cm, err := training.ParseColumnMap(columns)
		if err != nil {
			return f, err
		}
		f.Columns = cm
	}
	return f, nil
}

// readDataFile reads file into a dataset of cfg.Layout and returns it with
// the metadata the file gives (source, time range).
func readDataFile(stderr io.Writer, file training.DataFile, cfg dataFileConfig) (*training.Dataset, models.Metadata, error) {
	meta := models.Metadata{Source: file.String()}
	switch cfg.Layout {
	case layoutHashed:
		if cfg.Saving {
			return nil, meta, errors.New("--layout hashed is for comparing learners (VW-style slots, not the feature spec's vector): its models cannot be served, so --registry and --out are refused; use --layout spec with the file's features named after the spec's inputs")
		}
		f, err := training.NewFeaturizer(cfg.SharedDim, cfg.ActionDim, cfg.Interactions)
		if err != nil {
			return nil, meta, err
		}
		b := training.NewExampleBuilder(f, file.String())
		if err := file.Read(b.Add); err != nil {
			return nil, meta, err
		}
		fmt.Fprintf(stderr, "%s: %s layout, %d rows (benchmark only: not servable)\n", file, f.Describe(), b.DS.Len())
		return b.DS, meta, nil
	case layoutSpec:
	default:
		return nil, meta, fmt.Errorf("--layout %q: want spec or hashed", cfg.Layout)
	}
	spec, cat, err := loadSample(cfg.SpecPath, cfg.CatPath)
	if err != nil {
		return nil, meta, err
	}
	b := training.NewSpecBuilder(spec, cat, file.String())
	if err := file.Read(b.Add); err != nil {
		return nil, meta, err
	}
	fmt.Fprintf(stderr, "%s: %d rows of feature spec %.12s", file, b.DS.Len(), spec.Hash())
	if b.Unlabeled > 0 {
		fmt.Fprintf(stderr, ", %d unlabelled examples skipped", b.Unlabeled)
	}
	if b.Bad > 0 {
		fmt.Fprintf(stderr, ", %d refused by the spec (first: %s)", b.Bad, b.FirstBad)
	}
	fmt.Fprintln(stderr)
	if err := b.Check(); err != nil {
		if !cfg.Warn {
			return nil, meta, fmt.Errorf("%w. A model trained on it would not be servable with this spec: name the file's features after the spec's inputs (docs/training.md), give --feature-mismatch warn to train anyway, or --layout hashed to compare learners on it without saving", err)
		}
		fmt.Fprintf(stderr, "warning: %v; training anyway: unknown features are ignored, missing ones take the spec's defaults\n", err)
	}
	meta.TrainFrom, meta.TrainTo = b.From, b.To
	return b.DS, meta, nil
}
