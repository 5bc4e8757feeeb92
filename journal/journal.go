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
	"syscall"
	"time"
)

// Defaults for Config fields left zero.
const (
	DefaultSegmentBytes  = 64 << 20
	DefaultMaxBatch      = 4096
	DefaultRetryInterval = time.Second
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
	// AppliedLSN is the highest LSN that state derived from this journal
	// (a state store, a model snapshot) has applied. Open refuses, with an
	// error wrapping ErrBehind, when the journal after recovery ends below
	// it: the journal has lost records that the state depends on, and
	// appending would hand their LSNs out again. Zero skips the check.
	AppliedLSN uint64
	// RetryInterval is how long the journal stays degraded after a failed
	// write or fsync (Appends fail fast) before it probes the disk again;
	// see Health. Default 1 s.
	RetryInterval time.Duration

	// commitHook, tests only, runs at the start of each commit; an error
	// from it fails the commit as a failed write would.
	commitHook func() error
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
}

// Subscriber is told of every durable batch of a journal, in LSN order:
// the state applier is one. OpenWith takes the subscribers as an ordered
// list; each batch goes to every subscriber, in that order, before the
// next batch goes to any.
//
// L is the type of the live value an appender may pass with a record
// (AppendLive): what it already holds in memory of the record (the
// decoded payload, say), so that a subscriber need not decode or derive
// it again. Live values are never persisted.
type Subscriber[L any] interface {
	// Apply is called from the journal's apply goroutine once recs (in
	// LSN order, one group commit) are durable and before their Appends
	// return. live has one entry per record: the value its appender
	// passed, or nil. Apply must not retain recs, their payload bytes or
	// live past the call. The next batch's write and fsync run while
	// Apply does (a two-stage pipeline), so a subscriber slower than an
	// fsync sets the pace. An error is logged: it never un-acknowledges
	// durable records.
	Apply(recs []Record, live []*L) error
}

// SubscriberFunc adapts a function to a Subscriber.
type SubscriberFunc[L any] func(recs []Record, live []*L) error

// Apply calls f(recs, live).
func (f SubscriberFunc[L]) Apply(recs []Record, live []*L) error { return f(recs, live) }

// NoLive is the live-value type of a journal whose appenders pass none:
// Open returns a *Journal[NoLive].
type NoLive struct{}

// batch is one group commit: frames encoded back to back in buf. Appenders
// hold a pointer to it until done is closed, then read err.
type batch[L any] struct {
	buf  []byte
	n    int    // number of frames
	last uint64 // LSN of the last frame
	live []*L   // live value of each frame, only with subscribers
	done chan struct{}
	err  error // set before done is closed
}

// Journal is a durable, append-only log of records on local disk. Its
// methods are safe for concurrent use. L is the type of the live values
// its appenders pass to its subscribers (see Subscriber); NoLive for a
// journal without.
type Journal[L any] struct {
	cfg  Config
	log  *slog.Logger
	lock *os.File // flock on Dir/LOCK

	last atomic.Uint64 // highest durable LSN

	mu      sync.Mutex
	cur     *batch[L]     // batch being filled
	nextLSN uint64        // LSN the next Append gets
	space   chan struct{} // closed when cur is taken; nil unless someone waits
	closed  bool
	err     error         // degraded: the last commit or probe failed (wraps ErrFailed)
	retryAt time.Time     // when the committer probes again while degraded
	healthC chan struct{} // closed and replaced when err turns nil or non-nil

	wake   chan struct{} // cap 1: cur has frames, or closing
	exited chan struct{} // closed when the committer returns

	// Owned by the committer goroutine.
	f       *os.File
	path    string // f's path (f.Name() is the temporary name it was created under)
	segSize int64  // durable size of f's data: the end of its last frame
	segRecs int64
	dirty   bool     // f may hold bytes of a failed write past segSize
	recs    []Record // owned by applyLoop

	subs    []Subscriber[L] // in order
	bufs    chan []byte     // recycled batch buffers
	applyQ  chan *batch[L]  // durable batches for applyLoop (nil without subscribers)
	applied chan struct{}   // closed when applyLoop returns

	segMu sync.Mutex
	segs  []segInfo

	// wmu is held by the committer while it writes (commit, probe) and by
	// Roll: the fields it owns change under it.
	wmu sync.Mutex
	// maintMu serialises the maintenance that rewrites or deletes sealed
	// segments (Retain, Redact).
	maintMu sync.Mutex

	// preallocation (prealloc.go)
	spareReady chan *os.File
	spareWG    sync.WaitGroup
	spareOff   atomic.Bool // no more spares: the disk was too full for one
}

