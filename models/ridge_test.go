package models_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"gonum.org/v1/gonum/mat"

	"nextbest/models"
)

// batchRidge solves the closed-form ridge regression with gonum:
// A = λI + XᵀX, θ = A⁻¹Xᵀy, and returns θ and A⁻¹ (by mat.Dense.Inverse
// on a fresh matrix, independent of the model's Cholesky/Sherman–Morrison).
func batchRidge(t *testing.T, d int, lambda float64, xs [][]float64, ys []float64) (*mat.VecDense, *mat.Dense) {
	t.Helper()
	a := mat.NewDense(d, d, nil)
	bv := mat.NewVecDense(d, nil)
	for i := 0; i < d; i++ {
		a.Set(i, i, lambda)
	}
	for k, x := range xs {
		xv := mat.NewVecDense(d, x)
		a.RankOne(a, 1, xv, xv)
		bv.AddScaledVec(bv, ys[k], xv)
	}
	var theta mat.VecDense
	if err := theta.SolveVec(a, bv); err != nil {
		t.Fatal(err)
	}
	var inv mat.Dense
	if err := inv.Inverse(a); err != nil {
		t.Fatal(err)
	}
	return &theta, &inv
}

func randX(r *rand.Rand, d int) []float64 {
	x := make([]float64, d)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	return x
}

// checkAgainstBatch compares Predict for probe vectors with the batch
// solution. Tolerance 1e-9 relative (the contract): both sides are
// backward-stable solves of a system with condition number ~1e2 here, so
// they agree to ~1e-13; the 1e-9 contract is the bound asserted.
func checkAgainstBatch(t *testing.T, m *models.Ridge, act int, theta *mat.VecDense, inv *mat.Dense, r *rand.Rand) float64 {
	t.Helper()
	d := m.Dim()
	var worst float64
	for range 20 {
		x := randX(r, d)
		mean, std := make([]float64, 1), make([]float64, 1)
		m.Predict(mean, std, []int{act}, x)
		xv := mat.NewVecDense(d, x)
		wantMean := mat.Dot(theta, xv)
		wantStd := math.Sqrt(mat.Inner(xv, inv, xv))
		em := math.Abs(mean[0]-wantMean) / max(math.Abs(wantMean), 1e-3*wantStd)
		es := math.Abs(std[0]-wantStd) / wantStd
		worst = max(worst, em, es)
		if em > 1e-9 || es > 1e-9 {
			t.Errorf("action %d: mean %.15g std %.15g, batch %.15g %.15g", act, mean[0], std[0], wantMean, wantStd)
		}
	}
	return worst
}

func TestRidgeMatchesBatch(t *testing.T) {
	for _, c := range []struct {
		name    string
		actions int
		dim     int
		lambda  float64
	}{
		{"shared", 0, 16, 1},
		{"shared odd dim", 0, 13, 0.5},
		{"disjoint", 4, 8, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 1))
			m, err := models.NewRidge(models.RidgeConfig{Dim: c.dim, Actions: c.actions, Lambda: c.lambda})
			if err != nil {
				t.Fatal(err)
			}
			nPost := max(c.actions, 1)
			xs, ys := make([][][]float64, nPost), make([][]float64, nPost)
			thetaStar := randX(r, c.dim)
			for range 3000 {
				a := r.IntN(nPost)
				x := randX(r, c.dim)
				y := 0.0
				for i := range x {
					y += thetaStar[i] * x[i]
				}
				y += r.NormFloat64()
				if err := m.Update(a, x, y); err != nil {
					t.Fatal(err)
				}
				xs[a], ys[a] = append(xs[a], x), append(ys[a], y)
			}
			m.Publish()
			if m.Updates() != 3000 {
				t.Errorf("Updates() = %d", m.Updates())
			}
			for a := range nPost {
				theta, inv := batchRidge(t, c.dim, c.lambda, xs[a], ys[a])
				checkAgainstBatch(t, m, a, theta, inv, r)
			}
		})
	}
}

func TestRidgeDriftAfter1e5Updates(t *testing.T) {
	// 1e5 online updates with refreshes disabled (pure Sherman–Morrison)
	// and with the default refresh; both must stay within the 1e-9
	// contract of a fresh batch solve. The log reports the actual drift.
	r := rand.New(rand.NewPCG(1, 1))
	const d, n = 16, 100_000
	xs, ys := make([][]float64, n), make([]float64, n)
	for i := range xs {
		xs[i] = randX(r, d)
		// Correlated, unevenly scaled features make A⁻¹ less benign.
		xs[i][1] = xs[i][0] + 0.1*xs[i][1]
		xs[i][2] *= 10
		ys[i] = xs[i][0] - 2*xs[i][2] + r.NormFloat64()
	}
	theta, inv := batchRidge(t, d, 1, xs, ys)
	for _, refresh := range []int{-1, 0} {
		m, err := models.NewRidge(models.RidgeConfig{Dim: d, RefreshEvery: refresh})
		if err != nil {
			t.Fatal(err)
		}
		for i := range xs {
			if err := m.Update(0, xs[i], ys[i]); err != nil {
				t.Fatal(err)
			}
		}
		m.Publish()
		worst := checkAgainstBatch(t, m, 0, theta, inv, r)
		t.Logf("RefreshEvery=%d: worst relative deviation from batch after %d updates: %.3g", refresh, n, worst)
	}
}

