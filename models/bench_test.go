package models_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"nextbest/models"
)

func benchModel(b *testing.B, actions int) (*models.Ridge, []int, []float64) {
	const d, n = 64, 20
	r := rand.New(rand.NewPCG(1, 1))
	m, err := models.NewRidge(models.RidgeConfig{Dim: d, Actions: actions})
	if err != nil {
		b.Fatal(err)
	}
	for range 2000 {
		_ = m.Update(r.IntN(max(actions, 1)), randX(r, d), r.Float64())
	}
	m.Publish()
	acts := make([]int, n)
	for i := range acts {
		acts[i] = i % max(actions, 1)
	}
	return m, acts, randX(r, n*d)
}

func BenchmarkPredict20x64(b *testing.B) {
	for _, c := range []struct {
		name    string
		actions int
	}{{"shared", 0}, {"disjoint", 20}} {
		b.Run(c.name, func(b *testing.B) {
			m, acts, xs := benchModel(b, c.actions)
			mean, std := make([]float64, 20), make([]float64, 20)
			b.ReportAllocs()
			for b.Loop() {
				m.Predict(mean, std, acts, xs)
			}
		})
	}
}

func BenchmarkUpdate64(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	m, _ := models.NewRidge(models.RidgeConfig{Dim: 64})
	xs := randX(r, 1024*64)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = m.Update(0, xs[(i%1024)*64:(i%1024+1)*64], 1)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

func BenchmarkPublish64(b *testing.B) {
	m, _, _ := benchModel(b, 0)
	x := make([]float64, 64)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Update(0, x, 1)
		m.Publish()
	}
}

func BenchmarkWriteTo64(b *testing.B) {
	m, _, _ := benchModel(b, 0)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		_, _ = m.WriteTo(&buf)
	}
	b.SetBytes(int64(buf.Len()))
}
