package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestGenFuzzCorpus writes the committed seed corpus of FuzzDecodeFrame
// when run with JOURNAL_GEN_CORPUS=1; otherwise it checks it is there.
func TestGenFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeFrame")
	if os.Getenv("JOURNAL_GEN_CORPUS") == "" {
		ents, err := os.ReadDir(dir)
		if err != nil || len(ents) < 6 {
			t.Fatalf("seed corpus missing in %s (%v); regenerate with JOURNAL_GEN_CORPUS=1", dir, err)
		}
		return
	}
	decision := []byte(`{"v":1,"decision_id":"d-7","customer_id":"c-123","channel":"web","ts":"2026-11-22T10:00:00Z","policy":"linucb@v3","feature_spec":"9f2c","eligible":["offer-a","offer-b"],"actions":[{"action_id":"offer-a","slot":0,"score":0.12,"estimate":0.1,"propensity":0.81}]}`)
	outcome := []byte(`{"v":1,"decision_id":"d-7","action_id":"offer-a","customer_id":"c-123","type":"conversion","reward":1,"ts":"2026-11-22T10:05:00Z","decision_ts":"2026-11-22T10:00:00Z"}`)
	event := []byte(`{"v":1,"customer_id":"c-123","type":"cart_abandoned","ts":"2026-11-22T10:00:00Z"}`)
	fd := appendFrame(nil, 7, TypeDecision, 1_795_341_600_000_000_000, decision)
	fo := appendFrame(nil, 8, TypeOutcome, 1_795_341_900_000_000_000, outcome)
	fe := appendFrame(nil, 9, TypeEvent, 1_795_341_600_000_000_000, event)
	seeds := map[string][]byte{
		"valid_decision":       fd,
		"valid_outcome":        fo,
		"valid_event":          fe,
		"valid_empty_payload":  appendFrame(nil, 1, TypeEvent, 0, nil),
		"valid_two_frames":     append(append([]byte(nil), fo...), fe...),
		"truncated_header":     fd[:FrameHeaderSize/2],
		"truncated_payload":    fd[:len(fd)-10],
		"truncated_one_byte":   fe[:len(fe)-1],
		"bad_crc":              flip(fo, FrameHeaderSize+5),
		"bad_version":          flip(fe, 8),
		"huge_length":          {0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 1, 1, 0, 0},
		"zeros":                make([]byte, 48),
		"segment_header_bytes": appendSegmentHeader(nil, 1),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x01
	return c
}
