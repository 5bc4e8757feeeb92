package journal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// Scanning for damage. Open, Verify and Repair share one scan of the
// segments. Valid frames are read with the buffered segReader exactly as
// on the normal path; only where a frame fails does the scan look further,
// byte by byte (resync), for the next valid frame. So an undamaged journal
// costs what it always cost, and the search runs only on the damaged path.

// LSNRange is an inclusive range of LSNs. The zero value is empty.
type LSNRange struct{ First, Last uint64 }

// Len returns the number of LSNs in r.
func (r LSNRange) Len() uint64 {
	if r.First == 0 || r.Last < r.First {
		return 0
	}
	return r.Last - r.First + 1
}

// String returns "A" for a single LSN, "A–B" for a range, "none" if empty.
func (r LSNRange) String() string {
	switch r.Len() {
	case 0:
		return "none"
	case 1:
		return fmt.Sprint(r.First)
	}
	return fmt.Sprintf("%d–%d", r.First, r.Last)
}

// Damage is one damaged region of a journal: bytes that are not valid
// frames, or LSNs that no segment holds.
type Damage struct {
	// File is the segment's path.
	File string
	// Offset and Length locate the bytes. Length is 0 for LSNs missing
	// between two segments (Offset is then where the earlier one ends).
	// A region that runs to the end of its file does not count the zero
	// bytes it ends in: they hold no data (preallocated or never written).
	Offset, Length int64
	// Reason says what is wrong, e.g. "frame checksum mismatch".
	Reason string
	// LastGood is the LSN of the last valid frame before the region.
	LastGood uint64
	// NextValid is the LSN of the first valid frame after the region, 0 if
	// there is none anywhere in the journal.
	NextValid uint64
	// Lost is the LSN range the region held, when it can be inferred
	// (between LastGood and NextValid, or up to the next segment's first
	// LSN); empty for a torn tail, whose extent is unknown.
	Lost LSNRange
	// Tail is true for a torn tail: damage at the physical end of the
	// written data, in the last segment, with nothing valid after it. A
	// crash during a write leaves one; it held no acknowledged record
	// (its fsync never returned). Open cuts it; Repair quarantines it.
	Tail bool

	overlap bool // a segment starts inside the previous one: Repair refuses
}

// CorruptError is the error Open returns for damage it will not cut: any
// damage but a torn tail. It wraps ErrCorrupt; its message names the file,
// the offset, the LSNs around the damage and the way out (verify, repair).
type CorruptError struct {
	Dir    string
	Damage Damage
}

