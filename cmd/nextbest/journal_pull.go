package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"nextbest/cluster/stream"
	"nextbest/journal"
)

// journalPull implements "nextbest journal pull --config FILE --dir DIR":
// it copies the cluster's JetStream journal (storage: cluster in the
// config) into a local journal directory in FORMAT.md, where training,
// evaluation and reports read it as they read an embedded instance's. A
// record keeps its LSN (the stream sequence); a second pull into the same
// directory continues where the first stopped.
func journalPull(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("journal pull", flag.ContinueOnError)
	cf := addConfigFlags(fs, 0)
	dir := fs.String("dir", "", "local journal directory to copy the stream into (created if needed)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: nextbest journal pull --config FILE --dir DIR

Copies the cluster's journal (the JetStream stream of the config's
storage: cluster) into the local journal directory DIR, from the record
after DIR's last, up to the stream's last record when the pull starts.
LSNs are the stream's sequences. The records are written without an fsync
each, and every segment is synced before pull returns.

Flags:
`)
		fs.PrintDefaults()
	}
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *dir == "" {
		return usageErrorf(fs, "--dir is required")
	}
	c, err := cf.load()
	if err != nil {
		return err
	}
	cc, err := clusterOf(c.path, c.fileConfig)
	if err != nil {
		return err
	}
	if cc == nil {
		return usageErrorf(fs, "--config must give storage: cluster (the stream to pull)")
	}
	start := time.Now()
	n, from, last, err := pullStream(context.Background(), cc.NATS, *dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "pulled %d records (LSN %d to %d) from stream %s into %s in %v\n", n, from, last, cc.NATS.URL, *dir, time.Since(start).Round(time.Millisecond))
	return nil
}

// pullStream copies the JetStream journal of nc into the local journal
// directory dir (created if needed), from the record after dir's last up
// to the stream's last record when it starts, and syncs dir: "nextbest
// journal pull", and "nextbest export --stream" into a temporary
// directory. It returns the number of records copied and the LSN range.
func pullStream(ctx context.Context, nc stream.Config, dir string) (n int, from, last uint64, err error) {
	st, err := stream.Open(ctx, nc)
	if err != nil {
		return 0, 0, 0, err
	}
	defer st.Close()
	last, err = st.LastSeq(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	j, err := journal.Open(journal.Config{Dir: dir, NoSync: true})
	if err != nil {
		return 0, 0, 0, err
	}
	from = j.LastLSN() + 1
	errDone := errors.New("done")
	if from <= last {
		err = st.Records(ctx, from, func(recs []journal.Record) error {
			for _, r := range recs {
				lsn, err := j.Append(ctx, r.Type, r.Time, r.Payload)
				if err != nil {
					return err
				}
				if lsn != r.LSN {
					return fmt.Errorf("stream record %d would be local LSN %d: the stream no longer holds the records in between (discarded by its limits); pull into an empty directory", r.LSN, lsn)
				}
				n++
				if r.LSN >= last {
					return errDone
				}
			}
			return nil
		})
		if errors.Is(err, errDone) {
			err = nil
		}
	}
	err = errors.Join(err, j.Close(), syncDir(dir))
	return n, from, last, err
}

// syncDir fsyncs every file of dir and dir itself.
func syncDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range append(ents, nil) {
		p := dir
		if e != nil {
			if !e.Type().IsRegular() {
				continue
			}
			p = filepath.Join(dir, e.Name())
		}
		f, err := os.Open(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, f.Sync(), f.Close())
	}
	return errors.Join(errs...)
}
