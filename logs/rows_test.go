package logs_test

import (
	"errors"
	"slices"
	"testing"

	"nextbest/features"
	"nextbest/internal/journaltest"
	"nextbest/journal"
	"nextbest/logs"
)

// TestRowsExact checks that the rows rebuilt from a logged decision equal
// the vectors the live path assembles (features.Spec.Inputs from the
// profile, then Assemble), bit for bit, after the JSON round trip through
// the journal; that an id no longer in the catalog gets index -1 and a
// zero row while the others keep their place; and that a decision of
// another spec or with bad logged inputs is refused with its sentinel.
func TestRowsExact(t *testing.T) {
	spec, cat := retailSample(t)
	ids := []string{"free-shipping", "cart-reminder-10", "new-arrivals"}
	d, live := journaltest.Live(spec, cat, "d1", ids...)
	dim := spec.Dim()
	// through the journal, as every reader sees it
	var logged journal.Decision
	_, payload, err := journal.Encode(&d)
	if err != nil {
		t.Fatal(err)
	}
	if err := journal.DecodeDecision(payload, &logged); err != nil {
		t.Fatal(err)
	}
	rb, err := logs.NewRowBuilder(spec, cat)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("exact", func(t *testing.T) {
		x, acts, err := rb.Rows(nil, &logged, ids)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(x, live) {
			t.Error("rebuilt rows differ from the live vectors")
		}
		for i, id := range ids {
			if a, _ := cat.Lookup(id); acts[i] != a.Index() {
				t.Errorf("acts[%d] = %d, want %d", i, acts[i], a.Index())
			}
		}
	})
	t.Run("left the catalog", func(t *testing.T) {
		with := []string{"gone", ids[0], "gone-too", ids[1], ids[2], "gone"}
		buf := make([]float64, len(with)*dim)
		for i := range buf {
			buf[i] = 7 // stale scratch must not show through
		}
		x, acts, err := rb.Rows(buf, &logged, with)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for i, id := range with {
			row := x[i*dim : (i+1)*dim]
			if _, ok := cat.Lookup(id); !ok {
				if acts[i] != -1 || slices.ContainsFunc(row, func(v float64) bool { return v != 0 }) {
					t.Errorf("%s: index %d, row not zero", id, acts[i])
				}
				continue
			}
			if !slices.Equal(row, live[k*dim:(k+1)*dim]) {
				t.Errorf("%s: row differs from the live vector", id)
			}
			k++
		}
	})
	t.Run("other spec", func(t *testing.T) {
		other := logged
		other.FeatureSpec = "another-spec"
		if _, _, err := rb.Rows(nil, &other, ids); !errors.Is(err, logs.ErrOtherSpec) {
			t.Errorf("err %v, want ErrOtherSpec", err)
		}
	})
	t.Run("bad inputs", func(t *testing.T) {
		bad := logged
		bad.Profile = map[string]any{"counters.visits_7d": "many"}
		var fe *features.FieldError
		if _, _, err := rb.Rows(nil, &bad, ids); !errors.Is(err, logs.ErrBadLoggedInputs) || !errors.As(err, &fe) {
			t.Errorf("err %v, want ErrBadLoggedInputs wrapping a *features.FieldError", err)
		}
	})
	t.Run("uncompiled catalog", func(t *testing.T) {
		if _, err := logs.NewRowBuilder(spec, journaltest.RawCatalog(t)); !errors.Is(err, logs.ErrInvalidConfig) {
			t.Errorf("err %v, want ErrInvalidConfig", err)
		}
	})
}
