package models_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/stat/distuv"

	"nextbest/models"
)

func argmax(mean, std []float64) []float64 {
	dst := make([]float64, len(mean))
	models.ArgmaxProbs(dst, mean, std, make([]float64, models.ArgmaxScratchLen(len(mean))))
	return dst
}

// refArgmax integrates p_i = ∫ φ_i Π_{j≠i} Φ_j independently of ArgmaxProbs:
// per candidate over μ_i ± 9σ_i (clipped below at the largest point mass),
// in panels of half the smallest std with 16-point Gauss–Legendre (32
// nodes per smallest std, 8× ArgmaxProbs's density), with gonum's normal
// CDF, and no pruning or cuts above 1e-19: its own error is ~1e-13 (at a
// quarter std it agreed to 2e-13 with the 1e-9 rule ArgmaxProbs used
// before). Point masses by their closed form.
func refArgmax(mean, std []float64) []float64 {
	n := len(mean)
	p := make([]float64, n)
	top, pm := -1, math.Inf(-1)
	smin := math.Inf(1)
	for i, s := range std {
		if s == 0 && (top < 0 || mean[i] > pm) {
			top, pm = i, mean[i]
		}
		if s > 0 {
			smin = min(smin, s)
		}
	}
	phi := func(z float64) float64 { return distuv.UnitNormal.CDF(z) }
	if top >= 0 {
		p[top] = 1
		for j := range mean {
			if std[j] > 0 {
				p[top] *= phi((pm - mean[j]) / std[j])
			}
		}
	}
	x, w := make([]float64, 16), make([]float64, 16)
	quad.Legendre{}.FixedLocations(x, w, -1, 1)
	for i := range mean {
		if std[i] == 0 {
			continue
		}
		a, b := max(mean[i]-9*std[i], pm), mean[i]+9*std[i]
		h := smin / 2
		for t := a; t < b; t += h {
			e := min(t+h, b)
			c, r := (t+e)/2, (e-t)/2
			for q := range x {
				tq := c + r*x[q]
				v := r * w[q] * distuv.UnitNormal.Prob((tq-mean[i])/std[i]) / std[i]
				for j := range mean {
					if j != i && std[j] > 0 {
						v *= phi((tq - mean[j]) / std[j])
					}
				}
				p[i] += v
			}
		}
	}
	return p
}

// argmaxTol is what the tests assert: ten times inside the contract
// (models.ArgmaxTolerance = 1e-6); the errors measured are ≈2e-9.
const argmaxTol = models.ArgmaxTolerance / 10

func TestArgmaxProbsClosedForms(t *testing.T) {
	// Two candidates: P(X1 > X2) = Φ((μ1−μ2)/√(σ1²+σ2²)) exactly.
	for _, c := range [][4]float64{{0, 1, 0, 1}, {1, 1, 0, 1}, {0.3, 0.1, 0.2, 2}, {5, 1, 0, 1}, {-2, 0.01, -2.001, 0.02}, {0, 1e-3, 0, 1e3}} {
		got := argmax([]float64{c[0], c[2]}, []float64{c[1], c[3]})
		want := distuv.UnitNormal.CDF((c[0] - c[2]) / math.Hypot(c[1], c[3]))
		if math.Abs(got[0]-want) > argmaxTol || math.Abs(got[0]+got[1]-1) > 1e-12 {
			t.Errorf("%v: got %v, want p0 = %v", c, got, want)
		}
	}
	// n identical candidates: 1/n by symmetry.
	for n := 2; n <= 30; n++ {
		mean, std := make([]float64, n), make([]float64, n)
		for i := range std {
			mean[i], std[i] = 0.7, 0.3
		}
		for i, p := range argmax(mean, std) {
			if math.Abs(p-1/float64(n)) > argmaxTol {
				t.Errorf("n=%d: p[%d] = %v, want %v", n, i, p, 1/float64(n))
			}
		}
	}
}

