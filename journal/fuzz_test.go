package journal

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeFrame: decodeFrame never panics, accepts only frames that
// re-encode to the same bytes, and rejects everything else with errTorn
// or ErrCorrupt. Seeds: valid frames, truncated frames, a frame with a
// flipped bit, a huge length; more under testdata/fuzz/FuzzDecodeFrame.
func FuzzDecodeFrame(f *testing.F) {
	valid := appendFrame(nil, 1, TypeDecision, 1_700_000_000_000_000_000, []byte(`{"v":1,"decision_id":"d-1"}`))
	f.Add(valid)
	f.Add(appendFrame(nil, 42, TypeEvent, -1, nil))
	f.Add(appendFrame(valid, 2, TypeOutcome, 0, []byte(`{"v":1}`))) // two frames
	f.Add(valid[:FrameHeaderSize-1])
	f.Add(valid[:len(valid)-1])
	flipped := bytes.Clone(valid)
	flipped[FrameHeaderSize+3] ^= 0x10
	f.Add(flipped)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, size, err := decodeFrame(b)
		if err != nil {
			if !errors.Is(err, errTorn) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if size != 0 {
				t.Fatalf("size %d with error", size)
			}
			return
		}
		if size < FrameHeaderSize || size > len(b) || size-FrameHeaderSize > MaxPayload {
			t.Fatalf("size %d of %d bytes", size, len(b))
		}
		// Property: an accepted frame is exactly what the encoder writes.
		re := appendFrame(nil, rec.LSN, rec.Type, rec.Time.UnixNano(), rec.Payload)
		if !bytes.Equal(re, b[:size]) {
			t.Fatalf("accepted frame does not re-encode:\n got %x\nwant %x", b[:size], re)
		}
		if rec.LSN == 0 || rec.Type == 0 {
			t.Fatalf("accepted LSN %d type %d", rec.LSN, rec.Type)
		}
	})
}

// FuzzSegmentHeader: the segment header decoder never panics and accepts
// only what the encoder writes.
func FuzzSegmentHeader(f *testing.F) {
	f.Add(appendSegmentHeader(nil, 1))
	f.Add(appendSegmentHeader(nil, 1<<40)[:SegmentHeaderSize-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		first, err := decodeSegmentHeader(b)
		if err != nil {
			return
		}
		if !bytes.Equal(appendSegmentHeader(nil, first), b[:SegmentHeaderSize]) {
			t.Fatalf("accepted header %x does not re-encode", b[:SegmentHeaderSize])
		}
	})
}
