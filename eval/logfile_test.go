package eval_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"nextbest/eval"
)

// TestReadLogColumns: the defaults are nextbest export's names, a JSON
// object cell is flattened, "channel" also gives request.channel, rows of
// later slots are skipped, and ParseLogColumns refuses unknown keys.
func TestReadLogColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.csv")
	data := "decision_id,slot,action_id,propensity,reward,channel,context\n" +
		"d1,0,a,0.5,1,web,\"{\"\"page\"\":\"\"cart\"\",\"\"cart_value\"\":80}\"\n" +
		"d1,1,b,0.5,0,web,\"{\"\"page\"\":\"\"cart\"\"}\"\n" +
		"d2,0,b,0.25,0,app,{}\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := eval.ReadLog(eval.LogFile{Format: eval.LogCSV, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if len(log.Decisions) != 2 || log.LaterSlots != 1 || len(log.Actions) != 2 {
		t.Fatalf("%d decisions, %d later slots, actions %v", len(log.Decisions), log.LaterSlots, log.Actions)
	}
	v := log.Decisions[0].Vars
	if v["context.page"] != "cart" || v["context.cart_value"] != 80.0 || v["request.channel"] != "web" || v["decision_id"] != "d1" {
		t.Errorf("vars %v", v)
	}
	if d := log.Decisions[1]; d.Example.Chosen != 1 || d.Reward() != 0 || d.Example.Prob != 0.25 {
		t.Errorf("second decision %+v", d.Example)
	}
	if _, err := eval.ParseLogColumns("arm=x"); !errors.Is(err, eval.ErrInvalidOptions) {
		t.Errorf("unknown key: %v", err)
	}
	c, err := eval.ParseLogColumns("action=offer; context=a, b ;slot=pos")
	if err != nil || c.Action != "offer" || c.Slot != "pos" || len(c.Context) != 2 || c.Context[1] != "b" {
		t.Errorf("%+v, %v", c, err)
	}
}

// FuzzReadLogCSV: any bytes as a CSV log and any rule over it give a
// log or an error, never a panic.
func FuzzReadLogCSV(f *testing.F) {
	f.Add("page,action_id,reward,propensity\ncart,a,1,0.5\nhome,b,0,0.25\n", `page == "cart" ? "a" : "b"`)
	f.Add("context,action_id,reward,propensity,slot\n\"{\"\"a\"\":{\"\"b\"\":1}}\",x,1,1,0\n", `string(context.a.b)`)
	f.Add("action_id,reward,propensity\n,1,0.5\n", `actions[0]`)
	f.Add("a,a,a\n1,2,3\n", `a.b.c`)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data, rule string) {
		if len(data) > 1<<12 || len(rule) > 256 {
			return
		}
		path := filepath.Join(dir, "f.csv")
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		log, err := eval.ReadLog(eval.LogFile{Format: eval.LogCSV, Path: path})
		if err != nil {
			return
		}
		for _, p := range []func() (eval.LogPolicy, error){
			func() (eval.LogPolicy, error) { return eval.UniformPolicy{}, nil },
			func() (eval.LogPolicy, error) { return eval.NewRulePolicy(rule, path, log.Names) },
		} {
			pol, err := p()
			if err != nil {
				continue
			}
			rs, err := eval.LogRounds(log, pol)
			if err != nil {
				continue
			}
			for i := range rs {
				if err := rs[i].Validate(i); err != nil {
					t.Fatalf("round %d of a log ReadLog accepted: %v", i, err)
				}
			}
		}
	})
}