func TestArgmaxProbsDegenerate(t *testing.T) {
	for _, c := range []struct {
		name            string
		mean, std, want []float64
	}{
		{"single", []float64{3}, []float64{2}, []float64{1}},
		{"single point", []float64{3}, []float64{0}, []float64{1}},
		{"points tie lowest index", []float64{1, 2, 2, 0}, []float64{0, 0, 0, 0}, []float64{0, 1, 0, 0}},
		{"point vs normal", []float64{0.5, 0}, []float64{0, 1}, []float64{distuv.UnitNormal.CDF(0.5), 1 - distuv.UnitNormal.CDF(0.5)}},
		{"normal vs point", []float64{0, 0.5}, []float64{1, 0}, []float64{1 - distuv.UnitNormal.CDF(0.5), distuv.UnitNormal.CDF(0.5)}},
		{"point far above", []float64{100, 0, 1}, []float64{0, 1, 1}, []float64{1, 0, 0}},
		{"point far below", []float64{-100, 0, 0}, []float64{0, 1, 1}, []float64{0, 0.5, 0.5}},
		{"hopeless candidate", []float64{0, 100}, []float64{1, 1}, []float64{0, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := argmax(c.mean, c.std)
			for i := range got {
				if math.Abs(got[i]-c.want[i]) > argmaxTol {
					t.Errorf("got %v, want %v", got, c.want)
					break
				}
			}
		})
	}
}

func randomCase(r *rand.Rand, n int) (mean, std []float64) {
	mean, std = make([]float64, n), make([]float64, n)
	spread := []float64{0.01, 0.3, 1, 3}[r.IntN(4)]
	for i := range mean {
		mean[i] = spread * r.NormFloat64()
		std[i] = math.Exp(r.NormFloat64()) * 0.3
		if r.IntN(10) == 0 {
			std[i] = 0
		}
	}
	return mean, std
}

// decideSlate is the 20-candidate slate of decide's BenchmarkDecide20x64
// (c·mean, c·std of a trained ridge model): stds spread over 7×.
var decideSlate = [2][]float64{
	{0.145047, 0.37971, 0.589453, 0.748275, 0.159201, 0.199323, 1.01024, 0.112609, 0.131683, 0.673091, -0.0490867, 0.217199, 0.778138, 1.14337, 0.0413746, 0.688768, 0.181688, 0.159016, 0.403141, 1.00487},
	{0.348, 0.661221, 1.04386, 1.48433, 1.77936, 2.02369, 2.45706, 0.335679, 0.704269, 1.0872, 1.40307, 1.75989, 2.01595, 2.34893, 0.363838, 0.706023, 1.04122, 1.40579, 1.7225, 2.13516},
}

// argmaxCases are the slates the precision tests run: the random ones of
// randomCase, adversarial ones (many equal stds, where the maximum is
// narrowest; stds spread over 20×; up to 40 candidates; point masses in
// the middle of the continuous ones) and decideSlate.
func argmaxCases() (cases [][2][]float64) {
	r := rand.New(rand.NewPCG(1, 1))
	for range 120 {
		mean, std := randomCase(r, 2+r.IntN(19))
		cases = append(cases, [2][]float64{mean, std})
	}
	for n := 2; n <= 40; n += 2 {
		mean, std := make([]float64, n), make([]float64, n)
		for i := range mean {
			mean[i], std[i] = 0.7+0.01*r.NormFloat64(), 0.3
		}
		cases = append(cases, [2][]float64{mean, std})
	}
	for range 30 {
		n := 2 + r.IntN(15)
		mean, std := make([]float64, n), make([]float64, n)
		for i := range mean {
			mean[i] = r.NormFloat64()
			std[i] = math.Exp(r.Float64() * math.Log(20))
			if r.IntN(8) == 0 {
				std[i] = 0
			}
		}
		cases = append(cases, [2][]float64{mean, std})
	}
	return append(cases, decideSlate)
}

func TestArgmaxProbsAgainstReference(t *testing.T) {
	// The reference's own error is ~1e-13, so the difference is
	// ArgmaxProbs's error; assert argmaxTol, ten times inside the
	// contract.
	var worst float64
	for c, cs := range argmaxCases() {
		mean, std := cs[0], cs[1]
		got, want := argmax(mean, std), refArgmax(mean, std)
		var sum float64
		for i := range got {
			worst = max(worst, math.Abs(got[i]-want[i]))
			if math.Abs(got[i]-want[i]) > argmaxTol {
				t.Errorf("case %d: p[%d] = %.15g, reference %.15g (μ=%v σ=%v)", c, i, got[i], want[i], mean, std)
			}
			sum += got[i]
		}
		if math.Abs(sum-1) > 1e-12 {
			t.Errorf("case %d: sum %v", c, sum)
		}
	}
	t.Logf("largest |ArgmaxProbs − reference| = %.3g", worst)
}

