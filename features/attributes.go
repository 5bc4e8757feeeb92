package features

import "slices"

// Attribute is a declared profile attribute (profile.attributes): its
// name and its type, "number", "string" or "bool".
type Attribute struct {
	Name string
	Type string
}

// Attributes returns the declared profile attributes, in declaration
// order. The caller may keep and change the slice.
func (s *Spec) Attributes() []Attribute {
	out := make([]Attribute, len(s.attrs))
	for i := range s.attrs {
		out[i] = Attribute{Name: s.attrs[i].name, Type: s.attrs[i].typ.String()}
	}
	return out
}

// HasAttribute reports whether name is a declared profile attribute.
func (s *Spec) HasAttribute(name string) bool {
	_, ok := s.attrIdx[name]
	return ok
}

// AttributeEvent returns the event type whose properties set profile
// attributes (the first of profile.attribute_events), "" when the spec
// declares none. Imported profiles are journaled as events of this type.
func (s *Spec) AttributeEvent() string {
	if len(s.raw.Profile.AttributeEvents) == 0 {
		return ""
	}
	return s.raw.Profile.AttributeEvents[0]
}

// CheckAttributeNames refuses a key of m that is not a declared profile
// attribute: a *FieldError naming prefix+key (the first such key in byte
// order, so that the answer does not depend on map order). ValidateEvent
// checks the declared ones' types; an attribute event may carry other
// properties, an import may not.
func (s *Spec) CheckAttributeNames(prefix string, m map[string]any) error {
	var bad []string
	for k := range m {
		if !s.HasAttribute(k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fieldErr(prefix+slices.Min(bad), "not a declared profile attribute (the feature spec's profile.attributes)")
}
