package journal

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// QuarantineName is the file Repair writes damaged bytes to, in the
// journal directory, when it is given no other path.
const QuarantineName = "quarantine.nbjq"

// quarantineMagic opens the header line of every region in a quarantine
// file (FORMAT.md, "Quarantine file").
const quarantineMagic = "NBJQ1"

// RepairReport says what Repair did.
type RepairReport struct {
	Dir string
	// Kept counts the valid frames in the journal, all kept, with their
	// LSNs (tombstones of earlier repairs included); Valid lists their
	// LSN runs as they were before the repair.
	Kept  int64
	Valid []LSNRange
	// Tombstoned lists the LSNs written as new TypeLost tombstones.
	Tombstoned []LSNRange
	// Quarantined lists the damaged regions whose bytes were appended to
	// Quarantine ("" if none had any bytes), QuarantinedBytes their total.
	Quarantined      []Damage
	Quarantine       string
	QuarantinedBytes int64
	// Rewritten lists the segment files replaced.
	Rewritten []string
	// After is Verify's report of the repaired journal.
	After *Report
}

// Repair makes a damaged journal openable without discarding a valid
// frame. For every segment with damage it writes a new file holding, in
// LSN order, every valid frame of the old one byte for byte, plus a
// TypeLost tombstone for each LSN lost inside the journal (between two
// valid frames, or missing between segments), so LSNs stay contiguous
// and are never reused. Every damaged byte it does not keep (the zero
// bytes a region that runs to the end of its file ends in excepted) is
// first appended to the quarantine
// file (quarantine, or QuarantineName in dir if empty; format in
// FORMAT.md); a torn tail, which Open would simply cut, is quarantined
// too. LSNs lost in a torn tail are unknown and get no tombstone.
//
// Repair is safe against a crash at any point: the quarantine is synced
// before any segment is replaced, and each segment is replaced by writing
// NAME.seg.tmp, syncing it, renaming it over NAME.seg and syncing the
// directory; every mix of old and new segments is a consistent journal,
// and a rerun finishes the job (a region may then be quarantined twice).
// It takes the journal's lock, so it fails with ErrLocked while a writer
// has the journal open. It refuses overlapping segments, which need a
// person to decide which copy is right.
func Repair(dir, quarantine string) (*RepairReport, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("journal: cannot repair %q: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlockDir(lock)
	if quarantine == "" {
		quarantine = filepath.Join(dir, QuarantineName)
	}
	res, err := scanDir(dir)
	if err != nil {
		return nil, err
	}
	rep := &RepairReport{Dir: dir, Kept: res.frames, Valid: res.valid}
	for _, d := range res.damage {
		if d.overlap {
			return nil, fmt.Errorf("%w: %s: %s; Repair does not guess which copy is right: move one of the segments aside by hand", ErrCorrupt, d.File, d.Reason)
		}
	}
	if len(res.damage) == 0 {
		rep.After = res.report()
		return rep, nil
	}

	// 1. Quarantine every damaged byte, durably, before anything changes.
	if err := writeQuarantine(quarantine, res.damage, rep); err != nil {
		return nil, err
	}
	// 2. Replace each damaged segment.
	now := time.Now().UTC()
	for _, sc := range res.segs {
		if len(sc.damage) == 0 {
			continue
		}
		if err := rewriteSegment(dir, sc, rep, now); err != nil {
			return nil, err
		}
		rep.Rewritten = append(rep.Rewritten, sc.seg.path)
	}
	after, err := Verify(dir)
	if err != nil {
		return nil, err
	}
	rep.After = after
	if !after.Clean() {
		return rep, fmt.Errorf("%w: %s: damage remains after repair: %s at offset %d: %s", ErrCorrupt, dir, after.Damage[0].File, after.Damage[0].Offset, after.Damage[0].Reason)
	}
	return rep, nil
}

// writeQuarantine appends the bytes of every damaged region to path and
// syncs it and its directory.
func writeQuarantine(path string, damage []Damage, rep *RepairReport) error {
	var regions []Damage
	for _, d := range damage {
		if d.Length > 0 {
			regions = append(regions, d)
		}
	}
	if len(regions) == 0 {
		return nil
	}
	q, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("journal: cannot open quarantine: %w", err)
	}
	defer q.Close()
	w := bufio.NewWriterSize(q, 1<<20)
	for _, d := range regions {
		src, err := os.Open(d.File)
		if err != nil {
			return fmt.Errorf("journal: cannot read damaged region: %w", err)
		}
		reason := strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, d.Reason)
		fmt.Fprintf(w, "%s %s %d %d %d %d %s\n", quarantineMagic, filepath.Base(d.File), d.Offset, d.Length, d.Lost.First, d.Lost.Last, reason)
		n, err := io.Copy(w, io.NewSectionReader(src, d.Offset, d.Length))
		src.Close()
		if err == nil && n != d.Length {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return fmt.Errorf("journal: cannot quarantine %s at offset %d: %w", d.File, d.Offset, err)
		}
		w.WriteByte('\n')
		rep.Quarantined = append(rep.Quarantined, d)
		rep.QuarantinedBytes += d.Length
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("journal: cannot write quarantine: %w", err)
	}
	if err := q.Sync(); err != nil {
		return fmt.Errorf("journal: cannot sync quarantine: %w", err)
	}
	rep.Quarantine = path
	return syncDir(filepath.Dir(path))
}

