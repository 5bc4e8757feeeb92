package training_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os/exec"
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
