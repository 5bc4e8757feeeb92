// Package golden compares a test's JSON output with a golden file, the
// way the report packages' golden tests do (attribution, journeys,
// campaigns): rewritten with the test binary's -update flag, numbers
// compared within 1e-9 relative (the last bits of a float sum may differ
// where the compiler fuses multiply-adds).
package golden

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// JSON compares got with the golden file at path, rewriting it first
// when update is set.
func JSON(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update)", err, t.Name())
	}
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatal(err)
	}
	if !Close(a, b) {
		t.Errorf("the result differs from %s (run go test -run %s -update and review the diff):\n%s", path, t.Name(), got)
	}
}

// Close compares decoded JSON, numbers within 1e-9 relative.
func Close(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Abs(x-y) <= 1e-9*max(1, math.Abs(x), math.Abs(y))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Close(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if !Close(v, y[k]) {
				return false
			}
		}
		return true
	}
	return a == b
}
