package features_test

import (
	"bufio"
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nextbest/features"
)

const retailPath = "../examples/retail/features.yaml"

func mustSpec(t testing.TB, path string) *features.Spec {
	t.Helper()
	s, err := features.LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseSpecGood(t *testing.T) {
	tests := []struct {
		file string
		dim  int
	}{
		{retailPath, 64},
		{"testdata/good/small.yaml", 19},
		{"testdata/good/minimal.yaml", 1},
		{"testdata/good/sources.yaml", 3 + 2 + 1 + 1 + 2 + 1 + 1 + 1 + 2 + 1 + 2 + 1 + 3 + 2 + 2 + 3 + 2 + 2},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			s := mustSpec(t, tc.file)
			if s.Dim() != tc.dim {
				t.Errorf("Dim() = %d, want %d", s.Dim(), tc.dim)
			}
			if n := len(s.Names()); n != s.Dim() {
				t.Errorf("len(Names()) = %d, want %d", n, s.Dim())
			}
			if len(s.Hash()) != 64 {
				t.Errorf("Hash() = %q, want 64 hex digits", s.Hash())
			}
		})
	}
}

// Each bad fixture names the field its error must name in a first line
// "# field: <path>".
func TestParseSpecBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := bytes.Cut(data, []byte("\n"))
			want, ok := strings.CutPrefix(string(first), "# field: ")
			if !ok {
				t.Fatalf("fixture lacks a '# field:' line")
			}
			_, err = features.ParseSpec(data)
			var fe *features.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseSpec error = %v, want a *FieldError", err)
			}
			if fe.Field != want {
				t.Errorf("error %q names field %q, want %q", err, fe.Field, want)
			}
		})
	}
}

func TestHashStable(t *testing.T) {
	data, err := os.ReadFile(retailPath)
	if err != nil {
		t.Fatal(err)
	}
	base := mustSpec(t, retailPath).Hash()

	// Same spec, different formatting: comments dropped, flow mappings with
	// keys in another order, explicit defaults.
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	reformatted := strings.NewReplacer(
		"{name: visits_7d,         half_life: 7d,  events: [page_view, app_open]}",
		"{events: [page_view, app_open], half_life: 7d, name: visits_7d}",
		"- {type: bias}", "- {type: bias, name: bias}",
		"half_life: 30d, events: [purchase]}", "half_life: 720h, events: [purchase]}",
		"{a: profile.stage, b: action.category, buckets: 8}",
		"\n      buckets: 8\n      b: action.category\n      a: profile.stage\n",
	).Replace(b.String())
	if reformatted == string(data) {
		t.Fatal("replacer changed nothing")
	}
	s2, err := features.ParseSpec([]byte(reformatted))
	if err != nil {
		t.Fatalf("reformatted spec: %v\n%s", err, reformatted)
	}
	if s2.Hash() != base {
		t.Errorf("reformatted spec hash %s, want %s", s2.Hash(), base)
	}

	changed := strings.Replace(string(data), "buckets: 8}", "buckets: 9}", 1)
	s3, err := features.ParseSpec([]byte(changed))
	if err != nil {
		t.Fatal(err)
	}
	if s3.Hash() == base {
		t.Error("changing a bucket count did not change the hash")
	}
}

func TestValidateContext(t *testing.T) {
	s := mustSpec(t, retailPath)
	tests := []struct {
		name  string
		ctx   map[string]any
		field string // "" for valid
	}{
		{"empty", nil, ""},
		{"full", map[string]any{"page": "cart", "cart_value": 12.5, "device": "mobile", "campaign": "x"}, ""},
		{"unknown key", map[string]any{"whatever": []any{1}}, ""},
		{"null is absent", map[string]any{"cart_value": nil}, ""},
		{"int", map[string]any{"cart_value": 3}, ""},
		{"number as string", map[string]any{"cart_value": "12"}, "context.cart_value"},
		{"NaN", map[string]any{"cart_value": math.NaN()}, "context.cart_value"},
		{"Inf", map[string]any{"cart_value": math.Inf(1)}, "context.cart_value"},
		{"negative", map[string]any{"cart_value": -1.0}, "context.cart_value"},
		{"page number", map[string]any{"page": 1.0}, "context.page"},
		{"long page", map[string]any{"page": strings.Repeat("x", 33)}, "context.page"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.ValidateContext(tc.ctx)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("ValidateContext = %v, want nil", err)
				}
				return
			}
			var fe *features.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("ValidateContext = %v, want a *FieldError on %s", err, tc.field)
			}
		})
	}
	req := mustSpec(t, "testdata/good/sources.yaml")
	var fe *features.FieldError
	if err := req.ValidateContext(map[string]any{}); !errors.As(err, &fe) || fe.Field != "context.page" || fe.Reason != "required" {
		t.Errorf("missing required field: %v", err)
	}
}

func TestCompileActionErrors(t *testing.T) {
	s := mustSpec(t, retailPath)
	tests := []struct {
		name  string
		id    string
		feats map[string]any
		field string
	}{
		{"ok", "a", map[string]any{"category": "discount", "discount": 0.2, "extra": 1}, ""},
		{"no id", "", nil, "action.id"},
		{"discount too big", "a", map[string]any{"discount": 0.6}, "action.discount"},
		{"category type", "a", map[string]any{"category": 1.0}, "action.category"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CompileAction(tc.id, tc.feats)
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var fe *features.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("CompileAction = %v, want a *FieldError on %s", err, tc.field)
			}
		})
	}
}