func TestRidgeInvalid(t *testing.T) {
	for _, cfg := range []models.RidgeConfig{{}, {Dim: -1}, {Dim: 2, Lambda: -1}, {Dim: 2, Lambda: math.NaN()}, {Dim: 2, Actions: -1}, {Dim: models.MaxRidgeDim + 1}} {
		if _, err := models.NewRidge(cfg); !errors.Is(err, models.ErrInvalidConfig) {
			t.Errorf("NewRidge(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	m, _ := models.NewRidge(models.RidgeConfig{Dim: 2, Actions: 2})
	for _, c := range []struct {
		a int
		x []float64
		r float64
	}{{0, []float64{1}, 0}, {2, []float64{1, 1}, 0}, {-1, []float64{1, 1}, 0}, {0, []float64{math.NaN(), 1}, 0}, {0, []float64{1, 1}, math.Inf(1)}} {
		if err := m.Update(c.a, c.x, c.r); !errors.Is(err, models.ErrInvalidInput) {
			t.Errorf("Update(%v) = %v, want ErrInvalidInput", c, err)
		}
	}
	if m.Updates() != 0 {
		t.Errorf("refused updates counted: %d", m.Updates())
	}
}

func TestRidgePublishVisibility(t *testing.T) {
	m, _ := models.NewRidge(models.RidgeConfig{Dim: 2, Actions: 2})
	mean, std := make([]float64, 2), make([]float64, 2)
	x := []float64{1, 0, 1, 0}
	m.Predict(mean, std, []int{0, 1}, x)
	if mean[0] != 0 || std[0] != 1 { // prior: θ = 0, A⁻¹ = I/λ
		t.Fatalf("prior: mean %v std %v", mean, std)
	}
	_ = m.Update(1, []float64{1, 0}, 1)
	m.Predict(mean, std, []int{0, 1}, x)
	if mean[1] != 0 {
		t.Fatalf("update visible before Publish")
	}
	m.Publish()
	m.Predict(mean, std, []int{0, 1}, x)
	// A = 2 on the first axis: mean 1/2, std √(1/2); action 0 unchanged.
	if mean[0] != 0 || std[0] != 1 || math.Abs(mean[1]-0.5) > 1e-15 || math.Abs(std[1]-math.Sqrt(0.5)) > 1e-15 {
		t.Fatalf("after Publish: mean %v std %v", mean, std)
	}
}

func TestRidgeConcurrentPredict(t *testing.T) {
	// Run with -race: readers Predict while the writer updates and publishes.
	const d = 8
	m, _ := models.NewRidge(models.RidgeConfig{Dim: d, Actions: 3})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			mean, std, acts := make([]float64, 3), make([]float64, 3), []int{0, 1, 2}
			xs := randX(r, 3*d)
			for {
				select {
				case <-stop:
					return
				default:
				}
				m.Predict(mean, std, acts, xs)
				for i := range std {
					if !(std[i] > 0) || math.IsNaN(mean[i]) {
						t.Errorf("bad prediction %v %v", mean, std)
						return
					}
				}
			}
		}()
	}
	r := rand.New(rand.NewPCG(1, 1))
	for i := range 2000 {
		_ = m.Update(i%3, randX(r, d), r.Float64())
		if i%10 == 0 {
			m.Publish()
		}
	}
	close(stop)
	wg.Wait()
}

func TestRidgeCloneIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	m, _ := models.NewRidge(models.RidgeConfig{Dim: 4})
	for range 50 {
		_ = m.Update(0, randX(r, 4), r.NormFloat64())
	}
	c := m.Clone()
	m.Publish()
	x := randX(r, 4)
	m1, s1, m2, s2 := make([]float64, 1), make([]float64, 1), make([]float64, 1), make([]float64, 1)
	m.Predict(m1, s1, nil, x)
	c.Predict(m2, s2, nil, x)
	if m1[0] != m2[0] || s1[0] != s2[0] || c.Updates() != m.Updates() {
		t.Fatalf("clone differs: %v %v vs %v %v", m1, s1, m2, s2)
	}
	_ = m.Update(0, x, 100)
	m.Publish()
	c.Predict(m2, s2, nil, x)
	if m1[0] != m2[0] {
		t.Fatalf("clone shares state with original")
	}
}

func trainedModel(t testing.TB, actions int) *models.Ridge {
	r := rand.New(rand.NewPCG(1, 1))
	m, err := models.NewRidge(models.RidgeConfig{Dim: 6, Actions: actions, Lambda: 0.5, Name: "linucb", RefreshEvery: 7})
	if err != nil {
		t.Fatal(err)
	}
	for range 40 {
		_ = m.Update(r.IntN(max(actions, 1)), randX(r, 6), r.NormFloat64())
	}
	return m
}

