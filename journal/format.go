package journal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"time"
)

// On-disk format constants. FORMAT.md describes the layout byte by byte.
const (
	// FormatVersion is the version of the segment and frame layout (not of
	// the JSON payloads: see SchemaVersion).
	FormatVersion = 1

	// SegmentHeaderSize is the size of the header at the start of every
	// segment file.
	SegmentHeaderSize = 24

	// FrameHeaderSize is the size of a frame before its payload.
	FrameHeaderSize = 28

	// MaxPayload is the largest payload a frame may carry. A length field
	// above it is corruption, so a garbage length never makes a reader
	// allocate more than this.
	MaxPayload = 16 << 20

	// SegmentExt is the file name extension of segment files.
	SegmentExt = ".seg"
)

// segmentMagic opens every segment file.
var segmentMagic = [8]byte{'N', 'B', 'J', 'O', 'U', 'R', 'N', 'L'}

// castagnoli is the CRC-32C table; read-only after init.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Time range representable as int64 Unix nanoseconds.
var (
	minTime = time.Unix(0, -1<<63)
	maxTime = time.Unix(0, 1<<63-1)
)

// SegmentName returns the file name of the segment whose first record has
// LSN first: 20 decimal digits, zero-padded, then ".seg".
func SegmentName(first uint64) string {
	return fmt.Sprintf("%020d%s", first, SegmentExt)
}

// parseSegmentName returns the first LSN encoded in a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	s, ok := strings.CutSuffix(name, SegmentExt)
	if !ok || len(s) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return n, true
}

// appendSegmentHeader appends the header of a segment starting at first.
func appendSegmentHeader(dst []byte, first uint64) []byte {
	start := len(dst)
	dst = append(dst, segmentMagic[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, FormatVersion)
	dst = binary.LittleEndian.AppendUint64(dst, first)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// decodeSegmentHeader checks a segment header and returns its first LSN.
func decodeSegmentHeader(b []byte) (uint64, error) {
	if len(b) < SegmentHeaderSize {
		return 0, errTorn
	}
	if [8]byte(b[:8]) != segmentMagic {
		return 0, fmt.Errorf("%w: bad segment magic", ErrCorrupt)
	}
	if crc32.Checksum(b[:20], castagnoli) != binary.LittleEndian.Uint32(b[20:24]) {
		return 0, fmt.Errorf("%w: bad segment header checksum", ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint32(b[8:12]); v != FormatVersion {
		return 0, fmt.Errorf("%w: unsupported segment format version %d", ErrCorrupt, v)
	}
	first := binary.LittleEndian.Uint64(b[12:20])
	if first == 0 {
		return 0, fmt.Errorf("%w: segment first LSN is 0", ErrCorrupt)
	}
	return first, nil
}

// appendFrame appends one encoded frame to dst. The caller has checked
// len(payload) <= MaxPayload.
func appendFrame(dst []byte, lsn uint64, typ Type, unixNano int64, payload []byte) []byte {
	start := len(dst)
	var h [FrameHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	h[8] = FormatVersion
	h[9] = byte(typ)
	// h[10:12] reserved, zero.
	binary.LittleEndian.PutUint64(h[12:20], lsn)
	binary.LittleEndian.PutUint64(h[20:28], uint64(unixNano))
	dst = append(dst, h[:]...)
	dst = append(dst, payload...)
	crc := crc32.Update(0, castagnoli, dst[start+8:])
	binary.LittleEndian.PutUint32(dst[start+4:start+8], crc)
	return dst
}

// frameLen checks the fixed part of a frame header (at least 4 bytes) and
// returns the frame's total size.
func frameLen(h []byte) (int, error) {
	n := binary.LittleEndian.Uint32(h[0:4])
	if n > MaxPayload {
		return 0, fmt.Errorf("%w: payload length %d over the %d limit", ErrCorrupt, n, MaxPayload)
	}
	return FrameHeaderSize + int(n), nil
}

// checkFrame verifies a whole frame (exactly its size, as given by frameLen)
// and decodes it. Payload aliases b.
func checkFrame(b []byte) (Record, error) {
	if crc32.Checksum(b[8:], castagnoli) != binary.LittleEndian.Uint32(b[4:8]) {
		return Record{}, fmt.Errorf("%w: frame checksum mismatch", ErrCorrupt)
	}
	if b[8] != FormatVersion {
		return Record{}, fmt.Errorf("%w: unsupported frame format version %d", ErrCorrupt, b[8])
	}
	if b[9] == 0 {
		return Record{}, fmt.Errorf("%w: frame type 0", ErrCorrupt)
	}
	if b[10] != 0 || b[11] != 0 {
		return Record{}, fmt.Errorf("%w: frame reserved bytes not zero", ErrCorrupt)
	}
	lsn := binary.LittleEndian.Uint64(b[12:20])
	if lsn == 0 {
		return Record{}, fmt.Errorf("%w: frame LSN 0", ErrCorrupt)
	}
	return Record{
		LSN:     lsn,
		Type:    Type(b[9]),
		Time:    time.Unix(0, int64(binary.LittleEndian.Uint64(b[20:28]))).UTC(),
		Payload: b[FrameHeaderSize:],
	}, nil
}

// decodeFrame decodes the frame at the start of b and returns it with its
// size in bytes. It returns errTorn when b ends before the frame does, and
// an error wrapping ErrCorrupt when the frame is invalid. It never panics.
// The record's Payload aliases b.
func decodeFrame(b []byte) (Record, int, error) {
	if len(b) < FrameHeaderSize {
		return Record{}, 0, errTorn
	}
	size, err := frameLen(b)
	if err != nil {
		return Record{}, 0, err
	}
	if len(b) < size {
		return Record{}, 0, errTorn
	}
	rec, err := checkFrame(b[:size])
	if err != nil {
		return Record{}, 0, err
	}
	return rec, size, nil
}

// unixNano converts t for a frame, checking its range.
func unixNano(t time.Time) (int64, error) {
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("%w: %s", ErrBadTime, t)
	}
	return t.UnixNano(), nil
}
