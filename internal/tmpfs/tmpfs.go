// Package tmpfs mounts small tmpfs volumes for tests that need a real file
// system to fill or to find read-only (disk-full and startup tests in
// journal, serve and apptest). It is test plumbing, not part of the
// service.
//
// Mounting needs root (CAP_SYS_ADMIN) on Linux. Where it cannot mount, a
// test is skipped, except under CI=true, where the fault must be tested
// and the test fails instead.
package tmpfs

import (
	"os"
	"testing"
)

// Mount mounts a tmpfs of size bytes on dir (created if need be) until the
// test ends.
func Mount(t testing.TB, dir string, size int) {
	t.Helper()
	mount(t, dir, size, false)
}

// MountReadOnly is Mount of a read-only tmpfs.
func MountReadOnly(t testing.TB, dir string, size int) {
	t.Helper()
	mount(t, dir, size, true)
}

// cannot skips t, or fails it under CI=true, because no tmpfs could be
// mounted on dir.
func cannot(t testing.TB, dir string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("cannot mount a tmpfs on %s: %v", dir, err)
	}
	t.Skipf("cannot mount a tmpfs (needs root): %v", err)
}
