package models_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nextbest/models"
)

// spec1 and spec2 stand for two feature spec hashes (features.Spec.Hash).
var (
	spec1 = strings.Repeat("1", 64)
	spec2 = strings.Repeat("2", 64)
)

func ridgeArtifact(t testing.TB, actions []string) (*models.Artifact, *models.Ridge) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 1))
	m, err := models.NewRidge(models.RidgeConfig{Dim: 4, Actions: len(actions), Name: "linucb"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		x := []float64{1, r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
		a := 0
		if len(actions) > 0 {
			a = i % len(actions)
		}
		if err := m.Update(a, x, x[1]+float64(a)); err != nil {
			t.Fatal(err)
		}
	}
	m.Publish()
	art, err := models.NewArtifact(models.Metadata{Name: "linucb", FeatureSpec: spec1, ActionIDs: actions,
		Hyper: map[string]any{"lambda": 1.0}, Metrics: map[string]float64{"auc": 0.7}}, m)
	if err != nil {
		t.Fatal(err)
	}
	return art, m
}

func encode(t testing.TB, a *models.Artifact) []byte {
	var buf bytes.Buffer
	if _, err := a.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestArtifactRoundTripAndRemap(t *testing.T) {
	art, m := ridgeArtifact(t, []string{"a", "b", "c"})
	got, err := models.ReadArtifact(bytes.NewReader(encode(t, art)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Meta.Type != models.TypeRidge || got.Meta.Dim != 4 || got.Meta.Metrics["auc"] != 0.7 {
		t.Fatalf("meta %+v", got.Meta)
	}
	// The catalog lists c, a, new: c and a map by id, new gets the prior.
	s, err := models.LoadScorer(got, spec1, []string{"c", "a", "new"})
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{1, 0.5, -0.2, 0.3}
	xs := append(append(append([]float64{}, x...), x...), x...)
	mean, std := make([]float64, 3), make([]float64, 3)
	s.Predict(mean, std, []int{0, 1, 2}, xs)
	wm, ws := make([]float64, 2), make([]float64, 2)
	m.Predict(wm, ws, []int{2, 0}, xs[:8])
	if mean[0] != wm[0] || mean[1] != wm[1] || std[0] != ws[0] || std[1] != ws[1] {
		t.Errorf("remapped predictions %v %v, want %v %v", mean[:2], std[:2], wm, ws)
	}
	if mean[2] != 0 || std[2] <= std[0] {
		t.Errorf("unknown action: mean %v std %v, want the prior (0, wide)", mean[2], std[2])
	}
}

func TestLoadScorerRefuses(t *testing.T) {
	art, _ := ridgeArtifact(t, nil)
	if _, err := models.LoadScorer(art, "another-spec", []string{"a"}); !errors.Is(err, models.ErrSpecMismatch) {
		t.Errorf("spec mismatch: %v", err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	xs, ys := logisticData(r, 400, []float64{0.5, 1})
	acts := make([]int, 400)
	for i := range acts {
		acts[i] = i % 2
	}
	lm, err := models.TrainLogistic(models.LogisticConfig{Dim: 2, Actions: 2}, xs, acts, ys)
	if err != nil {
		t.Fatal(err)
	}
	la, err := models.NewArtifact(models.Metadata{FeatureSpec: spec2, ActionIDs: []string{"a", "b"}}, lm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := models.LoadScorer(la, spec2, []string{"a", "zzz"}); !errors.Is(err, models.ErrActionMismatch) {
		t.Errorf("unknown action for logistic: %v", err)
	}
	if s, err := models.LoadScorer(la, spec2, []string{"b", "a"}); err != nil || s.Dim() != 2 {
		t.Errorf("logistic load: %v", err)
	}
}

// TestNewArtifactNeedsSpecHash: a model whose vectors no feature spec
// built (a data file's hashed layout, a typo) cannot become an artifact.
func TestNewArtifactNeedsSpecHash(t *testing.T) {
	_, m := ridgeArtifact(t, nil)
	for _, fs := range []string{"", "featurizer(shared=64,action=8,q=[sa])", "spec-1", strings.Repeat("A", 64), spec1[:63]} {
		if _, err := models.NewArtifact(models.Metadata{Name: "linucb", FeatureSpec: fs}, m); !errors.Is(err, models.ErrInvalidInput) {
			t.Errorf("feature spec %q: %v, want ErrInvalidInput", fs, err)
		}
	}
}

func TestReadArtifactRefusesCorrupt(t *testing.T) {
	art, _ := ridgeArtifact(t, []string{"a"})
	good := encode(t, art)
	flip := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x40
		return b
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"not an artifact", []byte("hello, world, not a model"), "bad magic"},
		{"truncated", good[:len(good)-40], "truncated"},
		{"trailing", append(append([]byte(nil), good...), 0), "trailing"},
		{"payload bit flip", flip(len(good) - 100), "checksum"},
		{"metadata bit flip", flip(20), "checksum"},
		{"checksum bit flip", flip(len(good) - 1), "checksum"},
		{"version", flip(8), "format version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := models.ReadArtifact(bytes.NewReader(tc.data))
			if !errors.Is(err, models.ErrArtifact) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Fatalf("err %v, want ErrArtifact mentioning %q", err, tc.want)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	dir := t.TempDir()
	reg, err := models.OpenRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Promoted(); !errors.Is(err, models.ErrNoVersion) {
		t.Fatalf("empty registry: %v", err)
	}
	art, _ := ridgeArtifact(t, nil)
	for want := 1; want <= 3; want++ {
		v, err := reg.Save(art)
		if err != nil || v != want {
			t.Fatalf("Save = %d, %v; want %d", v, err, want)
		}
	}
	if err := reg.Promote(2); err != nil {
		t.Fatal(err)
	}
	if err := reg.Promote(9); !errors.Is(err, models.ErrNoVersion) {
		t.Errorf("promote missing: %v", err)
	}
	p, err := reg.Promoted()
	if err != nil || p.Meta.Version != 2 {
		t.Fatalf("promoted %v, %v", p, err)
	}
	s, err := models.LoadScorer(p, spec1, []string{"x"})
	if err != nil || s.Name() != "linucb@v2" {
		t.Fatalf("scorer %v, %v", s, err)
	}
	// corrupt version 3 on disk: List flags it, Get and Promote refuse it
	path := filepath.Join(dir, "v000003.nbm")
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 1
	os.WriteFile(path, b, 0o644)
	list, err := reg.List()
	if err != nil || len(list) != 3 {
		t.Fatalf("list %v, %v", list, err)
	}
	if !list[1].Promoted || list[0].Promoted || list[2].Err == nil || list[0].Meta.Version != 1 {
		t.Errorf("list %+v", list)
	}
	if err := reg.Promote(3); !errors.Is(err, models.ErrArtifact) {
		t.Errorf("promote corrupt: %v", err)
	}
	if v, _ := reg.PromotedVersion(); v != 2 {
		t.Errorf("promoted version %d after a refused promote", v)
	}
}

func FuzzReadArtifact(f *testing.F) {
	art, _ := ridgeArtifact(f, []string{"a", "b"})
	good := encode(f, art)
	f.Add(good)
	f.Add(good[:30])
	f.Add([]byte("NBMODEL\x00\x01\x00\x00\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		a, err := models.ReadArtifact(bytes.NewReader(data))
		if err != nil {
			return
		}
		// an artifact that verifies re-encodes to the same bytes up to the
		// metadata's JSON spelling, and LoadScorer must not panic on it
		again, err := models.ReadArtifact(bytes.NewReader(encode(t, a)))
		if err != nil {
			t.Fatalf("re-encoded artifact does not verify: %v", err)
		}
		_, _ = models.LoadScorer(again, a.Meta.FeatureSpec, []string{"a", "b"})
	})
}
