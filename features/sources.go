package features

// Source is one input the vector reads, named as the spec names it
// ("profile.counters.visits_7d", "context.page", "request.channel",
// "time.hour", "action.id", "action.discount"), with its type.
type Source struct {
	Name string
	// Type is "number", "string" or "bool".
	Type string
	// Action reports a source that comes with the action (action.id,
	// action.<name>) rather than with the decision.
	Action bool
}

// Sources returns the sources that some feature or cross of the vector
// reads: the decision-wide ones in order of first use, then the action
// ones in declaration order (action.id first). Declared fields that no
// feature reads are left out. It is what a data file must carry to be
// featurized by this spec. The caller may keep and change the slice.
func (s *Spec) Sources() []Source {
	out := make([]Source, 0, len(s.sources)+len(s.actSources))
	for i := range s.sources {
		out = append(out, Source{Name: s.sources[i].name, Type: s.sources[i].typ.String()})
	}
	used := make([]bool, len(s.actSources))
	for i := range s.feats {
		if ft := &s.feats[i]; ft.action {
			used[ft.src] = true
		}
	}
	for i := range s.crosses {
		c := &s.crosses[i]
		if c.aAct {
			used[c.a] = true
		}
		if c.bAct {
			used[c.b] = true
		}
	}
	for i := range s.actSources {
		if used[i] {
			out = append(out, Source{Name: s.actSources[i].name, Type: s.actSources[i].typ.String(), Action: true})
		}
	}
	return out
}