// TestArgmaxSlate fills slates the way Thompson sampling does: Reset over
// all candidates, then Probs over the candidates left after each slot,
// removing a random one (point masses included) each time. Every slot's
// probabilities must match the reference on that subset, slot 0 must be
// ArgmaxProbs's numbers bit for bit, and a subset that is not nested in
// the last one (a point mass back above the grid) must be right too.
func TestArgmaxSlate(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	am := models.NewArgmax(40)
	var worst float64
	for c, cs := range argmaxCases() {
		if c%3 != 0 && c != len(argmaxCases())-1 {
			continue // a third of the cases and decideSlate: the reference is slow
		}
		mean, std := cs[0], cs[1]
		n := len(mean)
		am.Reset(mean, std)
		all := argmax(mean, std)
		got := make([]float64, n)
		am.Probs(got, nil)
		for i := range got {
			if got[i] != all[i] {
				t.Fatalf("case %d: Probs(nil)[%d] = %v, ArgmaxProbs %v", c, i, got[i], all[i])
			}
		}
		rem := make([]int, n)
		for i := range rem {
			rem[i] = i
		}
		for len(rem) > 1 {
			dst := make([]float64, len(rem))
			am.Probs(dst, rem)
			sm, ss := make([]float64, len(rem)), make([]float64, len(rem))
			for j, i := range rem {
				sm[j], ss[j] = mean[i], std[i]
			}
			want := refArgmax(sm, ss)
			for j := range dst {
				worst = max(worst, math.Abs(dst[j]-want[j]))
				if math.Abs(dst[j]-want[j]) > argmaxTol {
					t.Errorf("case %d, %d left: p[%d] = %.15g, reference %.15g", c, len(rem), rem[j], dst[j], want[j])
				}
			}
			if len(rem) == n-3 {
				break // a slate of four slots
			}
			j := r.IntN(len(rem))
			rem = append(rem[:j], rem[j+1:]...)
		}
	}
	t.Logf("largest |Argmax.Probs − reference| over slates = %.3g", worst)

	for _, c := range []struct {
		name      string
		mean, std []float64
		subs      [][]int
	}{
		// not nested: the top point mass gone, then back
		{"point mass back", []float64{0, 1, 0.5, 0.2}, []float64{1, 0, 0.3, 0}, [][]int{{0, 2, 3}, {0, 1, 2}, {2, 0}, {3, 1}}},
		// the certain winner gone: the grid extends 40 stds below it,
		// where its CDF underflows, so those nodes take the members'
		// product instead of dividing by it
		{"dominant gone", []float64{40, 0, 0.1, -0.2}, []float64{1, 1, 0.5, 2}, [][]int{{0, 1, 2, 3}, {1, 2, 3}, {1, 3}}},
	} {
		checkSubsets(t, am, c.name, c.mean, c.std, c.subs)
	}
}

func checkSubsets(t *testing.T, am *models.Argmax, name string, mean, std []float64, subs [][]int) {
	t.Helper()
	am.Reset(mean, std)
	for _, sub := range subs {
		dst := make([]float64, len(sub))
		am.Probs(dst, sub)
		sm, ss := make([]float64, len(sub)), make([]float64, len(sub))
		for j, i := range sub {
			sm[j], ss[j] = mean[i], std[i]
		}
		want := refArgmax(sm, ss)
		for j := range dst {
			if math.Abs(dst[j]-want[j]) > argmaxTol {
				t.Errorf("%s: subset %v: %v, reference %v", name, sub, dst, want)
				break
			}
		}
	}
}

