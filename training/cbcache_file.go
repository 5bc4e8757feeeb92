package training

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// CachedCBADFReader reads a cb_adf text file through a binary example
// cache (cbcache.go), as Vowpal Wabbit's --cache_file does: when the
// cache is valid for the file it reads the cache and parses nothing;
// otherwise it parses the text and writes the cache alongside, in the same
// pass, publishing it (an atomic rename) only once the text has been read
// to its end without error.
//
// A cache is valid when its header checksum, format version and slot
// dims match, it records the source's size, modification time and the
// checksum of its first 64 KiB, it is not older than the source, and its
// length is the header's. Each block's CRC-32C is checked before any of
// its examples is returned, and the example count at the end; a block
// that fails makes Next return an error wrapping ErrCacheCorrupt, after
// which the caller starts over with RebuildCache (ProgressiveSGDFile
// does). A cache that is stale, truncated or corrupt is therefore never
// learned from. A CachedCBADFReader is not safe for concurrent use.
type CachedCBADFReader struct {
	src   *os.File
	text  *CBADFReader // nil when reading the cache
	cache io.Reader    // the cache file, read a block at a time (no bufio: blocks are large)
	dec   cacheDecoder
	hdr   cacheHeader
	rest  uint64 // body bytes not yet read
	buf   []byte

	// writing
	path, tmpPath string
	tmp           *os.File
	enc           *cacheEncoder
	whdr          cacheHeader
	written       uint64

	reason string
	done   bool
}

// CacheOptions configures OpenCBADFCached.
type CacheOptions struct {
	// Rebuild ignores an existing cache and writes it again from the text.
	Rebuild bool
}

// OpenCBADFCached opens the cb_adf text file at path for reading through
// the cache file at cachePath (see CachedCBADFReader). The reader must be
// closed.
func OpenCBADFCached(path, cachePath string, cfg CBADFReaderConfig, opt CacheOptions) (*CachedCBADFReader, error) {
	cfg.SharedDim, cfg.ActionDim = cmpInt(cfg.SharedDim, 64), cmpInt(cfg.ActionDim, 8)
	if cfg.SharedDim < 1 || cfg.ActionDim < 1 {
		return nil, fmt.Errorf("%w: shared dim %d, action dim %d", ErrBadConfig, cfg.SharedDim, cfg.ActionDim)
	}
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := src.Stat()
	if err != nil {
		src.Close()
		return nil, err
	}
	head, err := sourceHead(src)
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	want := cacheHeader{version: cacheVersion, sharedDim: uint32(cfg.SharedDim), actionDim: uint32(cfg.ActionDim),
		srcSize: uint64(fi.Size()), srcMtime: fi.ModTime().UnixNano(), srcHead: head}
	r := &CachedCBADFReader{src: src, path: cachePath}
	if opt.Rebuild {
		r.reason = "rebuild requested"
	} else if r.reason = r.openCache(cachePath, fi, want); r.reason == "" {
		return r, nil
	}
	// parse the text, writing the cache alongside
	if r.text, err = NewCBADFReader(src, cfg); err != nil {
		src.Close()
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(cachePath), filepath.Base(cachePath)+".tmp*")
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("cannot create cache %s: %w", cachePath, err)
	}
	if _, err := tmp.Write(make([]byte, cacheHeaderLen)); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		src.Close()
		return nil, fmt.Errorf("cannot write cache %s: %w", cachePath, err)
	}
	r.tmp, r.tmpPath, r.enc, r.whdr = tmp, tmp.Name(), newCacheEncoder(), want
	return r, nil
}

// sourceHead returns the CRC-32C of the first 64 KiB of f and rewinds it.
func sourceHead(f *os.File) (uint32, error) {
	b := make([]byte, 64<<10)
	n, err := io.ReadFull(f, b)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	return crc32.Checksum(b[:n], castagnoli), nil
}

// openCache opens the cache for reading if it is valid for the source
// (fi, want); otherwise it returns why not.
func (r *CachedCBADFReader) openCache(path string, fi os.FileInfo, want cacheHeader) string {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "no cache"
	}
	if err != nil {
		return err.Error()
	}
	reason := func() string {
		cfi, err := f.Stat()
		if err != nil {
			return err.Error()
		}
		b := make([]byte, cacheHeaderLen)
		if _, err := io.ReadFull(f, b); err != nil {
			return "shorter than a header"
		}
		h, err := unmarshalCacheHeader(b)
		switch {
		case err != nil:
			return err.Error()
		case h.sharedDim != want.sharedDim || h.actionDim != want.actionDim:
			return fmt.Sprintf("written for shared dim %d, action dim %d", h.sharedDim, h.actionDim)
		case h.srcSize != want.srcSize || h.srcMtime != want.srcMtime || h.srcHead != want.srcHead:
			return "the source changed since it was written"
		case cfi.ModTime().Before(fi.ModTime()):
			return "older than the source"
		case uint64(cfi.Size()) != cacheHeaderLen+h.bodyLen:
			return fmt.Sprintf("%d bytes, its header says %d (truncated?)", cfi.Size(), cacheHeaderLen+h.bodyLen)
		}
		r.hdr, r.rest = h, h.bodyLen
		return ""
	}()
	if reason != "" {
		f.Close()
		return reason
	}
	r.src.Close()
	r.src = f
	r.cache = f
	r.dec = cacheDecoder{sdim: uint64(want.sharedDim), adim: uint64(want.actionDim)}
	return ""
}

