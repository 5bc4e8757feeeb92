package features_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"nextbest/features"
)

// FuzzParseSpec: ParseSpec never panics, and a spec it accepts assembles a
// vector of Dim() for an empty profile and context.
func FuzzParseSpec(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	files = append(files, retailPath)
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("profile: &a {events: [x]}\nvector: *a"))
	f.Add([]byte("- [ : }"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		s, err := features.ParseSpec(data)
		if err != nil {
			return
		}
		if s.Dim() > 1<<16 {
			return
		}
		var in features.Inputs
		s.Inputs(&in, s.NewProfile("c", time.Unix(0, 0)), "web", nil, time.Unix(1e9, 0))
		a, err := s.CompileAction("a", nil)
		if err != nil {
			return
		}
		dst := make([]float64, s.Dim())
		s.Assemble(dst, &in, []*features.ActionFeatures{a})
	})
}

// FuzzValidateContext: ValidateContext never panics, and a context it
// accepts assembles without panicking.
func FuzzValidateContext(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"page":"cart","cart_value":120.5,"device":"mobile","campaign":"q4"}`,
		`{"cart_value":"12"}`, `{"cart_value":-1}`, `{"page":1}`, `{"page":null,"x":[1,{"y":2}]}`,
		`{"cart_value":1e308,"device":true}`,
	} {
		f.Add([]byte(seed))
	}
	s, err := features.LoadSpec(retailPath)
	if err != nil {
		f.Fatal(err)
	}
	a, err := s.CompileAction("a", map[string]any{"category": "content"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ctx map[string]any
		if len(data) > 4096 || json.Unmarshal(data, &ctx) != nil {
			return
		}
		if s.ValidateContext(ctx) != nil {
			return
		}
		var in features.Inputs
		s.Inputs(&in, nil, "web", ctx, time.Unix(1e9, 0))
		dst := make([]float64, s.Dim())
		s.Assemble(dst, &in, []*features.ActionFeatures{a})
	})
}
