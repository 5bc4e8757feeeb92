package training_test

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"nextbest/training"
)

// goldenLog writes a cb_adf log that exercises what the reader and the
// learner special-case: more names than slots (hashed slots), a second
// action namespace, zero, tiny (|x| < 1e-19) and long-mantissa values,
// unlabelled examples and a varying number of actions.
func goldenLog(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x901d))
	val := func() string {
		switch r.IntN(20) {
		case 0:
			return "0"
		case 1:
			return "1e-21"
		case 2:
			return strconv.FormatFloat(r.NormFloat64(), 'g', -1, 64) // 17 digits: strconv's path
		case 3:
			return "" // no value: 1
		}
		return strconv.FormatFloat(math.Round(r.NormFloat64()*1000)/1000, 'g', -1, 64)
	}
	feat := func(b []byte, name string) []byte {
		if v := val(); v != "" {
			return fmt.Appendf(b, " %s:%s", name, v)
		}
		return fmt.Appendf(b, " %s", name)
	}
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, "shared |s"...)
		for j := 0; j < 12; j++ {
			b = feat(b, "s"+strconv.Itoa(r.IntN(40)))
		}
		b = append(b, '\n')
		k := 3 + r.IntN(4)
		c := r.IntN(k)
		if r.IntN(10) == 0 {
			c = -1 // unlabelled
		}
		for a := 0; a < k; a++ {
			if a == c {
				b = fmt.Appendf(b, "%d:%d:%g ", a, -r.IntN(2), 0.1+0.1*float64(r.IntN(9)))
			}
			b = append(b, "|a"...)
			for j := 0; j < 3; j++ {
				b = fmt.Appendf(b, " a%d_%d:%g", a, j, float64((a*7+j*3)%11)/10-0.5)
			}
			if a%2 == 0 {
				b = append(b, " |b"...)
				b = feat(b, "b"+strconv.Itoa(r.IntN(9)))
			}
			b = append(b, '\n')
		}
		b = append(b, '\n')
	}
	return b
}

// sgdFingerprint is what a progressive run must reproduce bit for bit:
// the losses' bits, the example count and an FNV-1a hash of the weights'
// bits.
func sgdFingerprint(res training.ProgressiveResult, m *training.SGD) string {
	h := fnv.New64a()
	for _, w := range m.Weights() {
		var b [8]byte
		u := math.Float64bits(w)
		for i := range b {
			b[i] = byte(u >> (8 * i))
		}
		h.Write(b[:])
	}
	return fmt.Sprintf("n=%d loss=%016x random=%016x updates=%d w=%016x",
		res.Examples, math.Float64bits(res.Loss), math.Float64bits(res.Random), m.Updates(), h.Sum64())
}

// TestProgressiveSGDGolden pins the progressive loss and the weights of
// the SGD learner, bit for bit, to what they were before the reader and
// the learner were tuned (and the binary cache added): speed-ups must not
// change a single result.
func TestProgressiveSGDGolden(t *testing.T) {
	check := func(name string, data []byte, cfg training.SGDConfig, want string) {
		t.Helper()
		res, m, err := training.ProgressiveSGD(bytes.NewReader(data), cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := sgdFingerprint(res, m); got != want {
			t.Errorf("%s: got  %s\n want %s", name, got, want)
		}
	}
	data := goldenLog(3000, 1)
	for _, c := range []struct {
		name string
		cfg  training.SGDConfig
		want string
	}{
		{"linear", training.SGDConfig{SharedDim: 16, ActionDim: 8}, "n=2698 loss=bfd5cf38535ab37a random=bfd77a4570989243 updates=2690 w=5a29485e3288e8f7"},
		{"sa", training.SGDConfig{SharedDim: 16, ActionDim: 8, Interactions: []string{"sa"}}, "n=2698 loss=bfd5497a2ab513af random=bfd77a4570989243 updates=2653 w=902c281bc7dfe9e5"},
		{"sa,sb", training.SGDConfig{SharedDim: 32, ActionDim: 4, Interactions: []string{"sa", "sb"}, LearningRate: 0.3}, "n=2698 loss=bfd3cb80c06598a6 random=bfd77a4570989243 updates=2675 w=6cc24ebfc5a9c602"},
		{"wide", training.SGDConfig{SharedDim: 64, ActionDim: 16, Interactions: []string{"sa"}}, "n=2698 loss=bfd6ef0b4f978f63 random=bfd77a4570989243 updates=2601 w=ab8c20ca5b024183"},
	} {
		check(c.name, data, c.cfg, c.want)
	}
	// the benchmark's shape: 10 actions, 64 shared and 8 action features, -q sa
	check("gencb", clickLog(2000, 10, 64, 8, 1), training.SGDConfig{Interactions: []string{"sa"}},
		"n=2000 loss=bfe7d70a3d70a3d7 random=bfd5f3b645a1cac1 updates=1613 w=abb3bb0e4c65a049")
}
