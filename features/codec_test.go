package features

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestCodecVersions(t *testing.T) {
	p := &Profile{CustomerID: "c", Stage: "cart", FirstSeen: time.Unix(-5, 7).UTC(),
		Attributes: map[string]any{"n": 1.5, "s": "x", "b": true},
		Purchases:  &PurchaseSummary{FirstDay: 20000, LastDay: 20100, RepeatDays: 3, FirstSpend: 12.5, RepeatSpend: 80},
		ConsentHistory: []ConsentEntry{{Purpose: "marketing_email", Channel: "email", Granted: true, Source: "web", TextVersion: "v2", At: time.Unix(100, 0).UTC()},
			{Purpose: "profiling", Source: "crm", At: time.Unix(200, 0).UTC()}}}
	b, err := appendProfile(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != codecV4 {
		t.Fatalf("first byte %d, want codec version %d", b[0], codecV4)
	}
	q, err := decodeProfile(b)
	if err != nil || !reflect.DeepEqual(p, q) {
		t.Fatalf("round trip = %+v, %v", q, err)
	}
	// profiles stored by the versions before (codecV1: no purchase
	// history, codecV2: no consent history, codecV3: no rejections) still
	// read
	p.Purchases, p.ConsentHistory = nil, nil
	b, _ = appendProfile(nil, p) // no contacts: v4 is v3's layout
	v3 := append([]byte{codecV3}, b[1:]...)
	if q, err := decodeProfile(v3); err != nil || !reflect.DeepEqual(p, q) {
		t.Fatalf("codec v3 = %+v, %v", q, err)
	}
	v2 := append([]byte{codecV2}, b[1:len(b)-1]...) // v3 without its empty consent history
	if q, err := decodeProfile(v2); err != nil || !reflect.DeepEqual(p, q) {
		t.Fatalf("codec v2 = %+v, %v", q, err)
	}
	v1 := append([]byte{codecV1}, b[1:len(b)-2]...) // nor the "no purchases" byte
	if q, err := decodeProfile(v1); err != nil || !reflect.DeepEqual(p, q) {
		t.Fatalf("codec v1 = %+v, %v", q, err)
	}
	b[0] = 99
	if _, err := decodeProfile(b); !errors.Is(err, ErrUnknownCodec) {
		t.Errorf("unknown version: %v", err)
	}
	if _, err := decodeProfile(append([]byte{codecV1}, 0xff)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated: %v", err)
	}
	if _, err := appendProfile(nil, &Profile{Attributes: map[string]any{"x": []int{1}}}); err == nil {
		t.Error("encoding a list attribute succeeded")
	}
}

// FuzzDecodeProfile: decoding never panics, and whatever decodes encodes
// and decodes to the same profile.
func FuzzDecodeProfile(f *testing.F) {
	p := &Profile{CustomerID: "c", LSN: 3, Stage: "cart", UpdatedAt: time.Unix(1e9, 0).UTC(),
		Attributes:     map[string]any{"tier": "gold", "age": 30.0, "opt": true},
		Counters:       map[string]Counter{"v": {Value: 2, At: time.Unix(1e9, 0).UTC()}},
		LastEvent:      map[string]time.Time{"purchase": time.Unix(1e9, 5).UTC()},
		Consents:       map[string]bool{"email": false},
		Contacts:       map[string]*Contact{"a": {Impressions: []time.Time{time.Unix(1, 0).UTC()}, Conversions: 2}},
		Purchases:      &PurchaseSummary{FirstDay: -3, LastDay: 9, RepeatDays: 2, FirstSpend: 1, RepeatSpend: 2.5},
		ConsentHistory: []ConsentEntry{{Purpose: "p", Granted: true, Source: "s", At: time.Unix(5, 0).UTC()}},
	}
	b, _ := appendProfile(nil, p)
	f.Add(b)
	f.Add([]byte{codecV1})
	f.Add([]byte{codecV1, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := decodeProfile(data)
		if err != nil {
			return
		}
		b, err := appendProfile(nil, q)
		if err != nil {
			t.Fatal(err)
		}
		r, err := decodeProfile(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(q, r) {
			t.Fatalf("re-decoded profile differs:\n%+v\n%+v", q, r)
		}
	})
}
