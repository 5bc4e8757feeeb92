package training

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestCacheDecoderGarbage: a payload that passes its checksum but is not
// what the encoder wrote (a bug, a collision) gives errors, never a
// panic or a slot outside the dims.
func TestCacheDecoderGarbage(t *testing.T) {
	enc := newCacheEncoder()
	rd, _ := NewCBADFReader(bytes.NewReader(randomADF(20, 4, 6, 3, 1)), CBADFReaderConfig{SharedDim: 8, ActionDim: 4})
	for ex, err := rd.Next(); err == nil; ex, err = rd.Next() {
		enc.add(ex)
	}
	valid := enc.block()[8:]
	r := rand.New(rand.NewPCG(5, 5))
	for i := 0; i < 20000; i++ {
		b := append([]byte(nil), valid...)
		for j := 0; j <= r.IntN(4); j++ {
			b[r.IntN(len(b))] = byte(r.Uint32())
		}
		b = b[:r.IntN(len(b)+1)]
		d := cacheDecoder{sdim: 8, adim: 4, b: b}
		for len(d.b) > 0 {
			ex, err := d.next()
			if err != nil {
				if !errors.Is(err, errCacheData) {
					t.Fatalf("error %v", err)
				}
				break
			}
			for _, f := range ex.Shared {
				if f.Slot < 0 || f.Slot >= 8 {
					t.Fatalf("shared slot %d", f.Slot)
				}
			}
			for _, a := range ex.Actions {
				for _, f := range a {
					if f.Slot < 0 || f.Slot >= 4 {
						t.Fatalf("action slot %d", f.Slot)
					}
				}
			}
			if ex.Chosen >= len(ex.Actions) {
				t.Fatalf("chosen %d of %d", ex.Chosen, len(ex.Actions))
			}
		}
	}
}
