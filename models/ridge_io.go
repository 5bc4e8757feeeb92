package models

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// Ridge file format, version 1, all integers and floats little-endian:
//
//	magic    [8]byte  "NBRIDGE\x00"
//	version  uint32   1
//	length   uint64   payload length in bytes
//	payload:
//	  dim uint32, actions uint32, lambda float64, refreshEvery int64,
//	  nameLen uint16, name [nameLen]byte, updates uint64,
//	  per posterior (max(actions,1) of them):
//	    n uint64, since uint64, b [dim]float64,
//	    A upper triangle row-major [dim(dim+1)/2]float64,
//	    A⁻¹ upper triangle row-major [dim(dim+1)/2]float64
//	crc      uint32   CRC-32C (Castagnoli) of everything before it
//
// A⁻¹ is stored rather than recomputed so that a round trip reproduces the
// predictions bit for bit.
const (
	ridgeMagic   = "NBRIDGE\x00"
	ridgeVersion = 1
	headerLen    = 8 + 4 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteTo writes the writer state (sufficient statistics, inverse, counts;
// including unpublished updates) to w in the format above. It is a writer
// call: do not run it concurrently with Update; to persist from another
// goroutine, Clone first.
func (m *Ridge) WriteTo(w io.Writer) (int64, error) {
	d := m.d
	tri := d * (d + 1) / 2
	size := 4 + 4 + 8 + 8 + 2 + len(m.cfg.Name) + 8 + len(m.posts)*(16+8*(d+2*tri))
	buf := make([]byte, 0, headerLen+size+4)
	le := binary.LittleEndian
	buf = append(buf, ridgeMagic...)
	buf = le.AppendUint32(buf, ridgeVersion)
	buf = le.AppendUint64(buf, uint64(size))
	buf = le.AppendUint32(buf, uint32(d))
	buf = le.AppendUint32(buf, uint32(m.cfg.Actions))
	buf = le.AppendUint64(buf, math.Float64bits(m.cfg.Lambda))
	buf = le.AppendUint64(buf, uint64(int64(m.cfg.RefreshEvery)))
	buf = le.AppendUint16(buf, uint16(len(m.cfg.Name)))
	buf = append(buf, m.cfg.Name...)
	buf = le.AppendUint64(buf, m.updates.Load())
	for k := range m.posts {
		p := &m.posts[k]
		buf = le.AppendUint64(buf, p.n)
		buf = le.AppendUint64(buf, uint64(p.since))
		for _, v := range p.b {
			buf = le.AppendUint64(buf, math.Float64bits(v))
		}
		for _, mat := range [][]float64{p.a, p.ainv} {
			for i := 0; i < d; i++ {
				for _, v := range mat[i*d+i : (i+1)*d] {
					buf = le.AppendUint64(buf, math.Float64bits(v))
				}
			}
		}
	}
	if len(buf) != headerLen+size {
		panic("BUG: models.Ridge.WriteTo: size mismatch")
	}
	buf = le.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
	n, err := w.Write(buf)
	if err != nil {
		return int64(n), fmt.Errorf("cannot write ridge model: %w", err)
	}
	return int64(n), nil
}

// ReadRidge reads a model written by WriteTo and publishes it. A stream
// that is not a ridge model, has another version, is truncated, fails its
// checksum or decodes to an invalid posterior is refused with ErrBadMagic,
// ErrVersion, ErrTruncated, ErrCorrupt or ErrInvalidConfig (wrapped). It
// reads exactly one model and nothing after it.
func ReadRidge(r io.Reader) (*Ridge, error) {
	var hdr [headerLen]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		if n >= len(ridgeMagic) && string(hdr[:8]) != ridgeMagic || n > 0 && n < 8 && string(hdr[:n]) != ridgeMagic[:n] {
			return nil, fmt.Errorf("cannot read ridge model: %w", ErrBadMagic)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("cannot read ridge model header: %w", ErrTruncated)
		}
		return nil, fmt.Errorf("cannot read ridge model header: %w", err)
	}
	if string(hdr[:8]) != ridgeMagic {
		return nil, fmt.Errorf("cannot read ridge model: %w", ErrBadMagic)
	}
	le := binary.LittleEndian
	if v := le.Uint32(hdr[8:]); v != ridgeVersion {
		return nil, fmt.Errorf("cannot read ridge model: %w: %d (this build reads %d)", ErrVersion, v, ridgeVersion)
	}
	size := le.Uint64(hdr[12:])
	if size > 1<<40 {
		return nil, fmt.Errorf("cannot read ridge model: %w: payload length %d", ErrCorrupt, size)
	}
	// ReadAll grows with the data actually present, so a lying length
	// costs no more memory than the stream holds.
	var body bytes.Buffer
	if _, err := body.ReadFrom(io.LimitReader(r, int64(size)+4)); err != nil {
		return nil, fmt.Errorf("cannot read ridge model: %w", err)
	}
	if uint64(body.Len()) < size+4 {
		return nil, fmt.Errorf("cannot read ridge model: %w: %d of %d bytes", ErrTruncated, headerLen+body.Len(), headerLen+size+4)
	}
	payload := body.Bytes()[:size]
	crc := crc32.Update(crc32.Checksum(hdr[:], castagnoli), castagnoli, payload)
	if got := le.Uint32(body.Bytes()[size:]); got != crc {
		return nil, fmt.Errorf("cannot read ridge model: %w: checksum %08x, computed %08x", ErrCorrupt, got, crc)
	}
	return decodeRidge(payload)
}

type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) take(n int) []byte {
	if d.err || len(d.b) < n {
		d.err = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u16() uint16 {
	if b := d.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) floats(dst []float64) bool {
	for i := range dst {
		v := math.Float64frombits(d.u64())
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
		dst[i] = v
	}
	return !d.err
}

func decodeRidge(payload []byte) (*Ridge, error) {
	dec := &decoder{b: payload}
	var cfg RidgeConfig
	cfg.Dim = int(dec.u32())
	cfg.Actions = int(dec.u32())
	cfg.Lambda = math.Float64frombits(dec.u64())
	cfg.RefreshEvery = int(int64(dec.u64()))
	cfg.Name = string(dec.take(int(dec.u16())))
	updates := dec.u64()
	if dec.err {
		return nil, fmt.Errorf("cannot decode ridge model: %w: short header", ErrCorrupt)
	}
	if cfg.Name == "" || cfg.RefreshEvery == 0 {
		return nil, fmt.Errorf("cannot decode ridge model: %w: defaults not filled in", ErrInvalidConfig)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("cannot decode ridge model: %w", err)
	}
	d := cfg.Dim
	tri := d * (d + 1) / 2
	nPosts := max(cfg.Actions, 1)
	if want := uint64(nPosts) * uint64(16+8*(d+2*tri)); uint64(len(dec.b)) != want {
		return nil, fmt.Errorf("cannot decode ridge model: %w: %d bytes of statistics for %d posteriors of dim %d, want %d",
			ErrCorrupt, len(dec.b), nPosts, d, want)
	}
	m := newRidge(cfg)
	var total uint64
	upper := make([]float64, tri)
	for k := range m.posts {
		p := &m.posts[k]
		p.n = dec.u64()
		since := dec.u64()
		if since > p.n {
			return nil, fmt.Errorf("cannot decode ridge model: %w: posterior %d: %d updates since refresh of %d", ErrCorrupt, k, since, p.n)
		}
		p.since = int(since)
		total += p.n
		if !dec.floats(p.b) {
			return nil, fmt.Errorf("cannot decode ridge model: %w: posterior %d: non-finite b", ErrCorrupt, k)
		}
		for _, dst := range [][]float64{p.a, p.ainv} {
			if !dec.floats(upper) {
				return nil, fmt.Errorf("cannot decode ridge model: %w: posterior %d: non-finite matrix", ErrCorrupt, k)
			}
			off := 0
			for i := 0; i < d; i++ {
				if upper[off] <= 0 {
					return nil, fmt.Errorf("cannot decode ridge model: %w: posterior %d: diagonal %d not positive", ErrCorrupt, k, i)
				}
				copy(dst[i*d+i:(i+1)*d], upper[off:off+d-i])
				off += d - i
			}
		}
		// A⁻¹ is stored as an upper triangle; mirror it (Predict and Update
		// read full rows). A keeps only its upper triangle.
		for i := 0; i < d; i++ {
			for j := i + 1; j < d; j++ {
				p.ainv[j*d+i] = p.ainv[i*d+j]
			}
		}
		p.dirty = true
	}
	if total != updates {
		return nil, fmt.Errorf("cannot decode ridge model: %w: %d updates, posteriors hold %d", ErrCorrupt, updates, total)
	}
	m.updates.Store(updates)
	m.Publish()
	return m, nil
}
