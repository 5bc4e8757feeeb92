package journal_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"nextbest/journal"
)

// TestDamageNeverDropsValidFrames is a property test over random damage
// (flipped bytes, zeroed or overwritten ranges, truncated, extended or
// deleted segments; fixed seeds): a frame whose bytes survived is never
// lost. Open either refuses (ErrCorrupt) or replays every surviving frame
// with its LSN; Repair always succeeds, after which Open succeeds, Replay
// yields every surviving frame, LSNs are contiguous (tombstones fill the
// holes), and the quarantine file parses as FORMAT.md says.
func TestDamageNeverDropsValidFrames(t *testing.T) {
	const n = 300
	base := snapshot(t, writeJournal(t, 2048, n))
	type frame struct {
		file      string
		off, size int
		lsn       uint64
	}
	var names []string
	var frames []frame
	for name, data := range base {
		names = append(names, name)
		for _, l := range frameLocs(t, data) {
			frames = append(frames, frame{name, l.off, l.size, l.lsn})
		}
	}
	slices.Sort(names)
	if len(names) < 8 || len(frames) != n {
		t.Fatalf("base journal: %d segments, %d frames", len(names), len(frames))
	}
	cases := 100
	if testing.Short() {
		cases = 30
	}
	for seed := range uint64(cases) {
		rng := rand.New(rand.NewPCG(1, seed))
		files := make(map[string][]byte)
		for name, b := range base {
			files[name] = bytes.Clone(b)
		}
		var ops []string
		for range 1 + rng.IntN(3) {
			name := names[rng.IntN(len(names))]
			b := files[name]
			if b == nil {
				continue
			}
			pos := rng.IntN(len(b))
			span := min(len(b)-pos, 1+rng.IntN(200))
			switch op := rng.IntN(6); op {
			case 0:
				b[pos] ^= byte(1 + rng.IntN(255))
			case 1:
				clear(b[pos : pos+span])
			case 2:
				for i := range span {
					b[pos+i] = byte(rng.Uint32())
				}
			case 3:
				files[name] = b[:pos]
			case 4:
				if name == names[0] {
					continue // a journal may start past LSN 1: not detectable
				}
				delete(files, name)
			case 5:
				junk := make([]byte, 1+rng.IntN(100))
				for i := range junk {
					junk[i] = byte(rng.Uint32())
				}
				files[name] = append(b, junk...)
			}
			ops = append(ops, fmt.Sprintf("op %d on %s at %d", len(ops), name, pos))
		}
		var intact []frame
		for _, f := range frames {
			b, ok := files[f.file]
			if ok && len(b) >= f.off+f.size && bytes.Equal(b[f.off:f.off+f.size], base[f.file][f.off:f.off+f.size]) {
				intact = append(intact, f)
			}
		}
		write := func() string {
			dir := t.TempDir()
			for name, b := range files {
				copyFile(t, filepath.Join(dir, name), b)
			}
			return dir
		}
		// hasAll fails unless every intact frame is in recs, as written.
		hasAll := func(what string, recs []journal.Record) {
			t.Helper()
			byLSN := make(map[uint64]journal.Record, len(recs))
			for _, r := range recs {
				byLSN[r.LSN] = r
			}
			for _, f := range intact {
				i := int(f.lsn)
				r, ok := byLSN[f.lsn]
				if !ok || r.Type != typeFor(i) || !r.Time.Equal(tsFor(i)) || string(r.Payload) != string(payloadFor(i)) {
					t.Fatalf("seed %d (%v): %s lost the intact frame LSN %d (%s offset %d)", seed, ops, what, f.lsn, f.file, f.off)
				}
			}
		}

		dir := write()
		if j, err := journal.Open(journal.Config{Dir: dir, NoSync: true}); err == nil {
			hasAll("Open", replayAll(t, j, 0))
			j.Close()
		} else if !errors.Is(err, journal.ErrCorrupt) {
			t.Fatalf("seed %d (%v): Open = %v", seed, ops, err)
		}

		dir = write()
		q := filepath.Join(t.TempDir(), "q")
		rr, err := journal.Repair(dir, q)
		if err != nil {
			t.Fatalf("seed %d (%v): Repair = %v", seed, ops, err)
		}
		j, err := journal.Open(journal.Config{Dir: dir, NoSync: true})
		if err != nil {
			t.Fatalf("seed %d (%v): Open after Repair = %v", seed, ops, err)
		}
		hasAll("Repair", replayAll(t, j, 0))
		last := j.LastLSN()
		j.Close()
		rep, err := journal.Verify(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Clean() || (last > 0 && !slices.Equal(rep.Valid, []journal.LSNRange{{First: 1, Last: last}})) {
			t.Fatalf("seed %d (%v): after Repair: damage %v, valid %v, last %d", seed, ops, rep.Damage, rep.Valid, last)
		}
		if got := quarantinedBytes(t, q); got != rr.QuarantinedBytes {
			t.Fatalf("seed %d (%v): quarantine holds %d bytes, report says %d", seed, ops, got, rr.QuarantinedBytes)
		}
	}
}

// quarantinedBytes parses a quarantine file (FORMAT.md) and returns the
// total length of its regions; 0 if there is no file.
func quarantinedBytes(t testing.TB, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var total int64
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF && line == "" {
			return total
		}
		if err != nil {
			t.Fatalf("quarantine: %v", err)
		}
		var (
			magic, file         string
			off, length         int64
			lostFirst, lostLast uint64
		)
		if _, err := fmt.Sscanf(line, "%s %s %d %d %d %d", &magic, &file, &off, &length, &lostFirst, &lostLast); err != nil || magic != "NBJQ1" || !strings.HasSuffix(file, journal.SegmentExt) {
			t.Fatalf("quarantine header %q: %v", line, err)
		}
		if _, err := io.CopyN(io.Discard, br, length); err != nil {
			t.Fatalf("quarantine region: %v", err)
		}
		if b, err := br.ReadByte(); err != nil || b != '\n' {
			t.Fatalf("quarantine region not followed by a newline: %v", err)
		}
		total += length
	}
}
