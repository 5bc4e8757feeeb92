package features

import (
	"iter"
	"math"
	"strconv"
	"strings"
	"time"
)

type sourceKind uint8

const (
	srcStage sourceKind = iota + 1
	srcLastChannel
	srcCounter
	srcRecency
	srcCLV
	srcAttr
	srcTenure
	srcContext
	srcChannel
	srcHour
	srcWeekday
	srcActionID
	srcAction
)

// source is one input of the vector: a profile value, a context field, the
// channel, the clock, or an action feature.
type source struct {
	name string // full name: "profile.counters.visits_7d"
	kind sourceKind
	arg  string // counter, event type, attribute, context or action field
	idx  int    // counter index
	typ  valueType
	key  bool // needs the value's key (onehot, hashed, cross)
	hash bool // needs the FNV-1a hash of the key (hashed, cross)
}

func (s *source) isProfile() bool { return s.kind <= srcTenure }

type featureKind uint8

const (
	fkBias featureKind = iota + 1
	fkNumeric
	fkOnehot
	fkHashed
)

type feature struct {
	name      string
	kind      featureKind
	action    bool // source is an action feature
	src       int  // index into Spec.sources or Spec.actSources; -1 for bias
	off       int
	width     int
	log1p     bool
	clipLo    float64
	clipHi    float64
	scaleSub  float64
	scaleMul  float64
	def       float64
	values    map[string]int
	valueList []string
}

type cross struct {
	name       string
	aAct, bAct bool
	a, b       int
	off        int
	buckets    int
}

// value is one extracted input. Numbers keep their shortest decimal form in
// rep (the key that onehot, hashed and crosses use); strings and bools use
// str ("true"/"false").
type value struct {
	ok   bool
	typ  valueType
	num  float64
	str  string
	rep  []byte
	hash uint64
	// boxed is the value as the interface that set was given, when that
	// holds exactly what ProfileMap writes (a float64, string or bool):
	// ProfileMap reuses it rather than box the value again. nil otherwise.
	boxed any
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
	crossSep  = 0x1f
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// addKey continues hash h with the key of v.
func (v *value) addKey(h uint64) uint64 {
	if v.typ == vtNumber {
		return fnvBytes(h, v.rep)
	}
	return fnvString(h, v.str)
}

func (v *value) setMissing() { v.ok = false; v.str = ""; v.num = 0; v.boxed = nil }

func (v *value) setNum(src *source, x float64) {
	v.ok, v.typ, v.num, v.str, v.boxed = true, vtNumber, x, "", nil
	if src.key {
		v.rep = strconv.AppendFloat(v.rep[:0], x, 'g', -1, 64)
		if src.hash {
			v.hash = fnvBytes(fnvOffset, v.rep)
		}
	}
}

func (v *value) setStr(src *source, s string) {
	v.ok, v.typ, v.num, v.str, v.boxed = true, vtString, 0, s, nil
	if src.hash {
		v.hash = fnvString(fnvOffset, s)
	}
}

func (v *value) setBool(src *source, b bool) {
	s, x := "false", 0.0
	if b {
		s, x = "true", 1
	}
	v.ok, v.typ, v.num, v.str, v.boxed = true, vtBool, x, s, nil
	if src.hash {
		v.hash = fnvString(fnvOffset, s)
	}
}

// set stores an untyped value checked against the source's declared type;
// a value of the wrong type (or a non-finite number) is missing.
func (v *value) set(src *source, x any) bool {
	if x == nil {
		v.setMissing()
		return true
	}
	switch src.typ {
	case vtNumber:
		f, ok := toNumber(x)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			v.setMissing()
			return false
		}
		v.setNum(src, f)
		if _, exact := x.(float64); exact {
			v.boxed = x
		}
	case vtString:
		s, ok := x.(string)
		if !ok {
			v.setMissing()
			return false
		}
		v.setStr(src, s)
		v.boxed = x
	case vtBool:
		b, ok := x.(bool)
		if !ok {
			v.setMissing()
			return false
		}
		v.setBool(src, b)
		v.boxed = x
	}
	return true
}