func (e *CorruptError) Error() string {
	d := &e.Damage
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s at offset %d", ErrCorrupt, d.File, d.Offset)
	if d.Length > 0 {
		fmt.Fprintf(&b, " (%d bytes)", d.Length)
	}
	fmt.Fprintf(&b, ": %s; last good LSN %d", d.Reason, d.LastGood)
	if d.NextValid > 0 {
		fmt.Fprintf(&b, ", next valid LSN %d", d.NextValid)
	} else {
		b.WriteString(", no valid frame after it")
	}
	if n := d.Lost.Len(); n > 0 {
		fmt.Fprintf(&b, " (%d lost: LSN %s)", n, d.Lost)
	}
	fmt.Fprintf(&b, `; refusing to open with acknowledged records missing: run "nextbest journal verify --dir %s" to list all damage, then "nextbest journal repair --dir %s" to quarantine the damaged bytes, tombstone the lost LSNs and keep every valid record`, e.Dir, e.Dir)
	return b.String()
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// reasonOf turns a frame or header error into the words of a Damage.
func reasonOf(err error) string {
	if errors.Is(err, errTorn) {
		return "truncated frame"
	}
	return strings.TrimPrefix(err.Error(), ErrCorrupt.Error()+": ")
}

// segScan is what a full scan of one segment found.
type segScan struct {
	seg    segInfo
	isLast bool
	limit  uint64 // every LSN of the segment is below it: the next segment's first
	size   int64  // file size
	frames int64  // valid frames (tombstones included)
	first  uint64 // LSN of the first valid frame, 0 if none
	last   uint64 // LSN of the last valid frame; seg.first-1 if none
	end    int64  // offset just past the last valid frame (SegmentHeaderSize if none)
	// zeroTail: the last segment holds only zero bytes from end to size
	// (and end < size): preallocated or never-written space, not damage.
	zeroTail bool
	damage   []Damage
	valid    []LSNRange // runs of consecutive valid frames
	lost     []LSNRange // runs of TypeLost tombstones
}

// addRun extends the last run of runs with lsn or starts a new one.
func addRun(runs []LSNRange, lsn uint64) []LSNRange {
	if n := len(runs); n > 0 && runs[n-1].Last+1 == lsn {
		runs[n-1].Last = lsn
		return runs
	}
	return append(runs, LSNRange{lsn, lsn})
}

// scanSegment reads every valid frame of s, in order, calling frame (if
// not nil) with its raw bytes and record (both valid until frame returns),
// and records each damaged region. limit bounds the LSNs a resync accepts
// (the next segment's first LSN; math.MaxUint64 for the last segment).
// It never writes.
func scanSegment(s segInfo, limit uint64, isLast bool, frame func(raw []byte, rec Record) error) (*segScan, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("journal: cannot open segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("journal: cannot stat %s: %w", s.path, err)
	}
	sc := &segScan{seg: s, isLast: isLast, limit: limit, size: fi.Size(), last: s.first - 1, end: SegmentHeaderSize}
	bufSize := int(min(1<<20, max(sc.size, 4096)))
	r := &segReader{f: f, path: s.path, br: bufio.NewReaderSize(f, bufSize), next: s.first, off: SegmentHeaderSize}

	var h [SegmentHeaderSize]byte
	n, err := f.ReadAt(h[:], 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("journal: cannot read segment %s: %w", s.path, err)
	}
	first, bad := decodeSegmentHeader(h[:n])
	if errors.Is(bad, errTorn) {
		bad = fmt.Errorf("%w: short segment header (%d bytes)", ErrCorrupt, n)
	} else if bad == nil && first != s.first {
		bad = fmt.Errorf("%w: header says first LSN %d, the file name %d", ErrCorrupt, first, s.first)
	}
	badHeader := bad != nil
	badAt := int64(0)
	if !badHeader {
		if err := r.rewind(); err != nil {
			return nil, err
		}
	}
	trailing := false // a damaged region runs to the end of the file
	for {
		if bad == nil {
			start := r.off
			rec, err := r.read()
			if err == nil {
				if frame != nil {
					if err := frame(r.buf[:r.off-start], rec); err != nil {
						return nil, err
					}
				}
				if sc.frames == 0 {
					sc.first = rec.LSN
				}
				sc.frames++
				sc.last, sc.end = rec.LSN, r.off
				sc.valid = addRun(sc.valid, rec.LSN)
				if rec.Type == TypeLost {
					sc.lost = addRun(sc.lost, rec.LSN)
				}
				continue
			}
			if err == io.EOF {
				break
			}
			if !errors.Is(err, errTorn) && !errors.Is(err, ErrCorrupt) {
				return nil, err
			}
			bad, badAt = err, r.off
		}
		// Damage at badAt. Zeros to the end of the file are not damage in
		// the last segment (preallocated, or a crash extended the file).
		if !badHeader {
			zeros, err := allZeros(f, badAt, sc.size)
			if err != nil {
				return nil, fmt.Errorf("journal: cannot read %s: %w", s.path, err)
			}
			if zeros && isLast {
				sc.zeroTail = badAt < sc.size
				break
			}
			if zeros { // a finished segment must end at its last frame
				bad = fmt.Errorf("%w: zero bytes after the last frame of a finished segment", ErrCorrupt)
			}
		}
		off, lsn, found, err := resync(f, badAt+1, sc.size, r.next-1, limit)
		if err != nil {
			return nil, fmt.Errorf("journal: cannot read %s: %w", s.path, err)
		}
		if found {
			sc.damage = append(sc.damage, Damage{
				File: s.path, Offset: badAt, Length: off - badAt, Reason: reasonOf(bad),
				LastGood: r.next - 1, NextValid: lsn, Lost: LSNRange{r.next, lsn - 1},
			})
			r.off, r.next = off, lsn
			if err := r.rewind(); err != nil {
				return nil, err
			}
			bad, badHeader = nil, false
			continue
		}
		// Nothing valid after badAt in this segment.
		end, err := dataEnd(f, badAt, sc.size)
		if err != nil {
			return nil, fmt.Errorf("journal: cannot read %s: %w", s.path, err)
		}
		d := Damage{File: s.path, Offset: badAt, Length: end - badAt, Reason: reasonOf(bad), LastGood: r.next - 1}
		switch {
		case !isLast:
			d.Lost = LSNRange{r.next, limit - 1}
		case !badHeader:
			// A new segment's header is synced before it is renamed into
			// place, so a bad header is never a crash's tear.
			d.Tail = true
		}
		sc.damage = append(sc.damage, d)
		trailing = true
		break
	}
	if !isLast && !trailing && sc.last+1 < limit {
		sc.damage = append(sc.damage, Damage{
			File: s.path, Offset: sc.end, Reason: fmt.Sprintf("segment ends at LSN %d but the next segment starts at LSN %d", sc.last, limit),
			LastGood: sc.last, Lost: LSNRange{sc.last + 1, limit - 1},
		})
	}
	return sc, nil
}

// resync looks for the first valid frame in f that starts at or after
// from, ends by end, and carries an LSN in (after, limit). It checks the
// cheap header bytes first (version, type, reserved, LSN range, length)
// and computes a CRC only for the rare candidate that passes them; zeros
// and JSON text, which never hold the version byte 0x01, are skipped
// with bytes.IndexByte.
func resync(f io.ReaderAt, from, end int64, after, limit uint64) (off int64, lsn uint64, found bool, err error) {
	const chunk = 1 << 20
	buf := make([]byte, min(chunk+FrameHeaderSize, max(end-from, 0)))
	var frame []byte
	for base := from; base+FrameHeaderSize <= end; base += chunk {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), end-base)], base)
		if err != nil && err != io.EOF {
			return 0, 0, false, err
		}
		b := buf[:n]
		starts := min(chunk, n-FrameHeaderSize+1) // candidate positions in this chunk
		for i := 0; i < starts; {
			k := bytes.IndexByte(b[i+8:starts+8], FormatVersion)
			if k < 0 {
				break
			}
			p := i + k
			i = p + 1
			h := b[p : p+FrameHeaderSize]
			if h[9] == 0 || h[10] != 0 || h[11] != 0 {
				continue
			}
			l := binary.LittleEndian.Uint64(h[12:20])
			if l <= after || l >= limit {
				continue
			}
			plen := int64(binary.LittleEndian.Uint32(h[0:4]))
			size := FrameHeaderSize + plen
			if plen > MaxPayload || base+int64(p)+size > end {
				continue
			}
			var fb []byte
			if int64(p)+size <= int64(n) {
				fb = b[p : int64(p)+size]
			} else {
				if int64(cap(frame)) < size {
					frame = make([]byte, size)
				}
				fb = frame[:size]
				if _, err := f.ReadAt(fb, base+int64(p)); err != nil && err != io.EOF {
					return 0, 0, false, err
				}
			}
			if _, err := checkFrame(fb); err == nil {
				return base + int64(p), l, true, nil
			}
		}
	}
	return 0, 0, false, nil
}

