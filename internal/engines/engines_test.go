package engines_test

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"nextbest/internal/engines"
)

// redisDo sends one inline command and returns its reply, flattened:
// the elements of an array joined by spaces.
func redisDo(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	var read func() string
	read = func() string {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		line = strings.TrimSpace(line)
		switch line[0] {
		case '$':
			if line == "$-1" {
				return "(nil)"
			}
			data, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSuffix(data, "\r\n")
		case '*':
			n, _ := strconv.Atoi(line[1:])
			var parts []string
			for range n {
				parts = append(parts, read())
			}
			return strings.Join(parts, " ")
		}
		return line
	}
	return read()
}

func TestRedisRestart(t *testing.T) {
	s := engines.Redis(t)
	if !strings.HasPrefix(s.URL, "redis://127.0.0.1:") {
		t.Fatalf("URL = %q", s.URL)
	}
	if got := redisDo(t, s.Addr, "CONFIG GET appendfsync"); got != "appendfsync everysec" {
		t.Fatalf("CONFIG GET appendfsync = %q", got)
	}
	if got := redisDo(t, s.Addr, "CONFIG GET save"); got != "save " {
		t.Fatalf("CONFIG GET save = %q, want no snapshots", got)
	}
	if got := redisDo(t, s.Addr, "CONFIG GET appendonly"); got != "appendonly yes" {
		t.Fatalf("CONFIG GET appendonly = %q", got)
	}
	if got := redisDo(t, s.Addr, "SET k v1"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	s.Stop()
	if _, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		t.Fatal("redis still accepts connections after Stop")
	}
	s.Start()
	if got := redisDo(t, s.Addr, "GET k"); got != "v1" {
		t.Fatalf("GET after Stop/Start = %q, want v1", got)
	}
	// the AOF is written before the answer: an acknowledged write
	// survives SIGKILL (fsync matters only for a machine crash).
	if got := redisDo(t, s.Addr, "SET k v2"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	s.Kill()
	s.Start()
	if got := redisDo(t, s.Addr, "GET k"); got != "v2" {
		t.Fatalf("GET after Kill/Start = %q, want v2", got)
	}
}

func TestNATSRestart(t *testing.T) {
	s := engines.NATS(t)
	if !strings.HasPrefix(s.URL, "nats://127.0.0.1:") {
		t.Fatalf("URL = %q", s.URL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	publish := func(data string) uint64 {
		t.Helper()
		nc, err := nats.Connect(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t"}, Storage: jetstream.FileStorage}); err != nil {
			t.Fatal(err)
		}
		ack, err := js.Publish(ctx, "t", []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	last := func() uint64 {
		t.Helper()
		nc, err := nats.Connect(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		st, err := js.Stream(ctx, "T")
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.LastSeq
	}
	if seq := publish("a"); seq != 1 {
		t.Fatalf("first seq = %d", seq)
	}
	s.Stop()
	if _, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		t.Fatal("nats still accepts connections after Stop")
	}
	s.Start()
	if got := last(); got != 1 {
		t.Fatalf("last seq after Stop/Start = %d, want 1", got)
	}
	// sync_interval always: an acknowledged message survives SIGKILL.
	if seq := publish("b"); seq != 2 {
		t.Fatalf("second seq = %d", seq)
	}
	s.Kill()
	s.Start()
	if got := last(); got != 2 {
		t.Fatalf("last seq after Kill/Start = %d, want 2", got)
	}
}
