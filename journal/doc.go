// Package journal is nextbest's durable, append-only log of decisions,
// outcomes and events, kept in checksummed segment files on local disk.
//
// # What it is
//
// The serve path appends a record per decision, outcome and event; training
// and evaluation read them back. Every record gets a log sequence number
// (LSN), consecutive from 1 and never reused. An Append returns only once
// its record is durable: written and fsynced. Concurrent Appends share one
// write and one fsync (group commit), so throughput grows with the number of
// appenders while each pays about one fsync of latency.
//
// Open verifies every frame of every segment. A crash can leave a torn
// tail — part of a frame, or bytes that fail their checksum — at the
// physical end of the data; Open cuts it off at the last good frame and
// logs what it cut. Records cut that way were never acknowledged (their
// fsync never returned). Damage with any valid frame after it, in any
// segment, is not a tear: Open refuses (a *CorruptError wrapping
// ErrCorrupt, naming the file, offset and LSNs) rather than drop
// acknowledged records. Config.AppliedLSN lets the caller's derived state
// say how far it has applied; Open refuses (ErrBehind) a journal that ends
// below it, so LSNs are never handed out twice. NewReader reads a
// directory without modifying it, also while another process appends (it
// stops at io.EOF where the written data ends).
//
// # Damage: Verify and Repair
//
// Verify reports every damaged region of a journal, read-only. Repair
// (with the journal closed) keeps every valid frame with its LSN, copies
// every damaged byte to a quarantine file, and writes a TypeLost tombstone
// for each LSN lost inside the journal, so that LSNs stay contiguous.
// Replay and Reader skip tombstones. "nextbest journal verify" and
// "nextbest journal repair" run them.
//
// # Subscribers
//
// OpenWith takes an ordered list of subscribers (Subscriber): each durable
// batch goes to each of them, in order, from one apply goroutine, before
// its Appends return; the next batch's write and fsync overlap them. A
// server's state applier is its subscriber, so a reader follows
// journal → applier by name. AppendLive passes a typed live value with a
// record (what the appender already holds of it: the decoded payload,
// say) that the subscribers receive and the journal never persists; the
// type parameter of Journal says which type, NoLive for none.
//
// The byte layout is specified in FORMAT.md, for readers in other languages.
// Payloads are JSON of the structs in records.go; Encode and Decode convert.
//
// # Context and acknowledgement
//
// A nil error from Append means durable. ctx is honoured while an Append
// waits for room in the pending batch; once enqueued, the record has its LSN
// and will be written. If ctx ends before it is durable, Append returns the
// LSN with an error wrapping ErrPending and ctx.Err(): durability unknown,
// LastLSN() >= lsn settles it later, unless the journal failed meanwhile.
//
// # Failure
//
// A failed write or fsync fails the Appends of its batch and of the batch
// queued behind it (ErrFailed; also ErrNoSpace when the disk is full):
// none is acknowledged, the bytes written are cut off, and their LSNs go
// to later records. The journal is then degraded: Health returns the
// error and Appends fail fast. Every Config.RetryInterval it probes the
// disk (a write and fsync of zeros past the end of the data, then cut off);
// after the first probe that succeeds it accepts Appends again, with no
// restart. Preallocation that does not fit on the disk is skipped, never
// fatal.
//
// # What it is not
//
//   - Not replicated: one directory on one machine, one writer (Open takes a
//     flock). The scale-out path is NATS JetStream, elsewhere.
//   - Not a database: no index but the LSN (segments are named by their
//     first LSN), no queries, no compaction; retention deletes whole old
//     segments only (Retain).
//   - Not a schema registry: it stores payloads as opaque bytes and never
//     parses them on the write path.
//   - Not protected against a disk that lies about fsync. Damage is
//     detected (CRC-32C per frame) and never silently cut unless it is the
//     torn tail, but not corrected: Repair quarantines it, and the records
//     it held are lost.
package journal
