package sim

import (
	"math"
	"math/rand/v2"
	"slices"
)

// SlateWorld is a ranking problem with a known truth, for checking
// slate evaluation and position-aware learning: contexts drawn with
// probabilities PX, M candidates, and a position-based model (PBM) of
// clicks. A candidate a shown in slot k in context x is clicked with
// probability
//
//	Exam[k] · Rel[x][a]
//
// (the slot is examined with probability Exam[k], and an examined
// candidate is clicked with its relevance), independently across the
// slots. The slate's reward is its number of clicks, which is additive
// over the slots, as the pseudo-inverse estimator assumes.
//
// A SlateWorld is read-only once made; it is safe for concurrent use.
type SlateWorld struct {
	PX   []float64
	Rel  [][]float64
	Exam []float64
}

// NewSlateWorld draws a world from seed: contexts equally likely,
// relevances uniform in [0.1, 0.7], and the examination probabilities
// exam (exam[0] is normally 1: the top slot is always seen).
func NewSlateWorld(seed uint64, contexts, candidates int, exam []float64) *SlateWorld {
	rng := rand.New(rand.NewPCG(seed, 0x51a7e))
	w := &SlateWorld{PX: make([]float64, contexts), Rel: make([][]float64, contexts), Exam: slices.Clone(exam)}
	for x := range contexts {
		w.PX[x] = 1 / float64(contexts)
		w.Rel[x] = make([]float64, candidates)
		for a := range w.Rel[x] {
			w.Rel[x][a] = 0.1 + 0.6*rng.Float64()
		}
	}
	return w
}

// Slots is the number of slots the world has examination factors for.
func (w *SlateWorld) Slots() int { return len(w.Exam) }

// Candidates is M.
func (w *SlateWorld) Candidates() int { return len(w.Rel[0]) }

// RankingValue is the expected reward (clicks) of showing ranking in
// context x: Σₖ Exam[k] · Rel[x][ranking[k]].
func (w *SlateWorld) RankingValue(x int, ranking []int) float64 {
	var v float64
	for k, a := range ranking {
		v += w.Exam[k] * w.Rel[x][a]
	}
	return v
}

// Oracle is the best ranking of context x: the candidates by relevance,
// highest first, when the examination factors decrease.
func (w *SlateWorld) Oracle(x int) []int {
	r := make([]int, w.Candidates())
	for a := range r {
		r[a] = a
	}
	slices.SortStableFunc(r, func(a, b int) int {
		switch {
		case w.Rel[x][a] > w.Rel[x][b]:
			return -1
		case w.Rel[x][a] < w.Rel[x][b]:
			return 1
		}
		return 0
	})
	return r[:w.Slots()]
}

// OracleValue is the oracle's expected reward per decision.
func (w *SlateWorld) OracleValue() float64 {
	var v float64
	for x, p := range w.PX {
		v += p * w.RankingValue(x, w.Oracle(x))
	}
	return v
}

// PL is a Plackett–Luce ranking policy mixed with uniform exploration:
// slot by slot, among the candidates left, candidate a is drawn with
// probability (1−Eps)·exp(Score[x][a]/Temp)/Z + Eps/(candidates left).
// Eps = 0 and a small Temp approach the deterministic ranking by Score.
type PL struct {
	Score [][]float64
	Temp  float64
	Eps   float64
}

// Next writes the probability of each of the M candidates in slot
// len(prefix) of context x given the candidates prefix in the earlier
// slots (0 for those).
func (p *PL) Next(dst []float64, x int, prefix []int) {
	left := len(dst) - len(prefix)
	mx := math.Inf(-1)
	for a, s := range p.Score[x] {
		if !slices.Contains(prefix, a) {
			mx = max(mx, s)
		}
	}
	var z float64
	for a, s := range p.Score[x] {
		dst[a] = 0
		if !slices.Contains(prefix, a) {
			dst[a] = math.Exp((s - mx) / p.Temp)
			z += dst[a]
		}
	}
	for a := range dst {
		if !slices.Contains(prefix, a) {
			dst[a] = (1-p.Eps)*dst[a]/z + p.Eps/float64(left)
		}
	}
}

// In is p in context x, with the method Next(dst, prefix) that
// eval.SlotConditionals asks for.
func (p *PL) In(x int) PLContext { return PLContext{p, x} }

// PLContext is a PL policy in one context.
type PLContext struct {
	p *PL
	x int
}

// Next is PL.Next in the context.
func (c PLContext) Next(dst []float64, prefix []int) { c.p.Next(dst, c.x, prefix) }

// LoggedSlate is one logged decision of a SlateWorld: the context, the
// ranking shown slot by slot, each slot's conditional propensity (the
// probability of its candidate given the earlier slots, as the engine
// logs it) and each slot's click (0 or 1).
type LoggedSlate struct {
	X      int
	Slate  []int
	Props  []float64
	Clicks []float64
}

// Reward is the slate's reward, its number of clicks.
func (l *LoggedSlate) Reward() float64 {
	var s float64
	for _, c := range l.Clicks {
		s += c
	}
	return s
}

// Log draws one decision of pol: the context, the ranking of Slots()
// slots, and the clicks.
func (w *SlateWorld) Log(rng *rand.Rand, pol *PL) LoggedSlate {
	x := drawIndex(rng, w.PX)
	m, L := w.Candidates(), w.Slots()
	l := LoggedSlate{X: x, Slate: make([]int, 0, L), Props: make([]float64, L), Clicks: make([]float64, L)}
	p := make([]float64, m)
	for k := range L {
		pol.Next(p, x, l.Slate)
		a := drawIndex(rng, p)
		l.Slate = append(l.Slate, a)
		l.Props[k] = p[a]
		if rng.Float64() < w.Exam[k]*w.Rel[x][a] {
			l.Clicks[k] = 1
		}
	}
	return l
}

// Value is pol's exact expected reward per decision and per slot,
// summed over every ranking of positive probability in every context.
func (w *SlateWorld) Value(pol *PL) (total float64, perSlot []float64) {
	m, L := w.Candidates(), w.Slots()
	perSlot = make([]float64, L)
	prefix := make([]int, 0, L)
	var walk func(x int, p float64)
	walk = func(x int, p float64) {
		k := len(prefix)
		if k == L {
			return
		}
		q := make([]float64, m)
		pol.Next(q, x, prefix)
		for a, v := range q {
			if v == 0 {
				continue
			}
			perSlot[k] += p * v * w.Exam[k] * w.Rel[x][a]
			prefix = append(prefix, a)
			walk(x, p*v)
			prefix = prefix[:k]
		}
	}
	for x, px := range w.PX {
		walk(x, px)
	}
	for _, v := range perSlot {
		total += v
	}
	return total, perSlot
}

func drawIndex(rng *rand.Rand, p []float64) int {
	u := rng.Float64()
	last := 0
	for i, v := range p {
		if v <= 0 {
			continue
		}
		last = i
		if u < v {
			return i
		}
		u -= v
	}
	return last
}
