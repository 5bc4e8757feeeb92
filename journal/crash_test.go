package journal_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"nextbest/journal"
)

// crashDirEnv names the journal directory of the crash child; set only in
// the child process.
const crashDirEnv = "JOURNAL_CRASH_CHILD_DIR"

// crashPayload is what goroutine g writes as its k-th record.
func crashPayload(g, k int) []byte {
	return fmt.Appendf(nil, `{"g":%d,"k":%d,"pad":"%s"}`, g, k, strings.Repeat("x", (g*31+k)%200))
}

// TestCrashChild is the child of TestCrash: it appends as fast as it can
// from several goroutines and prints "LSN G K" for each acknowledged
// record, until the parent kills it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrash only")
	}
	j, err := journal.Open(journal.Config{Dir: dir, SegmentBytes: 64 << 10, Preallocate: os.Getenv(crashPreallocEnv) == "1"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for k := 0; ; k++ {
				lsn, err := j.Append(context.Background(), journal.TypeEvent, time.Now(), crashPayload(g, k))
				if err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(2)
				}
				line := fmt.Sprintf("%d %d %d\n", lsn, g, k)
				mu.Lock()
				os.Stdout.WriteString(line) // one write: the line is whole or absent
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestCrash kills a real appending process with SIGKILL mid-flight, several
// times, and checks that every LSN it printed as acknowledged is present
// and intact after recovery.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, prealloc := range []bool{false, true} {
		t.Run(fmt.Sprintf("preallocate=%v", prealloc), func(t *testing.T) { crashRounds(t, prealloc) })
	}
}

// crashPreallocEnv tells the child to preallocate its segments.
const crashPreallocEnv = "NEXTBEST_JOURNAL_CRASH_PREALLOC"

func crashRounds(t *testing.T, prealloc bool) {
	dir := t.TempDir()
	env := "0"
	if prealloc {
		env = "1"
	}
	acked := make(map[uint64]string)
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashPreallocEnv+"="+env)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(out)
		lines, killed := 0, false
		for {
			line, err := br.ReadString('\n')
			if err == io.EOF {
				break // a partial last line (no newline) is not an acknowledgement
			}
			if err != nil {
				t.Fatal(err)
			}
			f := strings.Fields(line)
			if len(f) != 3 {
				// the test framework's "PASS" etc. cannot appear: the child never returns
				t.Fatalf("round %d: child printed %q", round, line)
			}
			lsn, _ := strconv.ParseUint(f[0], 10, 64)
			g, _ := strconv.Atoi(f[1])
			k, _ := strconv.Atoi(f[2])
			if _, dup := acked[lsn]; dup {
				t.Fatalf("round %d: LSN %d acknowledged twice", round, lsn)
			}
			acked[lsn] = string(crashPayload(g, k))
			lines++
			if lines == 3000+round*1000 && !killed {
				if err := cmd.Process.Kill(); err != nil { // SIGKILL
					t.Fatal(err)
				}
				killed = true // keep reading what it printed before dying
			}
		}
		cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child exited by itself after %d lines", round, lines)
		}

		j, err := journal.Open(journal.Config{Dir: dir, SegmentBytes: 64 << 10, Preallocate: prealloc})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		found := 0
		err = j.Replay(0, func(r journal.Record) error {
			if want, ok := acked[r.LSN]; ok {
				if string(r.Payload) != want {
					return fmt.Errorf("LSN %d: payload %q, want %q", r.LSN, r.Payload, want)
				}
				found++
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if found != len(acked) {
			t.Fatalf("round %d: %d of %d acknowledged records found (LastLSN %d)", round, found, len(acked), j.LastLSN())
		}
		t.Logf("round %d: %d acknowledged this round, LastLSN %d after recovery, %d segments", round, lines, j.LastLSN(), len(segments(t, dir)))
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
