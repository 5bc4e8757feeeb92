package apptest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"nextbest/internal/journaltest"
)

// evalFileOut is the JSON of nextbest eval file --policy.
type evalFileOut struct {
	Policy     string `json:"policy"`
	Decisions  int    `json:"decisions"`
	LaterSlots int    `json:"later_slots_skipped"`
	Estimates  []struct {
		Estimator string  `json:"estimator"`
		Value     float64 `json:"value"`
		SE        float64 `json:"se"`
		Lo        float64 `json:"ci_lo"`
		Hi        float64 `json:"ci_hi"`
	} `json:"estimates"`
}

func (o *evalFileOut) value(t *testing.T, name string) float64 {
	t.Helper()
	for _, e := range o.Estimates {
		if e.Estimator == name {
			return e.Value
		}
	}
	t.Fatalf("no %s estimate in %+v", name, o)
	return 0
}

func runJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out, _ := runCLISplit(t, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("nextbest %s: not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestEvalFileOwnCSV evaluates a rule on a data scientist's own CSV
// (testdata/evalfile/own.csv: columns page, segment, offer, clicked, p)
// with its columns renamed. The rule sends deal seekers style-guide and
// everyone else free-shipping; it agrees with the log on rows 4 (p 0.25,
// reward 0), 5 (p 0.5, reward 0), 6 and 7 (p 0.25, reward 1), so IPS =
// (4 + 4)/8 = 1 and SNIPS = 8/(4 + 2 + 4 + 4) = 4/7, exactly.
func TestEvalFileOwnCSV(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	var out evalFileOut
	runJSON(t, &out, "eval", "file", "--data", "testdata/evalfile/own.csv", "--columns", "action=offer;reward=clicked;propensity=p",
		"--policy", `rule:segment == "deal" ? "style-guide" : "free-shipping"`, "--json")
	if out.Decisions != 8 {
		t.Fatalf("%d decisions, want 8", out.Decisions)
	}
	if ips, snips := out.value(t, "IPS"), out.value(t, "SNIPS"); math.Abs(ips-1) > 1e-12 || math.Abs(snips-4.0/7) > 1e-12 {
		t.Errorf("IPS %v, SNIPS %v; want 1 and 4/7", ips, snips)
	}
	table := runCLI(t, "eval", "file", "testdata/evalfile/own.csv", "--columns", "action=offer;reward=clicked;propensity=p", "--policy", "uniform")
	for _, want := range []string{"8 decisions over 3 actions", "policy uniform", "IPS", "SNIPS", "95% CI"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

// TestEvalFileErrors: a column the log lacks, a value a column's role
// cannot use, a name a rule reads that is no column, an unknown format
// and a model of another feature spec are each one line naming what is
// wrong, with exit status 1.
func TestEvalFileErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	own := "testdata/evalfile/own.csv"
	cols := "action=offer;reward=clicked;propensity=p"
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"missing propensity", []string{"--data", own, "--columns", "action=offer;reward=clicked", "--policy", "uniform"},
			[]string{`no propensity column "propensity"`, "page, segment, offer, clicked, p", "--columns propensity=COLUMN"}},
		{"missing context", []string{"--data", own, "--columns", cols + ";context=page,weather", "--policy", "uniform"},
			[]string{`no context column "weather"`}},
		{"bad propensity", []string{"--data", "testdata/evalfile/own_bad.csv", "--columns", cols, "--policy", "uniform"},
			[]string{`row 2: propensity column "p": "abc" is not a probability in (0, 1]`}},
		{"bad reward", []string{"--data", own, "--columns", "action=offer;reward=page;propensity=p", "--policy", "uniform"},
			[]string{`row 1: reward column "page": "cart" is not a finite number`}},
		{"rule reads no column", []string{"--data", own, "--columns", cols, "--policy", `rule:context.weather == "rain" ? "style-guide" : "free-shipping"`},
			[]string{`the rule reads "context.weather", which is no column of the log`}},
		{"rule chooses no candidate", []string{"--data", own, "--columns", cols, "--policy", `rule:"free-lunch"`},
			[]string{`chose "free-lunch", which is not a candidate`}},
		{"format", []string{"--data", "testdata/evalfile/own.txt", "--policy", "uniform"}, []string{"give --format csv, parquet or dsjson"}},
		{"policy", []string{"--data", own, "--policy", "best"}, []string{`--policy "best": want uniform, rule:EXPR or model:ARTIFACT`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(binary, append([]string{"eval", "file"}, tc.args...)...).CombinedOutput()
			if code := exitCode(err); code != 1 {
				t.Errorf("exit status %d, want 1\n%s", code, out)
			}
			msg := strings.TrimSpace(string(out))
			if strings.Count(msg, "\n") > 0 {
				t.Errorf("not one line:\n%s", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// evalFileJournal writes a journal of n retail web decisions of two
// slots over four eligible actions, drawn uniformly (slot 0's
// propensity 1/4, slot 1's 1/3), whose first slot is clicked with a
// probability that depends on the page and the action; it returns the
// directory and each decision's page, first action and reward.
func evalFileJournal(t *testing.T, n int) (dir string, pages, first []string, rewards []float64) {
	t.Helper()
	spec, _ := journaltest.Retail(t)
	ids := []string{"free-shipping", "new-arrivals", "style-guide", "cart-reminder-10"}
	pageNames := []string{"home", "product", "cart"}
	r := rand.New(rand.NewPCG(21, 22))
	var recs []any
	for i := range n {
		id := fmt.Sprintf("d%04d", i)
		at := journaltest.T0.Add(time.Duration(i) * time.Minute)
		perm := r.Perm(len(ids))
		d := journaltest.Decision(id, at, spec.Hash(), ids...)
		page := pageNames[r.IntN(len(pageNames))]
		d.Context = map[string]any{"page": page, "cart_value": float64(10 + r.IntN(150)), "device": "mobile"}
		d.Actions[0].ActionID, d.Actions[0].Propensity = ids[perm[0]], 0.25
		d.Actions[1].ActionID, d.Actions[1].Propensity = ids[perm[1]], 1.0/3
		d.Actions = d.Actions[:2]
		recs = append(recs, d)
		p := 0.1 + 0.15*float64((perm[0]+len(page))%4)
		rw := 0.0
		if r.Float64() < p {
			rw = 1
			o := journaltest.Outcome(id, ids[perm[0]], "click", 1, at.Add(time.Minute))
			o.DecisionTime = at
			recs = append(recs, o)
		}
		if r.Float64() < 0.5*p { // slot 1 is looked at about half as often
			o := journaltest.Outcome(id, ids[perm[1]], "click", 1, at.Add(time.Minute))
			o.DecisionTime = at
			recs = append(recs, o)
		}
		pages, first, rewards = append(pages, page), append(first, ids[perm[0]]), append(rewards, rw)
	}
	return journaltest.Write(t, recs...), pages, first, rewards
}

// TestEvalFileRoundTrip: the service's journal exported as DSJSON, CSV
// and Parquet (nextbest export) and evaluated with eval file gives what
// eval journal gives on the journal itself, for a trained model (the
// same target probabilities: the file's rows are rebuilt through the
// same feature spec) and for the uniform policy, to rounding; a rule on
// the CSV and the Parquet export gives the IPS computed here from the
// decisions written.
func TestEvalFileRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	const n = 400
	dir, pages, first, rewards := evalFileJournal(t, n)
	out := t.TempDir()
	model := filepath.Join(out, "m.nbm")
	runCLISplit(t, "train", "--journal", dir, "--model", "linucb", "--out", model, "--quiet")
	// the position model, estimated from the two slots' logged
	// propensities (1/4, then 1/3: uniform, so θ̂₁ is slot 1's click
	// rate over slot 0's, about 0.5)
	_, stderr := runCLISplit(t, "train", "--journal", dir, "--model", "linucb", "--positions", "estimate", "--position-slots", "2")
	if !regexp.MustCompile(`position model: slot factors 1 0\.[3-6]\d* \(SE 0\.\d+, 400 decisions\)`).MatchString(stderr) {
		t.Errorf("train --positions estimate does not print the factors:\n%s", stderr)
	}
	if msg, err := exec.Command(binary, "train", "--journal", dir, "--positions", "0.5,1").CombinedOutput(); exitCode(err) != 1 || !strings.Contains(string(msg), "slot 0's factor must be 1") {
		t.Errorf("--positions 0.5,1: %v\n%s", err, msg)
	}
	files := map[string]string{}
	for _, f := range []string{"dsjson", "csv", "parquet"} {
		files[f] = filepath.Join(out, "x."+f)
		runCLISplit(t, "export", "--journal", dir, "--format", f, "--out", files[f])
	}
	explore := []string{"--explorer", "softmax", "--alpha", "0.5"}

	var jm, fm, ju, fu evalFileOut
	runJSON(t, &jm, append([]string{"eval", "journal", "--journal", dir, "--model", model, "--json"}, explore...)...)
	runJSON(t, &fm, append([]string{"eval", "file", "--data", files["dsjson"], "--policy", "model:" + model, "--json"}, explore...)...)
	runJSON(t, &ju, "eval", "journal", "--journal", dir, "--rule", "uniform", "--json")
	runJSON(t, &fu, "eval", "file", "--data", files["dsjson"], "--policy", "uniform", "--json")
	// the tables give the same numbers when their candidates are the
	// eligible set (every decision's here; softmax ignores their order)
	for _, f := range []string{"csv", "parquet"} {
		var o evalFileOut
		runJSON(t, &o, append([]string{"eval", "file", "--data", files[f], "--policy", "model:" + model, "--json",
			"--actions", "free-shipping,new-arrivals,style-guide,cart-reminder-10"}, explore...)...)
		if j, g := jm.value(t, "IPS"), o.value(t, "IPS"); math.Abs(j-g) > 1e-9 {
			t.Errorf("model on the %s export: IPS %.12f, eval journal %.12f", f, g, j)
		}
	}
	if fm.Decisions != n || fu.Decisions != n {
		t.Fatalf("eval file read %d and %d decisions of %d", fm.Decisions, fu.Decisions, n)
	}
	for _, c := range []struct {
		name         string
		journal, log *evalFileOut
	}{{"model", &jm, &fm}, {"uniform", &ju, &fu}} {
		for _, e := range []string{"IPS", "SNIPS"} {
			j, f := c.journal.value(t, e), c.log.value(t, e)
			t.Logf("%s %s: journal %.9f, DSJSON export %.9f", c.name, e, j, f)
			if math.Abs(j-f) > 1e-9*math.Max(1, math.Abs(j)) {
				t.Errorf("%s %s: eval journal %.12f, eval file on the DSJSON export %.12f", c.name, e, j, f)
			}
		}
	}

	// a rule on the tables: cart pages get free-shipping, the others
	// new-arrivals; slot 1's rows are skipped
	rule := `rule:context.page == "cart" ? "free-shipping" : "new-arrivals"`
	var want float64
	for i := range n {
		pick := "new-arrivals"
		if pages[i] == "cart" {
			pick = "free-shipping"
		}
		if first[i] == pick {
			want += rewards[i] / 0.25
		}
	}
	want /= n
	for _, f := range []string{"csv", "parquet"} {
		var o evalFileOut
		runJSON(t, &o, "eval", "file", "--data", files[f], "--policy", rule, "--actions", "free-shipping,new-arrivals,style-guide,cart-reminder-10", "--json")
		if o.Decisions != n || o.LaterSlots != n {
			t.Errorf("%s: %d decisions, %d later-slot rows skipped; want %d and %d", f, o.Decisions, o.LaterSlots, n, n)
		}
		if got := o.value(t, "IPS"); math.Abs(got-want) > 1e-12 {
			t.Errorf("%s: IPS %.12f, want %.12f", f, got, want)
		}
	}
	// a model of another feature spec is refused, naming the spec
	other := filepath.Join(out, "features.yaml")
	spec, err := os.ReadFile("../examples/retail/features.yaml")
	if err != nil {
		t.Fatal(err)
	}
	write(t, other, strings.Replace(string(spec), "{name: visits_7d,         half_life: 7d,", "{name: visits_7d,         half_life: 6d,", 1))
	msg, err := exec.Command(binary, "eval", "file", "--data", files["dsjson"], "--policy", "model:"+model, "--features", other).CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(msg), "feature spec") {
		t.Errorf("a model of another spec: %v\n%s", err, msg)
	}
}
