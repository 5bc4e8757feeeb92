package journal_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"nextbest/journal"
)

// frameLoc is where one frame sits in a segment file.
type frameLoc struct {
	lsn       uint64
	off, size int
}

// frameLocs walks the frames of an undamaged segment file by their
// length fields.
func frameLocs(t testing.TB, data []byte) []frameLoc {
	t.Helper()
	var out []frameLoc
	for off := journal.SegmentHeaderSize; off < len(data); {
		if len(data)-off < journal.FrameHeaderSize {
			t.Fatalf("partial frame header at %d", off)
		}
		size := journal.FrameHeaderSize + int(binary.LittleEndian.Uint32(data[off:]))
		out = append(out, frameLoc{lsn: binary.LittleEndian.Uint64(data[off+12:]), off: off, size: size})
		off += size
	}
	return out
}

// locOf returns the location of lsn in the segment file path.
func locOf(t testing.TB, path string, lsn uint64) frameLoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range frameLocs(t, data) {
		if l.lsn == lsn {
			return l
		}
	}
	t.Fatalf("LSN %d not in %s", lsn, path)
	return frameLoc{}
}

// writeJournal writes records 1..n (appendN's records) to a new journal
// and returns its directory.
func writeJournal(t testing.TB, segBytes int64, n int) string {
	t.Helper()
	dir := t.TempDir()
	j := openT(t, journal.Config{Dir: dir, NoSync: true, SegmentBytes: segBytes})
	appendN(t, j, 1, n)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// flipByte xors one byte of a file.
func flipByte(t testing.TB, path string, off int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off] ^= 0x40
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot returns the contents of every file in dir.
func snapshot(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string][]byte)
	for _, e := range ents {
		if e.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

// checkAllBut asserts that recs are appendN's records 1..n without the
// LSNs in lost, each with its original LSN.
func checkAllBut(t testing.TB, recs []journal.Record, n int, lost ...uint64) {
	t.Helper()
	var want []int
	for i := 1; i <= n; i++ {
		if !slices.Contains(lost, uint64(i)) {
			want = append(want, i)
		}
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d (all of 1..%d but %v)", len(recs), len(want), n, lost)
	}
	for k, r := range recs {
		i := want[k]
		if r.LSN != uint64(i) || r.Type != typeFor(i) || !r.Time.Equal(tsFor(i)) || string(r.Payload) != string(payloadFor(i)) {
			t.Fatalf("record %d: got {LSN %d, %s, %q}, want {%d, %s, %q}", k, r.LSN, r.Type, r.Payload, i, typeFor(i), payloadFor(i))
		}
	}
}

// TestOpenRefusesDamageBeforeValidFrames is the fault of the issue: one
// flipped byte in the middle of the only segment, valid frames after it.
// It used to be cut as a torn tail together with every record after it.
// Now Open refuses and names the place; Verify reports it; Repair keeps
// every other record with its LSN, tombstones the lost one and
// quarantines its bytes; then Open and Replay work.
func TestOpenRefusesDamageBeforeValidFrames(t *testing.T) {
	const n = 200
	dir := writeJournal(t, 0, n)
	seg := segments(t, dir)[0]
	loc := locOf(t, seg, 100)
	flipByte(t, seg, loc.off+journal.FrameHeaderSize+3) // in LSN 100's payload
	before := snapshot(t, dir)
	damaged := bytes.Clone(before[filepath.Base(seg)][loc.off : loc.off+loc.size])

	_, err := journal.Open(journal.Config{Dir: dir, NoSync: true})
	if !errors.Is(err, journal.ErrCorrupt) {
		t.Fatalf("Open = %v, want ErrCorrupt", err)
	}
	var ce *journal.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("Open error %T is not a *CorruptError", err)
	}
	want := journal.Damage{File: seg, Offset: int64(loc.off), Length: int64(loc.size), Reason: "frame checksum mismatch",
		LastGood: 99, NextValid: 101, Lost: journal.LSNRange{First: 100, Last: 100}}
	if ce.Damage != want {
		t.Errorf("Damage = %+v\nwant %+v", ce.Damage, want)
	}
	for _, s := range []string{seg, fmt.Sprintf("at offset %d", loc.off), "last good LSN 99", "next valid LSN 101",
		"nextbest journal verify --dir " + dir, "nextbest journal repair --dir " + dir} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if after := snapshot(t, dir); !mapsEqual(after, before) {
		t.Fatal("a refused Open modified the journal")
	}

	rep, err := journal.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damage) != 1 || rep.Damage[0] != want || rep.OpenErr == nil || rep.Clean() {
		t.Fatalf("Verify: damage %+v, OpenErr %v", rep.Damage, rep.OpenErr)
	}
	if wantValid := []journal.LSNRange{{First: 1, Last: 99}, {First: 101, Last: n}}; !slices.Equal(rep.Valid, wantValid) || rep.LastLSN != n {
		t.Fatalf("Verify: valid %v, last %d; want %v, %d", rep.Valid, rep.LastLSN, wantValid, n)
	}
	if after := snapshot(t, dir); !mapsEqual(after, before) {
		t.Fatal("Verify modified the journal")
	}

	rr, err := journal.Repair(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rr.Tombstoned, []journal.LSNRange{{First: 100, Last: 100}}) || rr.Kept != n-1 ||
		len(rr.Quarantined) != 1 || rr.QuarantinedBytes != int64(loc.size) || !rr.After.Clean() {
		t.Fatalf("Repair: %+v", rr)
	}
	q, err := os.ReadFile(filepath.Join(dir, journal.QuarantineName))
	if err != nil {
		t.Fatal(err)
	}
	wantQ := fmt.Sprintf("NBJQ1 %s %d %d 100 100 frame checksum mismatch\n%s\n", filepath.Base(seg), loc.off, loc.size, damaged)
	if string(q) != wantQ {
		t.Fatalf("quarantine:\n%q\nwant\n%q", q, wantQ)
	}
	if data, _ := os.ReadFile(seg); !bytes.Contains(data, []byte(`"reason":"frame checksum mismatch"`)) {
		t.Error("the tombstone does not carry the reason")
	}

	j := openT(t, journal.Config{Dir: dir, NoSync: true})
	if j.LastLSN() != n {
		t.Fatalf("LastLSN after repair = %d, want %d", j.LastLSN(), n)
	}
	checkAllBut(t, replayAll(t, j, 0), n, 100)
	r, err := journal.NewReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkAllBut(t, readAll(t, r), n, 100)
	r.Close()
	appendN(t, j, n+1, 3) // LSNs continue; none reused
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err = journal.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() || !slices.Equal(rep.Tombstones, []journal.LSNRange{{First: 100, Last: 100}}) ||
		!slices.Equal(rep.Valid, []journal.LSNRange{{First: 1, Last: n + 3}}) {
		t.Fatalf("Verify after repair: %+v", rep)
	}
}

