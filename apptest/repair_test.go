package apptest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"nextbest/journal"
)

// TestJournalRepairPath walks the operator's documented way out of a
// damaged journal with the real binary: a service acknowledges 200 events
// and stops; one byte in the middle of its only segment flips; the
// service refuses to start (it used to cut every record after the flip
// and go on); journal verify names the damage; journal repair keeps every
// valid record; the service starts again, hands out the next LSN (never a
// reused one), and a state rebuilt from the repaired journal holds every
// event but the damaged one.
func TestJournalRepairPath(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	p := startServing(t, data, "--profiles", "none")
	const n = 200
	for i := range n {
		code, out, err := p.post("/v1/events", map[string]any{"customer_id": fmt.Sprintf("c-%d", i), "type": "page_view", "channel": "web"})
		if err != nil || code != 202 {
			t.Fatalf("event %d: %d %v %v", i, code, out, err)
		}
	}
	p.stop()

	jdir := filepath.Join(data, "journal")
	segs, err := filepath.Glob(filepath.Join(jdir, "*"+journal.SegmentExt))
	if err != nil || len(segs) != 1 {
		t.Fatalf("want one segment, have %v (%v)", segs, err)
	}
	raw, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	end := len(bytes.TrimRight(raw, "\x00")) // the segment is preallocated: data, then zeros
	flipByte(t, segs[0], int64(end/2))

	line := serveFails(t, "serve", "--data", data, "--addr", freeAddr(t), "--profiles", "none")
	for _, want := range []string{segs[0], "journal verify", "journal repair"} {
		if !strings.Contains(line, want) {
			t.Errorf("the refusal does not mention %q: %s", want, line)
		}
	}

	out, err := exec.Command(binary, "journal", "verify", "--data", data).CombinedOutput()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("journal verify on a damaged journal: %v, want exit 1\n%s", err, out)
	}
	t.Logf("verify:\n%s", out)
	out = []byte(runCLI(t, "journal", "repair", "--data", data))
	t.Logf("repair:\n%s", out)
	runCLI(t, "journal", "verify", "--data", data)

	p = startServing(t, data, "--profiles", "none")
	code, ack, err := p.post("/v1/events", map[string]any{"customer_id": "c-new", "type": "page_view", "channel": "web"})
	if err != nil || code != 202 {
		t.Fatalf("event after repair: %d %v %v", code, ack, err)
	}
	if lsn := ack["lsn"]; lsn != float64(n+1) {
		t.Errorf("the first record after repair got LSN %v, want %d (LSNs are never reused)", lsn, n+1)
	}
	p.stop()

	// rebuild the state from the repaired journal
	if err := os.RemoveAll(filepath.Join(data, "state")); err != nil {
		t.Fatal(err)
	}
	p = startServing(t, data, "--profiles", "none")
	if code, st := p.get("/v1/stats"); code != 200 || st["events"] != float64(n) {
		t.Errorf("after a rebuild: %d events applied, want %d (200 acknowledged + 1 after the repair − 1 damaged): %v", int(asFloat(st["events"])), n, st)
	}
	p.stop()
}

func asFloat(v any) float64 {
	f, _ := v.(float64)
	return f
}
