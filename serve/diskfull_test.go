//go:build linux

package serve_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"nextbest/internal/tmpfs"
	"nextbest/journal"
)

// TestDiskFull puts the journal on a small tmpfs and fills it: writes
// answer 503 with Retry-After and no file path, /readyz answers 503, and
// once space is freed the service takes writes again by itself. After a
// restart every acknowledged event is in the journal.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	tmpfs.Mount(t, jdir, 4<<20)
	cfg := retailConfig(dir)
	in := start(t, cfg)

	// fill the volume, leaving a little room
	filler := filepath.Join(jdir, "filler")
	fillVolume(t, filler, 64<<10)

	event := func(i int) (int, string, string) {
		resp, body := in.raw("POST", "/v1/events", fmt.Sprintf(`{"customer_id":"c-%04d","type":"page_view","properties":{"page":"p%05d-%s"}}`, 1+i%200, i, strings.Repeat("x", 200)))
		return resp.StatusCode, resp.Header.Get("Retry-After"), body
	}
	acked, i := 0, 0
	for ; ; i++ {
		code, retry, body := event(i)
		if code == 202 {
			acked++
			continue
		}
		if code != 503 || retry == "" {
			t.Fatalf("event on a full disk: %d (Retry-After %q): %s", code, retry, body)
		}
		if strings.Contains(body, dir) || strings.Contains(body, "/") {
			t.Errorf("the 503 shows a path: %s", body)
		}
		break
	}
	if acked == 0 {
		t.Fatal("the volume was full before the first event: make the filler smaller")
	}
	if resp, body := in.raw("GET", "/readyz", ""); resp.StatusCode != 503 {
		t.Errorf("/readyz on a full disk: %d %s", resp.StatusCode, body)
	}
	// the next write is refused again, and fast (no queueing behind the failure)
	if code, _, _ := event(i + 1); code != 503 {
		t.Errorf("second write on a full disk: %d", code)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		i++
		code, _, body := event(i)
		if code == 202 {
			acked++
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery within 15s after freeing space: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp, body := in.raw("GET", "/readyz", ""); resp.StatusCode != 200 {
		t.Errorf("/readyz after recovery: %d %s", resp.StatusCode, body)
	}
	for range 20 {
		i++
		if code, _, body := event(i); code != 202 {
			t.Fatalf("event after recovery: %d %s", code, body)
		}
		acked++
	}
	in.stop()

	// every acknowledged event is in the journal, LSNs without gaps
	j, err := journal.Open(journal.Config{Dir: jdir})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	events := 0
	var prev uint64
	if err := j.Replay(0, func(r journal.Record) error {
		if r.LSN != prev+1 {
			return fmt.Errorf("LSN %d after %d", r.LSN, prev)
		}
		prev = r.LSN
		if r.Type == journal.TypeEvent {
			events++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if events != acked {
		t.Errorf("journal holds %d events, %d were acknowledged", events, acked)
	}
}

// fillVolume writes path until the volume has less than room bytes free.
func fillVolume(t *testing.T, path string, room int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		var st syscall.Statfs_t
		if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
			t.Fatal(err)
		}
		if int64(st.Bavail)*int64(st.Bsize) < room {
			return
		}
		if _, err := f.Write(buf); err != nil {
			return
		}
	}
}
