package apptest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// vwLog writes n cb_adf examples (8 shared features, 5 actions of 3) to
// a file and returns its path.
func vwLog(t *testing.T, n int) string {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString("shared |s")
		for j := 0; j < 8; j++ {
			fmt.Fprintf(&b, " s%d:%.3f", j, r.NormFloat64())
		}
		b.WriteString("\n")
		c := r.IntN(5)
		for a := 0; a < 5; a++ {
			if a == c {
				fmt.Fprintf(&b, "0:%d:0.2 ", -r.IntN(2))
			}
			fmt.Fprintf(&b, "|a a0:%d a1:%.1f a2:%.1f\n", a, float64(a)/4, float64(5-a)/3)
		}
		b.WriteString("\n")
	}
	path := filepath.Join(t.TempDir(), "log.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// progressiveLines returns the "progressive loss" and "cache" lines of a
// "train --progressive" output.
func progressiveLines(out string) (loss, cache string) {
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "progressive loss\t"):
			loss = l
		case strings.HasPrefix(l, "cache\t"):
			cache = l
		}
	}
	return loss, cache
}

// TestTrainVWCache: "train --progressive --model sgd -c" writes
// FILE.cache on the first run and reads it on the next, with the text's
// progressive loss; --cache_file names the cache; a truncated cache is
// rebuilt; the flags are refused where there is no cb_adf SGD run.
func TestTrainVWCache(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	path := vwLog(t, 2000)
	args := []string{"train", "--cb-adf", path, "--progressive", "--model", "sgd", "--interactions", "sa"}
	want, _ := progressiveLines(runCLI(t, args...))
	if want == "" {
		t.Fatal("no progressive loss printed")
	}
	check := func(step, out, cache string) {
		t.Helper()
		loss, c := progressiveLines(out)
		if loss != want || !strings.HasPrefix(c, cache) {
			t.Errorf("%s: %q, %q; want %q, %q…", step, loss, c, want, cache)
		}
	}
	auto := path + ".cache"
	check("-c, first run", runCLI(t, append(args, "-c")...), "cache\twritten "+auto+" (no cache)")
	check("-c, second run", runCLI(t, append(args, "-c")...), "cache\tread "+auto)
	b, err := os.ReadFile(auto)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(auto, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	check("-c, truncated", runCLI(t, append(args, "-c")...), "cache\twritten "+auto+" (")
	check("-c, rebuilt", runCLI(t, append(args, "-c")...), "cache\tread "+auto)

	named := filepath.Join(t.TempDir(), "named.cache")
	check("--cache_file", runCLI(t, append(args, "--cache_file", named)...), "cache\twritten "+named)
	check("--cache_file again", runCLI(t, append(args, "--cache_file", named)...), "cache\tread "+named)
	out := runCLI(t, append(args, "--cache_file", named, "--parse-only")...)
	if !strings.Contains(out, "examples\t2000\n") || !strings.Contains(out, "cache\tread "+named) {
		t.Errorf("--parse-only from the cache:\n%s", out)
	}

	bad, err := exec.Command(binary, "train", "--cb-adf", path, "--progressive", "--model", "ridge", "-c").CombinedOutput()
	if err == nil || !strings.Contains(string(bad), "--cache_file and -c") {
		t.Errorf("ridge with -c: %v\n%s", err, bad)
	}
}
