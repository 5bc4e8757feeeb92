package models_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nextbest/models"
)

// TestPromoteCheckedAndRollback: a promotion the check refuses changes
// nothing and is recorded as refused; promotions record what served
// before, and a rollback returns to it; the history survives a torn last
// line.
func TestPromoteCheckedAndRollback(t *testing.T) {
	dir := t.TempDir()
	reg, err := models.OpenRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	v1 := saveRidge(t, reg, "a")
	v2 := saveRidge(t, reg, "b")
	v3 := saveRidge(t, reg, "c")
	ok := func(*models.Artifact) error { return nil }
	refuse := func(a *models.Artifact) error {
		if a.Meta.Name == "c" {
			return errors.New("trained with another feature spec")
		}
		return nil
	}
	if _, err := models.PromoteChecked(reg, v1, ok, "cli", "first"); err != nil {
		t.Fatal(err)
	}
	if from, err := models.PromoteChecked(reg, v2, refuse, "cli", "better"); err != nil || from != v1 {
		t.Fatalf("promote v2: from %d, %v", from, err)
	}
	if _, err := models.PromoteChecked(reg, v3, refuse, "loop", ""); err == nil || !strings.Contains(err.Error(), "another feature spec") {
		t.Fatalf("promote v3: %v, want the check's refusal", err)
	}
	if v, _ := reg.PromotedVersion(); v != v2 {
		t.Fatalf("after a refused promotion the promoted version is %d, want %d", v, v2)
	}
	to, err := models.Rollback(reg, 0, ok, "cli", "canary worse")
	if err != nil || to != v1 {
		t.Fatalf("rollback: %d, %v; want %d", to, err, v1)
	}
	if v, _ := reg.PromotedVersion(); v != v1 {
		t.Fatalf("after the rollback the promoted version is %d, want %d", v, v1)
	}
	if _, err := models.Rollback(reg, 0, ok, "cli", ""); err == nil {
		t.Error("a rollback past the first promotion must fail (nothing earlier)")
	}
	// a torn last line (a crash while appending) is skipped
	f, err := os.OpenFile(filepath.Join(dir, models.HistoryFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"ts":"2026-`)
	f.Close()
	hist, err := reg.History()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range hist {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, ","); got != "promoted,promoted,refused,rolled_back" {
		t.Fatalf("history kinds %s", got)
	}
	if e := hist[1]; e.Version != v2 || e.From != v1 || e.Reason != "better" || e.By != "cli" {
		t.Errorf("second promotion recorded as %+v", e)
	}
	if e := hist[3]; e.Version != v1 || e.From != v2 || e.Reason != "canary worse" {
		t.Errorf("rollback recorded as %+v", e)
	}
}

func saveRidge(t *testing.T, reg *models.Registry, name string) int {
	t.Helper()
	m, err := models.NewRidge(models.RidgeConfig{Dim: 3, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	m.Publish()
	art, err := models.NewArtifact(models.Metadata{Name: name, FeatureSpec: strings.Repeat("ab", 32)}, m)
	if err != nil {
		t.Fatal(err)
	}
	v, err := reg.Save(art)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
