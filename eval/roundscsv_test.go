package eval_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"nextbest/eval"
)

func TestRoundsCSVRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := eval.WriteRounds(&buf, tiny()); err != nil {
		t.Fatal(err)
	}
	const want = `logged,propensity,reward,position,target_0,target_1,qhat_0,qhat_1
0,0.5,1,0,0.8,0.2,0.6,0.2
1,0.25,0,0,0.5,0.5,0.5,0.4
0,0.8,0,0,0.4,0.6,0.3,0.1
`
	if buf.String() != want {
		t.Fatalf("wrote\n%s\nwant\n%s", buf.String(), want)
	}
	got, err := eval.ReadRounds(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, tiny()) {
		t.Errorf("read back %+v", got)
	}
}

func TestReadRoundsColumnsInAnyOrder(t *testing.T) {
	in := "# a comment\ntarget_1,reward,target_0,propensity,logged,logging_0,logging_1\n0.2,1,0.8,0.5,0,0.5,0.5\n0.5,0,0.5,0.5,1,0.5,0.5\n"
	rs, err := eval.ReadRounds(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []eval.Round{
		{Logged: 0, Propensity: 0.5, Reward: 1, Target: []float64{0.8, 0.2}, Logging: []float64{0.5, 0.5}},
		{Logged: 1, Propensity: 0.5, Reward: 0, Target: []float64{0.5, 0.5}, Logging: []float64{0.5, 0.5}},
	}
	if !reflect.DeepEqual(rs, want) {
		t.Errorf("got %+v", rs)
	}
}

func TestReadRoundsErrors(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"no target", "logged,propensity,reward\n0,1,1\n"},
		{"missing required", "logged,reward,target_0\n0,1,1\n"},
		{"unknown column", "logged,propensity,reward,target_0,colour\n0,1,1,1,red\n"},
		{"gap in targets", "logged,propensity,reward,target_0,target_2\n0,1,1,1,0\n"},
		{"leading zero index", "logged,propensity,reward,target_00\n0,1,1,1\n"},
		{"duplicate", "logged,propensity,reward,reward,target_0\n0,1,1,1,1\n"},
		{"qhat count", "logged,propensity,reward,target_0,target_1,qhat_0\n0,1,1,1,0,0.5\n"},
		{"not a number", "logged,propensity,reward,target_0\n0,x,1,1\n"},
		{"short row", "logged,propensity,reward,target_0\n0,1,1\n"},
		{"invalid round", "logged,propensity,reward,target_0,target_1\n0,0.5,1,0.7,0.7\n"},
		{"huge index", "logged,propensity,reward,target_99999999\n0,1,1,1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := eval.ReadRounds(strings.NewReader(tc.in))
			if !errors.Is(err, eval.ErrFormat) {
				t.Errorf("err = %v, want ErrFormat", err)
			}
		})
	}
	_, err := eval.ReadRounds(strings.NewReader("logged,propensity,reward,target_0,target_1\n0,1,1,1,0\n0,0.5,1,0.7,0.7\n"))
	if !errors.Is(err, eval.ErrInvalidRound) || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("err = %v, want ErrInvalidRound at line 3", err)
	}
}

// FuzzReadRounds: the decoder never panics, and what it accepts writes
// back and reads back identical.
func FuzzReadRounds(f *testing.F) {
	f.Add([]byte("logged,propensity,reward,target_0,target_1\n0,0.5,1,0.8,0.2\n"))
	f.Add([]byte("logged,propensity,reward,position,target_0,target_1,qhat_0,qhat_1,logging_0,logging_1\n1,0.25,-0,2,0.5,0.5,1e300,-3,0.75,0.25\n"))
	f.Add([]byte("# c\nreward,target_0,propensity,logged\n\"1\",1,1,0\n"))
	f.Add([]byte("logged,propensity,reward,target_0\n0,1,NaN,1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		rs, err := eval.ReadRounds(bytes.NewReader(data))
		if err != nil || len(rs) == 0 {
			return
		}
		var buf bytes.Buffer
		if err := eval.WriteRounds(&buf, rs); err != nil {
			t.Fatalf("cannot write what was read: %v", err)
		}
		again, err := eval.ReadRounds(&buf)
		if err != nil {
			t.Fatalf("cannot read what was written: %v\n%s", err, buf.String())
		}
		if !reflect.DeepEqual(rs, again) {
			t.Fatalf("round trip changed the rounds:\n%+v\n%+v", rs, again)
		}
	})
}
