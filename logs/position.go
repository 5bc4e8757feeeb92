package logs

import (
	"fmt"
	"math"
)

// PositionModel is the position-based model (PBM) of rewards in ranked,
// multi-slot decisions: the expected reward of action a shown in slot k
// of a decision with context x is
//
//	E[r | x, a, k] = θₖ · ρ(x, a)
//
// where θₖ (Exam[k]) is the chance that slot k is looked at, relative to
// slot 0 (θ₀ = 1), and ρ(x, a) is the action's reward when it is, what a
// model should learn and rank by (Craswell et al. 2008; Chuklin, Markov &
// de Rijke 2015, "Click models for web search"). A reward logged in a
// low slot then says less about the action than one logged in slot 0,
// and a learner that ignores it mistakes "was shown low" for "is bad".
//
// RowBuilder.SetPositions applies it where logged decisions become
// learning rows: the row of the action in slot k is multiplied by θₖ.
// For a linear model ρ = wᵀx that makes E[r | row] = wᵀ(θₖx), so least
// squares on the scaled rows (ridge, as batch training and the online
// learner fit it) estimates w of the relevance itself, and the scores
// served, wᵀx, are slot 0's. A slot-0 row is unchanged, so a single-slot
// decision learns exactly as without the model. The model assumes a
// reward of 0 when the slot is not looked at: keep the default reward 0.
//
// EstimatePositions estimates θ from the logged decisions themselves.
type PositionModel struct {
	// Exam[k] is θₖ for slot k; Exam[0] is 1. Slots past the last
	// entry take the last one.
	Exam []float64 `json:"exam" yaml:"exam"`
	// SE[k] is the standard error of Exam[k] when it was estimated (0
	// for slot 0); nil when the model was given.
	SE []float64 `json:"se,omitempty" yaml:"se,omitempty"`
	// Decisions[k] is the number of decisions with a slot k that the
	// estimate used.
	Decisions []int `json:"decisions,omitempty" yaml:"decisions,omitempty"`
}

// NewPositionModel returns the model with the given examination factors,
// or an error wrapping ErrInvalidConfig unless exam[0] is 1 and every
// factor is finite and > 0 (above 1 is allowed: a slot looked at more
// than the first).
func NewPositionModel(exam []float64) (*PositionModel, error) {
	if len(exam) == 0 || exam[0] != 1 {
		return nil, fmt.Errorf("%w: position model %v: slot 0's factor must be 1", ErrInvalidConfig, exam)
	}
	for k, v := range exam {
		if !(v > 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: position model: slot %d's factor %v is not finite and > 0", ErrInvalidConfig, k, v)
		}
	}
	return &PositionModel{Exam: append([]float64(nil), exam...)}, nil
}

// SlateShares splits a reward given for a whole slate (an outcome posted
// with "slate": true) over its n returned slots: slot k's share is its
// examination factor over their sum, θₖ / Σⱼ θⱼ (equal shares, 1/n,
// without a model). Under the model the slate's expected reward is
// Σ θₖ ρ(aₖ), so a slot looked at more takes more of the credit; the
// shares add to 1, so the per-slot rewards add to the slate's (what the
// pseudo-inverse estimator evaluates) and an experiment's value is
// counted once. The split is a credit assignment, not an estimate of each
// action's own effect: per-slot outcomes, where the channel has them, are
// better evidence.
func SlateShares(n int, m *PositionModel) []float64 {
	w := make([]float64, n)
	var sum float64
	for k := range w {
		w[k] = m.Factor(k)
		sum += w[k]
	}
	for k := range w {
		w[k] /= sum
	}
	return w
}

// Factor is θ for slot k: 1 for slot 0 (and for a nil model), the last
// factor past the last slot.
func (m *PositionModel) Factor(k int) float64 {
	if m == nil || k <= 0 || len(m.Exam) == 0 {
		return 1
	}
	return m.Exam[min(k, len(m.Exam)-1)]
}

