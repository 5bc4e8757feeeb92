package apptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"nextbest/internal/tmpfs"
	"nextbest/journal"
)

// TestStartupErrors runs "nextbest serve" with one bad setup per case and
// checks that it fails the way an operator can act on: exit status 1, one
// line on stderr that names the file and the problem, and no panic.
func TestStartupErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	retail := func(t *testing.T, name string) string {
		t.Helper()
		data, err := os.ReadFile(filepath.Join("..", "examples", "retail", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	// write writes a file under dir and returns its path.
	write := func(t *testing.T, dir, name, content string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// replace replaces old, which must occur in s, by new in its first place.
	replace := func(t *testing.T, s, old, new string) string {
		t.Helper()
		if !strings.Contains(s, old) {
			t.Fatalf("the retail sample no longer holds %q: update the case", old)
		}
		return strings.Replace(s, old, new, 1)
	}

	// Each setup prepares dir (dir/data is the data dir) and returns the
	// flags after "serve --data dir/data --addr 127.0.0.1:0 --profiles
	// none" (a repeated flag overrides) and the strings the error line
	// must hold.
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string) (args, want []string)
	}{
		{"catalog with an undeclared channel", func(t *testing.T, dir string) ([]string, []string) {
			p := write(t, dir, "catalog.yaml", replace(t, retail(t, "catalog.yaml"), "channels: [web, app]\n", "channels: [web, fax]\n"))
			return []string{"--catalog", p}, []string{"catalog " + p + ": ", `channel "fax"`}
		}},
		{"empty catalog", func(t *testing.T, dir string) ([]string, []string) {
			p := write(t, dir, "catalog.yaml", "")
			return []string{"--catalog", p}, []string{"catalog " + p + ": ", "empty"}
		}},
		{"catalog without actions", func(t *testing.T, dir string) ([]string, []string) {
			p := write(t, dir, "catalog.yaml", "version: 1\nchannels: [web]\nactions: []\n")
			return []string{"--catalog", p}, []string{"catalog " + p + ": ", "actions"}
		}},
		{"feature spec that is not YAML", func(t *testing.T, dir string) ([]string, []string) {
			p := write(t, dir, "features.yaml", "vector: [\n")
			return []string{"--features", p}, []string{"feature spec " + p + ": ", "YAML"}
		}},
		{"feature spec with a bad field", func(t *testing.T, dir string) ([]string, []string) {
			p := write(t, dir, "features.yaml", replace(t, retail(t, "features.yaml"), "type: onehot,", "type: onehotx,"))
			return []string{"--features", p}, []string{"feature spec " + p + ": ", `unknown type "onehotx"`}
		}},
		{"feature spec without features", func(t *testing.T, dir string) ([]string, []string) {
			spec := retail(t, "features.yaml")
			i := strings.Index(spec, "\n  features:\n")
			if i < 0 {
				t.Fatal("the retail feature spec no longer has vector.features: update the case")
			}
			p := write(t, dir, "features.yaml", spec[:i+1]+"  features: []\n")
			return []string{"--features", p}, []string{"feature spec " + p + ": ", "vector.features"}
		}},
		{"experiment arm model:7 without a registry", func(t *testing.T, dir string) ([]string, []string) {
			p := write(t, dir, "experiments.yaml", `experiments:
  - name: champion
    start: 2024-01-01T00:00:00Z
    primary_metric: conversion
    arms:
      - {name: online, policy: online, share: 1}
      - {name: v7, policy: "model:7", share: 1}
`)
			return []string{"--experiments", p}, []string{"experiments " + p + ": ", "model:7", "registry"}
		}},
		{"corrupt older journal segment", func(t *testing.T, dir string) ([]string, []string) {
			first := writeJournal(t, filepath.Join(dir, "data", "journal"))
			flipByte(t, first, journal.SegmentHeaderSize+journal.FrameHeaderSize) // the first frame's payload
			return nil, []string{filepath.Base(first), "offset"}
		}},
		{"unreadable config file", func(t *testing.T, dir string) ([]string, []string) {
			p := filepath.Join(dir, "missing.yaml")
			return []string{"--config", p}, []string{"config " + p + ": ", "no such file"}
		}},
		{"config with wrong types", func(t *testing.T, dir string) ([]string, []string) {
			p := write(t, dir, "nextbest.yaml", "max_body_bytes: [1, 2]\nseed: abc\n")
			return []string{"--config", p}, []string{"config " + p + ": ", "cannot unmarshal", "line 2"}
		}},
		{"config with a bad explorer", func(t *testing.T, dir string) ([]string, []string) {
			p := write(t, dir, "nextbest.yaml", "explorer: {kind: greedyish}\n")
			return []string{"--config", p}, []string{"config " + p + ": explorer: ", "greedyish"}
		}},
		{"config with a bad explorer under its former key, policy", func(t *testing.T, dir string) ([]string, []string) {
			p := write(t, dir, "nextbest.yaml", "policy: {kind: greedyish}\n")
			return []string{"--config", p}, []string{"config " + p + ": explorer: ", "greedyish"}
		}},
		{"config with both explorer and policy", func(t *testing.T, dir string) ([]string, []string) {
			p := write(t, dir, "nextbest.yaml", "explorer: {kind: softmax}\npolicy: {kind: thompson}\n")
			return []string{"--config", p}, []string{"config " + p + ": ", "explorer and policy"}
		}},
		{"unreadable profiles", func(t *testing.T, dir string) ([]string, []string) {
			p := filepath.Join(dir, "profiles.jsonl")
			return []string{"--profiles", p}, []string{"profiles " + p + ": ", "no such file"}
		}},
		{"unknown flag", func(t *testing.T, dir string) ([]string, []string) {
			return []string{"--bogus"}, []string{"-bogus"}
		}},
		{"data dir that is a regular file", func(t *testing.T, dir string) ([]string, []string) {
			p := write(t, dir, "data", "")
			return nil, []string{"data dir " + p + ": ", "not a directory"}
		}},
		{"data dir on a read-only file system", func(t *testing.T, dir string) ([]string, []string) {
			ro := filepath.Join(dir, "ro")
			if err := os.Mkdir(ro, 0o755); err != nil {
				t.Fatal(err)
			}
			tmpfs.MountReadOnly(t, ro, 1<<20)
			return []string{"--data", filepath.Join(ro, "data")}, []string{"data dir " + filepath.Join(ro, "data") + ": ", "read-only file system"}
		}},
		{"listen address in use", func(t *testing.T, dir string) ([]string, []string) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			return []string{"--addr", ln.Addr().String()}, []string{ln.Addr().String(), "address already in use"}
		}},
		{"second instance on a locked data dir", func(t *testing.T, dir string) ([]string, []string) {
			first := startServing(t, filepath.Join(dir, "data"), "--profiles", "none")
			t.Cleanup(func() { // after the second: the first is unharmed
				if code, _ := first.get("/readyz"); code != 200 {
					t.Errorf("the first instance answers /readyz %d after the second failed", code)
				}
				first.stop()
			})
			return nil, []string{"data dir " + filepath.Join(dir, "data") + " is in use", "LOCK"}
		}},
		{"state store ahead of the journal", func(t *testing.T, dir string) ([]string, []string) {
			data := filepath.Join(dir, "data")
			srv := startServing(t, data, "--profiles", "none")
			for range 3 {
				code, out, err := srv.post("/v1/events", map[string]any{"customer_id": "c-1", "type": "page_view", "channel": "app"})
				if err != nil || code != 202 {
					t.Fatalf("event: %d %v %v", code, out, err)
				}
			}
			srv.stop()
			segs, err := filepath.Glob(filepath.Join(data, "journal", "*.seg"))
			if err != nil || len(segs) == 0 {
				t.Fatalf("no journal segments in %s (%v)", data, err)
			}
			for _, s := range segs {
				if err := os.Remove(s); err != nil {
					t.Fatal(err)
				}
			}
			return nil, []string{"journal", "applied LSN 3"}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args, want := c.setup(t, dir)
			args = append([]string{"serve", "--data", filepath.Join(dir, "data"), "--addr", "127.0.0.1:0", "--profiles", "none"}, args...)
			line := serveFails(t, args...)
			for _, w := range want {
				if !strings.Contains(line, w) {
					t.Errorf("the error does not say %q:\n%s", w, line)
				}
			}
		})
	}
}