// Open opens the journal in cfg.Dir, creating the directory and the first
// segment if needed. It verifies every frame of every segment. A torn
// tail — damage at the physical end of the data, in the last segment,
// with no valid frame anywhere after it — is cut off at the last good
// frame and logged: a crash mid-write leaves one, and it holds no
// acknowledged record. Any other damage (a bad frame followed by a valid
// one, in any segment; a bad header; a gap or overlap between segments)
// is a *CorruptError wrapping ErrCorrupt that names the file, the offset,
// the last good and the next valid LSN and the way out (nextbest journal
// verify / repair); then nothing is modified. If the journal ends below
// cfg.AppliedLSN, Open refuses with ErrBehind, also before modifying
// anything.
func Open(cfg Config) (*Journal[NoLive], error) { return OpenWith[NoLive](cfg) }

// OpenWith opens the journal as Open does, with subscribers: subs, in
// this order, see every batch once it is durable (Subscriber). Records
// replayed at start are not handed to them: a subscriber that derives
// state catches up with Replay before it serves.
func OpenWith[L any](cfg Config, subs ...Subscriber[L]) (*Journal[L], error) {
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
	if cfg.RetryInterval < 0 {
		return nil, fmt.Errorf("%w: RetryInterval must not be negative", ErrBadConfig)
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = DefaultRetryInterval
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
	j := &Journal[L]{
		cfg:        cfg,
		subs:       slices.Clone(subs),
		log:        log,
		lock:       lock,
		wake:       make(chan struct{}, 1),
		exited:     make(chan struct{}),
		spareReady: make(chan *os.File, 1),
		bufs:       make(chan []byte, 2),
		healthC:    make(chan struct{}),
	}
	if len(subs) > 0 {
		j.applyQ = make(chan *batch[L], 1)
		j.applied = make(chan struct{})
	}
	if err := j.recover(); err != nil {
		unlockDir(lock)
		return nil, err
	}
	j.cur = &batch[L]{done: make(chan struct{})}
	if cfg.Preallocate && !j.spareOff.Load() {
		j.startSpare()
	}
	if j.applyQ != nil {
		go j.applyLoop()
	}
	go j.commitLoop()
	return j, nil
}

// recover scans the segments, checks them against cfg.AppliedLSN, cuts a
// torn tail, and opens the last segment for appending. Nothing is
// modified unless the journal is going to open.
func (j *Journal[L]) recover() error {
	dir := j.cfg.Dir
	// Leftovers of a crash during createSegment or Repair: never a real segment.
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
		if j.cfg.AppliedLSN > 0 {
			return j.behind(0, nil)
		}
		f, path, err := createSegment(dir, 1, j.cfg.NoSync)
		if err != nil {
			return err
		}
		if j.cfg.Preallocate {
			j.preallocate(f, path, SegmentHeaderSize)
		}
		j.f, j.path, j.segSize = f, path, SegmentHeaderSize
		j.segs = []segInfo{{first: 1, path: path}}
		j.nextLSN = 1
		return nil
	}
	// Every frame of every segment is checked. Damage followed by any
	// valid frame is corruption; only a torn tail (damage at the physical
	// end, nothing valid after it) may be cut.
	res, err := scanJournal(dir, segs, nil)
	if err != nil {
		return err
	}
	if err := res.fatal(); err != nil {
		return err
	}
	last := res.segs[len(res.segs)-1]
	tail := res.tail()
	if j.cfg.AppliedLSN > last.last {
		return j.behind(last.last, tail)
	}
	// Unused preallocated space after the last frame is not a tear
	// (without Preallocate, a zero tail is cut like a torn one).
	if tail != nil || (last.zeroTail && !j.cfg.Preallocate) {
		if err := truncateFile(last.seg.path, last.end, j.cfg.NoSync); err != nil {
			return err
		}
		reason := "zero bytes"
		if tail != nil {
			reason = tail.Reason
		}
		j.log.Warn("journal: cut torn tail of last segment",
			"file", last.seg.path, "offset", last.end, "bytes_cut", last.size-last.end,
			"reason", reason, "first_lsn_kept", segs[0].first, "last_lsn_kept", last.last)
	}
	// Writes go to explicit offsets (segSize), not O_APPEND: a
	// preallocated segment's end is not where its data ends.
	f, err := os.OpenFile(last.seg.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("journal: cannot open %s for append: %w", last.seg.path, err)
	}
	if j.cfg.Preallocate {
		if fi, err := f.Stat(); err == nil && fi.Size() < j.cfg.SegmentBytes {
			j.preallocate(f, last.seg.path, fi.Size())
		}
	}
	j.f, j.path = f, last.seg.path
	j.segs = segs
	j.segRecs, j.segSize = last.frames, last.end
	j.nextLSN = last.last + 1
	j.last.Store(last.last)
	return nil
}

