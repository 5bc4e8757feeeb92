//go:build !linux

package tmpfs

import (
	"errors"
	"testing"
)

func mount(t testing.TB, dir string, size int, readOnly bool) {
	t.Helper()
	cannot(t, dir, errors.New("tmpfs mounts only on Linux"))
}