// rewriteSegment replaces the segment of sc with one that holds its valid
// frames and a tombstone for each LSN lost inside it.
func rewriteSegment(dir string, sc *segScan, rep *RepairReport, now time.Time) error {
	path := sc.seg.path
	tmp := path + ".tmp" // like createSegment's: Open removes a leftover
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("journal: cannot create %s: %w", tmp, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(appendSegmentHeader(nil, sc.seg.first))

	payloads := make(map[int][]byte) // tombstone payload per damage index
	var frame []byte
	next := sc.seg.first
	tombstones := func(upTo uint64) error {
		for ; next < upTo; next++ {
			k := -1
			for i, d := range sc.damage {
				if d.Lost.Len() > 0 && d.Lost.First <= next && next <= d.Lost.Last {
					k = i
					break
				}
			}
			p, have := payloads[k]
			if !have {
				l := Lost{V: SchemaVersion, Reason: "lost", Time: now}
				if k >= 0 {
					d := sc.damage[k]
					l.Reason, l.File, l.Offset = d.Reason, filepath.Base(d.File), d.Offset
					if d.Length > 0 {
						l.Quarantine = rep.Quarantine
					}
				}
				if p, err = json.Marshal(l); err != nil {
					return err
				}
				payloads[k] = p
			}
			frame = appendFrame(frame[:0], next, TypeLost, now.UnixNano(), p)
			if _, err := w.Write(frame); err != nil {
				return err
			}
			rep.Tombstoned = addRun(rep.Tombstoned, next)
		}
		return nil
	}
	again, err := scanSegment(sc.seg, sc.limit, sc.isLast, func(raw []byte, rec Record) error {
		if err := tombstones(rec.LSN); err != nil {
			return err
		}
		next = rec.LSN + 1
		_, err := w.Write(raw)
		return err
	})
	if err != nil {
		return fmt.Errorf("journal: cannot rewrite %s: %w", path, err)
	}
	if again.frames != sc.frames || again.last != sc.last || len(again.damage) != len(sc.damage) {
		return fmt.Errorf("journal: %s changed during repair", path)
	}
	if !sc.isLast {
		if err := tombstones(sc.limit); err != nil {
			return fmt.Errorf("journal: cannot rewrite %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("journal: cannot write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal: cannot sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("journal: cannot close %s: %w", tmp, err)
	}
	ok = true
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("journal: cannot replace %s: %w", path, err)
	}
	return syncDir(dir)
}
