package training_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"testing"

	"nextbest/models"
	"nextbest/training"
)

// BenchmarkRidgeBatch64 measures batch ridge training (blocked Dsyrk, one
// Cholesky solve) at 64 features; ns/op is per example.
func BenchmarkRidgeBatch64(b *testing.B) {
	for _, actions := range []int{0, 10} {
		b.Run(fmt.Sprintf("actions=%d", actions), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			const n, d = 1 << 14, 64
			xs := make([]float64, n*d)
			for i := range xs {
				xs[i] = r.NormFloat64()
			}
			b.ReportAllocs()
			b.SetBytes(d * 8)
			acc := training.NewRidgeAccumulator(models.RidgeConfig{Dim: d, Actions: actions})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k := i % n
				acc.Add(k%max(actions, 1), xs[k*d:(k+1)*d], xs[k*d])
			}
			if _, err := acc.Model(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}

// BenchmarkMLP64 measures MLP training (gorgonia, Adam, minibatch 128,
// hidden 32) at 64 features; examples/s counts row visits.
func BenchmarkMLP64(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const n, d = 1 << 13, 64
	xs, ys := make([]float64, n*d), make([]float64, n)
	for i := range ys {
		for j := 0; j < d; j++ {
			xs[i*d+j] = r.NormFloat64()
		}
		if xs[i*d]*xs[i*d+1] > 0 {
			ys[i] = 1
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	ex := 0
	for i := 0; i < b.N; i++ {
		_, rep, err := models.TrainMLP(models.MLPConfig{Dim: d, Epochs: 2, Patience: 10, Seed: 1}, xs, ys, nil)
		if err != nil {
			b.Fatal(err)
		}
		ex += rep.Examples
	}
	b.ReportMetric(float64(ex)/b.Elapsed().Seconds(), "examples/s")
}

// BenchmarkProgressiveCBADF runs progressive validation of the per-action
// ridge on a generated cb_adf file (10 actions, 64 shared and 8 action
// features), parsing included.
func BenchmarkProgressiveCBADF(b *testing.B) {
	out, err := exec.Command("go", "run", "nextbest/internal/gencb", "-n", "5000").Output()
	if err != nil {
		b.Skip("cannot run the generator:", err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, _ := training.NewFeaturizer(64, 8, nil)
		res, err := training.Progressive(bytes.NewReader(out), f, training.ProgressiveConfig{PerAction: true}, training.ReadCBADF)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.Rate, "examples/s")
		b.ReportMetric(res.Loss, "progressive-loss")
	}
}

// BenchmarkFastCBProgressive measures the fast cb_adf path on a generated
// file (10 actions, 64 shared and 8 action features, as the VW
// comparison): "parse" reads it into SlotExamples ("parse-nocache"
// without skipping repeated action lines), "learn" runs the SGD
// learner with -q sa on examples already in memory, "progressive" does
// both as ProgressiveSGD does; "cache-read" reads the binary example
// cache written from the file, "cache" is "file" from that cache
// (ProgressiveSGDFile: reading and learning). One op is one example
// ("file" and "cache": one pass over the file); allocs/op must be 0
// (the parse and progressive runs read the file over and over: their few
// allocations per pass are amortised to 0 per example).
func BenchmarkFastCBProgressive(b *testing.B) {
	out, err := exec.Command("go", "run", "nextbest/internal/gencb", "-n", "20000").Output()
	if err != nil {
		b.Skip("cannot run the generator:", err)
	}
	q := training.SGDConfig{Interactions: []string{"sa"}}
	// loop reads the file again whenever it runs out, so an op is one example.
	loop := func(b *testing.B, each func(*training.SlotExample), rc training.CBADFReaderConfig) {
		rd, _ := training.NewCBADFReader(bytes.NewReader(out), rc)
		for i := 0; i < b.N; i++ {
			ex, err := rd.Next()
			if err == io.EOF {
				rd, _ = training.NewCBADFReader(bytes.NewReader(out), rc)
				ex, err = rd.Next()
			}
			if err != nil {
				b.Fatal(err)
			}
			each(ex)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
	}
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(out) / 20000))
		loop(b, func(*training.SlotExample) {}, training.CBADFReaderConfig{})
	})
	b.Run("parse-nocache", func(b *testing.B) { // every action line parsed
		b.ReportAllocs()
		b.SetBytes(int64(len(out) / 20000))
		loop(b, func(*training.SlotExample) {}, training.CBADFReaderConfig{NoActionCache: true})
	})
	b.Run("learn", func(b *testing.B) {
		var exs []training.SlotExample
		rd, _ := training.NewCBADFReader(bytes.NewReader(out), training.CBADFReaderConfig{})
		for ex, err := rd.Next(); err == nil; ex, err = rd.Next() {
			c := training.SlotExample{Shared: slices.Clone(ex.Shared), Chosen: ex.Chosen, Cost: ex.Cost, Prob: ex.Prob}
			for _, a := range ex.Actions {
				c.Actions = append(c.Actions, slices.Clone(a))
			}
			exs = append(exs, c)
		}
		m, _ := training.NewSGD(q)
		var costs []float64
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			ex := &exs[i%len(exs)]
			costs = m.Predict(costs, ex)
			m.Learn(ex)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
	})
	b.Run("progressive", func(b *testing.B) {
		m, _ := training.NewSGD(q)
		var costs []float64
		b.ReportAllocs()
		b.SetBytes(int64(len(out) / 20000))
		loop(b, func(ex *training.SlotExample) {
			costs = m.Predict(costs, ex)
			m.Learn(ex)
		}, training.CBADFReaderConfig{})
	})
	// the binary cache: written once from the text (not timed), then read
	dir := b.TempDir()
	path, cache := dir+"/cb.txt", dir+"/cb.txt.cache"
	if err := os.WriteFile(path, out, 0o644); err != nil {
		b.Fatal(err)
	}
	if _, _, rep, err := training.ProgressiveSGDFile(path, cache, q); err != nil || rep.Read {
		b.Fatal("cannot write the cache:", err)
	}
	b.Run("cache-read", func(b *testing.B) { // the cache reader alone, as "parse" is the text's
		open := func() *training.CachedCBADFReader {
			rd, err := training.OpenCBADFCached(path, cache, training.CBADFReaderConfig{}, training.CacheOptions{})
			if err != nil || !rd.FromCache() {
				b.Fatal("cache not used:", err, rd.Reason())
			}
			return rd
		}
		rd := open()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			_, err := rd.Next()
			if err == io.EOF {
				rd.Close()
				rd = open()
				_, err = rd.Next()
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		rd.Close()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
	})
	b.Run("cache", func(b *testing.B) { // "file" from the cache: read the cache and learn, end to end
		var res training.ProgressiveResult
		for i := 0; i < b.N; i++ {
			var rep training.CacheReport
			if res, _, rep, err = training.ProgressiveSGDFile(path, cache, q); err != nil || !rep.Read {
				b.Fatal("cache not used:", err, rep.Reason)
			}
		}
		b.ReportMetric(res.Rate, "examples/s")
		b.ReportMetric(res.Loss, "progressive-loss")
	})
	b.Run("file", func(b *testing.B) {
		var res training.ProgressiveResult
		for i := 0; i < b.N; i++ {
			if res, _, err = training.ProgressiveSGD(bytes.NewReader(out), q); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(res.Rate, "examples/s")
		b.ReportMetric(res.Loss, "progressive-loss")
		b.ReportMetric(res.Random, "random-loss")
	})
}
