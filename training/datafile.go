package training

import (
	"fmt"
	"os"
)

// Data file formats for DataFile.Format.
const (
	FormatCBADF   = "cb_adf"
	FormatDSJSON  = "dsjson"
	FormatCSV     = "csv"
	FormatParquet = "parquet"
)

// DataFile is a logged-bandit data file: its format, its path and, for
// the tabular formats, the column map.
type DataFile struct {
	Format  string
	Path    string
	Columns ColumnMap // csv and parquet only
}

// String is "format path", the Source of the models trained on it.
func (f DataFile) String() string { return f.Format + " " + f.Path }

// Read calls fn for each example of the file (ReadCBADF, ReadDSJSON,
// ReadCSV or ReadParquet). fn must not retain the example.
func (f DataFile) Read(fn func(*CBExample) error) error {
	if f.Format == FormatParquet {
		return ReadParquet(f.Path, f.Columns, fn)
	}
	in, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("cannot open %s file: %w", f.Format, err)
	}
	defer in.Close()
	switch f.Format {
	case FormatCBADF:
		return ReadCBADF(in, fn)
	case FormatDSJSON:
		return ReadDSJSON(in, fn)
	case FormatCSV:
		return ReadCSV(in, f.Columns, fn)
	}
	return fmt.Errorf("%w: unknown data file format %q (cb_adf, dsjson, csv, parquet)", ErrBadConfig, f.Format)
}