// EstimatePositions estimates the examination factors of slots 1 …
// slots−1 from joined decisions that the logging policy ranked at random
// with known propensities (every candidate left has a positive
// probability in every slot: ε-greedy, softmax and Thompson do), using
// only what the journal logs: each slot's conditional propensity
// pₖ = μ(aₖ | x, a₀..aₖ₋₁), the eligible set's size m and the rewards.
//
// The uniformly random ranking puts a uniformly drawn eligible action in
// every slot, so under the PBM its expected reward in slot k is θₖ · ρ̄,
// ρ̄ the mean of ρ(x, a) over the eligible set. Its slot-k reward is
// estimated from the log with the cumulative weight Wₖ = ∏ⱼ≤ₖ
// (1/(m − j)) / pⱼ (exact, since a slot's reward depends on its own
// action only), self-normalised, and θₖ is the ratio to slot 0's:
//
//	θ̂ₖ = [Σ Wₖ rₖ / Σ Wₖ] / [Σ W₀ r₀ / Σ W₀]
//
// over the decisions that have a slot k. SE[k] comes from the delta
// method over those decisions. It returns an error wrapping
// ErrInvalidConfig when fewer than two decisions have a slot k, or slot
// 0's rewards are all 0.
func EstimatePositions(joined []Joined, slots int) (*PositionModel, error) {
	if slots < 1 {
		return nil, fmt.Errorf("%w: %d slots", ErrInvalidConfig, slots)
	}
	type dec struct {
		w, r []float64 // per slot: cumulative weight and reward
	}
	var ds []dec
	for i := range joined {
		j := &joined[i]
		d := &j.Decision
		m := len(d.Eligible)
		n := min(slots, len(d.Actions), len(j.Rewards), m)
		if n == 0 {
			continue
		}
		dd := dec{w: make([]float64, 0, n), r: make([]float64, 0, n)}
		W := 1.0
		for k := range n {
			p := d.Actions[k].Propensity
			if !(p > 0 && p <= 1) || !j.Shown(k) { // (a slot never activated has no reward to weigh)
				break
			}
			W *= 1 / float64(m-k) / p
			dd.w = append(dd.w, W)
			dd.r = append(dd.r, j.Rewards[k])
		}
		if len(dd.w) > 0 {
			ds = append(ds, dd)
		}
	}
	pm := &PositionModel{Exam: []float64{1}, SE: []float64{0}}
	for k := 0; k < slots; k++ {
		// the decisions with a slot k, and slot 0's and slot k's
		// self-normalised means over them
		var a0, c0, ak, ck float64
		var used []int
		for i, d := range ds {
			if len(d.w) <= k {
				continue
			}
			used = append(used, i)
			a0 += d.w[0] * d.r[0]
			c0 += d.w[0]
			ak += d.w[k] * d.r[k]
			ck += d.w[k]
		}
		n := len(used)
		pm.Decisions = append(pm.Decisions, n)
		if k == 0 {
			continue
		}
		if n < 2 {
			return nil, fmt.Errorf("%w: estimating the position model: %d decisions have a slot %d", ErrInvalidConfig, n, k)
		}
		v0, vk := a0/c0, ak/ck
		if !(v0 > 0) {
			return nil, fmt.Errorf("%w: estimating the position model: slot 0's rewards average %v, not > 0", ErrInvalidConfig, v0)
		}
		theta := vk / v0
		// influence of decision i on θ = vk/v0, with vₛ = Aₛ/Cₛ:
		// (Wₖ(rₖ − vk)/Cₖ − θ·W₀(r₀ − v0)/C₀)/v0, the means per decision
		mc0, mck := c0/float64(n), ck/float64(n)
		var s, s2 float64
		for _, i := range used {
			d := ds[i]
			psi := (d.w[k]*(d.r[k]-vk)/mck - theta*d.w[0]*(d.r[0]-v0)/mc0) / v0
			s += psi
			s2 += psi * psi
		}
		mean := s / float64(n)
		sd := math.Sqrt(max(0, (s2-float64(n)*mean*mean)/float64(n-1)))
		pm.Exam = append(pm.Exam, theta)
		pm.SE = append(pm.SE, sd/math.Sqrt(float64(n)))
	}
	for k, v := range pm.Exam {
		if !(v > 0) {
			return nil, fmt.Errorf("%w: estimating the position model: slot %d's factor %v is not > 0 (no rewards in that slot)", ErrInvalidConfig, k, v)
		}
	}
	return pm, nil
}
