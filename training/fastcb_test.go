package training

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"testing"
)

// collectADF reads every example of data with read, deep-copied, and the
// error (nil or not: messages differ between the readers).
func collectADF(data []byte, read func(io.Reader, func(*CBExample) error) error) ([]CBExample, error) {
	var out []CBExample
	err := read(bytes.NewReader(data), func(ex *CBExample) error {
		c := CBExample{Chosen: ex.Chosen, Shared: append([]Feature{}, ex.Shared...)}
		if ex.Chosen >= 0 {
			c.Cost, c.Prob = ex.Cost, ex.Prob
		}
		for _, a := range ex.Actions {
			c.Actions = append(c.Actions, append([]Feature{}, a...))
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// sameADF reports whether the fast reader reads data as the reference
// does: the same examples and, if either fails, both failing.
func sameADF(t *testing.T, data []byte) {
	t.Helper()
	want, werr := collectADF(data, readCBADFReference)
	got, gerr := collectADF(data, readCBADFFast)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: reference error %v, fast error %v", data, werr, gerr)
	}
	if gerr != nil && !errors.Is(gerr, ErrParse) {
		t.Fatalf("%q: error %v does not wrap ErrParse", data, gerr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n fast %+v\n  ref %+v", data, got, want)
	}
}

// randomADF writes n examples of a gencb-like file with seed.
func randomADF(n, k, ds, da int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, "shared |s"...)
		for j := 0; j < ds; j++ {
			b = fmt.Appendf(b, " s%d:%s", j, strconv.FormatFloat(math.Round(r.NormFloat64()*1000)/1000, 'g', -1, 64))
		}
		b = append(b, '\n')
		c := r.IntN(k)
		for a := 0; a < k; a++ {
			if a == c {
				b = fmt.Appendf(b, "0:%d:%g ", -r.IntN(2), 1/float64(k))
			}
			b = append(b, "|a"...)
			for j := 0; j < da; j++ {
				b = fmt.Appendf(b, " a%d:%g", j, float64((a*7+j*3)%11)/10-0.5)
			}
			b = append(b, '\n')
		}
		b = append(b, '\n')
	}
	return b
}

func TestFastReaderMatchesReference(t *testing.T) {
	tiny, err := os.ReadFile("testdata/tiny.cb_adf")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"tiny":            string(tiny),
		"generated":       string(randomADF(50, 4, 6, 3, 1)),
		"crlf":            "shared |s a:1 b\r\n0:1:0.5 |a x:2\r\n|a y\r\n\r\n",
		"no shared":       "|a x:1\n0:-1:0.25 |a y:2e-3\n",
		"unlabelled":      "shared |s a\n|a x\n|a y\n\n\n\n0:0:1 |a x\n",
		"tags and ns":     "shared 'tag |s a:1 |t b:-2 |  c:3\n'x 0:1:0.5 |a x:1 |b:2 y z:+4.5\n",
		"default ns":      "| a b:2\n0:1:1 |a\n",
		"colon in name":   "0:1:1 |a a:b:3 c::4\n",
		"odd floats":      "0:1e0:1E-0 |a x:.5 y:5. z:-0 w:1e22 v:1e23 u:123456789012345678 q:0x1p-2 p:00012\n",
		"same lines":      "0:1:0.5 |a x\n|a y\n\n0:1:0.5 |a x\n|a y\n\n|a x\n0:1:0.5 |a y\n",
		"unicode space":   "shared |s a\u00a0b:1 c\n0:1:1 |a x\u2003y\n",
		"vertical tab":    "shared |s a\vb\n0:1:1 |\va x\fy\n",
		"only spaces":     "  \t\n\n",
		"bad no bar":      "shared |s a\n0:1:1 a\n",
		"bad prob":        "0:1:1.5 |a x\n",
		"bad prob zero":   "0:1:0 |a x\n",
		"bad value":       "0:1:1 |a x:abc\n",
		"bad inf":         "0:1:1 |a x:inf\n",
		"bad nan cost":    "0:nan:1 |a x\n",
		"bad empty name":  "0:1:1 |a :3\n",
		"bad two labels":  "0:1:1 |a x\n0:1:1 |a y\n",
		"bad two cached":  "0:1:1 |a x\n|a y\n\n0:1:1 |a x\n0:1:1 |a y\n",
		"bad late shared": "|a x\nshared |s a\n",
		"bad label parts": "0:1 |a x\n",
		"bad label four":  "0:1:0.5:2 |a x\n",
		"shared label":    "shared 0:1:0.5 |s a\n|a x\n",
		"sharedfoo":       "sharedfoo |s a\n|a x\n",
		"no final nl":     "0:1:1 |a x",
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) { sameADF(t, []byte(data)) })
	}
}

func TestParseFloatBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	inputs := []string{"0", "-0", "+1", "1.5", ".5", "5.", "1e5", "1E-5", "1e+22", "1e-22", "1e23", "123456789012345",
		"1234567890123456", "0.1", "0.3", "-2.675", "9007199254740993", "", "-", ".", "e5", "1e", "1e+", "1x", "inf", "NaN",
		"0x1p3", "1_0", "1e400", "1e-400", "00000000000000000001"}
	for i := 0; i < 20000; i++ {
		f := r.NormFloat64() * math.Pow(10, float64(r.IntN(30)-15))
		inputs = append(inputs, strconv.FormatFloat(f, 'g', -1, 64), strconv.FormatFloat(f, 'f', r.IntN(8), 64),
			strconv.FormatFloat(f, 'e', r.IntN(10), 64))
	}
	for _, s := range inputs {
		want, err := strconv.ParseFloat(s, 64)
		wok := err == nil && !math.IsInf(want, 0) && !math.IsNaN(want)
		got, ok := parseFloatBytes([]byte(s))
		if ok != wok || (ok && math.Float64bits(got) != math.Float64bits(want)) {
			t.Fatalf("%q: got %v %v, ParseFloat %v %v", s, got, ok, want, err)
		}
	}
}

// TestParseDecimalPrefix: where the one-pass decimal parser accepts a
// prefix, the prefix is a number and its value is parseFloatBytes', bit
// for bit.
func TestParseDecimalPrefix(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	inputs := []string{"0", "-0", "+1", "1.5", ".5", "5.", "-.5", "+.", ".", "-", "", "1.2.3", "1e5", "12345678", "1234567",
		"123456.7", "0.0000001", "9999999", "999999999999999", "1234567890123456", "00000000000000000001", "1:2", "1x"}
	for i := 0; i < 20000; i++ {
		f := r.NormFloat64() * math.Pow(10, float64(r.IntN(12)-6))
		inputs = append(inputs, strconv.FormatFloat(f, 'g', -1, 64), strconv.FormatFloat(f, 'f', r.IntN(8), 64),
			strconv.FormatFloat(math.Round(f*1000)/1000, 'g', -1, 64))
	}
	for _, in := range inputs {
		for _, suffix := range []string{"", " ", "\t", ":", " s1:0.25 s2:1", "e-3 x", "|a b", "........"} {
			b := []byte("x:" + in + suffix)
			v, end, ok := parseDecimalPrefix(b, 2)
			if !ok {
				continue
			}
			want, wok := parseFloatBytes(b[2:end])
			if !wok || math.Float64bits(v) != math.Float64bits(want) {
				t.Fatalf("%q: prefix %q gives %v, parseFloatBytes %v %v", b, b[2:end], v, want, wok)
			}
			if end < len(b) && (b[end]-'0' < 10 || b[end] == 'e' || b[end] == 'E') {
				t.Fatalf("%q: prefix %q stops before %q", b, b[2:end], b[end])
			}
		}
	}
}

