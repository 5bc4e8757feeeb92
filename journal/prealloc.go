package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// Preallocation. Appending to a file changes its size, so every
// fdatasync of a growing segment must also commit the file system's
// metadata journal (on ext4, a jbd2 commit that waits for other files'
// data in ordered mode): under a concurrent writer such as the state
// store's compactions, that is where group-commit latency goes. A segment
// zero-filled to its full size ahead of use makes each fdatasync a data
// write only. Zeros are never a valid frame (a frame's CRC covers a
// non-zero version), so readers and recovery see the unused space as the
// end of the data.

const spareName = "spare" + SegmentExt + ".tmp"

var zeroBlock = make([]byte, 1<<20)

// zeroFill writes zeros to f from off up to size, then syncs f (size and
// blocks: after this, writes below size change no metadata).
func zeroFill(f *os.File, off, size int64, noSync bool) error {
	for off < size {
		n := min(int64(len(zeroBlock)), size-off)
		if _, err := f.WriteAt(zeroBlock[:n], off); err != nil {
			return err
		}
		off += n
	}
	if noSync {
		return nil
	}
	return f.Sync()
}

// preallocate zero-fills f from off (the end of its data) to
// SegmentBytes. Preallocation is an optimisation and never stops the
// journal: if zero-filling fails (typically ENOSPC on a volume smaller
// than a segment), preallocate cuts f back to off, logs a warning, and
// turns spares off; the segment then grows as it is written, as without
// Preallocate.
func (j *Journal[L]) preallocate(f *os.File, path string, off int64) {
	err := zeroFill(f, off, j.cfg.SegmentBytes, j.cfg.NoSync)
	if err == nil {
		return
	}
	j.spareOff.Store(true)
	terr := f.Truncate(off)
	if terr == nil && !j.cfg.NoSync {
		terr = f.Sync()
	}
	// If even the cut fails, the zeros left past off are a legal tail.
	j.log.Warn("journal: cannot preallocate segment; continuing without preallocation",
		"file", path, "err", err, "cut_err", terr)
}

// allZeros reports whether f, of the given size, holds only zero bytes
// from off to its end.
func allZeros(f io.ReaderAt, off, size int64) (bool, error) {
	buf := make([]byte, min(int64(len(zeroBlock)), max(size-off, 1)))
	for {
		n, err := f.ReadAt(buf, off)
		if n > 0 && !bytes.Equal(buf[:n], zeroBlock[:n]) {
			return false, nil
		}
		off += int64(n)
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// prepareSpare creates the next segment's file in the background: a
// zero-filled temporary file of SegmentBytes, synced, handed over on
// j.spare. Leftovers of a crash are removed by recover (*.seg.tmp).
func (j *Journal[L]) prepareSpare() {
	defer j.spareWG.Done()
	path := filepath.Join(j.cfg.Dir, spareName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err == nil {
		err = zeroFill(f, 0, j.cfg.SegmentBytes, j.cfg.NoSync)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		os.Remove(path)
		if errors.Is(err, syscall.ENOSPC) {
			// Filling the disk to the brim for a spare would only make
			// the journal's own writes fail: no more spares until reopen.
			j.spareOff.Store(true)
		}
		j.log.Warn("journal: cannot prepare a preallocated segment; the next one grows as it is written", "err", err)
		j.spareReady <- nil
		return
	}
	j.spareReady <- f
}

// takeSpare returns the prepared spare file if it is ready, else nil.
func (j *Journal[L]) takeSpare() *os.File {
	if !j.cfg.Preallocate {
		return nil
	}
	select {
	case f := <-j.spareReady:
		if f == nil && !j.spareOff.Load() { // preparing it failed: try again for the next roll
			j.startSpare()
		}
		return f
	default:
		return nil
	}
}

// startSpare prepares the next spare in the background. Only one is ever
// in the making, and never while the previous one is still being
// installed: they share the temporary file name.
func (j *Journal[L]) startSpare() {
	j.spareWG.Add(1)
	go j.prepareSpare()
}

// installSpare turns the zero-filled spare into the segment for first:
// header written at offset 0 and synced, renamed into place, directory
// synced (the same crash-safety as createSegment).
func (j *Journal[L]) installSpare(f *os.File, first uint64) (string, error) {
	path := filepath.Join(j.cfg.Dir, SegmentName(first))
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(filepath.Join(j.cfg.Dir, spareName))
		if !j.spareOff.Load() {
			j.startSpare() // the name is free again
		}
		return "", fmt.Errorf("journal: cannot install segment %s: %w", path, err)
	}
	if _, err := f.WriteAt(appendSegmentHeader(nil, first), 0); err != nil {
		return fail(err)
	}
	if !j.cfg.NoSync {
		if err := fdatasync(f); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(filepath.Join(j.cfg.Dir, spareName), path); err != nil {
		return fail(err)
	}
	if !j.cfg.NoSync {
		if err := syncDir(j.cfg.Dir); err != nil {
			// The header-only segment may stay: a retried roll to the same
			// first LSN renames a new one over it.
			f.Close()
			return "", err
		}
	}
	if !j.spareOff.Load() {
		j.startSpare() // the name is free again
	}
	return path, nil
}

// closeSpare waits for a spare being prepared and removes it.
func (j *Journal[L]) closeSpare() {
	if !j.cfg.Preallocate {
		return
	}
	go func() { j.spareWG.Wait(); close(j.spareReady) }()
	for f := range j.spareReady {
		if f != nil {
			f.Close()
		}
	}
	os.Remove(filepath.Join(j.cfg.Dir, spareName))
}
