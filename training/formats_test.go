package training

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func collect(t *testing.T, path string, read func(*os.File, func(*CBExample) error) error) []CBExample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []CBExample
	err = read(f, func(ex *CBExample) error {
		c := CBExample{Chosen: ex.Chosen, Cost: ex.Cost, Prob: ex.Prob, Shared: append([]Feature(nil), ex.Shared...),
			ActionIDs: append([]string(nil), ex.ActionIDs...)}
		for _, a := range ex.Actions {
			c.Actions = append(c.Actions, append([]Feature(nil), a...))
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReadFormats(t *testing.T) {
	sports, politics := []Feature{{'a', "article=sports", 1}, {'a', "len", 2}}, []Feature{{'a', "article=politics", 1}, {'a', "len", 3}}
	adf := collect(t, "testdata/tiny.cb_adf", func(f *os.File, fn func(*CBExample) error) error { return ReadCBADF(f, fn) })
	want := []CBExample{
		{Shared: []Feature{{'s', "user=alice", 1}, {'s', "age", 0.5}}, Actions: [][]Feature{sports, politics}, Chosen: 1, Cost: -1, Prob: 0.5},
		{Shared: []Feature{{'s', "user=bob", 1}}, Actions: [][]Feature{sports, politics}, Chosen: 0, Cost: 0, Prob: 0.25},
	}
	if !reflect.DeepEqual(adf, want) {
		t.Errorf("cb_adf\n got %+v\nwant %+v", adf, want)
	}
	ds := collect(t, "testdata/tiny.dsjson", func(f *os.File, fn func(*CBExample) error) error { return ReadDSJSON(f, fn) })
	if len(ds) != 2 || ds[0].Chosen != 1 || ds[0].Cost != -1 || ds[0].Prob != 0.5 ||
		!reflect.DeepEqual(ds[0].Shared, []Feature{{'u', "user.age", 0.5}, {'u', "user.name=alice", 1}}) ||
		!reflect.DeepEqual(ds[0].Actions[1], []Feature{{'a', "article=politics", 1}}) {
		t.Errorf("dsjson %+v", ds)
	}
	// without _labelIndex the chosen action is a[0]−1 with probability p[0]
	if ds[1].Chosen != 0 || ds[1].Prob != 0.25 {
		t.Errorf("dsjson line 2: chosen %d prob %v", ds[1].Chosen, ds[1].Prob)
	}
	cm, err := ParseColumnMap("context=age,region;action=action;reward=reward;propensity=propensity")
	if err != nil {
		t.Fatal(err)
	}
	csvEx := collect(t, "testdata/tiny.csv", func(f *os.File, fn func(*CBExample) error) error { return ReadCSV(f, cm, fn) })
	if len(csvEx) != 2 || csvEx[0].ActionIDs[0] != "mens" || csvEx[0].Cost != -1 || csvEx[0].Prob != 0.333 ||
		!reflect.DeepEqual(csvEx[1].Shared, []Feature{{'s', "age", 45}, {'s', "region=south", 1}}) {
		t.Errorf("csv %+v", csvEx)
	}
}

func TestFeaturizerInteractions(t *testing.T) {
	f, err := NewFeaturizer(2, 2, []string{"sa"})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, f.Dim())
	f.Row(x, []Feature{{'s', "u", 2}, {'s', "v", 3}}, []Feature{{'a', "p", 5}, {'b', "q", 7}})
	// [bias | u v | p q | u·p u·q v·p v·q]; q is in namespace b: no cross
	want := []float64{1, 2, 3, 5, 7, 10, 0, 15, 0}
	if !reflect.DeepEqual(x, want) {
		t.Errorf("row %v, want %v", x, want)
	}
}

func FuzzParseADFLine(f *testing.F) {
	for _, s := range []string{"shared |s a:1 b", "0:-1:0.5 |a x:2 |b y", "|", "1:2:3 |a", "| :", "0:1:0.5 0:1:0.5 |a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if len(line) > 4096 {
			return
		}
		feats, lab, err := parseADFLine(line, nil)
		if err != nil {
			return
		}
		if lab.ok && !(lab.prob > 0 && lab.prob <= 1) {
			t.Fatalf("accepted probability %v", lab.prob)
		}
		for _, ft := range feats {
			if ft.Name == "" || strings.ContainsAny(ft.Name, " \t|") {
				t.Fatalf("bad feature %+v", ft)
			}
		}
	})
}

func FuzzParseDSJSON(f *testing.F) {
	b, _ := os.ReadFile("testdata/tiny.dsjson")
	for _, l := range strings.Split(string(b), "\n") {
		f.Add(l)
	}
	f.Add(`{"_label_cost":1,"_labelIndex":5,"c":{"_multi":[{}]}}`)
	f.Fuzz(func(t *testing.T, line string) {
		if len(line) > 1<<16 {
			return
		}
		var ex CBExample
		if err := parseDSJSON([]byte(line), &ex); err != nil {
			return
		}
		if ex.Chosen >= len(ex.Actions) || (ex.Chosen >= 0 && !(ex.Prob > 0 && ex.Prob <= 1)) {
			t.Fatalf("accepted %+v", ex)
		}
	})
}