func mapsEqual(a, b map[string][]byte) bool { return maps.EqualFunc(a, b, bytes.Equal) }

// TestOpenRefusesDamageInOlderSegment: damage in a finished segment, of
// three kinds. Open refuses and changes nothing; Repair keeps every valid
// record and tombstones exactly the lost LSNs.
func TestOpenRefusesDamageInOlderSegment(t *testing.T) {
	const n = 60
	for _, tc := range []struct {
		name string
		// damage corrupts dir and returns the LSNs it destroyed and the
		// offset Open must name.
		damage      func(t *testing.T, segs []string) (lost []uint64, file string, off int)
		quarantined bool
	}{
		{"flipped byte in the first frame", func(t *testing.T, segs []string) ([]uint64, string, int) {
			first := firstLSN(t, segs[1])
			flipByte(t, segs[1], journal.SegmentHeaderSize+journal.FrameHeaderSize+2)
			return []uint64{first}, segs[1], journal.SegmentHeaderSize
		}, true},
		{"flipped byte in a middle frame", func(t *testing.T, segs []string) ([]uint64, string, int) {
			lsn := firstLSN(t, segs[1]) + 2
			loc := locOf(t, segs[1], lsn)
			flipByte(t, segs[1], loc.off+5) // the CRC field
			return []uint64{lsn}, segs[1], loc.off
		}, true},
		{"truncated last frame", func(t *testing.T, segs []string) ([]uint64, string, int) {
			last := firstLSN(t, segs[2]) - 1
			loc := locOf(t, segs[1], last)
			if err := os.Truncate(segs[1], int64(loc.off+loc.size-3)); err != nil {
				t.Fatal(err)
			}
			return []uint64{last}, segs[1], loc.off
		}, true},
		{"missing segment", func(t *testing.T, segs []string) ([]uint64, string, int) {
			var lost []uint64
			for l := firstLSN(t, segs[2]); l < firstLSN(t, segs[3]); l++ {
				lost = append(lost, l)
			}
			data, _ := os.ReadFile(segs[1])
			if err := os.Remove(segs[2]); err != nil {
				t.Fatal(err)
			}
			return lost, segs[1], len(data)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeJournal(t, 512, n)
			segs := segments(t, dir)
			if len(segs) < 4 {
				t.Fatalf("want >= 4 segments, got %d", len(segs))
			}
			lost, file, off := tc.damage(t, segs)
			before := snapshot(t, dir)
			_, err := journal.Open(journal.Config{Dir: dir, NoSync: true})
			if !errors.Is(err, journal.ErrCorrupt) {
				t.Fatalf("Open = %v, want ErrCorrupt", err)
			}
			var ce *journal.CorruptError
			if !errors.As(err, &ce) || ce.Damage.File != file || ce.Damage.Offset != int64(off) ||
				ce.Damage.LastGood != lost[0]-1 || ce.Damage.NextValid != lost[len(lost)-1]+1 {
				t.Fatalf("Open error %v, want one naming %s at offset %d, last good %d, next valid %d", err, file, off, lost[0]-1, lost[len(lost)-1]+1)
			}
			if !mapsEqual(snapshot(t, dir), before) {
				t.Fatal("a refused Open modified the journal")
			}
			rr, err := journal.Repair(dir, filepath.Join(t.TempDir(), "q"))
			if err != nil {
				t.Fatal(err)
			}
			if want := []journal.LSNRange{{First: lost[0], Last: lost[len(lost)-1]}}; !slices.Equal(rr.Tombstoned, want) {
				t.Errorf("tombstoned %v, want %v", rr.Tombstoned, want)
			}
			if got := len(rr.Quarantined) > 0; got != tc.quarantined {
				t.Errorf("quarantined %v, want %v", rr.Quarantined, tc.quarantined)
			}
			j := openT(t, journal.Config{Dir: dir, NoSync: true})
			checkAllBut(t, replayAll(t, j, 0), n, lost...)
			appendN(t, j, n+1, 2)
		})
	}
}

