package features

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Profile codec. The first byte is the codec version; codecV1 is:
//
//	uvarint-length strings, uvarint integers, times as uvarint
//	(0 = zero time, else zigzag(UnixNano)+1, read back in UTC), float64 as
//	8 little-endian bytes, maps as a uvarint count then entries:
//	CustomerID LSN FirstSeen UpdatedAt
//	Attributes{key tag(0 string,1 number,2 bool) value}
//	Counters{name value at} LastEvent{type time} LastChannel Stage StageSince
//	Consents{channel bool} Contacts{action n*impression conversions lastConversion}
//
// codecV2 is codecV1 followed by the purchase history: a byte 0 (none)
// or 1 and FirstDay LastDay (zigzag uvarints) RepeatDays (uvarint)
// FirstSpend RepeatSpend (float64).
//
// Cold is not stored. A new layout gets a new version byte and
// decodeProfile keeps reading the old ones.
//
// codecV4 is codecV3 with, after each contact's LastConversion, its
// rejections: a count, then the times.
//
// codecV3 is codecV2 followed by the consent history: a count, then per
// entry Purpose Channel Granted(byte) Source TextVersion At.
const (
	codecV1 = 1
	codecV2 = 2
	codecV3 = 3
	codecV4 = 4
)

// appendProfile appends the encoding of p to b.
func appendProfile(b []byte, p *Profile) ([]byte, error) {
	b = append(b, codecV4)
	b = appendString(b, p.CustomerID)
	b = binary.AppendUvarint(b, p.LSN)
	b = appendTime(b, p.FirstSeen)
	b = appendTime(b, p.UpdatedAt)
	b = binary.AppendUvarint(b, uint64(len(p.Attributes)))
	for k, v := range p.Attributes {
		b = appendString(b, k)
		switch x := v.(type) {
		case string:
			b = append(b, 0)
			b = appendString(b, x)
		case bool:
			b = append(b, 2)
			if x {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		default:
			f, ok := toNumber(v)
			if !ok {
				return b, fmt.Errorf("attribute %q: unsupported type %T (want string, number or bool)", k, v)
			}
			b = append(b, 1)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(p.Counters)))
	for k, c := range p.Counters {
		b = appendString(b, k)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.Value))
		b = appendTime(b, c.At)
	}
	b = binary.AppendUvarint(b, uint64(len(p.LastEvent)))
	for k, t := range p.LastEvent {
		b = appendString(b, k)
		b = appendTime(b, t)
	}
	b = appendString(b, p.LastChannel)
	b = appendString(b, p.Stage)
	b = appendTime(b, p.StageSince)
	b = binary.AppendUvarint(b, uint64(len(p.Consents)))
	for k, v := range p.Consents {
		b = appendString(b, k)
		if v {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(p.Contacts)))
	for k, c := range p.Contacts {
		b = appendString(b, k)
		if c == nil {
			c = &Contact{}
		}
		b = binary.AppendUvarint(b, uint64(len(c.Impressions)))
		for _, t := range c.Impressions {
			b = appendTime(b, t)
		}
		b = binary.AppendUvarint(b, uint64(max(c.Conversions, 0)))
		b = appendTime(b, c.LastConversion)
		b = binary.AppendUvarint(b, uint64(len(c.Rejects)))
		for _, t := range c.Rejects {
			b = appendTime(b, t)
		}
	}
	if ps := p.Purchases; ps == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendVarint(b, int64(ps.FirstDay))
		b = binary.AppendVarint(b, int64(ps.LastDay))
		b = binary.AppendUvarint(b, uint64(max(ps.RepeatDays, 0)))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(ps.FirstSpend))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(ps.RepeatSpend))
	}
	b = binary.AppendUvarint(b, uint64(len(p.ConsentHistory)))
	for _, c := range p.ConsentHistory {
		b = appendString(b, c.Purpose)
		b = appendString(b, c.Channel)
		if c.Granted {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = appendString(b, c.Source)
		b = appendString(b, c.TextVersion)
		b = appendTime(b, c.At)
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	n := t.UnixNano()
	return binary.AppendUvarint(b, uint64(n<<1^n>>63)+1)
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = ErrCorrupt
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a collection length, bounded by the bytes left (every entry
// takes at least min bytes).
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/min) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) byte1() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) f64() float64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	if math.IsNaN(v) || math.IsInf(v, 0) {
		d.fail()
	}
	return v
}

