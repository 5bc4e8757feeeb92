package decide

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"nextbest/models"
)

// ExplorerKind names an exploration strategy.
type ExplorerKind string

// The explorers. Each turns the candidates' scores into a probability for
// every remaining candidate, per slot, and draws from it.
const (
	// EpsilonGreedy puts the best-scored remaining action in the slot with
	// probability 1-ε and a uniformly drawn remaining one with probability
	// ε (which may also be the best): p = (1-ε)·[best] + ε/n. With UCB
	// scores (Alpha > 0) this is LinUCB with ε-exploration.
	EpsilonGreedy ExplorerKind = "epsilon_greedy"
	// Softmax draws with p ∝ exp(score/Temperature) (Plackett–Luce over
	// the slots).
	Softmax ExplorerKind = "softmax"
	// Thompson draws, per slot, one sample of every remaining candidate's
	// score from its posterior N(c·mean, (c·V·std)²), c = value × weight,
	// and puts the largest in the slot: linear Thompson sampling with
	// independent per-candidate posteriors. The probabilities are
	// integrated numerically (models.Argmax, to 1e-6) and the slot is
	// drawn from them, which is the same distribution.
	Thompson ExplorerKind = "thompson"
)

// Explorer configures how scores are formed and explored: the kind of
// exploration and its parameters. It is one part of what serves a
// decision (the model is the other): the "policy" of Result.Policy and of
// an experiment arm names the whole.
type Explorer struct {
	Kind ExplorerKind `json:"kind" yaml:"kind"`
	// Epsilon is the uniform-exploration share of EpsilonGreedy (0.1 when
	// no Kind is given); it is also used by the fallback ranking.
	Epsilon float64 `json:"epsilon,omitempty" yaml:"epsilon"`
	// Alpha multiplies the posterior std in the UCB score of EpsilonGreedy
	// and Softmax: estimate = mean + Alpha·std (default 0: greedy on the
	// mean; LinUCB uses ~0.5-2).
	Alpha float64 `json:"alpha,omitempty" yaml:"alpha"`
	// Temperature of Softmax, in score units (default 1).
	Temperature float64 `json:"temperature,omitempty" yaml:"temperature"`
	// V scales the posterior std of Thompson (default 1).
	V float64 `json:"v,omitempty" yaml:"v"`
}

// NewExplorer returns p with its defaults filled in, or an error naming what
// is out of range.
func NewExplorer(p Explorer) (Explorer, error) {
	err := p.setDefaults()
	return p, err
}

func (p *Explorer) setDefaults() error {
	switch p.Kind {
	case "":
		// no explorer named: ε-greedy with 10% exploration. An explicit
		// epsilon_greedy keeps the epsilon given, 0 included (greedy: no
		// exploration, propensity 1 for the top action — fine for a target
		// policy in off-policy evaluation, a bad idea for a serving one).
		p.Kind = EpsilonGreedy
		if p.Epsilon == 0 {
			p.Epsilon = 0.1
		}
	case EpsilonGreedy, Softmax, Thompson:
	default:
		return fmt.Errorf("unknown explorer %q (want epsilon_greedy, softmax or thompson)", p.Kind)
	}
	if p.Temperature == 0 {
		p.Temperature = 1
	}
	if p.V == 0 {
		p.V = 1
	}
	switch {
	case !(p.Epsilon >= 0 && p.Epsilon <= 1):
		return fmt.Errorf("epsilon must be in [0,1], got %v", p.Epsilon)
	case !(p.Alpha >= 0) || math.IsInf(p.Alpha, 0):
		return fmt.Errorf("alpha must be >= 0, got %v", p.Alpha)
	case !(p.Temperature > 0) || math.IsInf(p.Temperature, 0):
		return fmt.Errorf("temperature must be > 0, got %v", p.Temperature)
	case !(p.V > 0) || math.IsInf(p.V, 0):
		return fmt.Errorf("v must be > 0, got %v", p.V)
	}
	return nil
}

// String describes the explorer for the journal, e.g. "epsilon_greedy(0.1)".
func (p Explorer) String() string {
	switch p.Kind {
	case EpsilonGreedy:
		return fmt.Sprintf("epsilon_greedy(eps=%g,alpha=%g)", p.Epsilon, p.Alpha)
	case Softmax:
		return fmt.Sprintf("softmax(t=%g,alpha=%g)", p.Temperature, p.Alpha)
	case Thompson:
		return fmt.Sprintf("thompson(v=%g)", p.V)
	}
	return string(p.Kind)
}

