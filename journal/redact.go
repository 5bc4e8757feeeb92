package journal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// RedactFunc decides what Redact does with one record: keep it (replace
// false) or replace it by a record of type typ with payload (the same
// LSN and time). It sees every record up to Redact's upTo, tombstones
// included, in LSN order; rec.Payload is valid only during the call.
type RedactFunc func(rec Record) (typ Type, payload []byte, replace bool)

// RedactResult is what Redact rewrote.
type RedactResult struct {
	// Segments is how many segment files were rewritten, Records how many
	// records were replaced.
	Segments int `json:"segments"`
	Records  int `json:"records"`
}

// Roll seals the segment being appended to, if it holds any record: the
// next record starts a new segment. Appends continue meanwhile (the
// committer waits for the roll between two group commits).
func (j *Journal[L]) Roll() error {
	j.mu.Lock()
	closed, failed := j.closed, j.err
	j.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if failed != nil {
		return failed
	}
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.segRecs == 0 {
		return nil
	}
	return j.roll(j.last.Load() + 1)
}

// Redact replaces records in place, keeping every LSN: it seals the
// segment being appended to if it holds a record at or below upTo (Roll),
// then rewrites each sealed segment holding such records for which fn
// asks a replacement. A segment is rewritten crash-safely (a temporary
// file, synced, renamed over the old one, the directory synced: a crash
// leaves the old segment or the new one, never a mix), keeps its
// modification time (retention measures age by it), and the old file's
// bytes go with its last open descriptor. Records after upTo are not
// shown to fn. Appends continue meanwhile; Retain waits.
//
// Redact is how an erasure reaches the journal (package erasure): the
// erased customer's records become TypeErased tombstones.
func (j *Journal[L]) Redact(upTo uint64, fn RedactFunc) (RedactResult, error) {
	var res RedactResult
	if upTo > j.last.Load() {
		return res, fmt.Errorf("journal: redact up to LSN %d: the journal ends at %d", upTo, j.last.Load())
	}
	j.maintMu.Lock()
	defer j.maintMu.Unlock()
	j.segMu.Lock()
	active := j.segs[len(j.segs)-1]
	j.segMu.Unlock()
	if active.first <= upTo {
		if err := j.Roll(); err != nil {
			return res, fmt.Errorf("journal: redact: cannot seal the current segment: %w", err)
		}
	}
	j.segMu.Lock()
	segs := slices.Clone(j.segs[:len(j.segs)-1]) // sealed: never written again
	j.segMu.Unlock()
	for _, s := range segs {
		if s.first > upTo {
			break
		}
		n, err := redactSegment(s, upTo, fn, j.cfg.NoSync)
		if err != nil {
			return res, err
		}
		if n > 0 {
			res.Segments++
			res.Records += n
		}
	}
	if res.Segments > 0 && !j.cfg.NoSync {
		if err := syncDir(j.cfg.Dir); err != nil {
			return res, fmt.Errorf("journal: redact: %w", err)
		}
	}
	if res.Records > 0 {
		j.log.Info("journal: redacted records", "records", res.Records, "segments", res.Segments, "up_to_lsn", upTo)
	}
	return res, nil
}

// redactSegment rewrites the sealed segment s with fn's replacements and
// returns how many records it replaced (0: the file is left as it was).
func redactSegment(s segInfo, upTo uint64, fn RedactFunc, noSync bool) (int, error) {
	r, err := openSegment(s, 256<<10)
	if err != nil {
		return 0, fmt.Errorf("journal: redact: %w", err)
	}
	defer r.close()
	st, err := r.f.Stat()
	if err != nil {
		return 0, fmt.Errorf("journal: redact: %w", err)
	}
	tmp := s.path + ".tmp"
	var (
		f        *os.File
		w        *bufio.Writer
		replaced int
		frame    []byte
	)
	defer func() {
		if f != nil { // not renamed into place
			f.Close()
			os.Remove(tmp)
		}
	}()
	// start copies the segment's frames before off into the temporary
	// file: the first replacement is where the rewrite begins
	start := func(off int64) error {
		var err error
		if f, err = os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
			return err
		}
		w = bufio.NewWriterSize(f, 256<<10)
		src, err := os.Open(s.path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(w, io.NewSectionReader(src, 0, off))
		return err
	}
	for {
		off := r.off
		rec, err := r.read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("journal: redact: segment %s at offset %d: %w", s.path, r.off, err)
		}
		typ, payload, replace := rec.Type, rec.Payload, false
		if rec.LSN <= upTo {
			typ, payload, replace = fn(rec)
		}
		if replace {
			if len(payload) > MaxPayload {
				return 0, fmt.Errorf("journal: redact: LSN %d: payload of %d bytes over the limit", rec.LSN, len(payload))
			}
			if f == nil {
				if err := start(off); err != nil {
					return 0, fmt.Errorf("journal: redact: %w", err)
				}
			}
			replaced++
		} else if f == nil {
			continue // nothing replaced yet: the prefix is copied as it is
		} else {
			typ, payload = rec.Type, rec.Payload
		}
		frame = appendFrame(frame[:0], rec.LSN, typ, rec.Time.UnixNano(), payload)
		if _, err := w.Write(frame); err != nil {
			return 0, fmt.Errorf("journal: redact: %w", err)
		}
	}
	if f == nil {
		return 0, nil
	}
	if err := w.Flush(); err != nil {
		return 0, fmt.Errorf("journal: redact: %w", err)
	}
	if !noSync {
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("journal: redact: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("journal: redact: %w", err)
	}
	f = nil
	if err := os.Chtimes(tmp, st.ModTime(), st.ModTime()); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("journal: redact: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("journal: redact: %w", err)
	}
	return replaced, nil
}