func TestCBADFReaderSlots(t *testing.T) {
	data := "shared |s u:2 v:3\n|a p:5 |b q:7\n0:-1:0.5 |b q:1 |a p:2\n\nshared |s v:1 w:4 z:9\n0:0:1 |a r:1\n"
	rd, err := NewCBADFReader(bytes.NewReader([]byte(data)), CBADFReaderConfig{SharedDim: 2, ActionDim: 8})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ex.Shared, []SlotFeature{{0, 's', 2}, {1, 's', 3}}) || ex.Chosen != 1 || ex.Cost != -1 || ex.Prob != 0.5 ||
		!reflect.DeepEqual(ex.Actions[1], []SlotFeature{{1, 'b', 1}, {0, 'a', 2}}) {
		t.Fatalf("example 1: %+v", ex)
	}
	ex, err = rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	// v keeps slot 1; w and z overflow the 2 shared slots: hashed as Featurizer does
	f, _ := NewFeaturizer(2, 8, nil)
	row := make([]float64, f.Dim())
	f.Row(row, []Feature{{'s', "u", 1}, {'s', "v", 1}}, nil)
	f.Row(row, []Feature{{'s', "v", 1}, {'s', "w", 4}, {'s', "z", 9}}, nil)
	want := make([]float64, 2)
	for _, s := range ex.Shared {
		want[s.Slot] += s.Value
	}
	if ex.Shared[0].Slot != 1 || want[0] != row[1] || want[1] != row[2] || len(ex.Actions) != 1 || ex.Actions[0][0].Slot != 2 {
		t.Fatalf("example 2: %+v (featurizer row %v)", ex, row)
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestCBADFReaderAllocs(t *testing.T) {
	data := randomADF(400, 10, 64, 8, 2)
	for _, noCache := range []bool{false, true} {
		rd, _ := NewCBADFReader(bytes.NewReader(data), CBADFReaderConfig{NoActionCache: noCache})
		m, _ := NewSGD(SGDConfig{Interactions: []string{"sa"}})
		var costs []float64
		step := func() {
			ex, err := rd.Next()
			if err != nil {
				t.Fatal(err)
			}
			costs = m.Predict(costs, ex)
			m.learn(ex, costs[ex.Chosen])
		}
		for i := 0; i < 5; i++ {
			step()
		}
		if n := testing.AllocsPerRun(300, step); n != 0 {
			t.Errorf("noCache=%v: %v allocations per example, want 0", noCache, n)
		}
	}
	n := 0
	fn := func(*CBExample) error { n++; return nil }
	big := bytes.Repeat(data, 4)
	// ReadCBADF's setup allocates (buffer, maps); per example it must not
	a1 := testing.AllocsPerRun(3, func() { readCBADFFast(bytes.NewReader(data), fn) })
	a4 := testing.AllocsPerRun(3, func() { readCBADFFast(bytes.NewReader(big), fn) })
	if a4 > a1+2 {
		t.Errorf("ReadCBADF: %v allocations for 400 examples, %v for 1600", a1, a4)
	}
}

func FuzzFastADFLine(f *testing.F) {
	for _, s := range []string{"shared |s a:1 b", "0:-1:0.5 |a x:2 |b y", "|", "1:2:3 |a", "| :", "0:1:0.5 0:1:0.5 |a",
		"'t 0:1e-3:1 |s:2 a:1:2 b::3 |  c", "0:1:1 |a x:0x1p3 y:1e400 z:.e1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if len(line) > 4096 || !isASCII([]byte(line)) {
			return
		}
		want, wlab, werr := parseADFLine(line, nil)
		got, glab, gerr := parseADFBytes([]byte(line), nil)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("reference error %v, fast error %v", werr, gerr)
		}
		if werr != nil {
			return
		}
		if wlab != glab || len(got) != len(want) {
			t.Fatalf("label %+v vs %+v, %d vs %d features", glab, wlab, len(got), len(want))
		}
		for i, g := range got {
			w := want[i]
			if g.ns != w.NS || line[g.s:g.e] != w.Name || math.Float64bits(g.val) != math.Float64bits(w.Value) {
				t.Fatalf("feature %d: %c %q %v, want %+v", i, g.ns, line[g.s:g.e], g.val, w)
			}
		}
	})
}

func FuzzReadCBADFFast(f *testing.F) {
	tiny, _ := os.ReadFile("testdata/tiny.cb_adf")
	f.Add(tiny)
	f.Add(randomADF(3, 3, 4, 2, 1))
	f.Add([]byte("0:1:0.5 |a x\n|a y\n\n0:1:0.5 |a x\n|a y\n\n|a x\n0:1:0.5 |a y\n"))
	f.Add([]byte("shared |s a\u00a0b:1 c\r\n0:1:1 |a x\u2003y\n\n\n|a"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<14 {
			return
		}
		sameADF(t, data)
	})
}
