// Command gencb writes a synthetic contextual-bandit log in Vowpal
// Wabbit's cb_adf text format, for the training throughput and
// progressive-loss comparison in docs/training.md:
//
//	go run ./internal/gencb -n 1000000 -seed 1 > cb.txt
//
// Each example has a shared line with 64 features in namespace s, one line
// per action (10) with 8 features in namespace a (fixed per action), and
// the label "0:cost:0.1" on the action a uniform logging policy chose. The
// click probability is σ(−1.5 + xₛᵀ W xₐ / 4) for a fixed random W, a
// shared×action interaction that VW's -q sa (and nextbest's
// --interactions sa or --per-action) can represent; cost is −1 for a
// click, 0 otherwise.
//
// With -oracle FILE it also writes what a learner that knew W would
// score, for the progressive-loss comparison: the expected cost of the
// truly best action (the best any policy can do on average), the IPS
// progressive loss of that policy on this very log (what VW's and
// nextbest's progressive loss would show for a perfect model, noise
// included), and the expected cost of uniform random. The generated log
// does not depend on -oracle.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
)

func main() {
	n := flag.Int("n", 1000000, "examples")
	actions := flag.Int("actions", 10, "actions per example")
	shared := flag.Int("shared", 64, "shared features")
	af := flag.Int("action-features", 8, "features per action")
	seed := flag.Uint64("seed", 1, "random seed")
	oracle := flag.String("oracle", "", "file to write the true model's losses to")
	flag.Parse()
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	o, err := generate(w, *n, *actions, *shared, *af, *seed)
	if err == nil {
		err = w.Flush()
	}
	if err == nil && *oracle != "" {
		err = os.WriteFile(*oracle, []byte(o.String()), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gencb:", err)
		os.Exit(1)
	}
}

// oracleLoss sums, over examples, the true model's view of the log.
type oracleLoss struct {
	n         int
	best      float64 // expected cost of the truly best action
	bestIPS   float64 // IPS cost of the truly best action on the logged choice
	random    float64 // expected cost of a uniformly random action
	loggedSum float64 // logged cost
}

func (o oracleLoss) String() string {
	n := float64(max(o.n, 1))
	return fmt.Sprintf("examples\t%d\noracle expected loss\t%.6f\noracle progressive (IPS) loss\t%.6f\nrandom expected loss\t%.6f\nlogged mean cost\t%.6f\n",
		o.n, o.best/n, o.bestIPS/n, o.random/n, o.loggedSum/n)
}

func generate(w *bufio.Writer, n, k, ds, da int, seed uint64) (oracleLoss, error) {
	var o oracleLoss
	r := rand.New(rand.NewPCG(seed, 0xcb))
	W := make([]float64, ds*da)
	for i := range W {
		W[i] = r.NormFloat64() / math.Sqrt(float64(da))
	}
	act := make([][]float64, k)
	lines := make([][]byte, k)
	for a := range act {
		act[a] = make([]float64, da)
		b := []byte("|a")
		for j := range act[a] {
			act[a][j] = math.Round(r.NormFloat64()*1000) / 1000
			b = append(b, " a"...)
			b = strconv.AppendInt(b, int64(j), 10)
			b = append(b, ':')
			b = strconv.AppendFloat(b, act[a][j], 'g', -1, 64)
		}
		lines[a] = append(b, '\n')
	}
	xs := make([]float64, ds)
	u := make([]float64, da)
	buf := make([]byte, 0, 4096)
	p := 1 / float64(k)
	for i := 0; i < n; i++ {
		buf = append(buf[:0], "shared |s"...)
		for j := range xs {
			xs[j] = math.Round(r.NormFloat64()*1000) / 1000
			buf = append(buf, " s"...)
			buf = strconv.AppendInt(buf, int64(j), 10)
			buf = append(buf, ':')
			buf = strconv.AppendFloat(buf, xs[j], 'g', -1, 64)
		}
		buf = append(buf, '\n')
		for j := range u {
			u[j] = 0
			for s := range xs {
				u[j] += xs[s] * W[s*da+j]
			}
		}
		chosen := r.IntN(k)
		z := -1.5
		for j := range u {
			z += u[j] * act[chosen][j] / 4
		}
		cost := 0
		if r.Float64() < 1/(1+math.Exp(-z)) {
			cost = -1
		}
		best, bestP, sumP := 0, -1.0, 0.0
		for a := 0; a < k; a++ {
			za := -1.5
			for j := range u {
				za += u[j] * act[a][j] / 4
			}
			pa := 1 / (1 + math.Exp(-za))
			sumP += pa
			if pa > bestP {
				best, bestP = a, pa
			}
		}
		o.n++
		o.best -= bestP
		o.random -= sumP / float64(k)
		o.loggedSum += float64(cost)
		if best == chosen {
			o.bestIPS += float64(cost) / p
		}
		for a := 0; a < k; a++ {
			if a == chosen {
				buf = append(buf, "0:"...)
				buf = strconv.AppendInt(buf, int64(cost), 10)
				buf = append(buf, ':')
				buf = strconv.AppendFloat(buf, p, 'g', -1, 64)
				buf = append(buf, ' ')
			}
			buf = append(buf, lines[a]...)
		}
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return o, err
		}
	}
	return o, nil
}