func firstLSN(t testing.TB, seg string) uint64 {
	t.Helper()
	var first uint64
	if _, err := fmt.Sscanf(filepath.Base(seg), "%020d.seg", &first); err != nil {
		t.Fatal(err)
	}
	return first
}

// TestRepairQuarantinesTornTail: the torn tail that Open would cut is
// quarantined by Repair instead, and gets no tombstone (its extent is
// unknown and it was never acknowledged).
func TestRepairQuarantinesTornTail(t *testing.T) {
	const n = 20
	dir := writeJournal(t, 0, n)
	seg := segments(t, dir)[0]
	loc := locOf(t, seg, n)
	data, _ := os.ReadFile(seg)
	torn := loc.off + journal.FrameHeaderSize + 5 // `{"v":` of the payload survives
	if err := os.Truncate(seg, int64(torn)); err != nil {
		t.Fatal(err)
	}
	rep, err := journal.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damage) != 1 || !rep.Damage[0].Tail || rep.OpenErr != nil || rep.Damage[0].Offset != int64(loc.off) {
		t.Fatalf("Verify: %+v (OpenErr %v)", rep.Damage, rep.OpenErr)
	}
	rr, err := journal.Repair(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Tombstoned) != 0 || rr.QuarantinedBytes != int64(torn-loc.off) {
		t.Fatalf("Repair: %+v", rr)
	}
	q, _ := os.ReadFile(filepath.Join(dir, journal.QuarantineName))
	want := fmt.Appendf(nil, "NBJQ1 %s %d %d 0 0 truncated frame\n%s\n", filepath.Base(seg), loc.off, torn-loc.off, data[loc.off:torn])
	if !bytes.Equal(q, want) {
		t.Fatalf("quarantine %q, want %q", q, want)
	}
	j := openT(t, journal.Config{Dir: dir, NoSync: true})
	checkSeq(t, replayAll(t, j, 0), 1)
	if j.LastLSN() != n-1 {
		t.Fatalf("LastLSN %d", j.LastLSN())
	}
}

// TestRepairRefusesLockedJournal: Repair does not touch a journal that a
// writer has open.
func TestRepairRefusesLockedJournal(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, journal.Config{Dir: dir, NoSync: true})
	appendN(t, j, 1, 3)
	if _, err := journal.Repair(dir, ""); !errors.Is(err, journal.ErrLocked) {
		t.Fatalf("Repair on an open journal = %v, want ErrLocked", err)
	}
}

