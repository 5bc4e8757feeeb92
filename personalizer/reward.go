package personalizer

// Fold combines the rewards of one slot of an event, in the order they
// were recorded, by aggregation a; ok is false when there is none.
func (a Aggregation) Fold(values []float64) (v float64, ok bool) {
	if len(values) == 0 {
		return 0, false
	}
	switch a {
	case Average, Sum:
		var s float64
		for _, x := range values {
			s += x
		}
		if a == Average {
			s /= float64(len(values))
		}
		return s, true
	}
	return values[0], true // Earliest, and an unknown name read from an old record
}

// Learned is the reward an active slot is learned with: its rewards
// folded by aggregation, or defaultReward when it has none. The state
// applier hands the learner the changes of this value (an activation
// adds the row with it, each later reward the difference it makes), so
// the model's statistics always equal a fit on the final rewards.
func Learned(a Aggregation, defaultReward float64, values []float64) float64 {
	if v, ok := a.Fold(values); ok {
		return v
	}
	return defaultReward
}

// MaxRewards is how many rewards of one event count; later ones are
// accepted and ignored (an event is one interaction: more are a bug of
// the caller, and they would grow its state without bound).
const MaxRewards = 64