// FromCache reports whether the reader reads the cache (rather than the
// text, writing the cache).
func (r *CachedCBADFReader) FromCache() bool { return r.text == nil }

// Reason says why the cache is being written rather than read ("no
// cache", "the source changed since it was written", ...); "" when it
// is read.
func (r *CachedCBADFReader) Reason() string { return r.reason }

// Next returns the next example, valid until the following call, or
// io.EOF at the end. Text errors wrap ErrParse; cache errors wrap
// ErrCacheCorrupt.
func (r *CachedCBADFReader) Next() (*SlotExample, error) {
	if r.text != nil {
		return r.nextText()
	}
	if len(r.dec.b) == 0 {
		if err := r.nextBlock(); err != nil {
			return nil, err
		}
	}
	ex, err := r.dec.next()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: example %d: %v", ErrCacheCorrupt, r.path, r.dec.decoded+1, err)
	}
	return ex, nil
}

// nextBlock reads and checks the next block; io.EOF at the body's end
// once the example count has been checked.
func (r *CachedCBADFReader) nextBlock() error {
	corrupt := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCacheCorrupt, r.path, fmt.Sprintf(format, a...))
	}
	if r.rest == 0 {
		if r.dec.decoded != r.hdr.examples {
			return corrupt("%d examples, its header says %d", r.dec.decoded, r.hdr.examples)
		}
		return io.EOF
	}
	var fr [8]byte
	if r.rest < 8 {
		return corrupt("a block frame runs past the end")
	}
	if _, err := io.ReadFull(r.cache, fr[:]); err != nil {
		return corrupt("%v", err)
	}
	n := uint64(leUint32(fr[:4]))
	if n == 0 || n > maxCacheBlock || n > r.rest-8 {
		return corrupt("block of %d bytes with %d left", n, r.rest-8)
	}
	if uint64(cap(r.buf)) < n {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	if _, err := io.ReadFull(r.cache, b); err != nil {
		return corrupt("%v", err)
	}
	if crc32.Checksum(b, castagnoli) != leUint32(fr[4:]) {
		return corrupt("block checksum mismatch at byte %d", cacheHeaderLen+r.hdr.bodyLen-r.rest)
	}
	r.rest -= 8 + n
	r.dec.b = b
	return nil
}

func leUint32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func (r *CachedCBADFReader) nextText() (*SlotExample, error) {
	if r.done {
		return nil, io.EOF
	}
	ex, err := r.text.Next()
	if err == io.EOF {
		r.done = true
		if err := r.publish(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	if err != nil {
		r.discard()
		return nil, err
	}
	if r.tmp != nil {
		r.enc.add(ex)
		r.written++
		if r.enc.pending() >= cacheBlockLen {
			r.flushBlock()
		}
	}
	return ex, nil
}

// flushBlock writes the encoder's block; on a write error the cache is
// abandoned (training goes on from the text).
func (r *CachedCBADFReader) flushBlock() {
	if r.enc.pending() == 0 {
		return
	}
	b := r.enc.block()
	if _, err := r.tmp.Write(b); err != nil {
		r.reason += "; cannot write the cache: " + err.Error()
		r.discard()
		return
	}
	r.whdr.bodyLen += uint64(len(b))
}

// publish completes the cache (last block, header) and renames it into
// place.
func (r *CachedCBADFReader) publish() error {
	if r.tmp == nil {
		return nil
	}
	r.flushBlock()
	if r.tmp == nil {
		return nil
	}
	r.whdr.examples = r.written
	_, err := r.tmp.WriteAt(r.whdr.marshal(), 0)
	if cerr := r.tmp.Close(); err == nil {
		err = cerr
	}
	r.tmp = nil
	if err == nil {
		err = os.Rename(r.tmpPath, r.path)
	}
	if err != nil {
		os.Remove(r.tmpPath)
		return fmt.Errorf("cannot write cache %s: %w", r.path, err)
	}
	return nil
}

// discard abandons a cache being written.
func (r *CachedCBADFReader) discard() {
	if r.tmp != nil {
		r.tmp.Close()
		os.Remove(r.tmpPath)
		r.tmp = nil
	}
}

// Close releases the files; a cache not yet complete (the text not read
// to its end) is discarded.
func (r *CachedCBADFReader) Close() error {
	r.discard()
	return r.src.Close()
}
