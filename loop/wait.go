package loop

import (
	"context"
	"time"
)

// Counter counts the outcomes a service has recorded so far.
type Counter interface {
	Outcomes(ctx context.Context) (int64, error)
}

// Wait waits for the next turn: every, or as soon as afterOutcomes
// outcomes have been recorded since the count since (when afterOutcomes
// > 0, polling c every poll), whichever comes first. It returns the count
// at the turn (since when it does not count), and ctx's error when ctx
// ends first. A failed count is retried at the next poll: the clock still
// runs.
func Wait(ctx context.Context, every time.Duration, afterOutcomes int64, poll time.Duration, c Counter, since int64) (int64, error) {
	deadline := time.NewTimer(every)
	defer deadline.Stop()
	var tick <-chan time.Time
	if afterOutcomes > 0 && c != nil {
		t := time.NewTicker(poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return since, ctx.Err()
		case <-deadline.C:
			if c != nil {
				if n, err := c.Outcomes(ctx); err == nil {
					return n, nil
				}
			}
			return since, nil
		case <-tick:
			n, err := c.Outcomes(ctx)
			if err == nil && n-since >= afterOutcomes {
				return n, nil
			}
		}
	}
}
