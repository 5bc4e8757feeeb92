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
// tail — part of a frame, or bytes that fail their checksum — at the end of
// the last segment; Open cuts it off at the last good frame and logs what
// it cut. Records cut that way were never acknowledged (their fsync never
// returned). Anything wrong elsewhere is ErrCorrupt and Open refuses to
// guess. NewReader reads a directory without modifying it, also while
// another process appends (it stops at io.EOF where the written data ends).
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
// LastLSN() >= lsn settles it later. After a failed write or fsync every
// Append fails (ErrFailed) until the journal is reopened.
//
// # What it is not
//
//   - Not replicated: one directory on one machine, one writer (Open takes a
//     flock). The scale-out path is NATS JetStream, elsewhere.
//   - Not a database: no index but the LSN (segments are named by their
//     first LSN), no queries, no compaction, no deletion or retention yet.
//   - Not a schema registry: it stores payloads as opaque bytes and never
//     parses them on the write path.
//   - Not protected against a disk that lies about fsync, nor against silent
//     corruption in the middle of the last segment, which looks like a torn
//     tail and is cut (and logged) rather than reported.
package journal
