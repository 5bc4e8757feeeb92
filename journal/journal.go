package journal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Config fields left zero.
const (
	DefaultSegmentBytes = 64 << 20
	DefaultMaxBatch     = 4096
)

// maxBatchBytes caps the encoded size of one group commit, so that large
// payloads cannot pile up MaxBatch × MaxPayload bytes in memory. A single
// frame larger than this still commits, alone.
const maxBatchBytes = 8 << 20

// Config configures a Journal. Only Dir is required.
type Config struct {
	// Dir is the journal directory; Open creates it if needed.
	Dir string
	// SegmentBytes is the size past which the journal rolls to a new
	// segment file. Rolls happen between group commits, so a segment may
	// end up to one batch past it. Default 64 MiB.
	SegmentBytes int64
	// MaxBatch is the most records one group commit (one write, one fsync)
	// takes. Default 4096.
	MaxBatch int
	// NoSync skips every fsync, of files and of the directory. For tests
	// and benchmarks only: acknowledged records can be lost on power loss.
	NoSync bool
	// Logger receives recovery and failure logs. Nil discards them.
	Logger *slog.Logger
	// Preallocate zero-fills each segment to SegmentBytes before it is
	// used (the next one in the background), so that an fsync commits
	// data only, not the file's growing size: steadier, shorter group
	// commits when other files are being written on the same disk. It
	// costs SegmentBytes of disk per segment up front.
	Preallocate bool
	// OnCommit, if set, is called from the journal's apply goroutine after
	// each batch is durable and before its Append calls return, with the
	// batch's records in LSN order, one batch at a time. It must not retain
	// the slice or payload bytes. The next batch's write and fsync run
	// while it does (a two-stage pipeline); if it is slower than an fsync,
	// it sets the pace. An error from
	// it is logged (it never un-acknowledges durable data).
	OnCommit func([]Record) error
}

// Record is one journal entry.
type Record struct {
	// LSN is the log sequence number: consecutive from 1, never reused.
	LSN uint64
	// Type says which payload struct Payload holds.
	Type Type
	// Time is the record's timestamp, with nanosecond precision, in UTC.
	Time time.Time
	// Payload is the record's body: JSON of Decision, Outcome or Event.
	Payload []byte
	// Meta is what the appender passed to AppendMeta, handed to OnCommit
	// with the record and never persisted: nil in Replay and Reader. It
	// lets OnCommit use in-memory state the appender already has instead
	// of decoding the payload.
	Meta any
}

// batch is one group commit: frames encoded back to back in buf. Appenders
// hold a pointer to it until done is closed, then read err.
type batch struct {
	buf   []byte
	n     int    // number of frames
	last  uint64 // LSN of the last frame
	metas []any  // Meta of each frame, only when OnCommit is set
	done  chan struct{}
	err   error // set before done is closed
}

// Journal is a durable, append-only log of records on local disk. Its
// methods are safe for concurrent use.
type Journal struct {
	cfg  Config
	log  *slog.Logger
	lock *os.File // flock on Dir/LOCK

	last atomic.Uint64 // highest durable LSN

	mu      sync.Mutex
	cur     *batch        // batch being filled
	nextLSN uint64        // LSN the next Append gets
	space   chan struct{} // closed when cur is taken; nil unless someone waits
	closed  bool
	err     error // sticky write failure, wraps ErrFailed

	wake   chan struct{} // cap 1: cur has frames, or closing
	exited chan struct{} // closed when the committer returns

	// Owned by the committer goroutine.
	f       *os.File
	segSize int64
	segRecs int64
	recs    []Record // owned by applyLoop

	bufs    chan []byte   // recycled batch buffers
	applyQ  chan *batch   // durable batches for applyLoop (nil without OnCommit)
	applied chan struct{} // closed when applyLoop returns

	segMu sync.Mutex
	segs  []segInfo

	// preallocation (prealloc.go)
	spareReady chan *os.File
	spareWG    sync.WaitGroup
}