// write sets the feature's slots in row from v (nil for bias).
func (ft *feature) write(row []float64, v *value) {
	switch ft.kind {
	case fkBias:
		row[ft.off] = 1
	case fkNumeric:
		x := ft.def
		if v.ok {
			x = v.num
		}
		x = min(max(x, ft.clipLo), ft.clipHi)
		if ft.log1p {
			if x >= 0 {
				x = math.Log1p(x)
			} else {
				x = -math.Log1p(-x)
			}
		}
		row[ft.off] = (x - ft.scaleSub) * ft.scaleMul
	case fkOnehot:
		if !v.ok {
			return
		}
		var j int
		var ok bool
		if v.typ == vtNumber {
			j, ok = ft.values[string(v.rep)]
		} else {
			j, ok = ft.values[v.str]
		}
		if !ok {
			j = ft.width - 1
		}
		row[ft.off+j] = 1
	case fkHashed:
		if !v.ok {
			return
		}
		row[ft.off+int(v.hash%uint64(ft.width))] = 1
	}
}

func (c *cross) write(row []float64, a, b *value) {
	if !a.ok || !b.ok {
		return
	}
	h := (a.hash ^ crossSep) * fnvPrime
	h = b.addKey(h)
	row[c.off+int(h%uint64(c.buckets))] = 1
}

// Inputs holds the decision-wide inputs of the vector (profile values,
// context, channel, clock) and the shared part of the vector computed from
// them. Reuse one per goroutine (or from a sync.Pool): Spec.Inputs resets
// it. Inputs refer to the strings of the profile and context they were
// built from; an Inputs is not safe for concurrent use.
//
// An Inputs is also the profile evaluated at the decision time, once:
// Counters are the decayed counter values the vector read, and Time is the
// clock of time.hour and time.weekday. Eligibility rules read both from
// here, so that rules and features cannot disagree.
type Inputs struct {
	spec *Spec
	vals []value
	row  []float64
	// counter[i] is the decayed value of spec counter i at the decision
	// time; has[i] says whether the profile has it
	counter []float64
	has     []bool
	local   time.Time
	// the profile and time of Spec.Inputs, and its CLV figures once
	// computed (clv.go)
	profile *Profile
	now     time.Time
	clvFigs CLVFigures
	clvOK   bool
	clvDone bool
}

func (in *Inputs) reset(s *Spec) {
	if in.spec != s {
		in.spec = s
		in.vals = make([]value, len(s.sources))
		for i := range in.vals {
			in.vals[i].rep = make([]byte, 0, 24)
		}
		in.row = make([]float64, s.dim)
		in.counter = make([]float64, len(s.counters))
		in.has = make([]bool, len(s.counters))
	}
	clear(in.counter)
	clear(in.has)
	in.profile, in.now, in.clvDone, in.clvOK = nil, time.Time{}, false, false
}

// Counters yields the name and decayed value at the decision time of each
// spec counter the profile has, in spec order: each counter is decayed
// once per Spec.Inputs, for the vector and for whoever else reads it.
// Inputs rebuilt by Spec.InputsFromLog know only the counters the vector
// reads (those the journal logged).
func (in *Inputs) Counters() iter.Seq2[string, float64] {
	return func(yield func(string, float64) bool) {
		if in.spec == nil {
			return
		}
		for i, ok := range in.has {
			if ok && !yield(in.spec.counters[i].name, in.counter[i]) {
				return
			}
		}
	}
}

// Time is the decision time in the spec's time zone (vector.timezone):
// the clock that time.hour and time.weekday read.
func (in *Inputs) Time() time.Time { return in.local }

