//go:build race

package decide_test

// raceEnabled: the race detector drops sync.Pool items at random, so
// allocation counts are not meaningful under it.
const raceEnabled = true
