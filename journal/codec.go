package journal

import (
	"encoding/json"
	"fmt"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Payload codecs. They are the one place that turns the records.go structs
// into record payloads and back; the journal itself stores payloads as
// opaque bytes and never parses them.

// Encode returns the record Type and JSON payload for v, which must be a
// Decision, Outcome, Event, Erasure, Activation, PersonalizerRank,
// PersonalizerReward or PersonalizerActivate (or a pointer to one). A zero
// V field is set
// to SchemaVersion in the output (v itself is not modified).
func Encode(v any) (Type, []byte, error) {
	var (
		typ Type
		out any
	)
	switch x := v.(type) {
	case Decision:
		typ, out = TypeDecision, withV(&x, &x.V)
	case *Decision:
		c := *x
		typ, out = TypeDecision, withV(&c, &c.V)
	case Outcome:
		typ, out = TypeOutcome, withV(&x, &x.V)
	case *Outcome:
		c := *x
		typ, out = TypeOutcome, withV(&c, &c.V)
	case Event:
		typ, out = TypeEvent, withV(&x, &x.V)
	case *Event:
		c := *x
		typ, out = TypeEvent, withV(&c, &c.V)
	case Erasure:
		typ, out = TypeErasure, withV(&x, &x.V)
	case *Erasure:
		c := *x
		typ, out = TypeErasure, withV(&c, &c.V)
	case Activation:
		typ, out = TypeActivation, withV(&x, &x.V)
	case *Activation:
		c := *x
		typ, out = TypeActivation, withV(&c, &c.V)
	case PersonalizerRank:
		typ, out = TypePersonalizerRank, withV(&x, &x.V)
	case *PersonalizerRank:
		c := *x
		typ, out = TypePersonalizerRank, withV(&c, &c.V)
	case PersonalizerReward:
		typ, out = TypePersonalizerReward, withV(&x, &x.V)
	case *PersonalizerReward:
		c := *x
		typ, out = TypePersonalizerReward, withV(&c, &c.V)
	case PersonalizerActivate:
		typ, out = TypePersonalizerActivate, withV(&x, &x.V)
	case *PersonalizerActivate:
		c := *x
		typ, out = TypePersonalizerActivate, withV(&c, &c.V)
	default:
		return 0, nil, fmt.Errorf("%w: cannot encode %T", ErrBadPayload, v)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	return typ, b, nil
}

func withV[T any](p *T, v *int) *T {
	if *v == 0 {
		*v = SchemaVersion
	}
	return p
}

// Decode parses rec's payload into a new *Decision, *Outcome, *Event,
// *Audit, *Erasure, *Erased, *Activation, *Lost, *PersonalizerRank,
// *PersonalizerReward or *PersonalizerActivate according to rec.Type.
// Unknown fields are ignored (later schema versions only add fields).
func Decode(rec Record) (any, error) {
	var v any
	switch rec.Type {
	case TypeDecision:
		v = new(Decision)
	case TypeOutcome:
		v = new(Outcome)
	case TypeEvent:
		v = new(Event)
	case TypeLost:
		v = new(Lost)
	case TypeAudit:
		v = new(Audit)
	case TypeErasure:
		v = new(Erasure)
	case TypeErased:
		v = new(Erased)
	case TypeActivation:
		v = new(Activation)
	case TypePersonalizerRank:
		v = new(PersonalizerRank)
	case TypePersonalizerReward:
		v = new(PersonalizerReward)
	case TypePersonalizerActivate:
		v = new(PersonalizerActivate)
	default:
		return nil, fmt.Errorf("%w: LSN %d: unknown type %d", ErrBadPayload, rec.LSN, rec.Type)
	}
	if err := unmarshal(rec.Payload, v); err != nil {
		return nil, fmt.Errorf("%w: LSN %d (%s): %w", ErrBadPayload, rec.LSN, rec.Type, err)
	}
	return v, nil
}

// DecodeDecision parses a TypeDecision payload into d, which the caller
// may reuse across records (reset it first: json.Unmarshal merges maps).
func DecodeDecision(payload []byte, d *Decision) error {
	return decodeAs(payload, d, "decision")
}

// DecodeOutcome parses a TypeOutcome payload into o.
func DecodeOutcome(payload []byte, o *Outcome) error {
	return decodeAs(payload, o, "outcome")
}

// DecodeActivation parses a TypeActivation payload into a.
func DecodeActivation(payload []byte, a *Activation) error {
	return decodeAs(payload, a, "activation")
}

// DecodeEvent parses a TypeEvent payload into e (reset it first:
// json.Unmarshal merges maps).
func DecodeEvent(payload []byte, e *Event) error {
	return decodeAs(payload, e, "event")
}

// decodeAs parses payload into v, an error wrapping ErrBadPayload naming
// what (the record's kind) if it does not decode: the typed decoders'
// one body.
func decodeAs(payload []byte, v any, what string) error {
	if err := unmarshal(payload, v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadPayload, what, err)
	}
	return nil
}

// unmarshal decodes a payload with the JSON v2 decoder (about twice as
// fast as encoding/json on a decision: it is most of what reading a
// journal costs) with encoding/json's semantics (its v1 options:
// duplicate names, invalid UTF-8, names matched as encoding/json matches
// them), so that a record reads the same whichever decoded it
// (FuzzDecodeMatchesEncodingJSON).
func unmarshal(data []byte, v any) error {
	return jsonv2.Unmarshal(data, v, jsonv1.DefaultOptionsV1())
}

// DecodePersonalizerRank parses a TypePersonalizerRank payload into r
// (reset it first: json.Unmarshal merges maps).
func DecodePersonalizerRank(payload []byte, r *PersonalizerRank) error {
	return decodeAs(payload, r, "personalizer rank")
}

// DecodePersonalizerReward parses a TypePersonalizerReward payload into r.
func DecodePersonalizerReward(payload []byte, r *PersonalizerReward) error {
	return decodeAs(payload, r, "personalizer reward")
}

// DecodePersonalizerActivate parses a TypePersonalizerActivate payload
// into a.
func DecodePersonalizerActivate(payload []byte, a *PersonalizerActivate) error {
	return decodeAs(payload, a, "personalizer activate")
}