// Inputs extracts the decision-wide inputs from a profile (nil for none),
// the request's channel and context, and the decision time into dst, and
// computes the shared part of the vector. Context values of the wrong type
// are treated as missing (ValidateContext rejects them earlier).
func (s *Spec) Inputs(dst *Inputs, p *Profile, channel string, ctx map[string]any, now time.Time) {
	dst.reset(s)
	dst.profile, dst.now = p, now
	if p != nil && len(p.Counters) > 0 {
		for i := range s.counters {
			if c, ok := p.Counters[s.counters[i].name]; ok {
				dst.counter[i], dst.has[i] = c.ValueAt(now, s.counters[i].halfLife), true
			}
		}
	}
	for i := range s.sources {
		src := &s.sources[i]
		v := &dst.vals[i]
		if !src.isProfile() {
			continue
		}
		if p == nil {
			v.setMissing()
			continue
		}
		switch src.kind {
		case srcStage:
			if p.Stage == "" {
				v.setMissing()
			} else {
				v.setStr(src, p.Stage)
			}
		case srcLastChannel:
			if p.LastChannel == "" {
				v.setMissing()
			} else {
				v.setStr(src, p.LastChannel)
			}
		case srcCounter:
			// decayed above; a counter the profile lacks is 0
			v.setNum(src, dst.counter[src.idx])
		case srcRecency:
			if t, ok := p.LastEvent[src.arg]; ok && !t.IsZero() {
				v.setNum(src, days(now.Sub(t)))
			} else {
				v.setMissing()
			}
		case srcAttr:
			v.set(src, p.Attributes[src.arg])
		case srcTenure:
			if p.FirstSeen.IsZero() {
				v.setMissing()
			} else {
				v.setNum(src, days(now.Sub(p.FirstSeen)))
			}
		case srcCLV:
			if c, ok := dst.clvOf(s, p, now); ok {
				v.setNum(src, c.figure(src.idx))
			} else {
				v.setMissing()
			}
		}
	}
	s.requestInputs(dst, channel, ctx, now)
}

func days(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return float64(d) / float64(24*time.Hour)
}

// requestInputs extracts the non-profile inputs and computes the shared row.
func (s *Spec) requestInputs(dst *Inputs, channel string, ctx map[string]any, now time.Time) {
	lt := now.In(s.loc)
	dst.local = lt
	for i := range s.sources {
		src := &s.sources[i]
		v := &dst.vals[i]
		switch src.kind {
		case srcContext:
			v.set(src, ctx[src.arg])
		case srcChannel:
			if channel == "" {
				v.setMissing()
			} else {
				v.setStr(src, channel)
			}
		case srcHour:
			v.setNum(src, float64(lt.Hour()))
		case srcWeekday:
			v.setNum(src, float64(lt.Weekday()))
		}
	}
	row := dst.row
	clear(row)
	for i := range s.feats {
		ft := &s.feats[i]
		switch {
		case ft.action:
		case ft.src < 0:
			ft.write(row, nil)
		default:
			ft.write(row, &dst.vals[ft.src])
		}
	}
	for _, ci := range s.sharedCrosses {
		c := &s.crosses[ci]
		c.write(row, &dst.vals[c.a], &dst.vals[c.b])
	}
}

// ProfileMap returns the profile-derived inputs keyed by source name
// without the "profile." prefix ("stage", "counters.visits_7d",
// "recency.purchase", "attributes.tier", "tenure_days"), with float64,
// string or bool values; missing values are left out. It is what the
// journal logs so that InputsFromLog can rebuild the same vector. It
// allocates: call it off the hot path or once per decision, or reuse a
// map with FillProfileMap.
func (in *Inputs) ProfileMap() map[string]any {
	if in.spec == nil {
		return nil
	}
	return in.FillProfileMap(nil)
}

// FillProfileMap clears m, writes ProfileMap's entries into it and
// returns it (a new map if m is nil): a caller that logs one decision at
// a time reuses one map. An attribute value is the profile's own
// interface value, not boxed again; the other values (the stage, decayed
// counters, recencies, tenure) are boxed here.
func (in *Inputs) FillProfileMap(m map[string]any) map[string]any {
	if m == nil {
		n := 0
		if in.spec != nil {
			n = len(in.vals)
		}
		m = make(map[string]any, n)
	}
	clear(m)
	if in.spec == nil {
		return m
	}
	for i := range in.spec.sources {
		src := &in.spec.sources[i]
		v := &in.vals[i]
		if !src.isProfile() || !v.ok {
			continue
		}
		k := strings.TrimPrefix(src.name, "profile.")
		switch {
		case v.boxed != nil:
			m[k] = v.boxed
		case v.typ == vtNumber:
			m[k] = v.num
		case v.typ == vtString:
			m[k] = v.str
		case v.typ == vtBool:
			m[k] = v.num == 1
		}
	}
	return m
}

