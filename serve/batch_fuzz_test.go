package serve

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"nextbest/examples/retail"
	"nextbest/features"
)

// FuzzProfilesBatch: the profiles batch decoder and its row check never
// panic; a body is refused with a *fieldError or a features.FieldError
// that names the row (profiles[i]...), or every row becomes a valid event
// of the spec's attribute type with only declared attributes.
func FuzzProfilesBatch(f *testing.F) {
	spec, err := features.ParseSpec(retail.FeatureSpec)
	if err != nil {
		f.Fatal(err)
	}
	s := &Service{spec: spec}
	for _, seed := range append([]string{
		`{"profiles":[{"customer_id":"c-1","attributes":{"age":34,"tier":"gold"}}]}`,
		`{"profiles":[{"customer_id":"c-1","attributes":{"age":"old"}}]}`,
		`{"profiles":[{"customer_id":"c-1","attributes":{"nope":1}}]}`,
		`{"profiles":[{"customer_id":"c-1","attributes":{"tier":"gold"},"ts":"2026-11-22T09:00:00Z"}]}`,
		`{"profiles":[{"attributes":{"tier":"gold"}}]}`,
		`{"profiles":[{"customer_id":"c-1","attributes":{}}]}`,
		`{"profiles":[]}`, `{"profiles":[{"customer_id":"c-1","attributes":{"age":1e999}}]}`,
	}, strictSeeds...) {
		f.Add([]byte(seed))
	}
	typ := spec.AttributeEvent()
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzBody {
			return
		}
		var r profilesBatchRequest
		if err := decodeJSON(body, &r); err != nil {
			if _, ok := err.(*fieldError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for i := range r.Profiles {
			e, err := s.profileEvent(&r.Profiles[i], typ, fuzzNow)
			if err != nil {
				err = rowError(i, err)
				var fe *fieldError
				var ve *features.FieldError
				switch {
				case errors.As(err, &fe):
					if !strings.HasPrefix(fe.field, "profiles[") {
						t.Fatalf("row %d refused without its field: %v", i, err)
					}
				case errors.As(err, &ve):
					if !strings.HasPrefix(ve.Field, "profiles[") {
						t.Fatalf("row %d refused without its field: %v", i, err)
					}
				default:
					t.Fatalf("row %d: error of type %T: %v", i, err, err)
				}
				return
			}
			if e.CustomerID == "" || e.Type != typ || e.Time.IsZero() {
				t.Fatalf("accepted an invalid row: %+v", e)
			}
			if err := spec.ValidateEvent(features.Event{Type: e.Type, Time: e.Time, Properties: e.Properties}); err != nil {
				t.Fatalf("accepted a row the applier refuses: %v", err)
			}
		}
	})
}

// FuzzLearningMode: any PUT /admin/mode body gives a valid mode (online,
// or apprentice with a known baseline and ε in [0, 1]) or an error naming
// its field, never a panic.
func FuzzLearningMode(f *testing.F) {
	for _, seed := range []string{`{"mode":"online"}`, `{"mode":"apprentice"}`, `{"mode":"apprentice","baseline":"value","epsilon":0}`,
		`{"mode":"apprentice","epsilon":1.5}`, `{"mode":"teacher"}`, `{"mode":"online","epsilon":0.1}`, `{}`, `[]`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var m LearningMode
		if json.Unmarshal(body, &m) != nil {
			return
		}
		rt, err := resolveMode(m)
		if err != nil {
			var fe *fieldError
			if !errors.As(err, &fe) || fe.field == "" || fe.status != 422 {
				t.Fatalf("refused without a field: %v", err)
			}
			return
		}
		switch rt.spec.Mode {
		case ModeOnline:
			if rt.apprentice() {
				t.Fatalf("online with an explorer: %+v", rt)
			}
		case ModeApprentice:
			if !rt.apprentice() || rt.spec.Epsilon == nil || !(*rt.spec.Epsilon >= 0 && *rt.spec.Epsilon <= 1) ||
				(rt.spec.Baseline != "first" && rt.spec.Baseline != "value") {
				t.Fatalf("a bad apprentice accepted: %+v", rt.spec)
			}
		default:
			t.Fatalf("mode %q accepted", rt.spec.Mode)
		}
	})
}
