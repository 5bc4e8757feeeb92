package models_test

import (
	"bytes"
	"testing"

	"nextbest/models"
)

// FuzzReadRidge: ReadRidge never panics on garbage, and whatever it accepts
// writes back to the same bytes and predicts without panicking.
func FuzzReadRidge(f *testing.F) {
	var buf bytes.Buffer
	if _, err := trainedModel(f, 2).WriteTo(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:40])
	f.Add([]byte("NBRIDGE\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		m, err := models.ReadRidge(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if _, err := m.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data[:out.Len()]) {
			t.Fatal("accepted model does not write back to the same bytes")
		}
		d := m.Dim()
		mean, std := make([]float64, 1), make([]float64, 1)
		m.Predict(mean, std, []int{0}, make([]float64, d))
	})
}
