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
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	if r.model == "sgd" {
		if r.dsjson != "" {
			return errors.New("--model sgd reads --cb-adf files")
		}
		return progressiveSGD(w, in, r.sgd, r.parseOnly)
	}
	res, err := training.Progressive(in, f, training.ProgressiveConfig{PerAction: r.perAction, Lambda: r.lambda}, read)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "examples\t%d\nprogressive loss\t%.6f\nuniform random\t%.6f\ntime\t%v\nexamples/s\t%.0f\ndim\t%d\n",
		res.Examples, res.Loss, res.Random, res.Duration.Round(time.Millisecond), res.Rate, f.Dim())
	return nil
}

// progressiveSGD prints progressive validation of the SGD learner (or,
// parseOnly, the reader's throughput alone) on a cb_adf stream.
func progressiveSGD(w io.Writer, in io.Reader, cfg training.SGDConfig, parseOnly bool) error {
	if parseOnly {
		rd, err := training.NewCBADFReader(in, training.CBADFReaderConfig{SharedDim: cfg.SharedDim, ActionDim: cfg.ActionDim})
		if err != nil {
			return err
		}
		start, n := time.Now(), 0
		for {
			_, err := rd.Next()
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
		return nil
	}
	res, m, err := training.ProgressiveSGD(in, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "examples\t%d\nprogressive loss\t%.6f\nuniform random\t%.6f\ntime\t%v\nexamples/s\t%.0f\ndim\t%d\nmodel\t%s\n",
		res.Examples, res.Loss, res.Random, res.Duration.Round(time.Millisecond), res.Rate, m.Dim(), m.Describe())
	return nil
}