// dataEnd returns the offset just past the last non-zero byte of f in
// [from, size), or from if there is none.
func dataEnd(f io.ReaderAt, from, size int64) (int64, error) {
	buf := make([]byte, min(1<<20, max(size-from, 0)))
	for hi := size; hi > from; {
		lo := max(from, hi-int64(len(buf)))
		b := buf[:hi-lo]
		if _, err := f.ReadAt(b, lo); err != nil && err != io.EOF {
			return 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != 0 {
				return lo + int64(i) + 1, nil
			}
		}
		hi = lo
	}
	return from, nil
}

// scanResult is what a scan of a whole journal found.
type scanResult struct {
	dir    string
	segs   []*segScan
	damage []Damage   // in journal order
	valid  []LSNRange // runs of valid frames across segments
	lost   []LSNRange // runs of tombstones
	frames int64
	last   uint64 // LSN of the last valid frame of the last segment
}

// scanJournal scans every segment of segs (sorted, as listSegments
// returns them). frame, if not nil, is called for every valid frame with
// its segment's index.
func scanJournal(dir string, segs []segInfo, frame func(i int, raw []byte, rec Record) error) (*scanResult, error) {
	res := &scanResult{dir: dir}
	var pending []int // damage waiting for the next valid LSN
	for i, s := range segs {
		limit, isLast := uint64(math.MaxUint64), i == len(segs)-1
		if !isLast {
			limit = segs[i+1].first
		}
		var fn func([]byte, Record) error
		if frame != nil {
			fn = func(raw []byte, rec Record) error { return frame(i, raw, rec) }
		}
		sc, err := scanSegment(s, limit, isLast, fn)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			if prev := res.segs[i-1]; prev.last >= s.first {
				res.damage = append(res.damage, Damage{
					File: s.path, Reason: fmt.Sprintf("segment starts at LSN %d, inside the previous segment, which reaches LSN %d", s.first, prev.last),
					LastGood: prev.last, overlap: true,
				})
				pending = append(pending, len(res.damage)-1)
			}
		}
		if sc.first != 0 {
			for _, k := range pending {
				res.damage[k].NextValid = sc.first
			}
			pending = pending[:0]
		}
		for _, d := range sc.damage {
			res.damage = append(res.damage, d)
			if d.NextValid == 0 && !d.Tail {
				pending = append(pending, len(res.damage)-1)
			}
		}
		for _, r := range sc.valid {
			res.valid = mergeRun(res.valid, r)
		}
		for _, r := range sc.lost {
			res.lost = mergeRun(res.lost, r)
		}
		res.frames += sc.frames
		res.segs = append(res.segs, sc)
		res.last = sc.last
	}
	return res, nil
}

// scanDir lists the segments of dir and scans them all, without a frame
// callback: what Verify and Repair start from.
func scanDir(dir string) (*scanResult, error) {
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	return scanJournal(dir, segs, nil)
}

func mergeRun(runs []LSNRange, r LSNRange) []LSNRange {
	if n := len(runs); n > 0 && runs[n-1].Last+1 == r.First {
		runs[n-1].Last = r.Last
		return runs
	}
	return append(runs, r)
}

// fatal returns the first damage that Open must refuse (all but a torn
// tail), or nil.
func (res *scanResult) fatal() error {
	for _, d := range res.damage {
		if !d.Tail {
			return &CorruptError{Dir: res.dir, Damage: d}
		}
	}
	return nil
}

// tail returns the torn tail of the last segment, or nil.
func (res *scanResult) tail() *Damage {
	if n := len(res.damage); n > 0 && res.damage[n-1].Tail {
		return &res.damage[n-1]
	}
	return nil
}
