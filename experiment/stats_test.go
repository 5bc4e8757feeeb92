package experiment_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"nextbest/experiment"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.10g, want %.10g (±%g)", name, got, want, tol)
	}
}

// TestWaldDiffByHand: 120/1000 (control) vs 150/1000 (treatment).
//
//	d  = 0.15 − 0.12 = 0.03
//	SE = √(0.12·0.88/1000 + 0.15·0.85/1000) = √(0.0001056 + 0.0001275)
//	   = √0.0002331 = 0.01526761
//	z  = 1.959964 (97.5% normal quantile)
//	CI = 0.03 ± 1.959964·0.01526761 = 0.03 ± 0.02992397 = [0.00007603, 0.05992397]
func TestWaldDiffByHand(t *testing.T) {
	iv := experiment.WaldDiff(120, 1000, 150, 1000, 0.95)
	near(t, "estimate", iv.Estimate, 0.03, 1e-12)
	near(t, "lo", iv.Lo, 0.00007603, 1e-8)
	near(t, "hi", iv.Hi, 0.05992397, 1e-8)
}

// TestNewcombeDiff reproduces Newcombe (1998), Statistics in Medicine 17,
// Table II example (a): 56/70 − 48/80 = 0.2; method 10 (hybrid score)
// gives [0.0524, 0.3339], Wald (method 1) [0.0575, 0.3425]. More digits
// from mpmath with the same formulas: 0.05243147, 0.33387265.
func TestNewcombeDiff(t *testing.T) {
	iv := experiment.NewcombeDiff(48, 80, 56, 70, 0.95)
	near(t, "estimate", iv.Estimate, 0.2, 1e-12)
	near(t, "lo", iv.Lo, 0.05243147, 1e-7)
	near(t, "hi", iv.Hi, 0.33387265, 1e-7)
	w := experiment.WaldDiff(48, 80, 56, 70, 0.95)
	near(t, "wald lo", w.Lo, 0.0575, 1e-4)
	near(t, "wald hi", w.Hi, 0.3425, 1e-4)
}

// TestWelchDiff: control mean 10, SD 2, n 20; treatment mean 12, SD 3,
// n 25 (R: t.test on such samples).
//
//	SE = √(4/20 + 9/25) = √0.56 = 0.7483315
//	ν  = 0.56² / ((0.2²)/19 + (0.36²)/24) = 0.3136/0.00750526 = 41.78401
//	t(0.975, 41.784) = 2.018391  (tables: 2.0195 at 41, 2.0181 at 42)
//	CI = 2 ± 2.018391·0.7483315 = [0.4895746, 3.5104254]
func TestWelchDiff(t *testing.T) {
	c := experiment.Summary{Mean: 10, SE: 2 / math.Sqrt(20), N: 20}
	tr := experiment.Summary{Mean: 12, SE: 3 / math.Sqrt(25), N: 25}
	iv := experiment.WelchDiff(c, tr, 0.95)
	near(t, "estimate", iv.Estimate, 2, 1e-12)
	near(t, "lo", iv.Lo, 0.4895746, 1e-6)
	near(t, "hi", iv.Hi, 3.5104254, 1e-6)
}

// TestRelativeLift: 0.15/0.12 − 1 = 0.25; delta-method SE with
// SEc = √(0.12·0.88/1000) = 0.01027619, SEt = √(0.15·0.85/1000) =
// 0.01129159: SE² = SEt²/0.12² + 0.15²·SEc²/0.12⁴ = 0.00885417 + 0.01145833
// = 0.0203125, SE = 0.14252193; CI = 0.25 ± 1.959964·SE.
func TestRelativeLift(t *testing.T) {
	c := experiment.Summary{Mean: 0.12, SE: math.Sqrt(0.12 * 0.88 / 1000), N: 1000}
	tr := experiment.Summary{Mean: 0.15, SE: math.Sqrt(0.15 * 0.85 / 1000), N: 1000}
	iv := experiment.RelativeLift(c, tr, 0.95)
	near(t, "estimate", iv.Estimate, 0.25, 1e-12)
	near(t, "half-width", (iv.Hi-iv.Lo)/2, 1.959963985*0.14252193, 1e-7)
	if iv := experiment.RelativeLift(experiment.Summary{}, tr, 0.95); iv.Lo != 0 || iv.Hi != 0 {
		t.Errorf("zero control mean: %+v", iv)
	}
}

