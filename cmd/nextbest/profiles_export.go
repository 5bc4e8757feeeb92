package main

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"nextbest/features"
	"nextbest/state"
)

// runProfilesExport implements "nextbest profiles export --data DIR --out
// FILE": the attributes of every profile in a stopped service's state
// store, as CSV or JSON lines that nextbest profiles import reads back.
// Profiles without attributes are left out.
func runProfilesExport(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("profiles export", flag.ContinueOnError)
	cf := addConfigFlags(fs, cfgFeatures|cfgData)
	out := fs.String("out", "", "the file to write (required); its extension, .csv or .jsonl, is the format unless --format says")
	format := fs.String("format", "", "csv or jsonl (default: from --out's extension)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *out == "" {
		return usageErrorf(fs, "--out is required")
	}
	f, err := importFormat(*out, *format)
	if err != nil {
		return err
	}
	if f == formatParquet {
		return usageErrorf(fs, "export writes csv or jsonl")
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	spec, err := cfg.spec()
	if err != nil {
		return err
	}
	dir := filepath.Join(cmp.Or(cfg.DataDir, "data"), "state")
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("state store %s: %w", dir, err)
	}
	st, err := state.Open(state.Config{Dir: dir})
	if le := (*state.LockedError)(nil); errors.As(err, &le) {
		return fmt.Errorf("%w (a running service holds it: stop it first)", err)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	w, err := os.Create(*out)
	if err != nil {
		return err
	}
	n, skipped, err := exportProfiles(st, spec, f, w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*out)
		return err
	}
	fmt.Fprintf(stdout, "exported %d profiles to %s (%d without attributes left out)\n", n, *out, skipped)
	return nil
}

// exportProfiles writes the attributes the spec declares of every profile
// in st to w in format, customer_id first.
func exportProfiles(st *state.Store, spec *features.Spec, format string, w io.Writer) (n, skipped int, err error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	attrs := spec.Attributes()
	var cw *csv.Writer
	var row []string
	if format == formatCSV {
		cw = csv.NewWriter(bw)
		row = []string{colCustomer}
		for _, a := range attrs {
			row = append(row, a.Name)
		}
		if err := cw.Write(row); err != nil {
			return 0, 0, err
		}
	}
	enc := json.NewEncoder(bw)
	err = st.EachProfile(func(p *features.Profile) error {
		if len(p.Attributes) == 0 {
			skipped++
			return nil
		}
		n++
		if cw != nil {
			row = append(row[:0], p.CustomerID)
			for _, a := range attrs {
				row = append(row, exportCell(p.Attributes[a.Name]))
			}
			return cw.Write(row)
		}
		obj := make(map[string]any, len(p.Attributes)+1)
		for _, a := range attrs {
			if v, ok := p.Attributes[a.Name]; ok {
				obj[a.Name] = v
			}
		}
		obj[colCustomer] = p.CustomerID
		return enc.Encode(obj)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("cannot read the profiles: %w", err)
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return 0, 0, err
		}
	}
	return n, skipped, bw.Flush()
}

func exportCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