// behind is Open's refusal when the journal ends at LSN last, below
// cfg.AppliedLSN. tail is the torn tail Open would have cut, if any.
func (j *Journal[L]) behind(last uint64, tail *Damage) error {
	dir := j.cfg.Dir
	var b strings.Builder
	fmt.Fprintf(&b, "%s ends at LSN %d but the state derived from it has applied LSN %d; appending would hand out LSN %s again",
		dir, last, j.cfg.AppliedLSN, LSNRange{last + 1, j.cfg.AppliedLSN})
	if tail != nil {
		fmt.Fprintf(&b, " (the damaged tail of %s at offset %d, %d bytes, may hold them)", tail.File, tail.Offset, tail.Length)
	}
	fmt.Fprintf(&b, `; the journal was left as it is: run "nextbest journal verify --dir %s" to see what it holds, then restore the missing records from a backup, or move the derived state (state store, model snapshot) aside so that it is rebuilt from the journal`, dir)
	return fmt.Errorf("%w: %s", ErrBehind, b.String())
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
// journal fails it will; see ErrPending). A nil error always means
// durable.
//
// Failure: if the write or fsync of the record's batch fails, Append
// returns an error wrapping ErrFailed (and ErrNoSpace on a full disk): the
// record is not acknowledged and its bytes are cut off the segment (only a
// machine crash before that cut is durable can bring it back, as with any
// unacknowledged record). The journal is then degraded (see
// Health): Appends fail fast with that error, without being queued, until
// a probe write succeeds.
func (j *Journal[L]) Append(ctx context.Context, typ Type, ts time.Time, payload []byte) (uint64, error) {
	return j.AppendLive(ctx, typ, ts, payload, nil)
}

// AppendLive is Append with a live value that the subscribers receive
// with the record (Subscriber.Apply); nil passes none. live is not
// persisted; the appender must not change what it points to until
// AppendLive returns, and, if it returns an error wrapping ErrPending,
// not at all: the record may still reach the subscribers.
func (j *Journal[L]) AppendLive(ctx context.Context, typ Type, ts time.Time, payload []byte, live *L) (uint64, error) {
	lsn, b, err := j.enqueue(ctx, typ, ts, payload, live)
	if err != nil {
		return 0, err
	}
	return j.await(ctx, b, lsn)
}

// Entry is one record of AppendBatch: AppendLive's arguments.
type Entry[L any] struct {
	Type    Type
	Time    time.Time
	Payload []byte
	Live    *L
}

// AppendBatch appends entries in their order (their LSNs increase; other
// appenders' records may come between them) and returns the LSN of the
// last once every one is durable: AppendLive for each, with one wait for
// all, and the same durability. The caller may reuse the payloads when it
// returns, and must not change the live values until then (ever, after an
// error wrapping ErrPending).
//
// On error not all entries were acknowledged: those enqueued before the
// error may still become durable (unless the journal fails them), as
// with an AppendLive whose error wraps ErrPending.
func (j *Journal[L]) AppendBatch(ctx context.Context, entries []Entry[L]) (uint64, error) {
	var waits []*batch[L] // the batches the entries went into, in order
	var lasts []uint64    // the LSN of the last entry in each
	for i := range entries {
		e := &entries[i]
		lsn, b, err := j.enqueue(ctx, e.Type, e.Time, e.Payload, e.Live)
		if err != nil {
			if len(waits) > 0 {
				return 0, fmt.Errorf("%w (%d of %d records enqueued, up to lsn %d): %w", ErrPending, i, len(entries), lasts[len(lasts)-1], err)
			}
			return 0, err
		}
		if n := len(waits); n > 0 && waits[n-1] == b {
			lasts[n-1] = lsn
		} else {
			waits, lasts = append(waits, b), append(lasts, lsn)
		}
	}
	var last uint64
	for i, b := range waits {
		lsn, err := j.await(ctx, b, lasts[i])
		if err != nil {
			return 0, err
		}
		last = lsn
	}
	return last, nil
}

// enqueue adds a record to the batch being filled and returns its LSN
// and batch (see AppendLive).
func (j *Journal[L]) enqueue(ctx context.Context, typ Type, ts time.Time, payload []byte, live *L) (uint64, *batch[L], error) {
	if !Appendable(typ) {
		return 0, nil, fmt.Errorf("%w: %d", ErrBadType, typ)
	}
	if len(payload) > MaxPayload {
		return 0, nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(payload), MaxPayload)
	}
	if ts.IsZero() {
		ts = time.Now()
	}
	ns, err := unixNano(ts)
	if err != nil {
		return 0, nil, err
	}
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	size := FrameHeaderSize + len(payload)

	j.mu.Lock()
	for {
		if j.closed {
			j.mu.Unlock()
			return 0, nil, ErrClosed
		}
		if j.err != nil {
			err := j.err
			j.mu.Unlock()
			return 0, nil, err
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
			return 0, nil, ctx.Err()
		}
		j.mu.Lock()
	}
	b := j.cur
	lsn := j.nextLSN
	j.nextLSN++
	b.buf = appendFrame(b.buf, lsn, typ, ns, payload)
	if j.applyQ != nil {
		b.live = append(b.live, live)
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
	return lsn, b, nil
}

// await waits until b, holding the record lsn, is durable (see
// AppendLive).
func (j *Journal[L]) await(ctx context.Context, b *batch[L], lsn uint64) (uint64, error) {
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
func (j *Journal[L]) LastLSN() uint64 { return j.last.Load() }

// commitLoop is the one goroutine that writes: it takes whatever batch has
// filled while it was busy, writes it with one write and one fsync, and
// wakes its appenders. With subscribers, the waking goes through a second
// goroutine (applyLoop) that runs them first: the two form a pipeline,
// so one batch's fsync overlaps the previous batch's subscribers, and a group
// commit costs the longer of the two rather than their sum. While the
// journal is degraded it also probes the disk, every RetryInterval.
func (j *Journal[L]) commitLoop() {
	defer close(j.exited)
	if j.applyQ != nil {
		defer func() { close(j.applyQ); <-j.applied }()
	}
	for {
		j.mu.Lock()
		for j.cur.n == 0 && !j.closed {
			if j.err != nil { // degraded: nothing is enqueued; probe when due
				wait := time.Until(j.retryAt)
				j.mu.Unlock()
				if wait > 0 {
					t := time.NewTimer(wait)
					select {
					case <-j.wake:
					case <-t.C:
					}
					t.Stop()
				} else {
					j.wmu.Lock()
					j.probe()
					j.wmu.Unlock()
				}
				j.mu.Lock()
				continue
			}
			j.mu.Unlock()
			<-j.wake
			j.mu.Lock()
		}
		if j.cur.n == 0 { // closed and drained
			j.mu.Unlock()
			return
		}
		b := j.cur
		j.cur = &batch[L]{buf: j.takeBuf(), done: make(chan struct{})}
		if j.space != nil {
			close(j.space)
			j.space = nil
		}
		j.mu.Unlock()

		j.wmu.Lock()
		err := j.commit(b)
		j.wmu.Unlock()
		if err != nil {
			j.fail(b, err)
			continue
		}
		j.dispatch(b)
	}
}

// dispatch hands a finished batch (committed, or failed with b.err set) to
// whoever wakes its appenders, in order.
func (j *Journal[L]) dispatch(b *batch[L]) {
	if j.applyQ != nil {
		j.applyQ <- b // in order: the apply loop wakes the appenders
		return
	}
	j.finish(b)
}

// fail handles a failed commit of b. It rewinds to the last durable state
// and degrades the journal:
//
//   - b's appenders, and those of the batch that filled behind it (whose
//     LSNs follow b's), get the error: none of them is acknowledged;
//   - nextLSN goes back to LastLSN()+1, so the failed LSNs are handed out
//     again to later records: no gap, and no LSN that was ever
//     acknowledged is reused;
//   - the bytes of the failed write are cut off the segment (cut), so they
//     cannot resurface after a crash as records their appenders were told
//     failed;
//   - Append fails fast until a probe, RetryInterval later, succeeds.
func (j *Journal[L]) fail(b *batch[L], cause error) {
	err := failedErr(cause)
	if cerr := j.cut(); cerr != nil {
		j.log.Error("journal: cannot cut off a failed write; will retry", "err", cerr)
	}
	j.mu.Lock()
	queued := j.cur
	j.cur = &batch[L]{done: make(chan struct{})}
	j.nextLSN = j.last.Load() + 1
	j.setErr(err)
	j.retryAt = time.Now().Add(j.cfg.RetryInterval)
	if j.space != nil {
		close(j.space)
		j.space = nil
	}
	j.mu.Unlock()
	j.log.Error("journal: commit failed; appends fail until a probe write succeeds",
		"err", cause, "first_lsn", b.last-uint64(b.n)+1, "last_lsn", b.last+uint64(queued.n),
		"retry_in", j.cfg.RetryInterval)
	b.err = err
	j.dispatch(b)
	if queued.n > 0 {
		queued.err = err
		j.dispatch(queued)
	}
}

// probeBytes is the size of the write a degraded journal probes with.
const probeBytes = 64 << 10

// probe tests whether the journal can write again: it cuts off what a
// failed write left, writes probeBytes of zeros past the end of the data,
// syncs them, and cuts them off again. Zeros after the last frame are
// never a frame, so a crash midway leaves only a tail that Open cuts (or
// keeps as preallocated space). On success the journal is healthy again.
//
// Why retrying after a failed fsync is sound here: after a failed fsync
// Linux may have dropped the dirty pages it could not write and reports
// the error only once ("fsyncgate"), so a later fsync can succeed without
// those pages ever reaching the disk. The journal never counts on them.
// Everything below segSize was durable before the failure (an earlier
// fsync returned success, and a page is never dropped clean of data it
// already wrote); everything at or past segSize is cut off by truncation
// and written again in full by the next commit, whose own fsync must
// succeed before any of it is acknowledged. The page that straddles
// segSize keeps its durable part in memory (truncation zeroes only past
// the new size), and is written whole again with the new data.
func (j *Journal[L]) probe() {
	err := j.writeProbe()
	j.mu.Lock()
	defer j.mu.Unlock()
	if err == nil {
		j.log.Info("journal: writes succeed again", "last_lsn", j.last.Load())
		j.setErr(nil)
		return
	}
	j.setErr(failedErr(err))
	j.retryAt = time.Now().Add(j.cfg.RetryInterval)
}

// failedErr is the degraded error for a failed write, fsync or probe:
// cause wrapped in ErrFailed, and in ErrNoSpace too when it is ENOSPC.
func failedErr(cause error) error {
	if errors.Is(cause, syscall.ENOSPC) {
		return fmt.Errorf("%w: %w: %w", ErrFailed, ErrNoSpace, cause)
	}
	return fmt.Errorf("%w: %w", ErrFailed, cause)
}

func (j *Journal[L]) writeProbe() error {
	if err := j.cut(); err != nil {
		return err
	}
	j.dirty = true
	if _, err := j.f.WriteAt(zeroBlock[:probeBytes], j.segSize); err != nil {
		return fmt.Errorf("probe: cannot write %s: %w", j.path, err)
	}
	if !j.cfg.NoSync {
		if err := fdatasync(j.f); err != nil {
			return fmt.Errorf("probe: cannot sync %s: %w", j.path, err)
		}
	}
	return j.cut()
}

// cut truncates the current segment to segSize, its durable data,
// dropping what a failed write or a probe left past it (in a preallocated
// segment, the preallocation goes with it: the segment then grows as it is
// written). See probe for why that makes a retry sound. It does nothing
// unless j.dirty: then nothing is past segSize.
func (j *Journal[L]) cut() error {
	if !j.dirty {
		return nil
	}
	if err := j.f.Truncate(j.segSize); err != nil {
		return fmt.Errorf("cannot truncate %s: %w", j.path, err)
	}
	if !j.cfg.NoSync {
		if err := fdatasync(j.f); err != nil {
			return fmt.Errorf("cannot sync %s: %w", j.path, err)
		}
	}
	j.dirty = false
	return nil
}

// setErr sets the degraded error (nil: healthy) and wakes healthChanged
// waiters when health flips. j.mu is held.
func (j *Journal[L]) setErr(err error) {
	if (err == nil) != (j.err == nil) {
		close(j.healthC)
		j.healthC = make(chan struct{})
	}
	j.err = err
}

// Health returns nil while the journal can write, ErrClosed after Close,
// and otherwise the error of the failed write, fsync or probe that
// degraded it (wrapping ErrFailed, and ErrNoSpace when the disk is full).
// While degraded every Append fails fast with that error; the journal
// probes the disk every Config.RetryInterval and is healthy again after
// the first probe that succeeds: no restart is needed once space is freed.
// A server's readiness check should report not ready while it is non-nil.
func (j *Journal[L]) Health() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	return j.err
}

// healthChanged returns a channel that is closed the next time Health
// flips between nil and non-nil.
func (j *Journal[L]) healthChanged() <-chan struct{} {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.healthC
}

// takeBuf returns a recycled batch buffer, or nil.
func (j *Journal[L]) takeBuf() []byte {
	select {
	case buf := <-j.bufs:
		return buf
	default:
		return nil
	}
}

// finish wakes b's appenders and recycles its buffer.
func (j *Journal[L]) finish(b *batch[L]) {
	close(b.done)
	if cap(b.buf) <= 2*maxBatchBytes {
		select {
		case j.bufs <- b.buf[:0]:
		default:
		}
	}
	b.buf = nil
}

// applyLoop hands each durable batch to the subscribers, in order, then
// wakes the batch's appenders: an Append returns only after every
// subscriber saw it.
func (j *Journal[L]) applyLoop() {
	defer close(j.applied)
	for b := range j.applyQ {
		if b.err == nil {
			first := b.last - uint64(b.n) + 1
			recs := j.recs[:0]
			for off := 0; off < len(b.buf); {
				size, _ := frameLen(b.buf[off:])
				rec, err := checkFrame(b.buf[off : off+size])
				if err != nil {
					panic("BUG: journal: own frame does not decode: " + err.Error())
				}
				recs = append(recs, rec)
				off += size
			}
			for _, sub := range j.subs {
				if err := sub.Apply(recs, b.live); err != nil {
					j.log.Error("journal: subscriber failed", "subscriber", fmt.Sprintf("%T", sub), "err", err, "first_lsn", first, "last_lsn", b.last)
				}
			}
			clear(recs)
			j.recs = recs[:0]
			clear(b.live)
		}
		j.finish(b)
	}
}

// commit makes b durable, rolling the segment first if it is full, then
// publishes its LSNs. On error nothing of b is durable or published, and
// j.dirty says whether bytes of it may sit past segSize.
func (j *Journal[L]) commit(b *batch[L]) error {
	first := b.last - uint64(b.n) + 1
	if first != j.last.Load()+1 {
		panic(fmt.Sprintf("BUG: journal: batch starts at LSN %d, last durable is %d", first, j.last.Load()))
	}
	if j.cfg.commitHook != nil {
		if err := j.cfg.commitHook(); err != nil {
			return err
		}
	}
	if err := j.cut(); err != nil {
		return err
	}
	if j.segSize >= j.cfg.SegmentBytes && j.segRecs > 0 {
		if err := j.roll(first); err != nil {
			return err
		}
	}
	j.dirty = true
	if _, err := j.f.WriteAt(b.buf, j.segSize); err != nil {
		return fmt.Errorf("cannot write %s: %w", j.path, err)
	}
	if !j.cfg.NoSync {
		if err := fdatasync(j.f); err != nil {
			return fmt.Errorf("cannot sync %s: %w", j.path, err)
		}
	}
	j.dirty = false
	j.segSize += int64(len(b.buf))
	j.segRecs += int64(b.n)
	j.last.Store(b.last)
	return nil
}

// roll closes the current segment (already synced) and starts a new one
// whose first record will be first.
func (j *Journal[L]) roll(first uint64) error {
	if j.cfg.Preallocate {
		// cut the unused zeros off the finished segment before the next
		// one appears: only the last segment may end in preallocated space
		if err := j.f.Truncate(j.segSize); err != nil {
			return fmt.Errorf("journal: cannot trim %s: %w", j.path, err)
		}
		if !j.cfg.NoSync {
			if err := j.f.Sync(); err != nil {
				return fmt.Errorf("journal: cannot sync %s: %w", j.path, err)
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
		j.log.Warn("journal: closing rolled segment", "file", j.path, "err", err)
	}
	j.f, j.path, j.segSize, j.segRecs = f, path, SegmentHeaderSize, 0
	j.segMu.Lock()
	j.segs = append(j.segs, segInfo{first: first, path: path})
	j.segMu.Unlock()
	return nil
}

// Close commits every record already enqueued, then closes the files and
// releases the directory. Appends that have not been enqueued yet return
// ErrClosed. A second Close returns ErrClosed.
func (j *Journal[L]) Close() error {
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
// Tombstones (TypeLost, written by Repair for records it could not
// recover; TypeErased, written by Redact for an erased customer's) are
// skipped: fn sees a gap in LSNs where they are.
// fn must not retain rec.Payload: its bytes are reused for the next record.
func (j *Journal[L]) Replay(from uint64, fn func(Record) error) error {
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
			if !Tombstone(rec.Type) {
				if err := fn(rec); err != nil {
					r.close()
					return err
				}
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