// Open opens the journal in cfg.Dir, creating the directory and the first
// segment if needed. It verifies every frame of every segment. A torn or
// corrupt tail of the last segment (a partial frame, or frames that fail
// their checks, up to the end of the file) is cut off at the last good
// frame and logged; anything wrong elsewhere is an error wrapping
// ErrCorrupt that names the file and offset, and nothing is modified.
func Open(cfg Config) (*Journal, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: Dir is required", ErrBadConfig)
	}
	if cfg.SegmentBytes < 0 || cfg.MaxBatch < 0 {
		return nil, fmt.Errorf("%w: SegmentBytes and MaxBatch must not be negative", ErrBadConfig)
	}
	if cfg.SegmentBytes == 0 {
		cfg.SegmentBytes = DefaultSegmentBytes
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("journal: cannot create dir: %w", err)
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	j := &Journal{
		cfg:        cfg,
		log:        log,
		lock:       lock,
		wake:       make(chan struct{}, 1),
		exited:     make(chan struct{}),
		spareReady: make(chan *os.File, 1),
		bufs:       make(chan []byte, 2),
	}
	if cfg.OnCommit != nil {
		j.applyQ = make(chan *batch, 1)
		j.applied = make(chan struct{})
	}
	if err := j.recover(); err != nil {
		unlockDir(lock)
		return nil, err
	}
	j.cur = &batch{done: make(chan struct{})}
	if cfg.Preallocate {
		j.startSpare()
	}
	if j.applyQ != nil {
		go j.applyLoop()
	}
	go j.commitLoop()
	return j, nil
}

// recover scans the segments, cuts a torn tail, and opens the last segment
// for appending.
func (j *Journal) recover() error {
	dir := j.cfg.Dir
	// Leftovers of a crash during createSegment: never a real segment.
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("journal: cannot list %q: %w", dir, err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), SegmentExt+".tmp") {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("journal: cannot remove %s: %w", e.Name(), err)
			}
			j.log.Warn("journal: removed unfinished segment file", "file", e.Name())
		}
	}
	segs, err := listSegments(dir)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		f, path, err := createSegment(dir, 1, j.cfg.NoSync)
		if err != nil {
			return err
		}
		if j.cfg.Preallocate {
			if err := zeroFill(f, SegmentHeaderSize, j.cfg.SegmentBytes, j.cfg.NoSync); err != nil {
				f.Close()
				return fmt.Errorf("journal: cannot preallocate %s: %w", path, err)
			}
		}
		j.f, j.segSize = f, SegmentHeaderSize
		j.segs = []segInfo{{first: 1, path: path}}
		j.nextLSN = 1
		return nil
	}
	next := segs[0].first
	for i, s := range segs {
		if s.first != next {
			return fmt.Errorf("%w: segment %s starts at LSN %d, expected %d (missing segment?)", ErrCorrupt, s.path, s.first, next)
		}
		lastSeg := i == len(segs)-1
		r, err := openSegment(s, 1<<20)
		if err != nil {
			return err
		}
		var recs int64
		for {
			_, err = r.read()
			if err != nil {
				break
			}
			recs++
		}
		off, rnext := r.off, r.next
		r.close()
		if err == io.EOF {
			if !lastSeg && recs == 0 {
				return fmt.Errorf("%w: segment %s holds no records", ErrCorrupt, s.path)
			}
			next = rnext
			if lastSeg {
				j.segRecs, j.segSize = recs, off
			}
			continue
		}
		if !lastSeg || !(errors.Is(err, errTorn) || errors.Is(err, ErrCorrupt)) {
			if errors.Is(err, errTorn) {
				err = fmt.Errorf("%w: truncated frame", ErrCorrupt)
			}
			return fmt.Errorf("segment %s at offset %d: %w", s.path, off, err)
		}
		// Unused preallocated space after the last frame: not a tear
		// (without Preallocate, a zero tail is cut like any other).
		if zf, zerr := os.Open(s.path); j.cfg.Preallocate && zerr == nil {
			zeros, zerr := allZeros(zf, off)
			zf.Close()
			if zerr == nil && zeros {
				next = rnext
				j.segRecs, j.segSize = recs, off
				continue
			}
		} else if zerr == nil {
			zf.Close()
		}
		// Torn tail of the last segment: cut it.
		fi, serr := os.Stat(s.path)
		if serr != nil {
			return fmt.Errorf("journal: cannot stat %s: %w", s.path, serr)
		}
		if err := truncateFile(s.path, off, j.cfg.NoSync); err != nil {
			return err
		}
		j.log.Warn("journal: cut torn tail of last segment",
			"file", s.path, "offset", off, "bytes_cut", fi.Size()-off,
			"reason", err.Error(),
			"first_lsn_kept", segs[0].first, "last_lsn_kept", rnext-1)
		next = rnext
		j.segRecs, j.segSize = recs, off
	}
	last := segs[len(segs)-1]
	// Writes go to explicit offsets (segSize), not O_APPEND: a
	// preallocated segment's end is not where its data ends.
	f, err := os.OpenFile(last.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("journal: cannot open %s for append: %w", last.path, err)
	}
	if j.cfg.Preallocate {
		if fi, err := f.Stat(); err == nil && fi.Size() < j.cfg.SegmentBytes {
			if err := zeroFill(f, fi.Size(), j.cfg.SegmentBytes, j.cfg.NoSync); err != nil {
				f.Close()
				return fmt.Errorf("journal: cannot preallocate %s: %w", last.path, err)
			}
		}
	}
	j.f = f
	j.segs = segs
	j.nextLSN = next
	j.last.Store(next - 1)
	return nil
}