// TestStartupSmallDisk starts the service on a 2 MiB tmpfs with journal
// preallocation on (nextbest serve's default, 64 MiB a segment): the
// journal must fall back to growing its segment, not refuse to start.
func TestStartupSmallDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	tmpfs.Mount(t, dir, 2<<20)
	srv := startServing(t, filepath.Join(dir, "data"), "--profiles", "none")
	code, out, err := srv.post("/v1/events", map[string]any{"customer_id": "c-1", "type": "page_view", "channel": "app"})
	if err != nil || code != 202 {
		t.Errorf("event on a small disk: %d %v %v", code, out, err)
	}
	srv.stop()
}

// serveFails runs the binary with args, expects it to exit with status 1
// within 10 s, printing one line on stderr and nothing on stdout, and
// returns that line.
func serveFails(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	all := stdout.String() + stderr.String()
	if strings.Contains(all, "panic:") || strings.Contains(all, "goroutine ") {
		t.Fatalf("nextbest panicked:\n%s", all)
	}
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("nextbest %s: %v, want exit status 1; output:\n%s", strings.Join(args, " "), err, all)
	}
	if stdout.Len() > 0 {
		t.Errorf("stdout is not empty:\n%s", &stdout)
	}
	lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "nextbest: ") {
		t.Fatalf("stderr is not one line starting with \"nextbest: \":\n%s", &stderr)
	}
	t.Log(lines[0])
	return lines[0]
}