// day reads a day number (a varint within int32).
func (d *decoder) day() int32 {
	v, n := binary.Varint(d.b)
	if n <= 0 || v < math.MinInt32 || v > math.MaxInt32 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return int32(v)
}

func (d *decoder) time() time.Time {
	u := d.uvarint()
	if u == 0 {
		return time.Time{}
	}
	u--
	n := int64(u>>1) ^ -int64(u&1)
	return time.Unix(0, n).UTC()
}

// DecodeProfile decodes a profile as a Store keeps it (any known codec
// version): for a reader of the raw stored bytes (the cluster path's
// contact check).
func DecodeProfile(b []byte) (*Profile, error) { return decodeProfile(b) }

// decodeProfile decodes a stored profile of any known codec version.
func decodeProfile(b []byte) (*Profile, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty value", ErrCorrupt)
	}
	switch b[0] {
	case codecV1, codecV2, codecV3, codecV4:
		return decodeV1(b[1:], b[0])
	default:
		return nil, fmt.Errorf("%w: %d", ErrUnknownCodec, b[0])
	}
}

// decodeV1 decodes the codecV1 layout, and for codecV2 the purchase
// history after it.
func decodeV1(b []byte, version byte) (*Profile, error) {
	d := &decoder{b: b}
	p := &Profile{}
	p.CustomerID = d.str()
	p.LSN = d.uvarint()
	p.FirstSeen = d.time()
	p.UpdatedAt = d.time()
	if n := d.count(3); n > 0 {
		p.Attributes = make(map[string]any, n)
		for range n {
			k := d.str()
			switch d.byte1() {
			case 0:
				p.Attributes[k] = d.str()
			case 1:
				p.Attributes[k] = d.f64()
			case 2:
				p.Attributes[k] = d.byte1() != 0
			default:
				d.fail()
			}
		}
	}
	if n := d.count(10); n > 0 {
		p.Counters = make(map[string]Counter, n)
		for range n {
			k := d.str()
			v := d.f64()
			p.Counters[k] = Counter{Value: v, At: d.time()}
		}
	}
	if n := d.count(2); n > 0 {
		p.LastEvent = make(map[string]time.Time, n)
		for range n {
			k := d.str()
			p.LastEvent[k] = d.time()
		}
	}
	p.LastChannel = d.str()
	p.Stage = d.str()
	p.StageSince = d.time()
	if n := d.count(2); n > 0 {
		p.Consents = make(map[string]bool, n)
		for range n {
			k := d.str()
			p.Consents[k] = d.byte1() != 0
		}
	}
	if n := d.count(4); n > 0 {
		p.Contacts = make(map[string]*Contact, n)
		for range n {
			k := d.str()
			c := &Contact{}
			if m := d.count(1); m > 0 {
				c.Impressions = make([]time.Time, m)
				for i := range c.Impressions {
					c.Impressions[i] = d.time()
				}
			}
			conv := d.uvarint()
			if conv > math.MaxInt32 {
				d.fail()
			}
			c.Conversions = int(conv)
			c.LastConversion = d.time()
			if version >= codecV4 {
				if m := d.count(1); m > 0 {
					c.Rejects = make([]time.Time, m)
					for i := range c.Rejects {
						c.Rejects[i] = d.time()
					}
				}
			}
			p.Contacts[k] = c
		}
	}
	if version >= codecV2 {
		switch d.byte1() {
		case 0:
		case 1:
			ps := &PurchaseSummary{FirstDay: d.day(), LastDay: d.day()}
			days := d.uvarint()
			if days > math.MaxInt32 {
				d.fail()
			}
			ps.RepeatDays = int(days)
			ps.FirstSpend, ps.RepeatSpend = d.f64(), d.f64()
			p.Purchases = ps
		default:
			d.fail()
		}
	}
	if version >= codecV3 {
		if n := d.count(6); n > 0 {
			p.ConsentHistory = make([]ConsentEntry, n)
			for i := range p.ConsentHistory {
				c := &p.ConsentHistory[i]
				c.Purpose, c.Channel = d.str(), d.str()
				switch d.byte1() {
				case 0:
				case 1:
					c.Granted = true
				default:
					d.fail()
				}
				c.Source, c.TextVersion, c.At = d.str(), d.str(), d.time()
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return p, nil
}
