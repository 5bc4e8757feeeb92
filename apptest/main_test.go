package apptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// binary is the nextbest binary built once for the package's tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nextbest-apptest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "nextbest")
	build := exec.Command("go", "build", "-o", binary, "nextbest/cmd/nextbest")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot build nextbest:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a nextbest process.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	log  *bytes.Buffer
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServer runs "nextbest serve" on data dir and waits until /readyz.
func startServer(t *testing.T, data string, args ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	s := &server{t: t, base: "http://" + addr, log: new(bytes.Buffer)}
	s.cmd = exec.Command(binary, append([]string{"serve", "--data", data, "--addr", addr}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready after 30s; log:\n%s", s.log)
		}
		time.Sleep(20 * time.Millisecond) // polling a process we do not control
	}
}

func (s *server) kill() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// post sends body as JSON and decodes the answer. A 503 means "not
// recorded, retry" (a shed request, or a decision whose journal commit
// outlasted its budget on a loaded machine): post retries it a few times,
// as a channel system does.
func (s *server) post(path string, body any) (int, map[string]any, error) {
	data, _ := json.Marshal(body)
	for try := 1; ; try++ {
		resp, err := http.Post(s.base+path, "application/json", bytes.NewReader(data))
		if err != nil {
			return 0, nil, err
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return resp.StatusCode, nil, err
		}
		var out map[string]any
		json.Unmarshal(raw, &out)
		if resp.StatusCode != http.StatusServiceUnavailable || try == 5 {
			return resp.StatusCode, out, nil
		}
		time.Sleep(50 * time.Millisecond) // Retry-After, shortened for tests
	}
}

func (s *server) get(path string) (int, map[string]any) {
	s.t.Helper()
	resp, err := http.Get(s.base + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// runCLI runs the nextbest binary with args, failing t if it fails, and
// returns what it printed.
func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nextbest %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
