package training_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/internal/journaltest"
	"nextbest/models"
	"nextbest/training"
)

// retailSpec parses the shipped feature spec and catalog (the catalog
// without compiled features: SpecBuilder compiles what it needs).
func retailSpec(t testing.TB) (*features.Spec, *decide.Catalog) {
	t.Helper()
	spec, _ := journaltest.Retail(t)
	return spec, journaltest.RawCatalog(t)
}

// buildSpec reads path (or data, when path is "") with read into a
// SpecBuilder of spec and cat.
func buildSpec(t *testing.T, spec *features.Spec, cat *decide.Catalog, data []byte, read func(io.Reader, func(*training.CBExample) error) error) *training.SpecBuilder {
	t.Helper()
	b := training.NewSpecBuilder(spec, cat, "test")
	if err := read(bytes.NewReader(data), b.Add); err != nil {
		t.Fatal(err)
	}
	return b
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSpecBuilderFixtures reads testdata/retail.dsjson and
// testdata/retail.cb_adf, the same three logged decisions written in each
// format with the retail spec's input names: both map onto the spec with
// nothing unknown or missing and give the same rows, and each row is the
// vector the service would score (the spec's InputsFromLog + Assemble on
// the same values, written out here by hand).
func TestSpecBuilderFixtures(t *testing.T) {
	spec, cat := retailSpec(t)
	ds := buildSpec(t, spec, cat, readFile(t, "testdata/retail.dsjson"), training.ReadDSJSON)
	adf := buildSpec(t, spec, cat, readFile(t, "testdata/retail.cb_adf"), training.ReadCBADF)
	for name, b := range map[string]*training.SpecBuilder{"dsjson": ds, "cb_adf": adf} {
		if err := b.Check(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if b.DS.Len() != 3 || b.Bad != 0 || b.Unlabeled != 0 {
			t.Fatalf("%s: %d rows, %d bad (%s), %d unlabelled", name, b.DS.Len(), b.Bad, b.FirstBad, b.Unlabeled)
		}
		if b.DS.FeatureSpec != spec.Hash() || b.DS.Dim != spec.Dim() {
			t.Errorf("%s: dataset of spec %.12s dim %d", name, b.DS.FeatureSpec, b.DS.Dim)
		}
	}
	if !slices.Equal(ds.DS.X, adf.DS.X) || !slices.Equal(ds.DS.Reward, adf.DS.Reward) ||
		!slices.Equal(ds.DS.Propensity, adf.DS.Propensity) || !slices.Equal(ds.DS.Action, adf.DS.Action) {
		t.Errorf("dsjson and cb_adf rows differ")
	}
	if want := []float64{1, 0, 1}; !slices.Equal(ds.DS.Reward, want) {
		t.Errorf("rewards %v, want %v (−cost)", ds.DS.Reward, want)
	}
	if got, want := ds.From, time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("From %v, want %v", got, want)
	}

	// The third decision, by hand: its actions carry only their ids, so
	// their features are the catalog's.
	var in features.Inputs
	profile := map[string]any{"stage": "consideration", "counters.visits_7d": 6.0, "counters.product_views_7d": 9.0,
		"counters.cart_adds_7d": 0.0, "counters.purchases_30d": 0.0, "counters.spend_30d": 0.0,
		"counters.support_calls_30d": 0.0, "counters.email_clicks_30d": 2.0,
		"attributes.age": 27.0, "attributes.tier": "bronze", "attributes.email_opt_in": true}
	ctx := map[string]any{"page": "product", "cart_value": 0.0, "device": "tablet"}
	if err := spec.InputsFromLog(&in, profile, "web", ctx, time.Date(2026, 3, 3, 9, 5, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	a, _ := cat.Lookup("matching-accessories")
	af, err := spec.CompileAction(a.ID, a.Features)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, spec.Dim())
	spec.Assemble(want, &in, []*features.ActionFeatures{af})
	if got := ds.DS.Row(2); !slices.Equal(got, want) {
		t.Errorf("row 3\n got %v\nwant %v", got, want)
	}
	if id := ds.DS.ActionIDs[ds.DS.Action[2]]; id != "matching-accessories" {
		t.Errorf("row 3 action %q", id)
	}
	if !slices.Equal(ds.DS.ActionIDs[:len(cat.Actions)], catalogIDs(cat)) {
		t.Errorf("action ids %v do not start with the catalog's", ds.DS.ActionIDs)
	}
}

func catalogIDs(cat *decide.Catalog) []string {
	ids := make([]string, len(cat.Actions))
	for i, a := range cat.Actions {
		ids[i] = a.ID
	}
	return ids
}

// retailExample is one logged decision of the generated retail files.
type retailExample struct {
	stage, tier, page, device, channel string
	visits, views, spend, cartValue    float64
	optIn                              bool
	actions                            []*decide.Action
	chosen                             int
	reward                             float64
	at                                 time.Time
}

// genRetail draws n logged decisions on the retail sample: three catalog
// actions per decision, one chosen uniformly (p = 1/3), converting with
// probability 0.6 for a discount shown on the cart page and 0.1 otherwise.
func genRetail(cat *decide.Catalog, n int, seed uint64) []retailExample {
	r := rand.New(rand.NewPCG(seed, 7))
	stages := []string{"awareness", "consideration", "cart", "purchase", "retention"}
	tiers := []string{"bronze", "silver", "gold", "platinum"}
	pages := []string{"home", "product", "cart", "checkout"}
	devices := []string{"desktop", "mobile", "tablet"}
	out := make([]retailExample, n)
	for i := range out {
		e := &out[i]
		e.stage, e.tier = stages[r.IntN(len(stages))], tiers[r.IntN(len(tiers))]
		e.page, e.device, e.channel = pages[r.IntN(len(pages))], devices[r.IntN(len(devices))], "web"
		e.visits, e.views, e.spend = float64(r.IntN(10)), float64(r.IntN(20)), math.Round(r.Float64()*300)
		e.cartValue = math.Round(r.Float64() * 200)
		e.optIn = r.IntN(2) == 0
		for _, k := range r.Perm(len(cat.Actions))[:3] {
			e.actions = append(e.actions, cat.Actions[k])
		}
		e.chosen = r.IntN(3)
		p := 0.1
		if e.page == "cart" && e.actions[e.chosen].Features["category"] == "discount" {
			p = 0.6
		}
		if r.Float64() < p {
			e.reward = 1
		}
		e.at = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	}
	return out
}

// dsjson writes exs as DSJSON lines named after the retail spec; edit, if
// set, may change each line's context object before it is written.
func dsjson(exs []retailExample, edit func(c map[string]any)) []byte {
	var buf bytes.Buffer
	for _, e := range exs {
		var multi []any
		for _, a := range e.actions {
			multi = append(multi, map[string]any{"action": map[string]any{"id": a.ID, "category": a.Features["category"], "discount": a.Features["discount"]}})
		}
		c := map[string]any{
			"profile": map[string]any{"stage": e.stage,
				"counters":   map[string]any{"visits_7d": e.visits, "product_views_7d": e.views, "cart_adds_7d": 0, "purchases_30d": 0, "spend_30d": e.spend, "support_calls_30d": 0, "email_clicks_30d": 0},
				"recency":    map[string]any{"purchase": 30},
				"attributes": map[string]any{"age": 40, "tier": e.tier, "email_opt_in": e.optIn}},
			"context": map[string]any{"page": e.page, "cart_value": e.cartValue, "device": e.device},
			"request": map[string]any{"channel": e.channel},
			"_multi":  multi,
		}
		if edit != nil {
			edit(c)
		}
		line, _ := json.Marshal(map[string]any{"_label_cost": -e.reward, "_label_probability": 1.0 / 3, "_labelIndex": e.chosen,
			"Timestamp": e.at.Format(time.RFC3339), "c": c})
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// cbADF writes exs as cb_adf text named after the retail spec.
func cbADF(exs []retailExample) []byte {
	var buf bytes.Buffer
	for _, e := range exs {
		opt := 0
		if e.optIn {
			opt = 1
		}
		fmt.Fprintf(&buf, "shared | profile.stage=%s profile.counters.visits_7d:%g profile.counters.product_views_7d:%g profile.counters.cart_adds_7d:0 profile.counters.purchases_30d:0 profile.counters.spend_30d:%g profile.counters.support_calls_30d:0 profile.counters.email_clicks_30d:0 profile.recency.purchase:30 profile.attributes.age:40 profile.attributes.tier=%s profile.attributes.email_opt_in:%d context.page=%s context.cart_value:%g context.device=%s request.channel=%s\n",
			e.stage, e.visits, e.views, e.spend, e.tier, opt, e.page, e.cartValue, e.device, e.channel)
		for k, a := range e.actions {
			if k == e.chosen {
				fmt.Fprintf(&buf, "%d:%g:%g ", k, -e.reward, 1.0/3)
			}
			fmt.Fprintf(&buf, "| action.id=%s action.category=%s action.discount:%v\n", a.ID, a.Features["category"], a.Features["discount"])
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// TestSpecFileModelServes is the servable path from a VW file: a model
// trained on a DSJSON (and a cb_adf) file written with the retail spec's
// names becomes an artifact that models.LoadScorer accepts for the spec's
// hash and the catalog's ids, and it scores: a discount on the cart page
// beats content there, as the generator's conversion rates (0.6 vs 0.1)
// say.
func TestSpecFileModelServes(t *testing.T) {
	spec, cat := retailSpec(t)
	exs := genRetail(cat, 3000, 1)
	for _, tc := range []struct {
		name string
		data []byte
		read func(io.Reader, func(*training.CBExample) error) error
	}{
		{"dsjson", dsjson(exs, nil), training.ReadDSJSON},
		{"cb_adf", cbADF(exs), training.ReadCBADF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := buildSpec(t, spec, cat, tc.data, tc.read)
			if err := b.Check(); err != nil {
				t.Fatal(err)
			}
			if b.DS.Len() != len(exs) || b.Bad != 0 {
				t.Fatalf("%d rows of %d, %d bad: %s", b.DS.Len(), len(exs), b.Bad, b.FirstBad)
			}
			for _, model := range []string{training.ModelLinUCB, training.ModelLogistic} {
				res, err := training.Train(b.DS, training.TrainConfig{Model: model, Seed: 1})
				if err != nil {
					t.Fatal(err)
				}
				art, err := models.NewArtifact(models.Metadata{Name: model, FeatureSpec: b.DS.FeatureSpec, Source: tc.name}, res.Scorer.(io.WriterTo))
				if err != nil {
					t.Fatal(err)
				}
				var file bytes.Buffer
				if _, err := art.WriteTo(&file); err != nil {
					t.Fatal(err)
				}
				back, err := models.ReadArtifact(&file)
				if err != nil {
					t.Fatal(err)
				}
				sc, err := models.LoadScorer(back, spec.Hash(), catalogIDs(cat))
				if err != nil {
					t.Fatalf("%s: LoadScorer: %v", model, err)
				}
				mean := scoreCart(t, spec, cat, sc, "cart-reminder-10", "style-guide")
				if !(mean[0] > mean[1]+0.2) {
					t.Errorf("%s: on the cart page a discount scores %.3f, content %.3f; want the discount well ahead", model, mean[0], mean[1])
				}
			}
		})
	}
}

// scoreCart scores actions ids for a cart-page visit as the service would.
func scoreCart(t *testing.T, spec *features.Spec, cat *decide.Catalog, sc models.Scorer, ids ...string) []float64 {
	t.Helper()
	var in features.Inputs
	p := spec.NewProfile("c-1", time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC))
	p.Stage = "cart"
	spec.Inputs(&in, p, "web", map[string]any{"page": "cart", "cart_value": 80.0, "device": "mobile"}, time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC))
	var afs []*features.ActionFeatures
	var acts []int
	for _, id := range ids {
		a, ok := cat.Lookup(id)
		if !ok {
			t.Fatalf("no action %q", id)
		}
		af, err := spec.CompileAction(a.ID, a.Features)
		if err != nil {
			t.Fatal(err)
		}
		afs, acts = append(afs, af), append(acts, a.Index())
	}
	xs := make([]float64, len(ids)*spec.Dim())
	spec.Assemble(xs, &in, afs)
	mean, std := make([]float64, len(ids)), make([]float64, len(ids))
	sc.Predict(mean, std, acts, xs)
	for i := range mean {
		if math.IsNaN(mean[i]) || math.IsInf(mean[i], 0) || math.IsNaN(std[i]) {
			t.Fatalf("score %d: mean %v std %v", i, mean[i], std[i])
		}
	}
	return mean
}

// TestSpecBuilderMismatch: a file with a feature the spec does not know
// and without one it reads is refused by Check with both named.
func TestSpecBuilderMismatch(t *testing.T) {
	spec, cat := retailSpec(t)
	data := dsjson(genRetail(cat, 50, 2), func(c map[string]any) {
		c["profile"].(map[string]any)["favourite_colour"] = "teal"
		delete(c["context"].(map[string]any), "device")
	})
	b := buildSpec(t, spec, cat, data, training.ReadDSJSON)
	err := b.Check()
	var me *training.FeatureMismatchError
	if !errors.As(err, &me) || !errors.Is(err, training.ErrFeatureMismatch) {
		t.Fatalf("Check: %v, want a *FeatureMismatchError", err)
	}
	if !slices.Equal(me.Unknown, []string{"profile.favourite_colour"}) || !slices.Equal(me.Missing, []string{"context.device"}) {
		t.Errorf("unknown %v, missing %v", me.Unknown, me.Missing)
	}
	for _, want := range []string{"profile.favourite_colour", "context.device"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %s", err, want)
		}
	}
	// the rows are still built (a caller may choose to warn): the missing
	// device is the spec's "missing value", the unknown colour ignored
	if b.DS.Len() != 50 || b.Bad != 0 {
		t.Errorf("%d rows, %d bad", b.DS.Len(), b.Bad)
	}

	// a plain VW file (hashed-style names) shares nothing with the spec
	plain := buildSpec(t, spec, cat, readFile(t, "testdata/tiny.cb_adf"), training.ReadCBADF)
	if err := plain.Check(); !errors.As(err, &me) || len(me.Missing) != len(spec.Sources()) {
		t.Errorf("tiny.cb_adf: %v", err)
	}
}

// TestSpecBuilderBadValues: values the service would refuse (a negative
// cart value, a discount over the declared 0.5, a number that is not one)
// skip the example and are counted, with the first reason.
func TestSpecBuilderBadValues(t *testing.T) {
	spec, cat := retailSpec(t)
	for _, tc := range []struct {
		name, line, reason string
	}{
		{"context range", `shared | context.cart_value:-5 context.page=cart`, "context.cart_value"},
		{"action range", `shared | context.page=cart`, "action.discount"},
		{"not a number", `shared | profile.counters.visits_7d=many`, "profile.counters.visits_7d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			act := "0:-1:0.5 | action.id=free-shipping"
			if tc.name == "action range" {
				act += " action.discount:0.9"
			}
			b := buildSpec(t, spec, cat, []byte(tc.line+"\n"+act+"\n"), training.ReadCBADF)
			if b.Bad != 1 || b.DS.Len() != 0 || !strings.Contains(b.FirstBad, tc.reason) {
				t.Errorf("bad %d, rows %d, first %q; want 1, 0, naming %s", b.Bad, b.DS.Len(), b.FirstBad, tc.reason)
			}
		})
	}
}

// TestSpecBuilderCSV: a CSV file whose context columns are named after the
// spec's inputs and whose action column holds catalog ids gives the rows
// of the same decision logged in DSJSON (the action's features come from
// the catalog).
func TestSpecBuilderCSV(t *testing.T) {
	spec, cat := retailSpec(t)
	cols := []string{"profile.stage", "profile.counters.visits_7d", "profile.counters.product_views_7d", "profile.counters.cart_adds_7d",
		"profile.counters.purchases_30d", "profile.counters.spend_30d", "profile.counters.support_calls_30d", "profile.counters.email_clicks_30d",
		"profile.recency.purchase", "profile.attributes.age", "profile.attributes.tier", "profile.attributes.email_opt_in",
		"context.page", "context.cart_value", "context.device", "request.channel"}
	data := strings.Join(cols, ",") + ",action,reward,p\n" +
		"cart,3,5,1,0,0,0,1,40,34,gold,1,cart,80,mobile,web,free-shipping,1,0.5\n"
	cm, err := training.ParseColumnMap("context=" + strings.Join(cols, ",") + ";action=action;reward=reward;propensity=p")
	if err != nil {
		t.Fatal(err)
	}
	b := buildSpec(t, spec, cat, []byte(data), func(r io.Reader, fn func(*training.CBExample) error) error { return training.ReadCSV(r, cm, fn) })
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
	ds := buildSpec(t, spec, cat, readFile(t, "testdata/retail.dsjson"), training.ReadDSJSON)
	if b.DS.Len() != 1 || !slices.Equal(b.DS.Row(0), ds.DS.Row(0)) || b.DS.Action[0] != ds.DS.Action[0] || b.DS.Reward[0] != 1 {
		t.Errorf("csv row %v action %v reward %v\nwant %v action %v", b.DS.X, b.DS.Action, b.DS.Reward, ds.DS.Row(0), ds.DS.Action[0])
	}
}
