package training

import (
	le "encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// This file is the binary example cache's format, in memory: the header
// and the encoding of SlotExamples into checksummed blocks. Reading and
// writing files (and deciding whether a cache may be used) is
// cbcache_file.go.
//
// A cache file is
//
//	header (cacheHeaderLen bytes, below)
//	blocks: u32 payload length | u32 CRC-32C of the payload | payload
//
// A payload is whole examples, back to back (an example never spans two
// blocks). An example is
//
//	uvarint actions | uvarint chosen+1 (0: unlabelled) | f64 cost | f64 prob
//	the shared list, then one list per action
//
// and a list, against the previous example's list at the same position
// (shared, or action k), is one of
//
//	listSame:   the same features (namespace, slot, value) as before
//	listValues: the same namespaces and slots, then n × f64 values
//	listFull:   uvarint n, n × (namespace byte, uvarint slot), n × f64
//
// Logs repeat the action catalogue in every example and the shared
// features in the same order, so most lists are listSame or listValues:
// an example of the benchmark file (64 shared features, 10 actions of 8)
// takes about 540 bytes against 1.45 KB of text, and decodes with no
// parsing. Integers are little-endian; f64 is the IEEE bits, so values
// come back bit for bit.

// cacheVersion changes whenever the format or the parsed form it holds
// changes (the slot layout, the parser's rules): an older cache is then
// rebuilt, never misread.
const cacheVersion = 1

const (
	cacheMagic     = "NBCBADF\x00"
	cacheHeaderLen = 72
	cacheBlockLen  = 256 << 10 // a block is flushed once its payload reaches this
	maxCacheBlock  = maxLine * 4
)

const (
	listSame   = 0
	listValues = 1
	listFull   = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// cacheHeader is what a cache file says about itself and its source.
//
//	 0 magic "NBCBADF\0"      8 u32 version    12 u32 flags (0)
//	16 u32 shared dim        20 u32 action dim
//	24 u64 source size       32 i64 source mtime (Unix ns)
//	40 u32 CRC-32C of the source's first 64 KiB (or all of it)
//	44 u32 reserved (0)
//	48 u64 examples          56 u64 body length (bytes after the header)
//	64 u32 CRC-32C of bytes 0..64                68 u32 reserved (0)
//
// The dims are the settings that change the parsed form (which slot a
// name takes); interactions and the learning rate do not (crosses are
// formed by the learner), so a cache serves any of them.
type cacheHeader struct {
	version              uint32
	sharedDim, actionDim uint32
	srcSize              uint64
	srcMtime             int64
	srcHead              uint32
	examples, bodyLen    uint64
}

func (h *cacheHeader) marshal() []byte {
	b := make([]byte, cacheHeaderLen)
	copy(b, cacheMagic)
	le.LittleEndian.PutUint32(b[8:], h.version)
	le.LittleEndian.PutUint32(b[16:], h.sharedDim)
	le.LittleEndian.PutUint32(b[20:], h.actionDim)
	le.LittleEndian.PutUint64(b[24:], h.srcSize)
	le.LittleEndian.PutUint64(b[32:], uint64(h.srcMtime))
	le.LittleEndian.PutUint32(b[40:], h.srcHead)
	le.LittleEndian.PutUint64(b[48:], h.examples)
	le.LittleEndian.PutUint64(b[56:], h.bodyLen)
	le.LittleEndian.PutUint32(b[64:], crc32.Checksum(b[:64], castagnoli))
	return b
}

// unmarshalCacheHeader parses b, returning why it is not a valid header.
func unmarshalCacheHeader(b []byte) (cacheHeader, error) {
	var h cacheHeader
	switch {
	case len(b) < cacheHeaderLen:
		return h, errors.New("shorter than a header")
	case string(b[:8]) != cacheMagic:
		return h, errors.New("not a nextbest cb_adf cache")
	case crc32.Checksum(b[:64], castagnoli) != le.LittleEndian.Uint32(b[64:]):
		return h, errors.New("header checksum mismatch")
	}
	h.version = le.LittleEndian.Uint32(b[8:])
	h.sharedDim = le.LittleEndian.Uint32(b[16:])
	h.actionDim = le.LittleEndian.Uint32(b[20:])
	h.srcSize = le.LittleEndian.Uint64(b[24:])
	h.srcMtime = int64(le.LittleEndian.Uint64(b[32:]))
	h.srcHead = le.LittleEndian.Uint32(b[40:])
	h.examples = le.LittleEndian.Uint64(b[48:])
	h.bodyLen = le.LittleEndian.Uint64(b[56:])
	if h.version != cacheVersion {
		return h, fmt.Errorf("format version %d, this build reads %d", h.version, cacheVersion)
	}
	return h, nil
}

// cacheEncoder appends examples to a block; it remembers the previous
// example's lists to encode against.
type cacheEncoder struct {
	buf    []byte
	shared []SlotFeature
	acts   [][]SlotFeature
}

// add appends ex to the current block.
func (e *cacheEncoder) add(ex *SlotExample) {
	b := le.AppendUvarint(e.buf, uint64(len(ex.Actions)))
	b = le.AppendUvarint(b, uint64(ex.Chosen+1))
	b = le.LittleEndian.AppendUint64(b, math.Float64bits(ex.Cost))
	b = le.LittleEndian.AppendUint64(b, math.Float64bits(ex.Prob))
	b, e.shared = appendList(b, e.shared, ex.Shared)
	for k, a := range ex.Actions {
		if k == len(e.acts) {
			e.acts = append(e.acts, nil)
		}
		b, e.acts[k] = appendList(b, e.acts[k], a)
	}
	e.buf = b
}

// block returns the block's framed bytes (length, CRC, payload) and
// starts a new one; the result is valid until the next add.
func (e *cacheEncoder) block() []byte {
	payload := e.buf[8:]
	le.LittleEndian.PutUint32(e.buf[0:], uint32(len(payload)))
	le.LittleEndian.PutUint32(e.buf[4:], crc32.Checksum(payload, castagnoli))
	out := e.buf
	e.buf = e.buf[:8]
	return out
}

func newCacheEncoder() *cacheEncoder {
	return &cacheEncoder{buf: make([]byte, 8, cacheBlockLen+64<<10)}
}

// pending reports the payload bytes not yet framed.
func (e *cacheEncoder) pending() int { return len(e.buf) - 8 }

// appendList encodes cur against prev and returns the buffer and the new
// prev (cur's copy, in prev's storage).
func appendList(b []byte, prev, cur []SlotFeature) ([]byte, []SlotFeature) {
	sameLayout, sameValues := len(prev) == len(cur), true
	if sameLayout {
		for i := range cur {
			if cur[i].Slot != prev[i].Slot || cur[i].NS != prev[i].NS {
				sameLayout = false
				break
			}
			sameValues = sameValues && math.Float64bits(cur[i].Value) == math.Float64bits(prev[i].Value)
		}
	}
	switch {
	case sameLayout && sameValues:
		return append(b, listSame), prev
	case sameLayout:
		b = append(b, listValues)
	default:
		b = append(b, listFull)
		b = le.AppendUvarint(b, uint64(len(cur)))
		for _, f := range cur {
			b = append(b, f.NS)
			b = le.AppendUvarint(b, uint64(f.Slot))
		}
	}
	for _, f := range cur {
		b = le.LittleEndian.AppendUint64(b, math.Float64bits(f.Value))
	}
	return b, append(prev[:0], cur...)
}

// errCacheData is a payload that does not decode (a bug, or corruption
// that the CRC missed).
var errCacheData = errors.New("malformed example")

// cacheDecoder decodes the examples of one block after another into one
// reused SlotExample.
type cacheDecoder struct {
	ex           SlotExample
	acts         [][]SlotFeature
	sdim, adim   uint64
	b            []byte // the rest of the current payload
	decoded      uint64
	sharedSeeded bool
}

// next decodes the next example of the current payload.
func (d *cacheDecoder) next() (*SlotExample, error) {
	b := d.b
	nact, n := le.Uvarint(b)
	if n <= 0 || nact > uint64(len(b)) {
		return nil, errCacheData
	}
	b = b[n:]
	ch, n := le.Uvarint(b)
	if n <= 0 || ch > nact || len(b)-n < 16 {
		return nil, errCacheData
	}
	b = b[n:]
	ex := &d.ex
	ex.Chosen = int(ch) - 1
	ex.Cost = math.Float64frombits(le.LittleEndian.Uint64(b))
	ex.Prob = math.Float64frombits(le.LittleEndian.Uint64(b[8:]))
	b = b[16:]
	var err error
	if b, ex.Shared, err = decodeList(b, ex.Shared, d.sharedSeeded, d.sdim); err != nil {
		return nil, err
	}
	d.sharedSeeded = true
	for k := 0; k < int(nact); k++ {
		seeded := k < len(d.acts)
		if !seeded {
			d.acts = append(d.acts, nil)
		}
		if b, d.acts[k], err = decodeList(b, d.acts[k], seeded, d.adim); err != nil {
			return nil, err
		}
	}
	ex.Actions = d.acts[:nact]
	d.b = b
	d.decoded++
	return ex, nil
}

// decodeList decodes one list into prev's storage; seeded says whether
// prev holds the list at this position of an earlier example.
func decodeList(b []byte, prev []SlotFeature, seeded bool, dim uint64) ([]byte, []SlotFeature, error) {
	if len(b) == 0 {
		return b, prev, errCacheData
	}
	kind := b[0]
	b = b[1:]
	switch kind {
	case listSame:
		if !seeded {
			return b, prev, errCacheData
		}
		return b, prev, nil
	case listValues:
		if !seeded {
			return b, prev, errCacheData
		}
	case listFull:
		n, w := le.Uvarint(b)
		if w <= 0 || n > uint64(len(b)) {
			return b, prev, errCacheData
		}
		b = b[w:]
		prev = prev[:0]
		for i := uint64(0); i < n; i++ {
			if len(b) < 2 {
				return b, prev, errCacheData
			}
			ns := b[0]
			s, w := le.Uvarint(b[1:])
			if w <= 0 || s >= dim {
				return b, prev, errCacheData
			}
			b = b[1+w:]
			prev = append(prev, SlotFeature{Slot: int32(s), NS: ns})
		}
	default:
		return b, prev, errCacheData
	}
	if len(b) < 8*len(prev) {
		return b, prev, errCacheData
	}
	for i := range prev {
		prev[i].Value = math.Float64frombits(le.LittleEndian.Uint64(b[8*i:]))
	}
	return b[8*len(prev):], prev, nil
}