func truncateFile(path string, size int64, noSync bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("journal: cannot open %s to truncate: %w", path, err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("journal: cannot truncate %s: %w", path, err)
	}
	if !noSync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("journal: cannot sync %s: %w", path, err)
		}
	}
	return nil
}

// Append writes one record and returns its LSN once the record is durable
// (written and fsynced, together with the records of concurrent Appends:
// group commit). LSNs are consecutive from 1 in commit order. Append copies
// payload; the caller may reuse it when Append returns. A zero ts is
// replaced by time.Now().
//
// Context: ctx is honoured while Append waits for room in the batch being
// filled (only when MaxBatch records are already pending); then Append
// returns 0 and ctx.Err(). Once the record is enqueued it has its LSN and
// will be written whatever happens to ctx. If ctx is done before the record
// is durable, Append returns that LSN and an error wrapping both ErrPending
// and ctx.Err(): the record may or may not become durable (unless the
// journal fails it will; LastLSN() >= lsn tells). A nil error always means
// durable.
func (j *Journal) Append(ctx context.Context, typ Type, ts time.Time, payload []byte) (uint64, error) {
	return j.AppendMeta(ctx, typ, ts, payload, nil)
}

// AppendMeta is Append with a value that OnCommit receives as the record's
// Meta. meta is not persisted; the appender must not change what it
// points to until AppendMeta returns.
func (j *Journal) AppendMeta(ctx context.Context, typ Type, ts time.Time, payload []byte, meta any) (uint64, error) {
	if typ < TypeDecision || typ > TypeEvent {
		return 0, fmt.Errorf("%w: %d", ErrBadType, typ)
	}
	if len(payload) > MaxPayload {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(payload), MaxPayload)
	}
	if ts.IsZero() {
		ts = time.Now()
	}
	ns, err := unixNano(ts)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	size := FrameHeaderSize + len(payload)

	j.mu.Lock()
	for {
		if j.closed {
			j.mu.Unlock()
			return 0, ErrClosed
		}
		if j.err != nil {
			err := j.err
			j.mu.Unlock()
			return 0, err
		}
		b := j.cur
		if b.n == 0 || (b.n < j.cfg.MaxBatch && len(b.buf)+size <= maxBatchBytes) {
			break
		}
		if j.space == nil {
			j.space = make(chan struct{})
		}
		space := j.space
		j.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		j.mu.Lock()
	}
	b := j.cur
	lsn := j.nextLSN
	j.nextLSN++
	b.buf = appendFrame(b.buf, lsn, typ, ns, payload)
	if j.cfg.OnCommit != nil {
		b.metas = append(b.metas, meta)
	}
	b.n++
	b.last = lsn
	first := b.n == 1
	j.mu.Unlock()
	if first {
		select {
		case j.wake <- struct{}{}:
		default:
		}
	}

	select {
	case <-b.done:
	case <-ctx.Done():
		select {
		case <-b.done: // committed meanwhile: report it
		default:
			return lsn, fmt.Errorf("%w (lsn %d): %w", ErrPending, lsn, ctx.Err())
		}
	}
	if b.err != nil {
		return 0, b.err
	}
	return lsn, nil
}