// TestAppliedLSN: a journal that ends below the state derived from it
// would hand out applied LSNs again; Open refuses before changing
// anything, torn tail included.
func TestAppliedLSN(t *testing.T) {
	const n = 10
	dir := writeJournal(t, 0, n)
	j := openT(t, journal.Config{Dir: dir, NoSync: true, AppliedLSN: n})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, dir string)
		applied uint64
		says    []string
	}{
		{"journal behind", func(*testing.T, string) {}, n + 2,
			[]string{"ends at LSN 10", "applied LSN 12", "LSN 11–12 again"}},
		{"applied records in the torn tail", func(t *testing.T, dir string) {
			seg := segments(t, dir)[0]
			data, _ := os.ReadFile(seg)
			if err := os.Truncate(seg, int64(len(data)-2)); err != nil {
				t.Fatal(err)
			}
		}, n, []string{"ends at LSN 9", "applied LSN 10", "damaged tail"}},
		{"journal gone", func(t *testing.T, dir string) {
			for _, s := range segments(t, dir) {
				os.Remove(s)
			}
		}, 5, []string{"ends at LSN 0", "applied LSN 5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			for name, b := range snapshot(t, dir) {
				copyFile(t, filepath.Join(d, name), b)
			}
			tc.prepare(t, d)
			before := snapshot(t, d)
			_, err := journal.Open(journal.Config{Dir: d, NoSync: true, AppliedLSN: tc.applied})
			if !errors.Is(err, journal.ErrBehind) {
				t.Fatalf("Open = %v, want ErrBehind", err)
			}
			for _, s := range append(tc.says, d, "nextbest journal verify --dir "+d) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if !mapsEqual(snapshot(t, d), before) {
				t.Fatal("a refused Open modified the journal")
			}
		})
	}
}

// TestVerifyPreallocatedIsClean: the zeros of a preallocated last
// segment are not damage.
func TestVerifyPreallocatedIsClean(t *testing.T) {
	dir := t.TempDir()
	// one segment, preallocated by Open itself (later ones are prepared in
	// the background and may not be ready when needed)
	j := openT(t, journal.Config{Dir: dir, NoSync: true, SegmentBytes: 32 << 10, Preallocate: true})
	appendN(t, j, 1, 100)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := journal.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Segments) != 1 || !rep.Clean() || rep.OpenErr != nil || rep.Segments[0].ZeroTail == 0 || rep.LastLSN != 100 {
		t.Fatalf("Verify of a preallocated journal: %+v", rep)
	}
	if rr, err := journal.Repair(dir, ""); err != nil || len(rr.Rewritten) != 0 || rr.Quarantine != "" {
		t.Fatalf("Repair of a clean journal: %+v, %v", rr, err)
	}
}

// TestRepairResumesAfterCrash: Repair replaces segments one by one, so a
// crash midway leaves some repaired and some not (and maybe a .seg.tmp).
// That mix is a consistent journal: Verify sees only the damage left,
// and a second Repair finishes the job.
func TestRepairResumesAfterCrash(t *testing.T) {
	const n = 60
	dir := writeJournal(t, 512, n)
	segs := segments(t, dir)
	lost := []uint64{firstLSN(t, segs[1]), firstLSN(t, segs[3])}
	for _, s := range []string{segs[1], segs[3]} {
		flipByte(t, s, journal.SegmentHeaderSize+journal.FrameHeaderSize+2)
	}
	damaged := snapshot(t, dir)
	full := t.TempDir()
	for name, b := range damaged {
		copyFile(t, filepath.Join(full, name), b)
	}
	if _, err := journal.Repair(full, ""); err != nil {
		t.Fatal(err)
	}
	repaired := snapshot(t, full)

	// The crash: segs[1] already replaced, segs[3] still being written.
	name1, name3 := filepath.Base(segs[1]), filepath.Base(segs[3])
	copyFile(t, segs[1], repaired[name1])
	copyFile(t, segs[3]+".tmp", repaired[name3][:40])
	copyFile(t, filepath.Join(dir, journal.QuarantineName), repaired[journal.QuarantineName])

	rep, err := journal.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damage) != 1 || rep.Damage[0].File != segs[3] || rep.Damage[0].Lost != (journal.LSNRange{First: lost[1], Last: lost[1]}) ||
		!slices.Equal(rep.Tombstones, []journal.LSNRange{{First: lost[0], Last: lost[0]}}) {
		t.Fatalf("Verify of a half-repaired journal: damage %+v, tombstones %v", rep.Damage, rep.Tombstones)
	}
	rr, err := journal.Repair(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rr.Tombstoned, []journal.LSNRange{{First: lost[1], Last: lost[1]}}) {
		t.Fatalf("second Repair tombstoned %v", rr.Tombstoned)
	}
	j := openT(t, journal.Config{Dir: dir, NoSync: true}) // removes the stale .seg.tmp
	checkAllBut(t, replayAll(t, j, 0), n, lost...)
	if _, err := os.Stat(segs[3] + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("stale %s.tmp still there: %v", name3, err)
	}
}
