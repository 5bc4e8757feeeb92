package apptest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEraseKillNine: the service is killed with SIGKILL at random moments
// after erasures are acknowledged — before, during or after the purge
// rewrites the journal and compacts the state — and restarted each time.
// Every erased customer stays erased (profile 404, a second erasure 404),
// the journal verifies, and within the delay after the last restart no
// file of the data directory holds an erased customer's id or attribute
// value, while the kept customer's are still there.
func TestEraseKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "nextbest.yaml")
	write(t, cfg, "profiles: none\nerasure_delay: 300ms\n")
	srv := startServer(t, data, "--config", cfg)
	const n = 5
	cust := func(i int) string { return fmt.Sprintf("erase-k9-%d", i) }
	for i := -1; i < n; i++ {
		c, region := cust(i), fmt.Sprintf("Zyzzo-K9-%d", i)
		if i < 0 {
			c, region = "keep-k9", "Keepsake-K9"
		}
		if code, out, err := srv.post("/v1/events", map[string]any{"customer_id": c, "type": "profile_update", "properties": map[string]any{"region": region}}); err != nil || code != 202 {
			t.Fatalf("event: %d %v %v", code, out, err)
		}
		for range 20 {
			if code, out, err := srv.post("/v1/decide", map[string]any{"customer_id": c, "channel": "web", "context": map[string]any{"campaign": "cmp-" + c}}); err != nil || code != 200 {
				t.Fatalf("decide: %d %v %v", code, out, err)
			}
		}
	}
	del := func(s *server, c string) int {
		req, _ := http.NewRequest("DELETE", s.base+"/v1/customers/"+c, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	r := rand.New(rand.NewPCG(9, 9))
	for i := range n {
		if code := del(srv, cust(i)); code != 202 {
			t.Fatalf("erase %s: %d", cust(i), code)
		}
		time.Sleep(time.Duration(r.IntN(500)) * time.Millisecond) // the purge runs 150–450 ms after
		srv.kill()
		srv = startServer(t, data, "--config", cfg)
		for j := 0; j <= i; j++ {
			if code, _ := srv.get("/v1/profiles/" + cust(j)); code != 404 {
				t.Fatalf("after kill %d: the profile of erased %s answers %d", i, cust(j), code)
			}
			if code := del(srv, cust(j)); code != 404 {
				t.Fatalf("after kill %d: erasing %s again answers %d, want 404", i, cust(j), code)
			}
		}
	}
	if code, _ := srv.get("/v1/profiles/keep-k9"); code != 200 {
		t.Fatalf("the kept customer's profile: %d", code)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := grepData(t, data, "erase-k9-", "Zyzzo-K9-")
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still in the data directory: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(grepData(t, filepath.Join(data, "journal"), "keep-k9")) == 0 {
		t.Fatal("the kept customer is in no journal file: the search finds nothing")
	}
	srv.kill()
	if out := runCLI(t, "journal", "verify", "--data", data); !strings.Contains(out, "clean: no damage") {
		t.Errorf("journal verify:\n%s", out)
	}
}

// grepData returns "file: needle" for each needle in a file under dir.
func grepData(t *testing.T, dir string, needles ...string) []string {
	t.Helper()
	var hits []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				hits = append(hits, filepath.Base(p)+": "+n)
			}
		}
		return nil
	})
	return hits
}
