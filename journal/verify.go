package journal

import (
	"fmt"
	"os"
)

// Report is what Verify found in a journal directory.
type Report struct {
	Dir      string
	Segments []SegmentReport
	// Frames counts the valid frames, tombstones included.
	Frames int64
	// Valid lists the runs of consecutive valid frames (tombstones
	// included), in LSN order.
	Valid []LSNRange
	// Tombstones lists the runs of TypeLost tombstones: records an earlier
	// Repair could not recover.
	Tombstones []LSNRange
	// Damage lists every damaged region, in journal order. A clean
	// journal has none.
	Damage []Damage
	// LastLSN is the LSN of the last valid frame: where an Open would
	// continue from (plus one), if it opens.
	LastLSN uint64
	// OpenErr is why Open would refuse the journal (a *CorruptError), or
	// nil if it would open, cutting a torn tail if there is one. It does
	// not consider Config.AppliedLSN.
	OpenErr error
}

// SegmentReport describes one segment file.
type SegmentReport struct {
	File string
	// FirstLSN is the LSN in the file name; LastLSN that of its last
	// valid frame (FirstLSN-1 if it has none).
	FirstLSN, LastLSN uint64
	Frames            int64
	Size              int64
	// ZeroTail is the number of zero bytes after the last frame of the
	// last segment: preallocated or never-written space, not damage.
	ZeroTail int64
}

// Clean reports whether r found no damage at all (a torn tail counts as
// damage: Open would cut it).
func (r *Report) Clean() bool { return len(r.Damage) == 0 }

// Verify reads every segment of the journal in dir and reports every
// damaged frame or region, the valid LSN ranges, and whether Open would
// open the journal. It never modifies anything and takes no lock: run
// against a journal a writer is appending to, it may report the frame
// being written as a torn tail. The error is for failures to read (a
// missing directory, an I/O error), never for damage.
func Verify(dir string) (*Report, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("journal: cannot verify %q: %w", dir, err)
	}
	res, err := scanDir(dir)
	if err != nil {
		return nil, err
	}
	return res.report(), nil
}

func (res *scanResult) report() *Report {
	r := &Report{
		Dir: res.dir, Frames: res.frames, Valid: res.valid, Tombstones: res.lost,
		Damage: res.damage, LastLSN: res.last, OpenErr: res.fatal(),
	}
	for _, sc := range res.segs {
		sr := SegmentReport{File: sc.seg.path, FirstLSN: sc.seg.first, LastLSN: sc.last, Frames: sc.frames, Size: sc.size}
		if sc.zeroTail {
			sr.ZeroTail = sc.size - sc.end
		}
		r.Segments = append(r.Segments, sr)
	}
	return r
}
