package journal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// segInfo names one segment file.
type segInfo struct {
	first uint64 // LSN of its first record (from the file name)
	path  string
}

// listSegments returns the segment files of dir sorted by first LSN.
func listSegments(dir string) ([]segInfo, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: cannot list %q: %w", dir, err)
	}
	var segs []segInfo
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		if first, ok := parseSegmentName(e.Name()); ok {
			segs = append(segs, segInfo{first: first, path: filepath.Join(dir, e.Name())})
		}
	}
	slices.SortFunc(segs, func(a, b segInfo) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	return segs, nil
}

// segReader reads the frames of one segment file in order, verifying each.
// It never writes.
type segReader struct {
	f    *os.File
	path string
	br   *bufio.Reader
	off  int64  // offset of the next frame
	next uint64 // LSN the next frame must carry
	buf  []byte // frame scratch, reused
}

// openSegment opens path and checks its header against the name's LSN.
// A header that fails is reported as errTorn when the file is shorter
// than a header (the caller decides what a torn header means) and as
// ErrCorrupt otherwise.
func openSegment(s segInfo, bufSize int) (*segReader, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("journal: cannot open segment: %w", err)
	}
	r := &segReader{f: f, path: s.path, br: bufio.NewReaderSize(f, bufSize), next: s.first}
	var h [SegmentHeaderSize]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		f.Close()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: segment %s: short header", ErrCorrupt, s.path)
		}
		return nil, fmt.Errorf("journal: cannot read segment %s: %w", s.path, err)
	}
	first, err := decodeSegmentHeader(h[:])
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("segment %s: %w", s.path, err)
	}
	if first != s.first {
		f.Close()
		return nil, fmt.Errorf("%w: segment %s: header says first LSN %d", ErrCorrupt, s.path, first)
	}
	r.off = SegmentHeaderSize
	return r, nil
}

// read returns the next frame. It returns io.EOF exactly at the end of
// the file on a frame boundary, errTorn when the file ends inside a frame,
// and an error wrapping ErrCorrupt for a bad frame (including an LSN out of
// sequence). On any error r.off stays at the start of the failed frame,
// but the buffered reader has moved: call rewind before reading again.
// The record's Payload is valid until the next call.
func (r *segReader) read() (Record, error) {
	if cap(r.buf) < FrameHeaderSize {
		r.buf = make([]byte, FrameHeaderSize, 4096)
	}
	h := r.buf[:FrameHeaderSize]
	if n, err := io.ReadFull(r.br, h); err != nil {
		if err == io.EOF && n == 0 {
			return Record{}, io.EOF
		}
		if err == io.ErrUnexpectedEOF {
			return Record{}, errTorn
		}
		return Record{}, fmt.Errorf("journal: cannot read %s: %w", r.path, err)
	}
	size, err := frameLen(h)
	if err != nil {
		return Record{}, err
	}
	if cap(r.buf) < size {
		nb := make([]byte, size)
		copy(nb, h)
		r.buf = nb
	}
	b := r.buf[:size]
	if _, err := io.ReadFull(r.br, b[FrameHeaderSize:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return Record{}, errTorn
		}
		return Record{}, fmt.Errorf("journal: cannot read %s: %w", r.path, err)
	}
	rec, err := checkFrame(b)
	if err != nil {
		return Record{}, err
	}
	if rec.LSN != r.next {
		return Record{}, fmt.Errorf("%w: LSN %d where %d was due", ErrCorrupt, rec.LSN, r.next)
	}
	r.off += int64(size)
	r.next++
	return rec, nil
}

// rewind repositions the file at r.off, dropping buffered bytes.
func (r *segReader) rewind() error {
	if _, err := r.f.Seek(r.off, io.SeekStart); err != nil {
		return fmt.Errorf("journal: cannot seek %s: %w", r.path, err)
	}
	r.br.Reset(r.f)
	return nil
}

func (r *segReader) close() error { return r.f.Close() }

// syncDir fsyncs a directory so that file creations, renames and removals
// in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: cannot open dir for sync: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("journal: cannot sync dir %q: %w", dir, err)
	}
	return nil
}

// createSegment creates the segment for first in dir, crash-safely: the
// header is written and synced to a temporary file that is then renamed
// into place and the directory synced, so a segment file never exists
// without a whole header. It returns the file opened for appending.
func createSegment(dir string, first uint64, noSync bool) (*os.File, string, error) {
	path := filepath.Join(dir, SegmentName(first))
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, "", fmt.Errorf("journal: cannot create segment: %w", err)
	}
	fail := func(err error) (*os.File, string, error) {
		f.Close()
		os.Remove(tmp)
		return nil, "", fmt.Errorf("journal: cannot create segment %s: %w", path, err)
	}
	if _, err := f.Write(appendSegmentHeader(nil, first)); err != nil {
		return fail(err)
	}
	if !noSync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if !noSync {
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, "", err
		}
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, "", fmt.Errorf("journal: cannot seek segment %s: %w", path, err)
	}
	return f, path, nil
}