func TestRidgeRoundTrip(t *testing.T) {
	for _, actions := range []int{0, 3} {
		m := trainedModel(t, actions)
		var buf bytes.Buffer
		n, err := m.WriteTo(&buf)
		if err != nil || n != int64(buf.Len()) {
			t.Fatalf("WriteTo = %d, %v (buffer %d)", n, err, buf.Len())
		}
		got, err := models.ReadRidge(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		m.Publish()
		if got.Name() != "linucb" || got.Dim() != 6 || got.Updates() != m.Updates() || got.Config() != m.Config() {
			t.Fatalf("config %+v, want %+v", got.Config(), m.Config())
		}
		r := rand.New(rand.NewPCG(2, 2))
		const k = 9
		xs, acts := randX(r, k*6), make([]int, k)
		for i := range acts {
			acts[i] = i % max(actions, 1)
		}
		m1, s1, m2, s2 := make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k)
		m.Predict(m1, s1, acts, xs)
		got.Predict(m2, s2, acts, xs)
		for i := range m1 {
			if m1[i] != m2[i] || s1[i] != s2[i] { // bit-identical: A⁻¹ is stored
				t.Fatalf("prediction %d: %v %v after round trip, %v %v before", i, m2[i], s2[i], m1[i], s1[i])
			}
		}
		// Training continues identically from the restored state.
		x := randX(r, 6)
		_ = m.Update(0, x, 1)
		_ = got.Update(0, x, 1)
		m.Publish()
		got.Publish()
		m.Predict(m1, s1, acts, xs)
		got.Predict(m2, s2, acts, xs)
		if m1[0] != m2[0] || s1[0] != s2[0] {
			t.Fatalf("diverged after an update: %v vs %v", m1[0], m2[0])
		}
	}
}

func TestReadRidgeRefuses(t *testing.T) {
	m := trainedModel(t, 2)
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, c := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, models.ErrTruncated},
		{"wrong magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), models.ErrBadMagic},
		{"short wrong magic", []byte("PK"), models.ErrBadMagic},
		{"short good magic", good[:5], models.ErrTruncated},
		{"version", mutate(func(b []byte) []byte { b[8] = 9; return b }), models.ErrVersion},
		{"header only", good[:20], models.ErrTruncated},
		{"truncated", good[:len(good)-1], models.ErrTruncated},
		{"truncated half", good[:len(good)/2], models.ErrTruncated},
		{"corrupt byte", mutate(func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b }), models.ErrCorrupt},
		{"corrupt checksum", mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), models.ErrCorrupt},
		{"corrupt length", mutate(func(b []byte) []byte { b[12]--; return b }), models.ErrCorrupt},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := models.ReadRidge(bytes.NewReader(c.data))
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestPredictZeroAllocs(t *testing.T) {
	for _, actions := range []int{0, 20} {
		m, _ := models.NewRidge(models.RidgeConfig{Dim: 64, Actions: actions})
		mean, std, acts, xs := make([]float64, 20), make([]float64, 20), make([]int, 20), make([]float64, 20*64)
		if a := testing.AllocsPerRun(100, func() { m.Predict(mean, std, acts, xs) }); a != 0 {
			t.Fatalf("Predict allocates %v times per call", a)
		}
		x := make([]float64, 64)
		if a := testing.AllocsPerRun(100, func() { _ = m.Update(0, x, 1) }); a != 0 {
			t.Fatalf("Update allocates %v times per call", a)
		}
	}
}

// TestRidgePublishMean: a model published for its mean answers the same
// mean as one published whole (Predict and MeanSparse alike), and std 0.
func TestRidgePublishMean(t *testing.T) {
	const d = 6
	a, err := models.NewRidge(models.RidgeConfig{Dim: d})
	if err != nil {
		t.Fatal(err)
	}
	b, err := models.NewRidge(models.RidgeConfig{Dim: d})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, d)
	for i := range 40 {
		for j := range x {
			x[j] = float64((i*5+j*3)%7) - 3
		}
		if err := a.Update(0, x, float64(i%3)); err != nil {
			t.Fatal(err)
		}
		if err := b.Update(0, x, float64(i%3)); err != nil {
			t.Fatal(err)
		}
	}
	a.Publish()
	b.PublishMean()
	idx, val := []int32{0, 2, 5, 2}, []float64{1, -2, 0.5, 1}
	for j := range x {
		x[j] = 0
	}
	for i, k := range idx {
		x[k] += val[i]
	}
	ma, sa, mb, sb := []float64{0}, []float64{0}, []float64{0}, []float64{0}
	a.Predict(ma, sa, nil, x)
	b.Predict(mb, sb, nil, x)
	if ma[0] != mb[0] || sb[0] != 0 || sa[0] <= 0 {
		t.Errorf("Publish: mean %v std %v; PublishMean: mean %v std %v", ma[0], sa[0], mb[0], sb[0])
	}
	if got := b.MeanSparse(0, idx, val); math.Abs(got-ma[0]) > 1e-12 {
		t.Errorf("MeanSparse %v, Predict %v", got, ma[0])
	}
}