// TestChiSquareSRM: 5,000 vs 5,200 customers at 50/50. Expected 5,100
// each; χ² = 2·100²/5100 = 3.921569, 1 df; p = erfc(√(χ²/2)) = 0.04767038
// (R: chisq.test(c(5000, 5200), p = c(.5, .5))). Not an SRM at 0.001.
// Three arms 3,300/3,400/3,300 at equal shares: χ² = 2, 2 df, p = e⁻¹.
func TestChiSquareSRM(t *testing.T) {
	chi2, df, p, err := experiment.ChiSquareGOF([]int{5000, 5200}, []float64{0.5, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "chi2", chi2, 3.921568627, 1e-8)
	near(t, "p", p, 0.04767038066, 1e-9)
	if df != 1 {
		t.Errorf("df %d", df)
	}
	chi2, df, p, _ = experiment.ChiSquareGOF([]int{3300, 3400, 3300}, []float64{1, 1, 1})
	near(t, "chi2 (3 arms)", chi2, 2, 1e-9)
	near(t, "p (3 arms)", p, math.Exp(-1), 1e-9)
	if df != 2 {
		t.Errorf("df %d", df)
	}
	if _, _, _, err := experiment.ChiSquareGOF([]int{1, 2}, []float64{1}); err == nil {
		t.Error("mismatched lengths accepted")
	}
}

// TestMixtureSPRTByHand: d = 0.02, v = 1e-4, τ² = 1e-4.
//
//	Λ = √(v/(v+τ²)) · exp(τ²d²/(2v(v+τ²))) = √0.5 · e¹ = 1.9221155
//	p = 1/Λ = 0.5202601
//	half-width at α = 0.05: √(2v(v+τ²)/τ² · (ln 20 + ½ ln 2)) = 0.0365639
func TestMixtureSPRTByHand(t *testing.T) {
	near(t, "log Λ", experiment.MixtureLogLR(0.02, 1e-4, 1e-4, 0), math.Log(1.92211551407955841), 1e-12)
	near(t, "half-width", experiment.ConfidenceSequenceHalfWidth(1e-4, 1e-4, 0.05), 0.03656394871, 1e-10)
	s := experiment.SequentialTest{Tau2: 1e-4, Alpha: 0.05}
	p, lo, hi := s.Look(0.02, 1e-4)
	near(t, "p", p, 0.52026009502, 1e-9)
	near(t, "lo", lo, 0.02-0.03656394871, 1e-10)
	near(t, "hi", hi, 0.02+0.03656394871, 1e-10)
}

// TestSequentialPeeking simulates 500 A/A experiments (two arms with a
// 10% conversion rate), each looked at 50 times after every 200 decisions
// per arm, and counts the experiments that ever reject at α = 0.05:
//
//   - the naive fixed-horizon z-test, rejecting at the first look with
//     |z| > 1.96, inflates the type-I error to about 0.3 (Armitage,
//     McPherson & Rowe 1969 give about 0.32 for 50 equally spaced looks);
//   - the mSPRT (τ = 0.01, a 10% relative lift) stays below α.
//
// With 500 runs a rate's standard error is ≤ 0.022, so "mSPRT ≤ 0.05" and
// "naive ≥ 0.15" are both several standard errors from the expected
// values (about 0.01–0.03 and 0.3). The test also checks that every
// mSPRT p-value path is non-increasing and every confidence sequence
// nested, and that with a true 10% → 13% difference the mSPRT detects it
// in at least 80% of 100 runs (power).
func TestSequentialPeeking(t *testing.T) {
	const (
		runs, looks, batch = 500, 50, 200
		alpha              = 0.05
		tau                = 0.01
	)
	rng := rand.New(rand.NewPCG(2017, 7))
	run := func(pc, pt float64) (naive, seq bool) {
		s := experiment.SequentialTest{Tau2: tau * tau, Alpha: alpha}
		var xc, xt, n float64
		prevP, prevLo, prevHi := 1.0, math.Inf(-1), math.Inf(1)
		for range looks {
			for range batch {
				if rng.Float64() < pc {
					xc++
				}
				if rng.Float64() < pt {
					xt++
				}
			}
			n += batch
			mc, mt := xc/n, xt/n
			v := mc*(1-mc)/n + mt*(1-mt)/n
			d := mt - mc
			if v > 0 && math.Abs(d)/math.Sqrt(v) > 1.959964 {
				naive = true
			}
			p, lo, hi := s.Look(d, v)
			if p > prevP || lo < prevLo || hi > prevHi {
				t.Fatalf("not monotone: p %v→%v, interval [%v,%v]→[%v,%v]", prevP, p, prevLo, prevHi, lo, hi)
			}
			prevP, prevLo, prevHi = p, lo, hi
			if p < alpha {
				seq = true
			}
		}
		return naive, seq
	}
	var naiveRej, seqRej int
	for range runs {
		n, s := run(0.1, 0.1)
		if n {
			naiveRej++
		}
		if s {
			seqRej++
		}
	}
	naiveRate, seqRate := float64(naiveRej)/runs, float64(seqRej)/runs
	t.Logf("A/A, %d runs × %d looks: type-I error naive z-test %.3f, mSPRT %.3f (α = %g)", runs, looks, naiveRate, seqRate, alpha)
	if seqRate > alpha {
		t.Errorf("mSPRT type-I error %.3f > α = %g", seqRate, alpha)
	}
	if naiveRate < 0.15 {
		t.Errorf("naive peeking type-I error %.3f: expected it well above α (about 0.3)", naiveRate)
	}
	var power int
	for range 100 {
		if _, s := run(0.10, 0.13); s {
			power++
		}
	}
	t.Logf("10%% vs 13%%: mSPRT rejects in %d of 100 runs", power)
	if power < 80 {
		t.Errorf("mSPRT power %d%% < 80%%", power)
	}
}

// TestProbBeatBeta checks the Beta-Binomial probability to beat control
// against closed forms and high-precision integrals (mpmath, 30 digits,
// ∫ f_t(x)·I_x(ac, bc) dx):
//
//	Beta(1,1) vs Beta(1,1): 1/2                  (symmetry)
//	Beta(1,1) vs Beta(2,1): ∫ 2x·x dx = 2/3
//	Beta(1,1) vs Beta(1,2): ∫ 2(1−x)·x dx = 1/3
//	Beta(1,2) vs Beta(2,1): ∫ 2x·(2x − x²) dx = 5/6
//	Beta(3,9) vs Beta(7,5): 0.959752321981424
//	Beta(121,881) vs Beta(151,851) (120/1000 vs 150/1000, uniform priors): 0.975067836812144
//	Beta(120.5,880.5) vs Beta(150.5,850.5) (non-integer: numerical path): 0.975255347210176
func TestProbBeatBeta(t *testing.T) {
	for _, tc := range []struct {
		name           string
		ac, bc, at, bt float64
		want, tol      float64
	}{
		{"uniform vs uniform", 1, 1, 1, 1, 0.5, 1e-12},
		{"Beta(2,1) vs uniform", 1, 1, 2, 1, 2.0 / 3, 1e-12},
		{"Beta(1,2) vs uniform", 1, 1, 1, 2, 1.0 / 3, 1e-12},
		{"Beta(2,1) vs Beta(1,2)", 1, 2, 2, 1, 5.0 / 6, 1e-12},
		{"small counts", 3, 9, 7, 5, 0.959752321981424, 1e-12},
		{"120/1000 vs 150/1000", 121, 881, 151, 851, 0.975067836812144, 1e-10},
		{"swapped", 151, 851, 121, 881, 1 - 0.975067836812144, 1e-10},
		{"non-integer", 120.5, 880.5, 150.5, 850.5, 0.975255347210176, 1e-7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			near(t, "P(beat)", experiment.ProbBeatBeta(tc.ac, tc.bc, tc.at, tc.bt), tc.want, tc.tol)
		})
	}
	// normal approximation: Φ(0.03/0.01526761) = Φ(1.964944) = 0.9752896 (mpmath)
	c := experiment.Summary{Mean: 0.12, SE: math.Sqrt(0.12 * 0.88 / 1000)}
	tr := experiment.Summary{Mean: 0.15, SE: math.Sqrt(0.15 * 0.85 / 1000)}
	near(t, "normal", experiment.ProbBeatNormal(c, tr), 0.9752896, 1e-7)
}

// TestWilsonInterval: 81/263 at 95%, Wilson's formula evaluated in
// mpmath with z = 1.959964: [0.2552885, 0.3662096].
func TestWilsonInterval(t *testing.T) {
	iv := experiment.WilsonInterval(81, 263, 0.95)
	near(t, "lo", iv.Lo, 0.2552885, 1e-7)
	near(t, "hi", iv.Hi, 0.3662096, 1e-7)
}

// TestSampleSizePerArm: σ² = 0.1·0.9 per arm, δ = 0.01 at 95%/80%:
// (1.959964 + 0.841621)²·0.18/0.0001 = 14,127.98.
func TestSampleSizePerArm(t *testing.T) {
	sd := math.Sqrt(0.09)
	near(t, "n", experiment.SampleSizePerArm(sd, sd, 0.01, 0.95, 0.8), 14127.98, 0.01)
}
