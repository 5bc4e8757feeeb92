package main

import (
	"errors"

	"nextbest/training"
)

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
