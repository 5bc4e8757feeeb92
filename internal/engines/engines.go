// Package engines starts real Redis and NATS (JetStream) servers for
// tests: each on a free loopback port, with its data in the test's
// temporary directory, stopped by t.Cleanup. Tests of the cluster path use
// it to run against the servers they talk to in production, and to stop,
// kill and restart them.
//
// It is not a way to run servers outside tests, and it starts no cluster:
// one process per call.
//
// Binaries are looked up on PATH, then in $(go env GOPATH)/bin,
// $HOME/go/bin and /root/go/bin. A missing binary skips the test, except
// when the environment has CI=true: then it fails it, so that CI never
// passes by skipping.
package engines

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Timeouts of the helpers.
const (
	// ReadyTimeout is how long Start waits for a server to accept
	// connections.
	ReadyTimeout = 10 * time.Second
	// StopTimeout is how long Stop waits after SIGTERM before it kills.
	StopTimeout = 10 * time.Second
)

// Server is one server process started for a test. Its methods must be
// called from the test's goroutine (they fail the test with t.Fatal), and
// not concurrently with each other.
type Server struct {
	// Addr is the server's host:port, the same across restarts.
	Addr string
	// URL is nats://Addr or redis://Addr.
	URL string
	// Dir is the server's data directory (in the test's TempDir).
	Dir string
	// LogPath is the file that receives the server's stdout and stderr,
	// appended to across restarts.
	LogPath string

	t     testing.TB
	name  string
	bin   string
	args  func(port int) []string
	ready func(ctx context.Context, addr string) error
	port  int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Redis starts a redis-server on a free 127.0.0.1 port with its data in a
// temporary directory: appendonly yes, appendfsync everysec (as
// deploy/redis.conf), no RDB
// snapshots. t.Cleanup stops it.
func Redis(t testing.TB) *Server {
	t.Helper()
	bin := lookup(t, "redis-server")
	dir := t.TempDir()
	s := &Server{
		t: t, name: "redis-server", bin: bin, Dir: dir,
		LogPath: filepath.Join(dir, "redis-server.log"),
		args: func(port int) []string {
			return []string{
				"--bind", "127.0.0.1",
				"--port", strconv.Itoa(port),
				"--dir", dir,
				"--appendonly", "yes",
				"--appendfsync", "everysec",
				"--save", "",
				"--daemonize", "no",
				"--logfile", "",
			}
		},
		ready: redisReady,
	}
	s.startNew("redis")
	return s
}

// NATS starts a nats-server with JetStream on a free 127.0.0.1 port, its
// store in a temporary directory: file storage with sync_interval always,
// so that an acknowledged message is fsynced. t.Cleanup stops it.
func NATS(t testing.TB) *Server {
	t.Helper()
	bin := lookup(t, "nats-server")
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats-server.conf")
	s := &Server{
		t: t, name: "nats-server", bin: bin, Dir: dir,
		LogPath: filepath.Join(dir, "nats-server.log"),
		args: func(port int) []string {
			cfg := fmt.Sprintf("listen: \"127.0.0.1:%d\"\nserver_name: \"engines_%d\"\njetstream {\n  store_dir: %q\n  sync_interval: always\n}\n",
				port, port, filepath.Join(dir, "jetstream"))
			if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
				t.Fatalf("engines: cannot write %s: %v", conf, err)
			}
			return []string{"-c", conf}
		},
		ready: natsReady,
	}
	s.startNew("nats")
	return s
}

// lookup finds a server binary, or skips the test (fails it under CI=true).
func lookup(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	var dirs []string
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			dirs = append(dirs, filepath.Join(d, "bin"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	dirs = append(dirs, "/root/go/bin")
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	msg := fmt.Sprintf("engines: %s not found on PATH nor in %s", name, strings.Join(dirs, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: failing instead of skipping)")
	}
	t.Skip(msg)
	return ""
}

// startNew picks a port and starts the server, trying other ports if
// the process exits before it is ready (another process may have taken
// the port between picking and binding), and registers the cleanup.
func (s *Server) startNew(scheme string) {
	s.t.Helper()
	s.t.Cleanup(s.cleanup)
	var err error
	for range 3 {
		s.port, err = freePort()
		if err != nil {
			s.t.Fatalf("engines: cannot find a free port: %v", err)
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
		s.URL = scheme + "://" + s.Addr
		if err = s.start(); err == nil {
			return
		}
	}
	s.t.Fatalf("engines: cannot start %s: %v\n%s", s.name, err, s.logTail())
}

// Start starts the server again on the same port and data directory,
// after Stop or Kill, and waits until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		s.t.Fatalf("engines: %s at %s is already running", s.name, s.Addr)
	}
	// The old process's socket may linger briefly; retry a few times.
	var err error
	for range 3 {
		if err = s.start(); err == nil {
			return
		}
	}
	s.t.Fatalf("engines: cannot restart %s at %s: %v\n%s", s.name, s.Addr, err, s.logTail())
}

func (s *Server) start() error {
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("cannot open log file: %w", err)
	}
	defer logf.Close() // the child holds its own descriptor
	fmt.Fprintf(logf, "=== engines: starting %s on %s at %s\n", s.name, s.Addr, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(s.bin, s.args(s.port)...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()

	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	for {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		err = s.ready(rctx, s.Addr)
		rcancel()
		if err == nil {
			break
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited before it was ready (%s): %w", s.name, cmd.ProcessState, err)
		case <-ctx.Done():
			signalGroup(cmd, syscall.SIGKILL)
			<-done
			return fmt.Errorf("%s not ready after %v: %w", s.name, ReadyTimeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// Stop sends SIGTERM and waits for the server to exit (a graceful
// shutdown); after StopTimeout it kills it. It does nothing to a stopped
// server.
func (s *Server) Stop() {
	s.t.Helper()
	s.stop(syscall.SIGTERM)
}

// Kill sends SIGKILL (to the server's process group) and waits for it to
// exit: a crash, as far as the server's data is concerned.
func (s *Server) Kill() {
	s.t.Helper()
	s.stop(syscall.SIGKILL)
}

func (s *Server) stop(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	signalGroup(cmd, sig)
	select {
	case <-done:
	case <-time.After(StopTimeout):
		s.t.Logf("engines: %s did not exit %v after %v; killing it", s.name, sig, StopTimeout)
		signalGroup(cmd, syscall.SIGKILL)
		<-done
	}
}

func (s *Server) cleanup() {
	s.stop(syscall.SIGTERM)
	if s.t.Failed() {
		s.t.Logf("engines: %s log (%s):\n%s", s.name, s.LogPath, s.logTail())
	}
}

// signalGroup signals the process group the server leads (Setpgid), so
// that anything it started goes too.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil {
		cmd.Process.Signal(sig)
	}
}

// logTail returns the last lines of the server's log.
func (s *Server) logTail() string {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const max = 4 << 10
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// redisReady sends PING and wants +PONG (not -LOADING while the AOF is
// read back).
func redisReady(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// natsReady connects and asks JetStream for the account's info: it
// answers once JetStream has restored its streams.
func natsReady(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	c.Close()
	nc, err := nats.Connect("nats://"+addr, nats.NoReconnect(), nats.Timeout(time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("jetstream not ready: %w", err)
	}
	return nil
}
