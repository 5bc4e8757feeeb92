package tmpfs

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

func mount(t testing.TB, dir string, size int, readOnly bool) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var flags uintptr
	if readOnly {
		flags = syscall.MS_RDONLY
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, fmt.Sprintf("size=%d", size)); err != nil {
		cannot(t, dir, err)
	}
	t.Cleanup(func() {
		// detached: a file the test left open must not keep the volume
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}