// LastLSN returns the highest durable LSN, 0 for an empty journal.
func (j *Journal) LastLSN() uint64 { return j.last.Load() }

// commitLoop is the one goroutine that writes: it takes whatever batch has
// filled while it was busy, writes it with one write and one fsync, and
// wakes its appenders. With OnCommit set, the waking goes through a second
// goroutine (applyLoop) that runs OnCommit first: the two form a pipeline,
// so one batch's fsync overlaps the previous batch's OnCommit, and a group
// commit costs the longer of the two rather than their sum.
func (j *Journal) commitLoop() {
	defer close(j.exited)
	if j.applyQ != nil {
		defer func() { close(j.applyQ); <-j.applied }()
	}
	for {
		j.mu.Lock()
		for j.cur.n == 0 && !j.closed {
			j.mu.Unlock()
			<-j.wake
			j.mu.Lock()
		}
		if j.cur.n == 0 { // closed and drained
			j.mu.Unlock()
			return
		}
		b := j.cur
		j.cur = &batch{buf: j.takeBuf(), done: make(chan struct{})}
		if j.space != nil {
			close(j.space)
			j.space = nil
		}
		failed := j.err
		j.mu.Unlock()

		if failed == nil {
			if err := j.commit(b); err != nil {
				failed = fmt.Errorf("%w: %w", ErrFailed, err)
				j.log.Error("journal: commit failed; journal is now read-only until reopened",
					"err", err, "first_lsn", b.last-uint64(b.n)+1, "last_lsn", b.last)
				j.mu.Lock()
				j.err = failed
				j.mu.Unlock()
			}
		}
		b.err = failed
		if j.applyQ != nil {
			j.applyQ <- b // in order: the apply loop wakes the appenders
			continue
		}
		j.finish(b)
	}
}

// takeBuf returns a recycled batch buffer, or nil.
func (j *Journal) takeBuf() []byte {
	select {
	case buf := <-j.bufs:
		return buf
	default:
		return nil
	}
}

// finish wakes b's appenders and recycles its buffer.
func (j *Journal) finish(b *batch) {
	close(b.done)
	if cap(b.buf) <= 2*maxBatchBytes {
		select {
		case j.bufs <- b.buf[:0]:
		default:
		}
	}
	b.buf = nil
}

// applyLoop runs OnCommit for each durable batch, in LSN order, then wakes
// the batch's appenders: an Append returns only after OnCommit saw it.
func (j *Journal) applyLoop() {
	defer close(j.applied)
	for b := range j.applyQ {
		if b.err == nil {
			first := b.last - uint64(b.n) + 1
			recs := j.recs[:0]
			for off, i := 0, 0; off < len(b.buf); i++ {
				size, _ := frameLen(b.buf[off:])
				rec, err := checkFrame(b.buf[off : off+size])
				if err != nil {
					panic("BUG: journal: own frame does not decode: " + err.Error())
				}
				if i < len(b.metas) {
					rec.Meta = b.metas[i]
				}
				recs = append(recs, rec)
				off += size
			}
			if err := j.cfg.OnCommit(recs); err != nil {
				j.log.Error("journal: OnCommit failed", "err", err, "first_lsn", first, "last_lsn", b.last)
			}
			clear(recs)
			j.recs = recs[:0]
			clear(b.metas)
		}
		j.finish(b)
	}
}

