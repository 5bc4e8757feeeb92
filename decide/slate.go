package decide

import "nextbest/models"

// Slate computes an explorer's probabilities slot by slot for one
// decision, exactly as the engine does: Reset with every candidate, then
// Probabilities for the candidates left before each slot. For Thompson the
// slots share one quadrature grid (models.Argmax), so a later slot's
// numbers are the engine's bit for bit, while FirstSlotProbabilities over
// the remaining candidates (a grid of their own) agrees with them only to
// within models.ArgmaxTolerance (~1e-9 measured). Off-policy evaluation of
// later slots uses it to reproduce logged propensities.
//
// The zero value is ready to use. A Slate keeps its buffers from one
// Reset to the next (it allocates only to grow them) and is for one
// goroutine at a time.
type Slate struct {
	p                 Explorer
	score, tMean, tSd []float64
	rScore            []float64
	argmax            *models.Argmax
}

// Reset starts a decision over candidates with the scorer's posterior
// means and stds and c = value × weight per candidate. p must have its
// defaults filled in (NewExplorer). The slices are not kept.
func (s *Slate) Reset(p Explorer, mean, std, c []float64) {
	n := len(mean)
	s.p = p
	s.score, s.rScore = grow(s.score, n), grow(s.rScore, n)
	for i := range n {
		est := mean[i]
		if p.Kind != Thompson {
			est += p.Alpha * std[i]
		}
		s.score[i] = est * c[i]
	}
	if p.Kind != Thompson || n < 2 {
		return
	}
	s.tMean, s.tSd = grow(s.tMean, n), grow(s.tSd, n)
	for i := range n {
		s.tMean[i] = c[i] * mean[i]
		s.tSd[i] = c[i] * p.V * std[i]
	}
	if s.argmax == nil {
		s.argmax = models.NewArgmax(n)
	}
	s.argmax.Reset(s.tMean, s.tSd)
}

// ResetScores starts a decision ranked by given scores instead of a
// scorer's posteriors (apprentice mode's baseline): for an explorer that
// ranks by score, not Thompson. The slice is not kept.
func (s *Slate) ResetScores(p Explorer, score []float64) {
	if p.Kind == Thompson {
		panic("BUG: decide.Slate.ResetScores with Thompson, which needs posteriors")
	}
	s.p = p
	s.score, s.rScore = grow(s.score, len(score)), grow(s.rScore, len(score))
	copy(s.score, score)
}

// Probabilities writes into dst[j] the probability that the explorer puts
// candidate rem[j] (an index into Reset's slices) in the next slot when
// only the candidates rem are left. Call it slot after slot, rem losing
// the candidate placed each time, as the engine does.
func (s *Slate) Probabilities(dst []float64, rem []int) {
	m := len(rem)
	if s.p.Kind == Thompson && m > 1 {
		s.argmax.Probs(dst, rem)
		return
	}
	r := s.rScore[:m]
	for j, i := range rem {
		r[j] = s.score[i]
	}
	s.p.slotProbs(dst, r)
}
