package journal

import (
	"errors"
	"fmt"
	"io"
)

// Reader reads a journal directory record by record without modifying it
// and without taking the writer's lock, so another process may be appending
// meanwhile (offline training and evaluation). A Reader is not safe for
// concurrent use.
//
// At the end of the data Next returns io.EOF: either the clean end of the
// last segment or a torn or partly written frame there, which the Reader
// treats as not yet written. Next may be called again after io.EOF to pick
// up records appended since (tailing).
type Reader struct {
	dir  string
	segs []segInfo // as last listed
	cur  *segReader
	idx  int    // index of cur in segs
	want uint64 // Next skips records below this LSN (set by Seek)
}

// NewReader returns a Reader positioned at the first record of the journal
// in dir. The directory need not hold any segment yet.
func NewReader(dir string) (*Reader, error) {
	r := &Reader{dir: dir}
	if err := r.list(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reader) list() error {
	segs, err := listSegments(r.dir)
	if err != nil {
		return err
	}
	r.segs = segs
	return nil
}

// open opens segment i.
func (r *Reader) open(i int) error {
	if r.cur != nil {
		r.cur.close()
		r.cur = nil
	}
	s, err := openSegment(r.segs[i], 256<<10)
	if err != nil {
		return err
	}
	r.cur, r.idx = s, i
	return nil
}

// Next returns the next record, io.EOF at the end of the data, or an error
// wrapping ErrCorrupt. It skips tombstones (TypeLost, written by Repair for
// records it could not recover; TypeErased, written by Redact), so LSNs may jump where they are. The record's Payload is valid until the next call
// to Next or Seek; copy it to keep it.
func (r *Reader) Next() (Record, error) {
	if r.cur == nil {
		if len(r.segs) == 0 {
			if err := r.list(); err != nil {
				return Record{}, err
			}
			if len(r.segs) == 0 {
				return Record{}, io.EOF
			}
		}
		if err := r.open(segIndex(r.segs, r.want)); err != nil {
			return Record{}, err
		}
	}
	retried := false
	for {
		rec, err := r.cur.read()
		if err == nil {
			if rec.LSN < r.want || Tombstone(rec.Type) {
				continue
			}
			return rec, nil
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, errTorn) && !errors.Is(err, ErrCorrupt) {
			return Record{}, err
		}
		if rerr := r.cur.rewind(); rerr != nil {
			return Record{}, rerr
		}
		// Is there a segment after this one? Then this one is finished
		// (the writer rolls only after syncing it) and must end cleanly.
		if r.idx+1 >= len(r.segs) {
			if lerr := r.list(); lerr != nil {
				return Record{}, lerr
			}
		}
		if r.idx+1 >= len(r.segs) {
			return Record{}, io.EOF // end of the last segment: not written yet
		}
		if !retried {
			// The writer rolls only after its last write to this segment,
			// which may have landed since we read: read once more.
			retried = true
			continue
		}
		if err != io.EOF {
			if errors.Is(err, errTorn) {
				err = fmt.Errorf("%w: truncated frame", ErrCorrupt)
			}
			return Record{}, fmt.Errorf("segment %s at offset %d: %w", r.cur.path, r.cur.off, err)
		}
		if nf := r.segs[r.idx+1].first; nf != r.cur.next {
			return Record{}, fmt.Errorf("%w: segment %s follows one that ends at LSN %d", ErrCorrupt, r.segs[r.idx+1].path, r.cur.next-1)
		}
		if oerr := r.open(r.idx + 1); oerr != nil {
			return Record{}, oerr
		}
		retried = false
	}
}

// Seek positions the Reader so that Next returns the record with LSN lsn
// next (or io.EOF until it is written). It opens the segment that holds
// lsn directly, skipping earlier segments by the first LSN in their names,
// and reads forward within it.
func (r *Reader) Seek(lsn uint64) error {
	if r.cur != nil {
		r.cur.close()
		r.cur = nil
	}
	r.want = lsn
	if err := r.list(); err != nil {
		return err
	}
	if len(r.segs) == 0 {
		return nil
	}
	return r.open(segIndex(r.segs, lsn))
}

// Close releases the open file.
func (r *Reader) Close() error {
	if r.cur == nil {
		return nil
	}
	err := r.cur.close()
	r.cur = nil
	return err
}