// commit makes b durable, rolling the segment first if it is full, then
// publishes its LSNs.
func (j *Journal) commit(b *batch) error {
	first := b.last - uint64(b.n) + 1
	if j.segSize >= j.cfg.SegmentBytes && j.segRecs > 0 {
		if err := j.roll(first); err != nil {
			return err
		}
	}
	if _, err := j.f.WriteAt(b.buf, j.segSize); err != nil {
		return fmt.Errorf("cannot write %s: %w", j.f.Name(), err)
	}
	j.segSize += int64(len(b.buf))
	j.segRecs += int64(b.n)
	if !j.cfg.NoSync {
		if err := fdatasync(j.f); err != nil {
			return fmt.Errorf("cannot sync %s: %w", j.f.Name(), err)
		}
	}
	j.last.Store(b.last)
	return nil
}

// roll closes the current segment (already synced) and starts a new one
// whose first record will be first.
func (j *Journal) roll(first uint64) error {
	if j.cfg.Preallocate {
		// cut the unused zeros off the finished segment before the next
		// one appears: only the last segment may end in preallocated space
		if err := j.f.Truncate(j.segSize); err != nil {
			return fmt.Errorf("journal: cannot trim %s: %w", j.f.Name(), err)
		}
		if !j.cfg.NoSync {
			if err := j.f.Sync(); err != nil {
				return fmt.Errorf("journal: cannot sync %s: %w", j.f.Name(), err)
			}
		}
	}
	var (
		f    *os.File
		path string
		err  error
	)
	if spare := j.takeSpare(); spare != nil {
		f = spare
		path, err = j.installSpare(spare, first)
	} else {
		f, path, err = createSegment(j.cfg.Dir, first, j.cfg.NoSync)
	}
	if err != nil {
		return err
	}
	if err := j.f.Close(); err != nil {
		j.log.Warn("journal: closing rolled segment", "file", j.f.Name(), "err", err)
	}
	j.f, j.segSize, j.segRecs = f, SegmentHeaderSize, 0
	j.segMu.Lock()
	j.segs = append(j.segs, segInfo{first: first, path: path})
	j.segMu.Unlock()
	return nil
}

// Close commits every record already enqueued, then closes the files and
// releases the directory. Appends that have not been enqueued yet return
// ErrClosed. A second Close returns ErrClosed.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	j.closed = true
	if j.space != nil {
		close(j.space)
		j.space = nil
	}
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
	<-j.exited
	j.closeSpare()
	err := j.f.Close()
	if err != nil {
		err = fmt.Errorf("journal: cannot close segment: %w", err)
	}
	unlockDir(j.lock)
	j.mu.Lock()
	failed := j.err
	j.mu.Unlock()
	if failed != nil {
		return failed
	}
	return err
}

// Replay calls fn for every durable record with LSN >= from (0 means 1), in
// LSN order, up to LastLSN at the time of the call. Appends may continue
// meanwhile. Replay stops at the first error from fn and returns it.
// fn must not retain rec.Payload: its bytes are reused for the next record.
func (j *Journal) Replay(from uint64, fn func(Record) error) error {
	last := j.last.Load()
	if from == 0 {
		from = 1
	}
	if from > last {
		return nil
	}
	j.segMu.Lock()
	segs := slices.Clone(j.segs)
	j.segMu.Unlock()
	i := segIndex(segs, from)
	for ; i < len(segs); i++ {
		r, err := openSegment(segs[i], 256<<10)
		if err != nil {
			return err
		}
		for {
			rec, err := r.read()
			if err == io.EOF {
				break
			}
			if err != nil {
				r.close()
				if errors.Is(err, errTorn) {
					err = fmt.Errorf("%w: truncated frame", ErrCorrupt)
				}
				return fmt.Errorf("segment %s at offset %d: %w", r.path, r.off, err)
			}
			if rec.LSN < from {
				continue
			}
			if err := fn(rec); err != nil {
				r.close()
				return err
			}
			if rec.LSN >= last {
				r.close()
				return nil
			}
		}
		r.close()
	}
	return fmt.Errorf("%w: replay ended before LSN %d", ErrCorrupt, last)
}

// segIndex returns the index of the segment that holds lsn: the last one
// whose first LSN is <= lsn (0 if none).
func segIndex(segs []segInfo, lsn uint64) int {
	i := 0
	for k, s := range segs {
		if s.first <= lsn {
			i = k
		}
	}
	return i
}
