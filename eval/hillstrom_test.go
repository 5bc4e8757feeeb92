package eval_test

import (
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"nextbest/eval"
)

const hillstromHead = "recency,history_segment,history,mens,womens,zip_code,newbie,channel,segment,visit,conversion,spend\r\n" +
	"10,2) $100 - $200,142.44,1,0,Surburban,0,Phone,Womens E-Mail,0,0,0\r\n" +
	"6,3) $200 - $350,329.08,1,1,Rural,1,Web,No E-Mail,0,0,0\r\n" +
	"9,\"6) $750 - $1,000\",800.5,0,1,Urban,0,Multichannel,Mens E-Mail,1,1,29.99\r\n"

func TestReadHillstrom(t *testing.T) {
	cs, err := eval.ReadHillstrom(strings.NewReader(hillstromHead))
	if err != nil {
		t.Fatal(err)
	}
	want := eval.Customer{Recency: 9, HistorySegment: 6, History: 800.5, Womens: true, ZipCode: "Urban", Channel: "Multichannel",
		Arm: eval.MensEmail, Visit: true, Conversion: true, Spend: 29.99}
	if len(cs) != 3 || cs[2] != want || cs[0].Arm != eval.WomensEmail || cs[1].Arm != eval.NoEmail {
		t.Errorf("got %+v", cs)
	}
	for _, bad := range []string{
		strings.Replace(hillstromHead, "Womens E-Mail", "SMS", 1),
		strings.Replace(hillstromHead, "2) $100", "$100", 1),
		strings.Replace(hillstromHead, "142.44,1,0", "142.44,2,0", 1),
		strings.Replace(hillstromHead, "spend", "revenue", 1),
	} {
		if _, err := eval.ReadHillstrom(strings.NewReader(bad)); !errors.Is(err, eval.ErrFormat) {
			t.Errorf("err = %v, want ErrFormat", err)
		}
	}
}

func TestSplitHalves(t *testing.T) {
	a, b := eval.SplitHalves(11, 1)
	if len(a) != 6 || len(b) != 5 {
		t.Fatalf("sizes %d, %d", len(a), len(b))
	}
	all := slices.Sorted(slices.Values(append(slices.Clone(a), b...)))
	for i, v := range all {
		if v != i {
			t.Fatalf("halves %v %v are not a partition of 0..10", a, b)
		}
	}
	a2, _ := eval.SplitHalves(11, 1)
	a3, _ := eval.SplitHalves(11, 2)
	if !slices.Equal(a, a2) || slices.Equal(a, a3) {
		t.Error("split not reproducible from the seed, or independent of it")
	}
}

func loadHillstrom(t *testing.T) []eval.Customer {
	t.Helper()
	const path = "../../shared/data/hillstrom/hillstrom.csv"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no %s: %v", path, err)
	}
	cs, err := eval.LoadHillstrom(path)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestHillstromFixedPolicies checks the IPS machinery against the trial's
// published arm means (SOURCE.md, matching MineThatData's figures): for
// "always arm a", SNIPS is exactly arm a's sample mean, and IPS is
// (3/n)·Σ over arm a's customers = 3·(n_a/n)·mean_a.
func TestHillstromFixedPolicies(t *testing.T) {
	cs := loadHillstrom(t)
	if len(cs) != 64000 {
		t.Fatalf("%d customers", len(cs))
	}
	all := make([]int, len(cs))
	for i := range all {
		all[i] = i
	}
	for _, tc := range []struct {
		p    eval.FixedPolicy
		n    float64
		mean [3]float64 // visit, conversion, spend
	}{
		{eval.AlwaysMens, 21307, [3]float64{0.182757, 0.012531, 1.422617}},
		{eval.AlwaysWomens, 21387, [3]float64{0.151400, 0.008837, 1.077202}},
		{eval.NeverEmail, 21306, [3]float64{0.106167, 0.005726, 0.652789}},
	} {
		for o, want := range tc.mean {
			ests, err := eval.EvaluateHillstrom(cs, all, tc.p, eval.Outcome(o), nil, eval.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ips, snips := ests[0], ests[1]
			// The published means have 6 decimals: tolerance 5e-7.
			if math.Abs(snips.Value-want) > 5e-7 || math.Abs(ips.Value-3*tc.n/64000*want) > 3*5e-7 {
				t.Errorf("%s %s: IPS %.6f SNIPS %.6f, want %.6f and %.6f", eval.Arm(tc.p), eval.Outcome(o), ips.Value, snips.Value, 3*tc.n/64000*want, want)
			}
			if !(snips.Lo < want && want < snips.Hi) || len(snips.Warnings) != 0 {
				t.Errorf("%s %s: interval [%g, %g], warnings %q", eval.Arm(tc.p), eval.Outcome(o), snips.Lo, snips.Hi, snips.Warnings)
			}
		}
	}
}

// TestHillstromLearnedPolicy fits the per-arm model on half A and
// evaluates the greedy policy on half B. Its spend must not be
// significantly below always-Mens, the best fixed policy (its lower
// bound is checked against always-Mens' point estimate minus two of its
// SEs), and DR must agree with IPS within their SEs (same data, same
// policy: both unbiased).
func TestHillstromLearnedPolicy(t *testing.T) {
	cs := loadHillstrom(t)
	a, b := eval.SplitHalves(len(cs), 1)
	m, err := eval.FitArmModel(cs, a, eval.Spend, 1)
	if err != nil {
		t.Fatal(err)
	}
	learned, err := eval.EvaluateHillstrom(cs, b, m, eval.Spend, m, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mens, err := eval.EvaluateHillstrom(cs, b, eval.AlwaysMens, eval.Spend, m, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	byName := func(es []eval.Estimate, name string) eval.Estimate {
		for _, e := range es {
			if e.Estimator == name {
				return e
			}
		}
		t.Fatalf("no %s", name)
		return eval.Estimate{}
	}
	lIPS, lDR, mIPS := byName(learned, "IPS"), byName(learned, "DR"), byName(mens, "IPS")
	t.Logf("learned: IPS %.4f ± %.4f, DR %.4f ± %.4f; always Mens IPS %.4f ± %.4f", lIPS.Value, lIPS.SE, lDR.Value, lDR.SE, mIPS.Value, mIPS.SE)
	if lIPS.Value < mIPS.Value-2*math.Hypot(lIPS.SE, mIPS.SE) {
		t.Errorf("learned policy %.4f significantly below always Mens %.4f", lIPS.Value, mIPS.Value)
	}
	if math.Abs(lIPS.Value-lDR.Value) > 2*lIPS.SE {
		t.Errorf("IPS %.4f and DR %.4f disagree", lIPS.Value, lDR.Value)
	}
}
