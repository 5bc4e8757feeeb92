package training_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nextbest/training"
)

// writeLog writes data to a file in a fresh directory and returns its
// path and the cache's.
func writeLog(t *testing.T, data []byte) (string, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "log.txt")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, path + ".cache"
}

// sameSlotExample reports whether a and b are equal, values bit for bit.
func sameSlotExample(a, b *training.SlotExample) bool {
	same := func(x, y []training.SlotFeature) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i].Slot != y[i].Slot || x[i].NS != y[i].NS || math.Float64bits(x[i].Value) != math.Float64bits(y[i].Value) {
				return false
			}
		}
		return true
	}
	if a.Chosen != b.Chosen || math.Float64bits(a.Cost) != math.Float64bits(b.Cost) ||
		math.Float64bits(a.Prob) != math.Float64bits(b.Prob) || !same(a.Shared, b.Shared) || len(a.Actions) != len(b.Actions) {
		return false
	}
	for k := range a.Actions {
		if !same(a.Actions[k], b.Actions[k]) {
			return false
		}
	}
	return true
}

// TestCBADFCacheRoundTrip: the cache written on the first pass gives back
// every example of the text, bit for bit, on the second.
func TestCBADFCacheRoundTrip(t *testing.T) {
	data := goldenLog(3000, 2)
	path, cache := writeLog(t, data)
	cfg := training.CBADFReaderConfig{SharedDim: 16, ActionDim: 8}
	for pass, fromCache := range []bool{false, true} {
		rd, err := training.OpenCBADFCached(path, cache, cfg, training.CacheOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rd.FromCache() != fromCache {
			t.Fatalf("pass %d: from cache %v (%s)", pass, rd.FromCache(), rd.Reason())
		}
		text, _ := training.NewCBADFReader(bytes.NewReader(data), cfg)
		n := 0
		for {
			want, werr := text.Next()
			got, gerr := rd.Next()
			if werr == io.EOF && gerr == io.EOF {
				break
			}
			if werr != nil || gerr != nil {
				t.Fatalf("pass %d, example %d: text %v, cached %v", pass, n, werr, gerr)
			}
			if !sameSlotExample(got, want) {
				t.Fatalf("pass %d, example %d:\n got %+v\nwant %+v", pass, n, got, want)
			}
			n++
		}
		if err := rd.Close(); err != nil {
			t.Fatal(err)
		}
		if n != 3000 {
			t.Fatalf("pass %d: %d examples", pass, n)
		}
	}
	// the cache is far smaller than the text when actions repeat
	fi, _ := os.Stat(cache)
	t.Logf("text %d bytes, cache %d", len(data), fi.Size())
}

// TestProgressiveSGDFileCache: progressive validation from the cache is
// the text's, bit for bit (the golden fingerprint), and a cache that is
// truncated, has a byte flipped (in a block or in the header), is stale
// or was written for other dims is rebuilt from the text, never used.
func TestProgressiveSGDFileCache(t *testing.T) {
	data := clickLog(2000, 10, 64, 8, 1)
	cfg := training.SGDConfig{Interactions: []string{"sa"}}
	const want = "n=2000 loss=bfe7d70a3d70a3d7 random=bfd5f3b645a1cac1 updates=1613 w=abb3bb0e4c65a049" // TestProgressiveSGDGolden's
	path, cache := writeLog(t, data)
	run := func(step string, read bool, reason string) {
		t.Helper()
		res, m, rep, err := training.ProgressiveSGDFile(path, cache, cfg)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if got := sgdFingerprint(res, m); got != want {
			t.Errorf("%s: %s, want %s", step, got, want)
		}
		if rep.Read != read || !strings.Contains(rep.Reason, reason) {
			t.Errorf("%s: read %v (%q), want %v (%q)", step, rep.Read, rep.Reason, read, reason)
		}
		if tmp, _ := filepath.Glob(cache + ".tmp*"); len(tmp) > 0 {
			t.Errorf("%s: left %v", step, tmp)
		}
	}
	run("first run", false, "no cache")
	run("second run", true, "")
	valid, err := os.ReadFile(cache)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := func(step string, b []byte, reason string) {
		t.Helper()
		if err := os.WriteFile(cache, b, 0o644); err != nil {
			t.Fatal(err)
		}
		run(step, false, reason)
		run(step+", then", true, "")
	}
	corrupt("truncated", valid[:len(valid)-100], "truncated")
	corrupt("truncated to the header", valid[:72], "truncated")
	corrupt("empty", nil, "shorter than a header")
	flip := func(i int) []byte {
		b := bytes.Clone(valid)
		b[i] ^= 0x10
		return b
	}
	corrupt("byte flipped in the last block", flip(len(valid)-5), "block checksum mismatch")
	corrupt("byte flipped in the first block", flip(200), "block checksum mismatch")
	corrupt("byte flipped in the header", flip(30), "header checksum mismatch")
	corrupt("not a cache", bytes.Repeat([]byte("x"), 200), "not a nextbest cb_adf cache")

	// a source rewritten (same size, another time) makes the cache stale
	earlier := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, earlier, earlier); err != nil {
		t.Fatal(err)
	}
	run("source touched", false, "source changed")
	run("source touched, then", true, "")
	// a cache older than its source is not used, even if it matches
	if err := os.Chtimes(cache, earlier.Add(-time.Minute), earlier.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	run("cache older than the source", false, "older than the source")
	// other slot dims: another parsed form
	if _, _, rep, err := training.ProgressiveSGDFile(path, cache, training.SGDConfig{SharedDim: 32, Interactions: []string{"sa"}}); err != nil || rep.Read ||
		!strings.Contains(rep.Reason, "shared dim 64") {
		t.Errorf("other dims: read %v (%q), %v", rep.Read, rep.Reason, err)
	}
}

// TestCBADFCacheNotWrittenOnError: text that fails to parse leaves no
// cache (and no temporary file) behind.
func TestCBADFCacheNotWrittenOnError(t *testing.T) {
	data := append(clickLog(50, 3, 4, 2, 1), "0:1:0.5 |a x:oops\n"...)
	path, cache := writeLog(t, data)
	_, _, _, err := training.ProgressiveSGDFile(path, cache, training.SGDConfig{SharedDim: 4, ActionDim: 2})
	if !errors.Is(err, training.ErrParse) {
		t.Fatalf("error %v, want ErrParse", err)
	}
	if left, _ := filepath.Glob(cache + "*"); len(left) > 0 {
		t.Errorf("left %v", left)
	}
}