// process is a nextbest serve process started by startServing.
type process struct {
	*server
	done chan struct{} // closed when the process has exited
	err  error         // its exit, once done is closed
}

// startServing runs "nextbest serve" on data dir and waits until /readyz
// answers 200, like startServer, but fails at once if the process exits
// first, and gives it 10 s, not 30.
func startServing(t *testing.T, data string, args ...string) *process {
	t.Helper()
	addr := freeAddr(t)
	p := &process{server: &server{t: t, base: "http://" + addr, log: new(bytes.Buffer)}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, append([]string{"serve", "--data", data, "--addr", addr}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("nextbest serve exited before it was ready: %v\n%s", p.err, p.log)
		default:
		}
		if resp, err := client.Get(p.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			p.cmd.Process.Kill()
			<-p.done
			t.Fatalf("nextbest serve not ready after 10s; log:\n%s", p.log)
		}
		time.Sleep(20 * time.Millisecond) // polling a process we do not control
	}
}

// stop stops the process with SIGTERM and waits for a clean exit.
func (p *process) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	if p.err != nil {
		p.t.Fatalf("graceful shutdown: %v\n%s", p.err, p.log)
	}
}

// writeJournal writes a journal of a few segments to dir with the journal
// package and returns the path of its first segment.
func writeJournal(t *testing.T, dir string) string {
	t.Helper()
	j, err := journal.Open(journal.Config{Dir: dir, NoSync: true, SegmentBytes: 256})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		typ, payload, err := journal.Encode(journal.Event{CustomerID: fmt.Sprintf("c-%d", i), Type: "page_view", Channel: "app", Time: ts})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := j.Append(context.Background(), typ, ts, payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(dir, "*"+journal.SegmentExt))
	if err != nil || len(segs) < 2 {
		t.Fatalf("want 2+ journal segments, have %v (%v)", segs, err)
	}
	return segs[0] // names sort in LSN order
}

// flipByte inverts the byte at off in the file at path.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}