// Row returns the shared part of the vector (the vector of an action with
// no action features). It aliases dst's storage: do not keep it.
func (in *Inputs) Row() []float64 { return in.row }

// InputsFromLog rebuilds Inputs from a logged ProfileMap (numbers may be
// float64 or json.Number) and the logged channel, context and decision
// time, so that Assemble gives the vector that was scored live. A logged
// value of the wrong type is a *FieldError ("profile.counters.visits_7d");
// keys the spec does not use are ignored.
func (s *Spec) InputsFromLog(dst *Inputs, profile map[string]any, channel string, ctx map[string]any, now time.Time) error {
	dst.reset(s)
	for i := range s.sources {
		src := &s.sources[i]
		if !src.isProfile() {
			continue
		}
		x := profile[strings.TrimPrefix(src.name, "profile.")]
		if !dst.vals[i].set(src, x) {
			return fieldErr(src.name, "must be a "+src.typ.String())
		}
		if src.kind == srcCounter && dst.vals[i].ok {
			dst.counter[src.idx], dst.has[src.idx] = dst.vals[i].num, true
		}
	}
	s.requestInputs(dst, channel, ctx, now)
	return nil
}

// ActionFeatures is an action compiled against a spec: its feature values,
// its part of the vector and the inputs of its crosses. Build it once per
// action when the catalog loads; it is immutable and safe to share.
type ActionFeatures struct {
	ID   string
	spec *Spec
	vals []value
	idx  []int32
	val  []float64
}

// CompileAction checks an action's features against vector.action
// (*FieldError "action.discount": "must be <= 0.5") and precomputes its
// part of the vector: one-hot and hashed indices, numeric values and the
// hashes its crosses start from. Features the spec does not declare are
// ignored.
func (s *Spec) CompileAction(id string, feats map[string]any) (*ActionFeatures, error) {
	if id == "" {
		return nil, fieldErr("action.id", "required")
	}
	for i := range s.action {
		if err := checkField(&s.action[i], "action.", feats); err != nil {
			return nil, err
		}
	}
	a := &ActionFeatures{ID: id, spec: s, vals: make([]value, len(s.actSources))}
	for i := range s.actSources {
		src := &s.actSources[i]
		if src.kind == srcActionID {
			a.vals[i].setStr(src, id)
			continue
		}
		a.vals[i].set(src, feats[src.arg])
	}
	row := make([]float64, s.dim)
	for i := range s.feats {
		if ft := &s.feats[i]; ft.action {
			ft.write(row, &a.vals[ft.src])
		}
	}
	for i := range s.crosses {
		if c := &s.crosses[i]; c.aAct && c.bAct {
			c.write(row, &a.vals[c.a], &a.vals[c.b])
		}
	}
	for i, x := range row {
		if x != 0 {
			a.idx = append(a.idx, int32(i))
			a.val = append(a.val, x)
		}
	}
	return a, nil
}

// Assemble writes one vector per action into dst, row-major: dst must have
// len(actions)*Dim() elements. It copies the shared part from in, then sets
// each action's own part and the crosses that involve the action. It does
// not allocate. in and the actions must come from this spec.
func (s *Spec) Assemble(dst []float64, in *Inputs, actions []*ActionFeatures) {
	dim := s.dim
	if len(dst) != len(actions)*dim {
		panic("BUG: features.Assemble: len(dst) != len(actions)*Dim()")
	}
	if in.spec != s {
		panic("BUG: features.Assemble: Inputs built by another spec")
	}
	for i, a := range actions {
		if a.spec != s {
			panic("BUG: features.Assemble: action compiled by another spec")
		}
		row := dst[i*dim : (i+1)*dim : (i+1)*dim]
		copy(row, in.row)
		for j, k := range a.idx {
			row[k] = a.val[j]
		}
		for _, ci := range s.mixedCrosses {
			c := &s.crosses[ci]
			if c.aAct {
				c.write(row, &a.vals[c.a], &in.vals[c.b])
			} else {
				c.write(row, &in.vals[c.a], &a.vals[c.b])
			}
		}
	}
}
