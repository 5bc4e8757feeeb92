package features

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The raw* types mirror the YAML file. After defaults are filled in they are
// also the canonical form hashed by Spec.Hash (JSON, fields in declaration
// order, lists in file order).

type rawSpec struct {
	Profile rawProfile `yaml:"profile" json:"profile"`
	Vector  rawVector  `yaml:"vector" json:"vector"`
}

type rawProfile struct {
	Events          []string        `yaml:"events" json:"events"`
	Stages          []string        `yaml:"stages" json:"stages"`
	DefaultStage    string          `yaml:"default_stage" json:"default_stage"`
	Counters        []rawCounter    `yaml:"counters" json:"counters"`
	Transitions     []rawTransition `yaml:"transitions" json:"transitions"`
	Attributes      []rawAttribute  `yaml:"attributes" json:"attributes"`
	AttributeEvents []string        `yaml:"attribute_events" json:"attribute_events"`
	// CLV names the purchase event (and its amount property) whose
	// history the profile keeps for customer lifetime value (clv.go).
	CLV *rawCLV `yaml:"clv" json:"clv,omitempty"`
}

type rawCLV struct {
	Event  string `yaml:"event" json:"event"`
	Amount string `yaml:"amount" json:"amount"`
}

type rawCounter struct {
	Name     string   `yaml:"name" json:"name"`
	HalfLife string   `yaml:"half_life" json:"half_life"`
	Events   []string `yaml:"events" json:"events"`
	Property string   `yaml:"property" json:"property"`
}

type rawTransition struct {
	On   string   `yaml:"on" json:"on"`
	From []string `yaml:"from" json:"from"`
	To   string   `yaml:"to" json:"to"`
}

type rawAttribute struct {
	Name    string `yaml:"name" json:"name"`
	Type    string `yaml:"type" json:"type"`
	Consent string `yaml:"consent" json:"consent"`
	// PII marks personal data (an e-mail, a phone number, a name): masked
	// wherever the service shows inputs (Spec.MaskPII) and dropped from
	// exports unless asked for. Not part of the spec's hash: marking an
	// attribute does not change the vectors, so models stay valid.
	PII bool `yaml:"pii" json:"-"`
}

type rawVector struct {
	Timezone           string       `yaml:"timezone" json:"timezone"`
	RecencyDefaultDays *float64     `yaml:"recency_default_days" json:"recency_default_days"`
	Context            []rawField   `yaml:"context" json:"context"`
	Action             []rawField   `yaml:"action" json:"action"`
	Features           []rawFeature `yaml:"features" json:"features"`
	Crosses            []rawCross   `yaml:"crosses" json:"crosses"`
}

type rawField struct {
	Name     string   `yaml:"name" json:"name"`
	Type     string   `yaml:"type" json:"type"`
	Required bool     `yaml:"required" json:"required"`
	MaxLen   int      `yaml:"max_len" json:"max_len"`
	Min      *float64 `yaml:"min" json:"min"`
	Max      *float64 `yaml:"max" json:"max"`
}

type rawFeature struct {
	Name      string    `yaml:"name" json:"name"`
	Source    string    `yaml:"source" json:"source"`
	Type      string    `yaml:"type" json:"type"`
	Transform string    `yaml:"transform" json:"transform"`
	Clip      []float64 `yaml:"clip" json:"clip"`
	Scale     *rawScale `yaml:"scale" json:"scale"`
	Default   *float64  `yaml:"default" json:"default"`
	Values    []string  `yaml:"values" json:"values"`
	Buckets   int       `yaml:"buckets" json:"buckets"`
}

type rawScale struct {
	Mean *float64 `yaml:"mean" json:"mean"`
	Std  *float64 `yaml:"std" json:"std"`
	Min  *float64 `yaml:"min" json:"min"`
	Max  *float64 `yaml:"max" json:"max"`
}

type rawCross struct {
	Name    string `yaml:"name" json:"name"`
	A       string `yaml:"a" json:"a"`
	B       string `yaml:"b" json:"b"`
	Buckets int    `yaml:"buckets" json:"buckets"`
}

// valueType is the type of a declared field or a source.
type valueType uint8

const (
	vtNone valueType = iota
	vtNumber
	vtString
	vtBool
)

