package personalizer

import (
	"math"
	"slices"
	"strconv"
)

// The hashing dimension: 2^bits entries, a setting of the server
// (within [MinBits, MaxBits]; a ridge model's cost grows with the square
// of the dimension, so it stays modest).
const (
	DefaultBits = 9
	MinBits     = 4
	MaxBits     = 11
)

// FeaturizationVersion numbers the featurization rule: a change to what
// Flatten, Row.Build or the hashes produce takes a new number, so that a
// model snapshot built under the old rule is rebuilt from the journal.
const FeaturizationVersion = 1

// Limits on the flattened features of one rank call: a row holds the
// context's features times the action's, so both are bounded.
const (
	MaxContextFeatures = 256 // contextFeatures, flattened
	MaxActionFeatures  = 64  // one action's (or one slot's) features, flattened
	MaxActions         = 50  // actions of a rank call (the spec's limit)
	MaxSlots           = 50  // slots of a multi-slot rank call
	MaxIDLen           = 256 // event, action and slot ids, in characters
)

// Side says which part of a rank call a feature comes from; it is part
// of the feature's hash.
type Side byte

// The sides.
const (
	Context Side = 'c'
	Action  Side = 'a'
	Slot    Side = 's'
)

// Feature is one flattened feature: the hash of its side, namespace and
// name, and its value.
type Feature struct {
	Hash  uint64
	Value float64
}

// Flatten appends to dst the features of list (contextFeatures, or an
// action's or slot's features) on side s, by the rule of the package
// documentation, in a deterministic order (keys sorted). Values are not
// checked: the caller has refused non-finite numbers.
func Flatten(dst []Feature, s Side, list []map[string]any) []Feature {
	for _, obj := range list {
		for _, k := range sortedKeys(obj) {
			if ignored(k) {
				continue
			}
			if m, ok := obj[k].(map[string]any); ok {
				dst = walkObject(dst, s, k, "", m)
				continue
			}
			dst = walk(dst, s, "", k, obj[k])
		}
	}
	return dst
}

// IDFeature is the implicit feature "_id=<id>" of an action or a slot.
func IDFeature(s Side, id string) Feature {
	return Feature{Hash: hashFeature(s, "", "_id", id), Value: 1}
}

func ignored(key string) bool { return len(key) > 0 && key[0] == '_' }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func walkObject(dst []Feature, s Side, ns, path string, m map[string]any) []Feature {
	for _, k := range sortedKeys(m) {
		if ignored(k) {
			continue
		}
		dst = walk(dst, s, ns, join(path, k), m[k])
	}
	return dst
}

func walk(dst []Feature, s Side, ns, name string, v any) []Feature {
	switch x := v.(type) {
	case string:
		return append(dst, Feature{hashFeature(s, ns, name, x), 1})
	case float64:
		if x != 0 {
			dst = append(dst, Feature{hashFeature(s, ns, name, ""), x})
		}
	case bool:
		if x {
			dst = append(dst, Feature{hashFeature(s, ns, name, ""), 1})
		}
	case map[string]any:
		return walkObject(dst, s, ns, name, x)
	case []any:
		for i, e := range x {
			switch y := e.(type) {
			case string:
				dst = append(dst, Feature{hashFeature(s, ns, name, y), 1})
			case map[string]any:
				dst = walkObject(dst, s, ns, name, y)
			default:
				dst = walk(dst, s, ns, name+"["+strconv.Itoa(i)+"]", y)
			}
		}
	}
	return dst
}

// FNV-1a, 64 bits.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvByte(h uint64, b byte) uint64 {
	h ^= uint64(b)
	return h * fnvPrime
}

// hashFeature hashes side, namespace, name and (for a one-hot string
// feature) value, each separated by a zero byte (which JSON strings may
// hold, but then only collide with themselves).
func hashFeature(s Side, ns, name, value string) uint64 {
	h := fnvByte(fnvOffset, byte(s))
	h = fnvByte(h, 0)
	h = fnvString(h, ns)
	h = fnvByte(h, 0)
	h = fnvString(h, name)
	if value != "" {
		h = fnvByte(h, '=')
		h = fnvString(h, value)
	}
	return h
}

// mix is MurmurHash3's 64-bit finalizer: every bit of h reaches the low
// bits that index the row.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// cross is the hash of the product of two features (order matters: the
// context's first).
func cross(a, b uint64) uint64 { return (a * fnvPrime) ^ b }

// biasHash is the constant feature every row has.
var biasHash = hashFeature(0, "", "_bias", "")

// Row is a sparse model row: indices into a 2^bits vector and their
// values, in the order built (an index may repeat: the values add up).
type Row struct {
	Index []int32
	Value []float64
}

// Reset empties r, keeping its storage.
func (r *Row) Reset() { r.Index, r.Value = r.Index[:0], r.Value[:0] }

func (r *Row) add(h uint64, v float64, mask uint64) {
	r.Index = append(r.Index, int32(mix(h)&mask))
	r.Value = append(r.Value, v)
}

// Build appends to r the row of one action of a rank call with 2^bits
// entries: the bias; the context's features ctx; the action's features
// act (its id feature included); the slot's features slot (multi-slot,
// else nil); and the crosses ctx×act and slot×act.
func (r *Row) Build(bits int, ctx, act, slot []Feature) {
	mask := uint64(1)<<bits - 1
	r.add(biasHash, 1, mask)
	for _, f := range ctx {
		r.add(f.Hash, f.Value, mask)
	}
	for _, f := range act {
		r.add(f.Hash, f.Value, mask)
	}
	for _, f := range slot {
		r.add(f.Hash, f.Value, mask)
	}
	for _, c := range ctx {
		for _, a := range act {
			r.add(cross(c.Hash, a.Hash), c.Value*a.Value, mask)
		}
	}
	for _, s := range slot {
		for _, a := range act {
			r.add(cross(s.Hash, a.Hash), s.Value*a.Value, mask)
		}
	}
}

// Dense writes r into x (len 2^bits, zeroed first), adding the values
// of repeated indices.
func (r *Row) Dense(x []float64) {
	clear(x)
	for i, ix := range r.Index {
		x[ix] += r.Value[i]
	}
}

// Dot returns θ·r for a dense θ of the row's dimension.
func (r *Row) Dot(theta []float64) float64 {
	var s float64
	for i, ix := range r.Index {
		s += theta[ix] * r.Value[i]
	}
	return s
}

// Finite reports whether every value of r is finite (products of two
// large numbers may not be).
func (r *Row) Finite() bool {
	for _, v := range r.Value {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