// ParseExplorer is the inverse of String: it reads the explorer a
// decision logged ("epsilon_greedy(eps=0.1,alpha=0)", "softmax(t=1,
// alpha=0)", "thompson(v=1)") back, with its defaults filled in, so that
// off-policy evaluation can recompute what the logging policy did. A
// string String would not write is an error.
func ParseExplorer(s string) (Explorer, error) {
	var p Explorer
	var n int
	var err error
	switch {
	case strings.HasPrefix(s, string(EpsilonGreedy)+"("):
		p.Kind = EpsilonGreedy
		n, err = fmt.Sscanf(s, "epsilon_greedy(eps=%g,alpha=%g)", &p.Epsilon, &p.Alpha)
	case strings.HasPrefix(s, string(Softmax)+"("):
		p.Kind = Softmax
		n, err = fmt.Sscanf(s, "softmax(t=%g,alpha=%g)", &p.Temperature, &p.Alpha)
	case strings.HasPrefix(s, string(Thompson)+"("):
		p.Kind = Thompson
		n, err = fmt.Sscanf(s, "thompson(v=%g)", &p.V)
	default:
		return Explorer{}, fmt.Errorf("unknown explorer %q", s)
	}
	if err != nil || n == 0 {
		return Explorer{}, fmt.Errorf("explorer %q: %v", s, err)
	}
	if err := p.setDefaults(); err != nil {
		return Explorer{}, fmt.Errorf("explorer %q: %v", s, err)
	}
	if p.String() != s {
		return Explorer{}, fmt.Errorf("explorer %q does not read back (as %q)", s, p.String())
	}
	return p, nil
}

// slotProbs writes into probs[i] the probability that candidate i (of the
// n remaining) is put in the next slot, from their deterministic scores,
// for the explorers other than Thompson (whose probabilities come from
// models.Argmax over the posteriors).
func (p *Explorer) slotProbs(probs, score []float64) {
	n := len(probs)
	if n == 1 {
		probs[0] = 1
		return
	}
	switch p.Kind {
	case Softmax:
		mx := math.Inf(-1)
		for _, s := range score {
			mx = max(mx, s)
		}
		var z float64
		for i, s := range score {
			probs[i] = math.Exp((s - mx) / p.Temperature)
			z += probs[i]
		}
		for i := range probs {
			probs[i] /= z
		}
	default: // EpsilonGreedy
		best := argmax(score)
		u := p.Epsilon / float64(n)
		for i := range probs {
			probs[i] = u
		}
		probs[best] += 1 - p.Epsilon
	}
}

// argmax returns the index of the largest value, the lowest index on ties.
func argmax(v []float64) int {
	best := 0
	for i := 1; i < len(v); i++ {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

// Draw returns an index drawn from the distribution probs (which sums to 1
// up to rounding); it never returns an index of zero probability. It is
// how the engine draws each slot from the probabilities it logs, exported
// for callers that replay those probabilities with their own randomness.
func Draw(r *rand.Rand, probs []float64) int {
	u := r.Float64()
	last := -1
	for i, p := range probs {
		if p <= 0 {
			continue
		}
		last = i
		if u < p {
			return i
		}
		u -= p
	}
	return last
}

// FirstSlotProbabilities writes into dst the probability that explorer p
// puts each candidate in the first slot, given the scorer's posterior
// means and stds and c = value × weight per candidate: the same numbers
// the engine logs as slot-0 propensities (Slate gives the later slots').
// Off-policy evaluation uses it to ask what a candidate policy would have
// done on logged decisions. p must have its defaults filled in
// (NewExplorer).
func (p Explorer) FirstSlotProbabilities(dst, mean, std, c []float64) {
	n := len(dst)
	score := make([]float64, n)
	m := make([]float64, n)
	sd := make([]float64, n)
	for i := range n {
		est := mean[i]
		if p.Kind != Thompson {
			est += p.Alpha * std[i]
		}
		score[i] = est * c[i]
		m[i] = c[i] * mean[i]
		sd[i] = c[i] * p.V * std[i]
	}
	if p.Kind == Thompson {
		models.ArgmaxProbs(dst, m, sd, make([]float64, models.ArgmaxScratchLen(n)))
		return
	}
	p.slotProbs(dst, score)
}