func (t valueType) String() string {
	switch t {
	case vtNumber:
		return "number"
	case vtString:
		return "string"
	case vtBool:
		return "bool"
	}
	return "none"
}

func parseValueType(s string) valueType {
	switch s {
	case "number":
		return vtNumber
	case "string":
		return vtString
	case "bool":
		return vtBool
	}
	return vtNone
}

// DefaultMaxLen bounds string context values and string action features
// when a field does not set max_len.
const DefaultMaxLen = 256

// fieldDef is a declared context field, action feature or attribute.
type fieldDef struct {
	name     string
	typ      valueType
	required bool
	maxLen   int
	min, max float64 // NaN when unset
}

type counterDef struct {
	name     string
	halfLife time.Duration
	property string
}

type counterInc struct {
	counter  int
	property string
}

type transition struct {
	from map[string]bool // nil: from any stage
	to   string
}

type eventRule struct {
	counters    []counterInc
	transitions []transition
	attributes  bool
	purchase    bool // the CLV purchase event (profile.clv.event)
}

// Spec is a parsed, validated and compiled feature spec. It is immutable
// and safe for concurrent use.
type Spec struct {
	raw  rawSpec
	hash string
	pii  []string // the profile inputs of PII attributes, "attributes.NAME"

	// profile
	events       map[string]*eventRule
	stages       []string
	defaultStage string
	counters     []counterDef
	counterIdx   map[string]int
	attrs        []fieldDef
	attrIdx      map[string]int
	consentOf    map[string]string // attribute -> consent channel
	clvEvent     string            // the purchase event ("": no CLV)
	clvAmount    string            // its amount property
	clv          clvRuntime        // the model (SetCLVModel) and its cache

	// vector
	loc            *time.Location
	recencyDefault float64
	context        []fieldDef
	action         []fieldDef
	actionIdx      map[string]int
	sources        []source // shared (profile, context, request, time) sources
	actSources     []source // action sources; index 0 is action.id
	feats          []feature
	crosses        []cross
	dim            int
	names          []string
	sharedCrosses  []int // crosses with both sides shared
	mixedCrosses   []int // crosses with exactly one action side
}

// LoadSpec reads and parses a spec file.
func LoadSpec(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read feature spec %q: %w", path, err)
	}
	s, err := ParseSpec(b)
	if err != nil {
		return nil, fmt.Errorf("cannot load feature spec %q: %w", path, err)
	}
	return s, nil
}

// ParseSpec parses a YAML spec strictly (unknown keys are errors) and
// validates it. Validation errors are *FieldError naming the field path.
func ParseSpec(data []byte) (*Spec, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fieldErr("spec", "invalid YAML: "+err.Error())
	}
	if len(doc.Content) == 0 {
		return nil, fieldErr("spec", "empty document")
	}
	var raw rawSpec
	if err := decodeStrict(doc.Content[0], reflect.ValueOf(&raw).Elem(), ""); err != nil {
		return nil, err
	}
	return compileSpec(raw)
}

// decodeStrict decodes n into v, rejecting unknown keys and type mismatches
// with the path of the field.
func decodeStrict(n *yaml.Node, v reflect.Value, path string) error {
	name := path
	if name == "" {
		name = "spec"
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return fieldErr(name, "bad alias")
		}
		return decodeStrict(n.Alias, v, path)
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		if err := decodeStrict(n, nv.Elem(), path); err != nil {
			return err
		}
		v.Set(nv)
		return nil
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fieldErr(name, "must be a mapping")
		}
		t := v.Type()
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			fp := key
			if path != "" {
				fp = path + "." + key
			}
			if seen[key] {
				return fieldErr(fp, "duplicate key")
			}
			seen[key] = true
			found := false
			for j := 0; j < t.NumField(); j++ {
				if tag, _, _ := strings.Cut(t.Field(j).Tag.Get("yaml"), ","); tag == key {
					if err := decodeStrict(n.Content[i+1], v.Field(j), fp); err != nil {
						return err
					}
					found = true
					break
				}
			}
			if !found {
				return fieldErr(fp, "unknown field")
			}
		}
		return nil
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return fieldErr(name, "must be a list")
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if err := decodeStrict(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	default:
		if n.Kind != yaml.ScalarNode {
			return fieldErr(name, "must be a scalar")
		}
		switch v.Kind() {
		case reflect.String:
			v.SetString(n.Value)
		case reflect.Bool:
			b, err := strconv.ParseBool(n.Value)
			if err != nil {
				return fieldErr(name, "must be a bool")
			}
			v.SetBool(b)
		case reflect.Int:
			i, err := strconv.ParseInt(n.Value, 0, 32)
			if err != nil {
				return fieldErr(name, "must be an integer")
			}
			v.SetInt(i)
		case reflect.Float64:
			f, err := strconv.ParseFloat(n.Value, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return fieldErr(name, "must be a finite number")
			}
			v.SetFloat(f)
		default:
			panic("BUG: decodeStrict: unsupported kind " + v.Kind().String())
		}
		return nil
	}
}

