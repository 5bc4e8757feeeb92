package personalizer

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"slices"
)

// Seed returns the generator of an event's draws: seeded by the SHA-256
// of its id, so that one event id always draws the same.
func Seed(eventID string) *rand.Rand {
	h := sha256.Sum256([]byte(eventID))
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(h[:8]), binary.LittleEndian.Uint64(h[8:16])))
}

// Probabilities writes into probs[i] the probability that candidate i is
// chosen: the best-scored one among those not excluded (the earliest on
// ties) gets 1−eps, each of the other K−1 eps/(K−1), an excluded one 0.
// With baseline ≥ 0 the candidates' scores are ignored and baseline gets
// 1 (the Apprentice and LoggingOnly modes). It returns the index of the
// best (or the baseline), -1 when every candidate is excluded.
func Probabilities(probs, scores []float64, excluded []bool, eps float64, baseline int) int {
	clear(probs)
	if baseline >= 0 {
		probs[baseline] = 1
		return baseline
	}
	best, k := -1, 0
	for i := range scores {
		if excluded[i] {
			continue
		}
		k++
		if best < 0 || scores[i] > scores[best] {
			best = i
		}
	}
	switch {
	case k == 0:
		return -1
	case k == 1:
		probs[best] = 1
		return best
	}
	u := eps / float64(k-1)
	for i := range probs {
		if !excluded[i] {
			probs[i] = u
		}
	}
	probs[best] = 1 - eps
	return best
}

// Order returns the order of a ranking: the candidates by score, the
// best first, ties in request order (so a model that knows nothing ranks
// them as the request listed them). Excluded candidates keep their place
// by score; their probability is 0.
func Order(scores []float64) []int {
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return 0
	})
	return order
}
