package attribution_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"nextbest/attribution"
)

// TestRemovalEffectsByHand: three paths, A → conv, A → B → conv,
// B → null. Transitions: start → A 2/3, start → B 1/3, A → conv 1/2,
// A → B 1/2, B → conv 1/2, B → null 1/2. So h(B) = 1/2,
// h(A) = 1/2 + 1/2·h(B) = 3/4 and P = 2/3·3/4 + 1/3·1/2 = 2/3.
// Without A: P = 1/3·1/2 = 1/6, removal effect 1 − (1/6)/(2/3) = 3/4.
// Without B: h(A) = 1/2, P = 2/3·1/2 = 1/3, removal effect 1/2.
func TestRemovalEffectsByHand(t *testing.T) {
	c := attribution.NewChain()
	c.Add([]string{"A"}, true)
	c.Add([]string{"A", "B"}, true)
	c.Add([]string{"B"}, false)
	c.Add(nil, true) // a conversion nothing touched: not in the chain
	fit, err := c.RemovalEffects()
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][2]float64{
		"P": {fit.Conversion, 2.0 / 3}, "A": {fit.Removal["A"], 0.75}, "B": {fit.Removal["B"], 0.5},
	} {
		if math.Abs(got[0]-got[1]) > 1e-12 {
			t.Errorf("%s = %v, by hand %v", name, got[0], got[1])
		}
	}
	if fit.Paths != 3 {
		t.Errorf("paths %d, want 3", fit.Paths)
	}
}

// TestRemovalEffectsDirect checks the fundamental-matrix shortcut
// (P₋ₖ = P − f·h[k]) against the definition on random chains: the
// removed key made absorbing in null (its row of I − Q replaced by a unit
// row, its conversion probability 0) and the system solved again.
func TestRemovalEffectsDirect(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	keys := []string{"a", "b", "c", "d", "e", "f"}
	for trial := range 20 {
		c := attribution.NewChain()
		type path struct {
			keys []string
			conv bool
		}
		var paths []path
		for range 30 + r.IntN(50) {
			p := path{conv: r.Float64() < 0.4}
			for range 1 + r.IntN(6) {
				p.keys = append(p.keys, keys[r.IntN(len(keys))])
			}
			paths = append(paths, p)
			c.Add(p.keys, p.conv)
		}
		fit, err := c.RemovalEffects()
		if err != nil {
			t.Fatal(err)
		}
		// the chain by counting, again
		states := map[string]int{}
		for _, k := range c.Keys() {
			states[k] = len(states) + 1
		}
		n := len(states) + 1
		cnt := mat.NewDense(n, n+2, nil) // last two columns: conv, null
		for _, p := range paths {
			from := 0
			for _, k := range p.keys {
				cnt.Set(from, states[k], cnt.At(from, states[k])+1)
				from = states[k]
			}
			end := n + 1
			if p.conv {
				end = n
			}
			cnt.Set(from, end, cnt.At(from, end)+1)
		}
		solve := func(removed int) float64 {
			a := mat.NewDense(n, n, nil)
			b := mat.NewVecDense(n, nil)
			for i := range n {
				a.Set(i, i, 1)
				if i == removed {
					continue
				}
				tot := mat.Sum(cnt.RowView(i))
				for j := range n {
					a.Set(i, j, a.At(i, j)-cnt.At(i, j)/tot)
				}
				b.SetVec(i, cnt.At(i, n)/tot)
			}
			var x mat.VecDense
			if err := x.SolveVec(a, b); err != nil {
				t.Fatal(err)
			}
			return x.AtVec(0)
		}
		p := solve(-1)
		if math.Abs(p-fit.Conversion) > 1e-9 {
			t.Errorf("trial %d: P = %v, direct %v", trial, fit.Conversion, p)
		}
		for k, s := range states {
			want := 1 - solve(s)/p
			if math.Abs(fit.Removal[k]-want) > 1e-9 {
				t.Errorf("trial %d: removal effect of %s = %v, direct %v", trial, k, fit.Removal[k], want)
			}
		}
	}
}