// parseDuration accepts Go durations plus a "d" (24h) suffix: "7d", "36h".
func parseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		f, err := strconv.ParseFloat(d, 64)
		if err != nil {
			return 0, err
		}
		return time.Duration(f * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(s)
}

func compileSpec(raw rawSpec) (*Spec, error) {
	s := &Spec{
		events:     map[string]*eventRule{},
		counterIdx: map[string]int{},
		attrIdx:    map[string]int{},
		consentOf:  map[string]string{},
		actionIdx:  map[string]int{},
	}
	if err := s.compileProfile(&raw.Profile); err != nil {
		return nil, err
	}
	if err := s.compileVector(&raw.Vector); err != nil {
		return nil, err
	}
	s.raw = raw
	canon, err := json.Marshal(raw)
	if err != nil {
		panic("BUG: cannot encode canonical spec: " + err.Error())
	}
	sum := sha256.Sum256(canon)
	s.hash = hex.EncodeToString(sum[:])
	return s, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (s *Spec) compileProfile(p *rawProfile) error {
	if len(p.Events) == 0 {
		return fieldErr("profile.events", "must list at least one event type")
	}
	for i, e := range p.Events {
		f := fmt.Sprintf("profile.events[%d]", i)
		if !isIdent(e) {
			return fieldErr(f, "must be a non-empty identifier")
		}
		if s.events[e] != nil {
			return fieldErr(f, fmt.Sprintf("duplicate event type %q", e))
		}
		s.events[e] = &eventRule{}
	}
	if len(p.Stages) == 0 {
		return fieldErr("profile.stages", "must list at least one stage")
	}
	stageSet := map[string]bool{}
	for i, st := range p.Stages {
		f := fmt.Sprintf("profile.stages[%d]", i)
		if !isIdent(st) {
			return fieldErr(f, "must be a non-empty identifier")
		}
		if stageSet[st] {
			return fieldErr(f, fmt.Sprintf("duplicate stage %q", st))
		}
		stageSet[st] = true
	}
	s.stages = p.Stages
	if p.DefaultStage == "" {
		p.DefaultStage = p.Stages[0]
	}
	if !stageSet[p.DefaultStage] {
		return fieldErr("profile.default_stage", fmt.Sprintf("unknown stage %q", p.DefaultStage))
	}
	s.defaultStage = p.DefaultStage
	for i := range p.Counters {
		c := &p.Counters[i]
		f := fmt.Sprintf("profile.counters[%d]", i)
		if !isIdent(c.Name) {
			return fieldErr(f+".name", "must be a non-empty identifier")
		}
		if _, dup := s.counterIdx[c.Name]; dup {
			return fieldErr(f+".name", fmt.Sprintf("duplicate counter %q", c.Name))
		}
		hl, err := parseDuration(c.HalfLife)
		if err != nil {
			return fieldErr(f+".half_life", "must be a duration such as 7d or 12h")
		}
		if hl <= 0 {
			return fieldErr(f+".half_life", "must be > 0")
		}
		c.HalfLife = hl.String()
		if len(c.Events) == 0 {
			return fieldErr(f+".events", "must list at least one event type")
		}
		idx := len(s.counters)
		s.counterIdx[c.Name] = idx
		s.counters = append(s.counters, counterDef{name: c.Name, halfLife: hl, property: c.Property})
		for j, e := range c.Events {
			r := s.events[e]
			if r == nil {
				return fieldErr(fmt.Sprintf("%s.events[%d]", f, j), fmt.Sprintf("unknown event type %q", e))
			}
			r.counters = append(r.counters, counterInc{counter: idx, property: c.Property})
		}
	}
	if c := p.CLV; c != nil {
		r := s.events[c.Event]
		if r == nil {
			return fieldErr("profile.clv.event", fmt.Sprintf("unknown event type %q", c.Event))
		}
		if !isIdent(c.Amount) {
			return fieldErr("profile.clv.amount", "must name the purchase event's amount property")
		}
		s.clvEvent, s.clvAmount = c.Event, c.Amount
		r.purchase = true
	}
	for i, t := range p.Transitions {
		f := fmt.Sprintf("profile.transitions[%d]", i)
		r := s.events[t.On]
		if r == nil {
			return fieldErr(f+".on", fmt.Sprintf("unknown event type %q", t.On))
		}
		if !stageSet[t.To] {
			return fieldErr(f+".to", fmt.Sprintf("unknown stage %q", t.To))
		}
		tr := transition{to: t.To}
		if len(t.From) > 0 {
			tr.from = map[string]bool{}
			for j, st := range t.From {
				if !stageSet[st] {
					return fieldErr(fmt.Sprintf("%s.from[%d]", f, j), fmt.Sprintf("unknown stage %q", st))
				}
				tr.from[st] = true
			}
		}
		r.transitions = append(r.transitions, tr)
	}
	for i, a := range p.Attributes {
		f := fmt.Sprintf("profile.attributes[%d]", i)
		if !isIdent(a.Name) {
			return fieldErr(f+".name", "must be a non-empty identifier")
		}
		if _, dup := s.attrIdx[a.Name]; dup {
			return fieldErr(f+".name", fmt.Sprintf("duplicate attribute %q", a.Name))
		}
		t := parseValueType(a.Type)
		if t == vtNone {
			return fieldErr(f+".type", "must be number, string or bool")
		}
		if a.Consent != "" {
			if t != vtBool {
				return fieldErr(f+".consent", "needs a bool attribute")
			}
			s.consentOf[a.Name] = a.Consent
		}
		if a.PII {
			s.pii = append(s.pii, "attributes."+a.Name)
		}
		s.attrIdx[a.Name] = len(s.attrs)
		s.attrs = append(s.attrs, fieldDef{name: a.Name, typ: t, maxLen: DefaultMaxLen, min: math.NaN(), max: math.NaN()})
	}
	for i, e := range p.AttributeEvents {
		r := s.events[e]
		if r == nil {
			return fieldErr(fmt.Sprintf("profile.attribute_events[%d]", i), fmt.Sprintf("unknown event type %q", e))
		}
		r.attributes = true
	}
	return nil
}

func compileFields(path string, in []rawField, into *[]fieldDef) error {
	seen := map[string]bool{}
	for i := range in {
		r := &in[i]
		f := fmt.Sprintf("%s[%d]", path, i)
		if !isIdent(r.Name) {
			return fieldErr(f+".name", "must be a non-empty identifier")
		}
		if seen[r.Name] {
			return fieldErr(f+".name", fmt.Sprintf("duplicate field %q", r.Name))
		}
		seen[r.Name] = true
		t := parseValueType(r.Type)
		if t == vtNone {
			return fieldErr(f+".type", "must be number, string or bool")
		}
		d := fieldDef{name: r.Name, typ: t, required: r.Required, min: math.NaN(), max: math.NaN()}
		if r.MaxLen < 0 {
			return fieldErr(f+".max_len", "must be >= 0")
		}
		if r.MaxLen != 0 && t != vtString {
			return fieldErr(f+".max_len", "only for string fields")
		}
		if t == vtString && r.MaxLen == 0 {
			r.MaxLen = DefaultMaxLen
		}
		d.maxLen = r.MaxLen
		if (r.Min != nil || r.Max != nil) && t != vtNumber {
			return fieldErr(f+".min", "only for number fields")
		}
		if r.Min != nil {
			d.min = *r.Min
		}
		if r.Max != nil {
			d.max = *r.Max
		}
		if r.Min != nil && r.Max != nil && *r.Max < *r.Min {
			return fieldErr(f+".max", "must be >= min")
		}
		*into = append(*into, d)
	}
	return nil
}

func (s *Spec) compileVector(v *rawVector) error {
	s.loc = time.UTC
	if v.Timezone == "" {
		v.Timezone = "UTC"
	}
	if v.Timezone != "UTC" {
		loc, err := time.LoadLocation(v.Timezone)
		if err != nil {
			return fieldErr("vector.timezone", "unknown time zone")
		}
		s.loc = loc
	}
	if v.RecencyDefaultDays == nil {
		d := 365.0
		v.RecencyDefaultDays = &d
	}
	if *v.RecencyDefaultDays < 0 {
		return fieldErr("vector.recency_default_days", "must be >= 0")
	}
	s.recencyDefault = *v.RecencyDefaultDays
	if err := compileFields("vector.context", v.Context, &s.context); err != nil {
		return err
	}
	if err := compileFields("vector.action", v.Action, &s.action); err != nil {
		return err
	}
	for i, a := range s.action {
		if a.name == "id" {
			return fieldErr(fmt.Sprintf("vector.action[%d].name", i), `"id" is reserved for action.id`)
		}
		s.actionIdx[a.name] = i + 1
	}
	s.actSources = make([]source, 1+len(s.action))
	s.actSources[0] = source{name: "action.id", kind: srcActionID, typ: vtString}
	for i, a := range s.action {
		s.actSources[i+1] = source{name: "action." + a.name, kind: srcAction, arg: a.name, typ: a.typ}
	}
	if len(v.Features) == 0 {
		return fieldErr("vector.features", "must list at least one feature")
	}
	names := map[string]bool{}
	for i := range v.Features {
		if err := s.compileFeature(fmt.Sprintf("vector.features[%d]", i), &v.Features[i], names); err != nil {
			return err
		}
	}
	for i := range v.Crosses {
		if err := s.compileCross(fmt.Sprintf("vector.crosses[%d]", i), &v.Crosses[i], names); err != nil {
			return err
		}
	}
	return nil
}

// sourceRef resolves a source name to (action side, index into sources or
// actSources), registering shared sources on first use.
func (s *Spec) sourceRef(field, name string) (bool, int, error) {
	for i, src := range s.sources {
		if src.name == name {
			return false, i, nil
		}
	}
	for i, src := range s.actSources {
		if src.name == name {
			return true, i, nil
		}
	}
	src, err := s.parseSource(name)
	if err != nil {
		return false, 0, fieldErr(field, err.Error())
	}
	if src.kind == srcAction {
		return false, 0, fieldErr(field, fmt.Sprintf("unknown action feature %q (declare it under vector.action)", name))
	}
	s.sources = append(s.sources, src)
	return false, len(s.sources) - 1, nil
}

func (s *Spec) parseSource(name string) (source, error) {
	switch name {
	case "profile.stage":
		return source{name: name, kind: srcStage, typ: vtString}, nil
	case "profile.last_channel":
		return source{name: name, kind: srcLastChannel, typ: vtString}, nil
	case "profile.tenure_days":
		return source{name: name, kind: srcTenure, typ: vtNumber}, nil
	case "request.channel":
		return source{name: name, kind: srcChannel, typ: vtString}, nil
	case "time.hour":
		return source{name: name, kind: srcHour, typ: vtNumber}, nil
	case "time.weekday":
		return source{name: name, kind: srcWeekday, typ: vtNumber}, nil
	}
	if arg, ok := strings.CutPrefix(name, "profile.counters."); ok {
		i, ok := s.counterIdx[arg]
		if !ok {
			return source{}, fmt.Errorf("unknown counter %q", arg)
		}
		return source{name: name, kind: srcCounter, arg: arg, idx: i, typ: vtNumber}, nil
	}
	if arg, ok := strings.CutPrefix(name, "profile.recency."); ok {
		if s.events[arg] == nil {
			return source{}, fmt.Errorf("unknown event type %q", arg)
		}
		return source{name: name, kind: srcRecency, arg: arg, typ: vtNumber}, nil
	}
	if arg, ok := strings.CutPrefix(name, "profile.clv."); ok {
		if s.clvEvent == "" {
			return source{}, fmt.Errorf("%s needs profile.clv (the purchase event)", name)
		}
		i := slices.Index(clvSourceNames, arg)
		if i < 0 {
			return source{}, fmt.Errorf("unknown CLV figure %q (%s)", arg, strings.Join(clvSourceNames, ", "))
		}
		return source{name: name, kind: srcCLV, arg: arg, idx: i, typ: vtNumber}, nil
	}
	if arg, ok := strings.CutPrefix(name, "profile.attributes."); ok {
		i, ok := s.attrIdx[arg]
		if !ok {
			return source{}, fmt.Errorf("unknown attribute %q (declare it under profile.attributes)", arg)
		}
		return source{name: name, kind: srcAttr, arg: arg, typ: s.attrs[i].typ}, nil
	}
	if arg, ok := strings.CutPrefix(name, "context."); ok {
		for _, c := range s.context {
			if c.name == arg {
				return source{name: name, kind: srcContext, arg: arg, typ: c.typ}, nil
			}
		}
		return source{}, fmt.Errorf("unknown context field %q (declare it under vector.context)", arg)
	}
	if _, ok := strings.CutPrefix(name, "action."); ok {
		return source{kind: srcAction}, nil
	}
	return source{}, fmt.Errorf("unknown source %q", name)
}

func (s *Spec) compileFeature(f string, r *rawFeature, names map[string]bool) error {
	ft := feature{off: s.dim, src: -1}
	switch r.Type {
	case "bias":
		if r.Source != "" {
			return fieldErr(f+".source", "bias takes no source")
		}
		ft.kind = fkBias
		ft.width = 1
		if r.Name == "" {
			r.Name = "bias"
		}
	case "numeric", "onehot", "hashed":
		if r.Source == "" {
			return fieldErr(f+".source", "required")
		}
		act, idx, err := s.sourceRef(f+".source", r.Source)
		if err != nil {
			return err
		}
		ft.action, ft.src = act, idx
		if r.Name == "" {
			r.Name = r.Source
		}
	case "":
		return fieldErr(f+".type", "required (numeric, onehot, hashed or bias)")
	default:
		return fieldErr(f+".type", fmt.Sprintf("unknown type %q (numeric, onehot, hashed or bias)", r.Type))
	}
	if names[r.Name] {
		return fieldErr(f+".name", fmt.Sprintf("duplicate feature name %q", r.Name))
	}
	names[r.Name] = true
	ft.name = r.Name
	if r.Type != "numeric" {
		switch {
		case r.Transform != "":
			return fieldErr(f+".transform", "only for numeric features")
		case r.Clip != nil:
			return fieldErr(f+".clip", "only for numeric features")
		case r.Scale != nil:
			return fieldErr(f+".scale", "only for numeric features")
		case r.Default != nil:
			return fieldErr(f+".default", "only for numeric features")
		}
	}
	if r.Type != "onehot" && r.Values != nil {
		return fieldErr(f+".values", "only for onehot features")
	}
	if r.Type != "hashed" && r.Buckets != 0 {
		return fieldErr(f+".buckets", "only for hashed features and crosses")
	}
	src := &source{}
	if ft.src >= 0 {
		src = s.srcOf(ft.action, ft.src)
	}
	switch r.Type {
	case "numeric":
		if src.typ == vtString {
			return fieldErr(f+".source", fmt.Sprintf("%s is a string: use onehot or hashed", r.Source))
		}
		ft.kind = fkNumeric
		ft.width = 1
		switch r.Transform {
		case "", "none":
			r.Transform = "none"
		case "log1p":
			ft.log1p = true
		default:
			return fieldErr(f+".transform", "must be none or log1p")
		}
		ft.clipLo, ft.clipHi = math.Inf(-1), math.Inf(1)
		if r.Clip != nil {
			if len(r.Clip) != 2 {
				return fieldErr(f+".clip", "must be [min, max]")
			}
			if r.Clip[1] < r.Clip[0] {
				return fieldErr(f+".clip", "max must be >= min")
			}
			ft.clipLo, ft.clipHi = r.Clip[0], r.Clip[1]
		}
		ft.scaleSub, ft.scaleMul = 0, 1
		if sc := r.Scale; sc != nil {
			switch {
			case sc.Mean != nil || sc.Std != nil:
				if sc.Mean == nil || sc.Std == nil || sc.Min != nil || sc.Max != nil {
					return fieldErr(f+".scale", "give either mean and std, or min and max")
				}
				if *sc.Std <= 0 {
					return fieldErr(f+".scale.std", "must be > 0")
				}
				ft.scaleSub, ft.scaleMul = *sc.Mean, 1 / *sc.Std
			case sc.Min != nil && sc.Max != nil:
				if *sc.Max <= *sc.Min {
					return fieldErr(f+".scale.max", "must be > min")
				}
				ft.scaleSub, ft.scaleMul = *sc.Min, 1/(*sc.Max-*sc.Min)
			default:
				return fieldErr(f+".scale", "give either mean and std, or min and max")
			}
		}
		if r.Default != nil {
			ft.def = *r.Default
		} else if src.kind == srcRecency {
			ft.def = s.recencyDefault
		}
		if src.kind == srcRecency && r.Default == nil {
			d := s.recencyDefault
			r.Default = &d
		}
	case "onehot":
		if len(r.Values) == 0 {
			return fieldErr(f+".values", "must list at least one value")
		}
		ft.kind = fkOnehot
		ft.values = map[string]int{}
		for j, val := range r.Values {
			if _, dup := ft.values[val]; dup {
				return fieldErr(fmt.Sprintf("%s.values[%d]", f, j), fmt.Sprintf("duplicate value %q", val))
			}
			ft.values[val] = j
		}
		ft.width = len(r.Values) + 1
		ft.valueList = r.Values
	case "hashed":
		if r.Buckets <= 0 {
			return fieldErr(f+".buckets", "must be > 0")
		}
		if r.Buckets > 1<<20 {
			return fieldErr(f+".buckets", "must be <= 1048576")
		}
		ft.kind = fkHashed
		ft.width = r.Buckets
	}
	if ft.src >= 0 && ft.kind != fkNumeric {
		src.key = true
		src.hash = src.hash || ft.kind == fkHashed
	}
	s.dim += ft.width
	s.feats = append(s.feats, ft)
	s.appendNames(ft.name, ft.kind, ft.width, ft.valueList)
	return nil
}

func (s *Spec) appendNames(name string, k featureKind, width int, values []string) {
	switch k {
	case fkBias, fkNumeric:
		s.names = append(s.names, name)
	case fkOnehot:
		for _, v := range values {
			s.names = append(s.names, name+"="+v)
		}
		s.names = append(s.names, name+"=<other>")
	default:
		for i := 0; i < width; i++ {
			s.names = append(s.names, name+"#"+strconv.Itoa(i))
		}
	}
}

func (s *Spec) compileCross(f string, r *rawCross, names map[string]bool) error {
	if r.A == "" {
		return fieldErr(f+".a", "required")
	}
	if r.B == "" {
		return fieldErr(f+".b", "required")
	}
	if r.Buckets <= 0 {
		return fieldErr(f+".buckets", "must be > 0")
	}
	if r.Buckets > 1<<20 {
		return fieldErr(f+".buckets", "must be <= 1048576")
	}
	aAct, aIdx, err := s.sourceRef(f+".a", r.A)
	if err != nil {
		return err
	}
	bAct, bIdx, err := s.sourceRef(f+".b", r.B)
	if err != nil {
		return err
	}
	if r.Name == "" {
		r.Name = r.A + "x" + r.B
	}
	if names[r.Name] {
		return fieldErr(f+".name", fmt.Sprintf("duplicate feature name %q", r.Name))
	}
	names[r.Name] = true
	c := cross{name: r.Name, aAct: aAct, a: aIdx, bAct: bAct, b: bIdx, off: s.dim, buckets: r.Buckets}
	for _, src := range [2]*source{s.srcOf(aAct, aIdx), s.srcOf(bAct, bIdx)} {
		src.key, src.hash = true, true
	}
	ci := len(s.crosses)
	switch {
	case !aAct && !bAct:
		s.sharedCrosses = append(s.sharedCrosses, ci)
	case aAct != bAct:
		s.mixedCrosses = append(s.mixedCrosses, ci)
	}
	s.crosses = append(s.crosses, c)
	s.dim += r.Buckets
	s.appendNames(r.Name, fkHashed, r.Buckets, nil)
	return nil
}

func (s *Spec) srcOf(action bool, i int) *source {
	if action {
		return &s.actSources[i]
	}
	return &s.sources[i]
}

// Dim is the length of one assembled vector: the sum of the feature widths.
func (s *Spec) Dim() int { return s.dim }

// Names returns a name for each dimension of the vector: "bias",
// "profile.counters.visits_7d", "context.page=cart", "context.page=<other>",
// "context.pagexaction.id#3". The caller may keep and change the slice.
func (s *Spec) Names() []string { return append([]string(nil), s.names...) }

// Hash is the hex SHA-256 of the canonical encoding of the spec (defaults
// filled in, JSON with fixed field order): the same spec hashes the same
// whatever its YAML formatting. Model artifacts record it.
func (s *Spec) Hash() string { return s.hash }

// FillRecency sets dst[type] to the days from p's last event of each
// type to now, for every event type the spec declares: the spec's
// recency_default_days for a type p never had, as the vector reads it
// (one rule for the model and the eligibility rules). dst is cleared
// first; a type p had that the spec no longer declares is kept too.
func (s *Spec) FillRecency(dst map[string]float64, p *Profile, now time.Time) {
	clear(dst)
	for _, typ := range s.raw.Profile.Events {
		dst[typ] = s.recencyDefault
	}
	for typ, t := range p.LastEvent {
		dst[typ] = math.Max(0, now.Sub(t).Hours()/24)
	}
}

// PIIMask replaces a personal value wherever the service shows inputs.
const PIIMask = "***"

// IsPII reports whether a profile input ("attributes.email", as
// Inputs.ProfileMap and the journal name them) is an attribute marked pii.
func (s *Spec) IsPII(input string) bool { return slices.Contains(s.pii, input) }

// MaskPII returns profile inputs m with the values of PII attributes
// replaced by PIIMask (a copy when there are any; m itself otherwise).
func (s *Spec) MaskPII(m map[string]any) map[string]any {
	if len(s.pii) == 0 {
		return m
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if s.IsPII(k) {
			v = PIIMask
		}
		out[k] = v
	}
	return out
}

// Stages returns the journey stages in order.
func (s *Spec) Stages() []string { return append([]string(nil), s.stages...) }

// HasEvent reports whether t is a declared event type.
func (s *Spec) HasEvent(t string) bool { return s.events[t] != nil }

// HasContextField reports whether name is a declared context field
// (vector.context). ContextFields lists them, in declaration order.
func (s *Spec) HasContextField(name string) bool {
	for i := range s.context {
		if s.context[i].name == name {
			return true
		}
	}
	return false
}

// ContextFields returns the names of the declared context fields, in
// declaration order. The caller may keep and change the slice.
func (s *Spec) ContextFields() []string {
	names := make([]string, len(s.context))
	for i := range s.context {
		names[i] = s.context[i].name
	}
	return names
}

// ValidateContext checks a request context against the declared context
// fields: a declared field with the wrong type, a non-finite or
// out-of-range number, an over-long string, or a missing required field is
// a *FieldError ("context.cart_value": "must be a number"). Keys that are
// not declared are allowed and ignored.
func (s *Spec) ValidateContext(ctx map[string]any) error {
	for i := range s.context {
		if err := checkField(&s.context[i], "context.", ctx); err != nil {
			return err
		}
	}
	return nil
}

func checkField(d *fieldDef, prefix string, m map[string]any) error {
	v, ok := m[d.name]
	if !ok || v == nil {
		if d.required {
			return fieldErr(prefix+d.name, "required")
		}
		return nil
	}
	switch d.typ {
	case vtNumber:
		x, ok := toNumber(v)
		if !ok {
			return fieldErr(prefix+d.name, "must be a number")
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fieldErr(prefix+d.name, "must be a finite number")
		}
		if !math.IsNaN(d.min) && x < d.min {
			return fieldErr(prefix+d.name, "must be >= "+strconv.FormatFloat(d.min, 'g', -1, 64))
		}
		if !math.IsNaN(d.max) && x > d.max {
			return fieldErr(prefix+d.name, "must be <= "+strconv.FormatFloat(d.max, 'g', -1, 64))
		}
	case vtString:
		str, ok := v.(string)
		if !ok {
			return fieldErr(prefix+d.name, "must be a string")
		}
		if len(str) > d.maxLen {
			return fieldErr(prefix+d.name, "must be at most "+strconv.Itoa(d.maxLen)+" bytes")
		}
	case vtBool:
		if _, ok := v.(bool); !ok {
			return fieldErr(prefix+d.name, "must be a bool")
		}
	}
	return nil
}

// toNumber converts the numeric types that decoders produce to float64.
func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}
