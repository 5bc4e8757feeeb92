package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"nextbest/training"
)

// vwRun is a "nextbest train --progressive" run: the benchmark-only
// comparison with Vowpal Wabbit (progressive validation on the hashed
// layout; see the training package's doc). It saves no model.
type vwRun struct {
	adf, dsjson string
	model       string
	perAction   bool
	lambda      float64
	sgd         training.SGDConfig
	parseOnly   bool
	cache       string // binary example cache of adf ("": none)
}

// trainProgressive streams the cb_adf or DSJSON file once with
// progressive validation and prints the loss and the throughput.
func trainProgressive(w io.Writer, r vwRun) error {
	path, read := r.adf, training.ReadCBADF
	if r.dsjson != "" {
		path, read = r.dsjson, training.ReadDSJSON
	}
	if path == "" {
		return errors.New("--progressive needs --cb-adf or --dsjson")
	}
	f, err := training.NewFeaturizer(r.sgd.SharedDim, r.sgd.ActionDim, r.sgd.Interactions)
	if err != nil {
		return err
	}
	if r.model == "sgd" {
		if r.dsjson != "" {
			return errors.New("--model sgd reads --cb-adf files")
		}
		return progressiveSGD(w, path, r.cache, r.sgd, r.parseOnly)
	}
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	res, err := training.Progressive(in, f, training.ProgressiveConfig{PerAction: r.perAction, Lambda: r.lambda}, read)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "examples\t%d\nprogressive loss\t%.6f\nuniform random\t%.6f\ntime\t%v\nexamples/s\t%.0f\ndim\t%d\n",
		res.Examples, res.Loss, res.Random, res.Duration.Round(time.Millisecond), res.Rate, f.Dim())
	return nil
}

// progressiveSGD prints progressive validation of the SGD learner (or,
// parseOnly, the reader's throughput alone) on a cb_adf file, through
// the binary example cache when cache is not "".
func progressiveSGD(w io.Writer, path, cache string, cfg training.SGDConfig, parseOnly bool) error {
	if parseOnly {
		return parseSGD(w, path, cache, cfg)
	}
	res, m, rep, err := training.ProgressiveSGDFile(path, cache, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "examples\t%d\nprogressive loss\t%.6f\nuniform random\t%.6f\ntime\t%v\nexamples/s\t%.0f\ndim\t%d\nmodel\t%s\n",
		res.Examples, res.Loss, res.Random, res.Duration.Round(time.Millisecond), res.Rate, m.Dim(), m.Describe())
	printCache(w, cache, rep.Read, rep.Reason)
	return nil
}

// printCache says whether the cache was read or written, and why.
func printCache(w io.Writer, cache string, read bool, reason string) {
	switch {
	case cache == "":
	case read:
		fmt.Fprintf(w, "cache\tread %s\n", cache)
	default:
		fmt.Fprintf(w, "cache\twritten %s (%s)\n", cache, reason)
	}
}

// parseSGD reads the file (or its cache) to the end and prints the
// reader's throughput.
func parseSGD(w io.Writer, path, cache string, cfg training.SGDConfig) error {
	rc := training.CBADFReaderConfig{SharedDim: cfg.SharedDim, ActionDim: cfg.ActionDim}
	var next func() (*training.SlotExample, error)
	read, reason := false, ""
	if cache != "" {
		rd, err := training.OpenCBADFCached(path, cache, rc, training.CacheOptions{})
		if err != nil {
			return err
		}
		defer rd.Close()
		next, read, reason = rd.Next, rd.FromCache(), rd.Reason()
	} else {
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		rd, err := training.NewCBADFReader(in, rc)
		if err != nil {
			return err
		}
		next = rd.Next
	}
	start, n := time.Now(), 0
	for {
		_, err := next()
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
	printCache(w, cache, read, reason)
	return nil
}
