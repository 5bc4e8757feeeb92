package logthrottle

import (
	"testing"
	"time"
)

func TestAllow(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	th := New(10 * time.Second)
	th.now = func() time.Time { return now }
	step := func(key string, wantOK bool, wantHeld int) {
		t.Helper()
		ok, held := th.Allow(key)
		if ok != wantOK || held != wantHeld {
			t.Fatalf("Allow(%q) at %s = %v, %d; want %v, %d", key, now.Format(time.TimeOnly), ok, held, wantOK, wantHeld)
		}
	}
	step("disk", true, 0) // the first passes
	step("disk", false, 0)
	step("disk", false, 0)
	step("poison", true, 0) // keys are independent
	now = now.Add(9 * time.Second)
	step("disk", false, 0)
	now = now.Add(time.Second)
	step("disk", true, 3) // one per interval, with the count held back
	step("poison", true, 0)
}
