package training

import (
	"bufio"
	"bytes"
	le "encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"strconv"
	"strings"
	"unsafe"
)

// This file is the fast cb_adf text path: a byte-level line reader and
// parser with no per-line allocation in steady state. ReadCBADF uses it to
// produce CBExamples (names interned); CBADFReader uses it to produce
// SlotExamples (names resolved to dense slots) for the SGD learner.
//
// Parsing rules are exactly parseADFLine's (the reference implementation,
// kept for lines with non-ASCII bytes, where strings.Fields' Unicode
// spaces matter); FuzzFastADFLine checks the two agree.

// rawFeat is one parsed feature; its name is src[s:e] of the buffer it
// was parsed from (the line), valid only until the next line is read.
type rawFeat struct {
	ns   byte
	s, e int32
	val  float64
}

// asciiSpace reports the bytes unicode.IsSpace accepts below 0x80.
var asciiSpace = [256]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloatBytes parses b as strconv.ParseFloat(string(b), 64) does,
// returning ok=false where ParseFloat would fail or the result is not
// finite. Plain decimals with at most 15 significant digits and a decimal
// exponent within ±22 take Clinger's fast path: the mantissa and the power
// of ten are exact float64s, so one IEEE multiply or divide gives the
// correctly rounded result, bit for bit ParseFloat's. Everything else goes
// to ParseFloat.
func parseFloatBytes(b []byte) (float64, bool) {
	i := 0
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	var mant uint64
	nd, exp := 0, 0
	for ; i < len(b) && b[i]-'0' < 10; i++ {
		mant = mant*10 + uint64(b[i]-'0')
		nd++
	}
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b) && b[i]-'0' < 10; i++ {
			mant = mant*10 + uint64(b[i]-'0')
			nd++
			exp--
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') && nd > 0 {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		e, ne := 0, 0
		for ; i < len(b) && b[i]-'0' < 10 && ne < 4; i++ {
			e = e*10 + int(b[i]-'0')
			ne++
		}
		if ne == 0 {
			return parseFloatSlow(b)
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i != len(b) || nd == 0 || nd > 15 || exp < -22 || exp > 22 {
		return parseFloatSlow(b)
	}
	f := float64(mant)
	if exp < 0 {
		f /= pow10[-exp]
	} else {
		f *= pow10[exp]
	}
	if neg {
		f = -f
	}
	return f, true
}

func parseFloatSlow(b []byte) (float64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	// ParseFloat does not retain its argument (its errors clone it).
	v, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// fieldByte is 0 for the bytes that can continue a feature name on the
// fast path: not an ASCII space, not ':'.
var fieldByte = [256]byte{'\t': 1, '\n': 1, '\v': 1, '\f': 1, '\r': 1, ' ': 1, ':': 2}

// parseDecimalPrefix parses b[i:] as far as it is [+-]digits[.digits]
// (digits on at least one side of the point) and returns the value, the
// index just past it, and ok=false if there are no digits, more than 15,
// or an exponent follows: the cases parseFloatBytes must decide. Where ok,
// the value is parseFloatBytes' (the same exact fast path) for b[i:end].
func parseDecimalPrefix(b []byte, i int) (float64, int, bool) {
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	var mant uint64
	st := i
	for ; i < len(b) && b[i]-'0' < 10; i++ {
		mant = mant*10 + uint64(b[i]-'0')
	}
	nd, frac := i-st, 0
	if i < len(b) && b[i] == '.' {
		i++
		fs := i
		for ; i < len(b) && b[i]-'0' < 10; i++ {
			mant = mant*10 + uint64(b[i]-'0')
		}
		frac = i - fs
		nd += frac
	}
	if nd == 0 || nd > 15 || i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		return 0, i, false
	}
	f := float64(mant) / pow10[frac]
	if neg {
		f = -f
	}
	return f, i, true
}

// isASCII reports whether b has no byte ≥ 0x80.
func isASCII(b []byte) bool {
	for len(b) >= 8 {
		if le.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// nextField returns the next run of non-space bytes of b at or after i,
// and the index just past it; start == len(b) when there is none.
func nextField(b []byte, i int) (start, end int) {
	for i < len(b) && asciiSpace[b[i]] {
		i++
	}
	start = i
	for i < len(b) && !asciiSpace[b[i]] {
		i++
	}
	return start, i
}

var (
	errNoBar     = errors.New("no '|' namespace")
	errBadLabel  = errors.New("bad label (want action:cost:probability, cost finite, probability in (0,1])")
	errBadValue  = errors.New("bad feature value")
	errEmptyName = errors.New("empty feature name")
)

// parseADFBytes parses one ASCII cb_adf line as parseADFLine does,
// appending its features to dst. Names are spans of line.
func parseADFBytes(line []byte, dst []rawFeat) ([]rawFeat, cbLabel, error) {
	var lab cbLabel
	bar := bytes.IndexByte(line, '|')
	if bar < 0 {
		return dst, lab, errNoBar
	}
	head := line[:bar]
	for i := 0; ; {
		s, e := nextField(head, i)
		if s == e {
			break
		}
		i = e
		tok := head[s:e]
		if string(tok) == "shared" {
			lab.shared = true
			continue
		}
		if tok[0] == '\'' {
			continue
		}
		c1 := bytes.IndexByte(tok, ':')
		if c1 < 0 || lab.ok {
			return dst, lab, errBadLabel
		}
		c2 := c1 + 1 + bytes.IndexByte(tok[c1+1:], ':')
		if c2 == c1 || bytes.IndexByte(tok[c2+1:], ':') >= 0 {
			return dst, lab, errBadLabel
		}
		c, ok1 := parseFloatBytes(tok[c1+1 : c2])
		p, ok2 := parseFloatBytes(tok[c2+1:])
		if !ok1 || !ok2 || !(p > 0 && p <= 1) {
			return dst, lab, errBadLabel
		}
		lab = cbLabel{ok: true, cost: c, prob: p}
	}
	rest := line[bar+1:]
	for len(rest) > 0 {
		seg, segStart := rest, len(line)-len(rest)
		if j := bytes.IndexByte(rest, '|'); j >= 0 {
			seg, rest = rest[:j], rest[j+1:]
		} else {
			rest = nil
		}
		if len(seg) == 0 {
			continue
		}
		ns := byte(' ')
		if seg[0] != ' ' && seg[0] != '\t' {
			ns = seg[0]
		}
		i := 0
		if ns != ' ' {
			_, i = nextField(seg, 0) // the namespace name itself (and its optional :weight)
		}
		off := int32(segStart)
		for i < len(seg) {
			if asciiSpace[seg[i]] {
				i++
				continue
			}
			// The usual field, "name" or "name:decimal", in one pass: the
			// name up to its first ':', then the value parsed as it is
			// scanned. Anything else (a second ':', an exponent, more
			// than 15 digits) takes the general path below.
			st := i
			for i < len(seg) && fieldByte[seg[i]] == 0 {
				i++
			}
			if i == len(seg) || seg[i] != ':' {
				dst = append(dst, rawFeat{ns: ns, s: off + int32(st), e: off + int32(i), val: 1})
				continue
			}
			if i > st {
				if v, j, ok := parseDecimalPrefix(seg, i+1); ok && (j == len(seg) || asciiSpace[seg[j]]) {
					dst = append(dst, rawFeat{ns: ns, s: off + int32(st), e: off + int32(i), val: v})
					i = j
					continue
				}
			}
			// general path: one pass over the field for its end and its last ':'
			i = st
			colon := -1
			for ; i < len(seg) && !asciiSpace[seg[i]]; i++ {
				if seg[i] == ':' {
					colon = i
				}
			}
			end, val := i, 1.0
			if colon >= 0 {
				v, ok := parseFloatBytes(seg[colon+1 : i])
				if !ok {
					return dst, lab, errBadValue
				}
				end, val = colon, v
			}
			if end == st {
				return dst, lab, errEmptyName
			}
			dst = append(dst, rawFeat{ns: ns, s: off + int32(st), e: off + int32(end), val: val})
		}
	}
	return dst, lab, nil
}

// adfLines reads lines with a bufio.Reader, without allocating unless a
// line is longer than the buffer.
type adfLines struct {
	br   *bufio.Reader
	long []byte
	n    int // lines read
}

// next returns the next line without its "\n" and trailing "\r"s; the
// slice is valid until the next call. It returns io.EOF at the end.
func (l *adfLines) next() ([]byte, error) {
	line, err := l.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		l.long = append(l.long[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(l.long) > maxLine {
				return nil, fmt.Errorf("line longer than %d bytes", maxLine)
			}
			line, err = l.br.ReadSlice('\n')
			l.long = append(l.long, line...)
		}
		line = l.long
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if err == io.EOF && len(line) == 0 {
		return nil, io.EOF
	}
	l.n++
	if len(line) > 0 && line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
	}
	for len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, nil
}

// adfSink receives the parsed lines of one example; the features it is
// given alias the input and must be copied or resolved before returning.
type adfSink interface {
	begin()                                         // a new example starts: forget the shared features
	shared(src []byte, feats []rawFeat)             // the shared line; names are spans of src
	action(k int, src []byte, feats []rawFeat) bool // action line k; feats nil: the line is unchanged since the sink last saw it at k (return false to have it parsed)
}

// adfScanner assembles cb_adf lines into examples exactly as the
// reference ReadCBADF did: an optional "shared" line first, one line per
// action, blank lines between examples. An action line byte-identical to
// the previous example's line at the same position is not parsed again
// (logs repeat the action catalogue's features in every example); the
// sink keeps what it resolved for it.
type adfScanner struct {
	lines   adfLines
	raw     []rawFeat
	ref     []Feature // reference parser's output, for non-ASCII lines
	names   []byte    // their names, which raw then indexes
	prev    [][]byte  // per action position, the last line parsed there
	prevOK  []bool
	noCache bool

	nact           int
	chosen         int
	cost, prob     float64
	lineNo, startN int
}

func newADFScanner(r io.Reader, noCache bool) *adfScanner {
	return &adfScanner{lines: adfLines{br: bufio.NewReaderSize(r, 1<<20)}, noCache: noCache}
}

func isBlank(line []byte) bool {
	for _, c := range line {
		if !asciiSpace[c] {
			if c >= 0x80 {
				return strings.TrimSpace(string(line)) == ""
			}
			return false
		}
	}
	return true
}

func hasSharedPrefix(line []byte) bool {
	i := 0
	for i < len(line) && asciiSpace[line[i]] {
		i++
	}
	if i < len(line) && line[i] >= 0x80 {
		return strings.HasPrefix(strings.TrimSpace(string(line)), "shared")
	}
	return bytes.HasPrefix(line[i:], []byte("shared"))
}

// parse parses one line with the byte parser, or the reference parser if
// it has non-ASCII bytes. It returns the buffer the names index.
func (s *adfScanner) parse(line []byte) ([]byte, []rawFeat, cbLabel, error) {
	if isASCII(line) {
		feats, lab, err := parseADFBytes(line, s.raw[:0])
		return line, feats, lab, err
	}
	var lab cbLabel
	var err error
	s.ref, lab, err = parseADFLine(string(line), s.ref[:0])
	feats, names := s.raw[:0], s.names[:0]
	for _, f := range s.ref {
		st := len(names)
		names = append(names, f.Name...)
		feats = append(feats, rawFeat{ns: f.NS, s: int32(st), e: int32(len(names)), val: f.Value})
	}
	s.names = names
	return names, feats, lab, err
}

// next reads one example into sink. It returns io.EOF when the input has
// no further example; errors wrap ErrParse with the line number.
func (s *adfScanner) next(sink adfSink) error {
	lines := 0
	s.nact, s.chosen = 0, -1
	for {
		line, err := s.lines.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: cb_adf line %d: %v", ErrParse, s.lines.n+1, err)
		}
		n := s.lines.n
		if isBlank(line) {
			if lines > 0 {
				return s.done(n)
			}
			continue
		}
		if lines == 0 {
			s.startN = n
			sink.begin()
		}
		if lines == 0 && hasSharedPrefix(line) {
			src, feats, _, err := s.parse(line)
			if err != nil {
				return fmt.Errorf("%w: cb_adf line %d: %v", ErrParse, n, err)
			}
			sink.shared(src, feats)
			s.raw = feats[:0]
			lines++
			continue
		}
		k := s.nact
		if k >= len(s.prev) {
			s.prev = append(s.prev, nil)
			s.prevOK = append(s.prevOK, false)
		}
		if !s.noCache && s.prevOK[k] && bytes.Equal(line, s.prev[k]) && sink.action(k, nil, nil) {
			// same bytes, same features; the label (if any) is the one parsed last time
			if lab := s.prevLabel(line); lab.ok {
				if s.chosen >= 0 {
					return fmt.Errorf("%w: cb_adf line %d: second labelled action in one example", ErrParse, n)
				}
				s.chosen, s.cost, s.prob = k, lab.cost, lab.prob
			}
			s.nact++
			lines++
			continue
		}
		s.prevOK[k] = false
		src, feats, lab, err := s.parse(line)
		if err == nil && lab.shared {
			err = errors.New("'shared' line after an action line")
		}
		if err == nil && lab.ok && s.chosen >= 0 {
			err = errors.New("second labelled action in one example")
		}
		if err != nil {
			return fmt.Errorf("%w: cb_adf line %d: %v", ErrParse, n, err)
		}
		sink.action(k, src, feats)
		s.raw = feats[:0]
		if lab.ok {
			s.chosen, s.cost, s.prob = k, lab.cost, lab.prob
		}
		s.prev[k] = append(s.prev[k][:0], line...)
		s.prevOK[k] = true
		s.nact++
		lines++
	}
	if lines == 0 {
		return io.EOF
	}
	return s.done(s.lines.n)
}

// prevLabel re-reads the label of a cached action line (its head only,
// cheap: the features are not parsed).
func (s *adfScanner) prevLabel(line []byte) cbLabel {
	bar := bytes.IndexByte(line, '|')
	if bar <= 0 {
		return cbLabel{}
	}
	_, lab, _ := parseADFBytes(line[:bar+1], s.raw[:0])
	return lab
}

func (s *adfScanner) done(n int) error {
	if s.nact == 0 {
		return fmt.Errorf("%w: line %d: example without actions", ErrParse, s.startN)
	}
	return nil
}

// cbExampleSink fills a CBExample, interning feature names so that steady
// state allocates nothing.
type cbExampleSink struct {
	ex     CBExample
	acts   [][]Feature
	intern map[string]string
}

// maxIntern bounds the interned names; beyond it names are allocated.
const maxIntern = 1 << 16

func (c *cbExampleSink) name(b []byte) string {
	if s, ok := c.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(c.intern) < maxIntern {
		c.intern[s] = s
	}
	return s
}

func (c *cbExampleSink) begin() { c.ex.Shared = c.ex.Shared[:0] }

func (c *cbExampleSink) shared(src []byte, feats []rawFeat) {
	for _, f := range feats {
		c.ex.Shared = append(c.ex.Shared, Feature{NS: f.ns, Name: c.name(src[f.s:f.e]), Value: f.val})
	}
}

func (c *cbExampleSink) action(k int, src []byte, feats []rawFeat) bool {
	for k >= len(c.acts) {
		c.acts = append(c.acts, nil)
	}
	if feats == nil {
		return true // cached: acts[k] still holds this line's features
	}
	a := c.acts[k][:0]
	for _, f := range feats {
		a = append(a, Feature{NS: f.ns, Name: c.name(src[f.s:f.e]), Value: f.val})
	}
	c.acts[k] = a
	return true
}

// readCBADFFast is ReadCBADF on the byte parser.
func readCBADFFast(r io.Reader, fn func(*CBExample) error) error {
	sc := newADFScanner(r, false)
	sink := &cbExampleSink{intern: map[string]string{}}
	for {
		err := sc.next(sink)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		ex := &sink.ex
		ex.Actions = sink.acts[:sc.nact]
		ex.Chosen, ex.Cost, ex.Prob = sc.chosen, sc.cost, sc.prob
		if ex.Chosen < 0 {
			ex.Cost, ex.Prob = 0, 0
		}
		if err := fn(ex); err != nil {
			return err
		}
	}
}

// SlotFeature is a feature resolved to its slot in a fixed-width layout.
type SlotFeature struct {
	Slot  int32
	NS    byte
	Value float64
}

// SlotExample is a cb_adf example whose features are resolved to slots
// (CBADFReader). It is reused by the reader: do not retain it.
type SlotExample struct {
	Shared  []SlotFeature
	Actions [][]SlotFeature
	// Chosen is the logged action's index in Actions, -1 if unlabelled;
	// Cost and Prob are its label.
	Chosen     int
	Cost, Prob float64
}

// slotMap maps (namespace, name) to slots [0, dim): in order of first
// appearance while slots are free, then by FNV-1a hash — the layout
// Featurizer gives the same features. A per-position cache of the last
// name seen at each position of a line makes the usual case (the same
// names in the same order on every line) a byte comparison.
type slotMap struct {
	dim   int
	vocab map[string]int32
	key   []byte
	cache []slotCache
}

type slotCache struct {
	ns   byte
	name []byte
	slot int32
	ok   bool
}

func newSlotMap(dim int) *slotMap { return &slotMap{dim: dim, vocab: map[string]int32{}} }

func (m *slotMap) slot(pos int, ns byte, name []byte) int32 {
	if pos < len(m.cache) {
		c := &m.cache[pos]
		if c.ok && c.ns == ns && bytes.Equal(c.name, name) {
			return c.slot
		}
	} else {
		m.cache = append(m.cache, make([]slotCache, pos+1-len(m.cache))...)
	}
	m.key = append(append(m.key[:0], ns), name...)
	s, ok := m.vocab[string(m.key)]
	if !ok {
		if len(m.vocab) < m.dim {
			s = int32(len(m.vocab))
			m.vocab[string(m.key)] = s
		} else {
			h := fnv.New64a()
			h.Write([]byte{ns, 0x1f})
			h.Write(name)
			s = int32(h.Sum64() % uint64(m.dim))
		}
	}
	c := &m.cache[pos]
	c.ns, c.name, c.slot, c.ok = ns, append(c.name[:0], name...), s, true
	return s
}

// slotSink resolves lines into a SlotExample.
type slotSink struct {
	ex            SlotExample
	acts          [][]SlotFeature
	shared0, act0 *slotMap
}

func (c *slotSink) begin() { c.ex.Shared = c.ex.Shared[:0] }

func (c *slotSink) shared(src []byte, feats []rawFeat) {
	sh := c.ex.Shared
	for i, f := range feats {
		sh = append(sh, SlotFeature{Slot: c.shared0.slot(i, f.ns, src[f.s:f.e]), NS: f.ns, Value: f.val})
	}
	c.ex.Shared = sh
}

func (c *slotSink) action(k int, src []byte, feats []rawFeat) bool {
	for k >= len(c.acts) {
		c.acts = append(c.acts, nil)
	}
	if feats == nil {
		return true
	}
	a := c.acts[k][:0]
	for i, f := range feats {
		a = append(a, SlotFeature{Slot: c.act0.slot(i, f.ns, src[f.s:f.e]), NS: f.ns, Value: f.val})
	}
	c.acts[k] = a
	return true
}

// CBADFReaderConfig configures a CBADFReader.
type CBADFReaderConfig struct {
	// SharedDim and ActionDim are the slots of shared-line and action-line
	// features (default 64 and 8, the command's --shared-dim and
	// --action-dim). Names take slots in order of first appearance, then
	// share them by hash, as Featurizer does.
	SharedDim, ActionDim int
	// NoActionCache parses every action line, even one byte-identical to
	// the previous example's line at the same position (for measuring).
	NoActionCache bool
}

// CBADFReader reads a Vowpal Wabbit cb_adf text stream into SlotExamples
// with a byte-level parser that allocates nothing per line in steady
// state. Its grammar is ReadCBADF's. Its slots are the hashed layout of
// the SGD benchmark, not the feature spec's vector. A CBADFReader is not safe for
// concurrent use.
type CBADFReader struct {
	sc   *adfScanner
	sink slotSink
}

// NewCBADFReader returns a reader of r.
func NewCBADFReader(r io.Reader, cfg CBADFReaderConfig) (*CBADFReader, error) {
	cfg.SharedDim, cfg.ActionDim = cmpInt(cfg.SharedDim, 64), cmpInt(cfg.ActionDim, 8)
	if cfg.SharedDim < 1 || cfg.ActionDim < 1 {
		return nil, fmt.Errorf("%w: shared dim %d, action dim %d", ErrBadConfig, cfg.SharedDim, cfg.ActionDim)
	}
	return &CBADFReader{sc: newADFScanner(r, cfg.NoActionCache),
		sink: slotSink{shared0: newSlotMap(cfg.SharedDim), act0: newSlotMap(cfg.ActionDim)}}, nil
}

func cmpInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Next returns the next example, valid until the following call, or
// io.EOF at the end of the input. Errors wrap ErrParse with the line.
func (r *CBADFReader) Next() (*SlotExample, error) {
	if err := r.sc.next(&r.sink); err != nil {
		return nil, err
	}
	ex := &r.sink.ex
	ex.Actions = r.sink.acts[:r.sc.nact]
	ex.Chosen, ex.Cost, ex.Prob = r.sc.chosen, r.sc.cost, r.sc.prob
	return ex, nil
}