// TestArgmaxLargeGrid: stds spread over 1e4 make a grid larger than
// NewArgmax stores; Probs then recomputes it and must agree with
// ArgmaxProbs on each subset (the reference would take minutes here).
func TestArgmaxLargeGrid(t *testing.T) {
	mean := []float64{0, 0.1, 0.2, 0.3, 0.05, 0.15}
	std := []float64{1, 1e-4, 0.5, 3e-4, 2, 1e-3}
	am := models.NewArgmax(len(mean))
	am.Reset(mean, std)
	for _, sub := range [][]int{{0, 1, 2, 3, 4, 5}, {0, 1, 2, 4, 5}, {0, 1, 2, 4}} {
		dst := make([]float64, len(sub))
		am.Probs(dst, sub)
		sm, ss := make([]float64, len(sub)), make([]float64, len(sub))
		for j, i := range sub {
			sm[j], ss[j] = mean[i], std[i]
		}
		want := argmax(sm, ss)
		for j := range dst {
			if math.Abs(dst[j]-want[j]) > argmaxTol {
				t.Errorf("subset %v: %v, ArgmaxProbs %v", sub, dst, want)
				break
			}
		}
	}
}

func TestArgmaxProbsMonteCarlo(t *testing.T) {
	// 1e6 draws: the standard error of each frequency is √(p(1−p)/1e6) ≤
	// 5e-4; the tolerance is 5 standard errors (plus 1e-6 for p ≈ 0), so
	// a correct implementation fails with probability ~1e-6 per candidate —
	// and the seed is fixed anyway.
	r := rand.New(rand.NewPCG(1, 1))
	mean := []float64{0.10, 0.12, 0.05, 0.11, 0.11, 0.02, 0.09, 0.115}
	std := []float64{0.02, 0.05, 0.1, 0.01, 0.01, 0, 0.03, 0}
	const draws = 1_000_000
	counts := make([]int, len(mean))
	v := make([]float64, len(mean))
	for range draws {
		best := 0
		for i := range v {
			v[i] = mean[i] + std[i]*r.NormFloat64()
			if v[i] > v[best] {
				best = i
			}
		}
		counts[best]++
	}
	got := argmax(mean, std)
	for i, c := range counts {
		f := float64(c) / draws
		se := math.Sqrt(got[i] * (1 - got[i]) / draws)
		if math.Abs(f-got[i]) > 5*se+1e-6 {
			t.Errorf("p[%d] = %.5f, Monte Carlo %.5f (se %.2g)", i, got[i], f, se)
		}
	}
}

func TestArgmaxProbsZeroAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	mean, std := randomCase(r, 20)
	dst, scratch := make([]float64, 20), make([]float64, models.ArgmaxScratchLen(20))
	if a := testing.AllocsPerRun(100, func() { models.ArgmaxProbs(dst, mean, std, scratch) }); a != 0 {
		t.Fatalf("ArgmaxProbs allocates %v times per call", a)
	}
	am := models.NewArgmax(20)
	rem := make([]int, 20)
	if a := testing.AllocsPerRun(100, func() {
		am.Reset(decideSlate[0], decideSlate[1])
		rem = rem[:20]
		for i := range rem {
			rem[i] = i
		}
		for range 3 {
			am.Probs(dst[:len(rem)], rem)
			rem = rem[:len(rem)-1]
		}
	}); a != 0 {
		t.Fatalf("Argmax allocates %v times per slate", a)
	}
}

func BenchmarkArgmaxProbs20(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	// A Thompson-sampling-like slate: close means, similar stds.
	mean, std := make([]float64, 20), make([]float64, 20)
	for i := range mean {
		mean[i] = 0.1 + 0.02*r.NormFloat64()
		std[i] = 0.01 + 0.01*r.Float64()
	}
	dst, scratch := make([]float64, 20), make([]float64, models.ArgmaxScratchLen(20))
	b.ReportAllocs()
	for b.Loop() {
		models.ArgmaxProbs(dst, mean, std, scratch)
	}
	_ = slices.Max(dst)
}

// BenchmarkArgmaxSlate20 is a slate of three slots over decideSlate: one
// Reset and three Probs, as package decide runs Thompson sampling.
func BenchmarkArgmaxSlate20(b *testing.B) {
	am := models.NewArgmax(20)
	dst, rem := make([]float64, 20), make([]int, 20)
	b.ReportAllocs()
	for b.Loop() {
		am.Reset(decideSlate[0], decideSlate[1])
		rem = rem[:20]
		for i := range rem {
			rem[i] = i
		}
		for range 3 {
			am.Probs(dst[:len(rem)], rem)
			rem = rem[:len(rem)-1]
		}
	}
}
