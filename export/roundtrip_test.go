package export_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"nextbest/export"
	"nextbest/logs"
	"nextbest/training"
)

// labelled is what a contextual-bandit example says of a decision.
type labelled struct {
	Time       time.Time
	Candidates []string // action ids, in "_multi" order
	Chosen     string
	Cost, Prob float64
}

// actionID is the id of a candidate from its one feature "action.id=ID".
func actionID(t *testing.T, feats []training.Feature) string {
	t.Helper()
	if len(feats) != 1 || feats[0].NS != 'a' || !strings.HasPrefix(feats[0].Name, "action.id=") {
		t.Fatalf("action features %+v, want one action.id=", feats)
	}
	return strings.TrimPrefix(feats[0].Name, "action.id=")
}

func readExamples(t *testing.T, read func(func(*training.CBExample) error) error) ([]labelled, []string) {
	t.Helper()
	var out []labelled
	var feats []string // the shared features of each, printed
	err := read(func(ex *training.CBExample) error {
		l := labelled{Time: ex.Time, Cost: ex.Cost, Prob: ex.Prob}
		for _, a := range ex.Actions {
			l.Candidates = append(l.Candidates, actionID(t, a))
		}
		if ex.Chosen < 0 {
			t.Fatalf("example %d is not labelled", len(out))
		}
		l.Chosen = l.Candidates[ex.Chosen]
		out = append(out, l)
		feats = append(feats, fmt.Sprint(ex.Shared))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, feats
}

// want is what the examples of the joined decisions must say: each
// decision with a shown action, labelled with its first slot.
func want(joined []logs.Joined) []labelled {
	var out []labelled
	for _, j := range joined {
		d := j.Decision
		if len(d.Actions) == 0 {
			continue
		}
		out = append(out, labelled{Time: d.Time.UTC(), Candidates: d.Eligible, Chosen: d.Actions[0].ActionID,
			Cost: -j.Rewards[0], Prob: d.Actions[0].Propensity})
	}
	return out
}

// TestExportDSJSONAndCBADFRoundTrip exports the golden journal as DSJSON
// and cb_adf and reads both back with the training package's readers
// (what nextbest train --dsjson and --cb-adf read): the same decisions,
// candidates, chosen actions, propensities and costs as the join, and
// the same shared features from both files.
func TestExportDSJSONAndCBADFRoundTrip(t *testing.T) {
	dir := fixture(t)
	joined, _, err := logs.Join(context.Background(), dir, logs.JoinConfig{Window: 10 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	o := export.Options{Join: logs.JoinConfig{Window: 10 * 24 * time.Hour}}
	o.Format = export.DSJSON
	ds, _ := run(t, dir, o)
	o.Format = export.CBADF
	adf, _ := run(t, dir, o)

	fromDS, dsFeats := readExamples(t, func(fn func(*training.CBExample) error) error {
		return training.ReadDSJSON(bytes.NewReader(ds), fn)
	})
	fromADF, adfFeats := readExamples(t, func(fn func(*training.CBExample) error) error {
		return training.ReadCBADF(bytes.NewReader(adf), fn)
	})
	w := want(joined)
	if !reflect.DeepEqual(fromDS, w) {
		t.Errorf("DSJSON read back:\n%+v\nwant\n%+v", fromDS, w)
	}
	for i := range fromADF {
		fromADF[i].Time = w[i].Time // cb_adf carries no time
	}
	if !reflect.DeepEqual(fromADF, w) {
		t.Errorf("cb_adf read back:\n%+v\nwant\n%+v", fromADF, w)
	}
	// d2's late conversion is in with the 10-day window: a cost of −1
	if w[1].Cost != -1 {
		t.Errorf("d2's cost %v, want −1 (its conversion joined)", w[1].Cost)
	}
	// the shared features agree but for the cb_adf escape of "x|y"
	for i := range dsFeats {
		if a := strings.ReplaceAll(dsFeats[i], "Paris x|y", "Paris_x_y"); a != adfFeats[i] {
			t.Errorf("example %d: shared features differ:\ndsjson %s\ncb_adf %s", i, a, adfFeats[i])
		}
	}
	if !strings.Contains(dsFeats[0], "context.page=cart") || !strings.Contains(dsFeats[0], "profile.counters.visits_7d 3.5") {
		t.Errorf("shared features of d1: %s", dsFeats[0])
	}
}

// TestExportTablesRoundTrip reads the CSV and Parquet exports back with
// training's tabular readers: one example per shown action, with its
// action, reward and propensity.
func TestExportTablesRoundTrip(t *testing.T) {
	dir := fixture(t)
	joined, _, err := logs.Join(context.Background(), dir, logs.JoinConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, j := range joined {
		for i, a := range j.Decision.Actions {
			want = append(want, fmt.Sprintf("%s channel=%s r=%g p=%g", a.ActionID, j.Decision.Channel, j.Rewards[i], a.Propensity))
		}
	}
	cols, err := training.ParseColumnMap("context=channel;action=action_id;reward=reward;propensity=propensity")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	for _, f := range []export.Format{export.CSV, export.Parquet} {
		out, _ := run(t, dir, export.Options{Format: f})
		path := filepath.Join(tmp, "x."+string(f))
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		var got []string
		err := training.DataFile{Format: string(f), Path: path, Columns: cols}.Read(func(ex *training.CBExample) error {
			got = append(got, fmt.Sprintf("%s %s r=%g p=%g", ex.ActionIDs[0], ex.Shared[0].Name, ex.Reward(), ex.Prob))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s read back:\n%q\nwant\n%q", f, got, want)
		}
	}
}

// TestExportParquetTypes reads the Parquet export back with parquet-go:
// the column types of the documented schema and every row's values.
func TestExportParquetTypes(t *testing.T) {
	dir := fixture(t)
	out, st := run(t, dir, export.Options{Format: export.Parquet})
	f, err := parquet.OpenFile(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, c := range f.Schema().Fields() {
		s := c.Type().String()
		if c.Optional() {
			s += " optional"
		}
		types[c.Name()] = s
	}
	for col, typ := range map[string]string{
		"decision_id": "STRING", "lsn": "INT(64,true)", "ts": "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)",
		"slot": "INT(32,true)", "propensity": "DOUBLE", "reward": "DOUBLE", "outcomes": "INT(32,true)",
		"converted": "BOOLEAN", "experiment": "STRING optional", "context": "JSON", "profile": "JSON",
	} {
		if types[col] != typ {
			t.Errorf("column %s: type %q, want %q", col, types[col], typ)
		}
	}
	if got := len(f.Schema().Fields()); got != len(export.Columns) {
		t.Errorf("%d columns, want %d", got, len(export.Columns))
	}
	for i, c := range f.Schema().Fields() {
		if c.Name() != export.Columns[i] {
			t.Errorf("column %d is %q, want %q", i, c.Name(), export.Columns[i])
		}
	}
	rows, err := parquet.Read[export.Row](bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != st.Rows || len(rows) != 5 {
		t.Fatalf("%d rows, want 5", len(rows))
	}
	r := rows[1] // d1's second slot
	w := export.Row{DecisionID: "d1", LSN: 1, CustomerID: "c-d1", Channel: "web", TS: t0, Policy: "linucb@v1",
		FeatureSpec: "spec1", Explorer: "epsilon_greedy(0.1)", Eligible: 4, Slot: 1, ActionID: "a-cart",
		Propensity: 0.25, Reward: 43.5, Outcomes: 2,
		Context: `{"cart_value":80,"device":"mobile","page":"cart"}`,
		Profile: `{"attributes.tier":"gold","counters.visits_7d":3.5,"stage":"cart"}`}
	r.TS = r.TS.UTC()
	if !reflect.DeepEqual(r, w) {
		t.Errorf("row 1:\n%+v\nwant\n%+v", r, w)
	}
	if rows[2].Experiment != "exp1" || rows[2].Arm != "treatment" || rows[2].Propensity != 0.9 {
		t.Errorf("row 2 (d2): %+v", rows[2])
	}
	if rows[3].Profile != "{}" || rows[3].Converted != true || rows[3].Reward != 1 {
		t.Errorf("row 3 (d3, converted, no profile): %+v", rows[3])
	}

	// raw: one row per record, typed
	out, _ = run(t, dir, export.Options{Format: export.Parquet, Raw: true})
	raws, err := parquet.Read[export.RawRow](bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	if len(raws) != 13 || raws[2].Type != "outcome" || raws[2].Kind != "click" || raws[2].Reward == nil || *raws[2].Reward != 1 ||
		raws[0].Reward != nil || raws[12].Type != "audit" || raws[12].Kind != "mode_set" {
		t.Errorf("raw rows: %+v", raws)
	}
}

// TestExportActionFeatures: with the catalog's action features, DSJSON and
// cb_adf give each candidate the same "action.KEY" features, as the
// feature spec's action sources name them.
func TestExportActionFeatures(t *testing.T) {
	dir := fixture(t)
	o := export.Options{ActionFeatures: map[string]map[string]any{
		"a-cart": {"id": "ignored", "category": "discount", "discount": 0.1},
		"a-home": {"category": "content", "discount": 0.0},
	}}
	var feats [2][]string
	for i, f := range []export.Format{export.DSJSON, export.CBADF} {
		o.Format = f
		out, _ := run(t, dir, o)
		read := training.ReadDSJSON
		if f == export.CBADF {
			read = training.ReadCBADF
		}
		err := read(bytes.NewReader(out), func(ex *training.CBExample) error {
			feats[i] = append(feats[i], fmt.Sprint(ex.Actions))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(feats[0], feats[1]) {
		t.Errorf("action features differ:\ndsjson %q\ncb_adf %q", feats[0], feats[1])
	}
	if want := "[[{97 action.category=content 1} {97 action.discount 0} {97 action.id=a-home 1}]]"; feats[0][3] != want {
		t.Errorf("d5's candidates: %s, want %s", feats[0][3], want)
	}
	if !strings.Contains(feats[0][0], "{97 action.category=discount 1} {97 action.discount 0.1} {97 action.id=a-cart 1}") ||
		!strings.Contains(feats[0][0], "[{97 action.id=a-none 1}]") {
		t.Errorf("d1's candidates: %s", feats[0][0])
	}
}
