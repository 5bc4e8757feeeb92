package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"nextbest/decide"
	"nextbest/eval"
	"nextbest/models"
)

const evalUsage = `Usage:
  nextbest eval obd       --data DIR [flags]   estimate Bernoulli-TS's CTR from the Random logs of the Open Bandit Dataset
  nextbest eval hillstrom --data DIR [flags]   evaluate a learned and three fixed e-mail policies on the Hillstrom trial
  nextbest eval journal   [flags]              a candidate policy's value on the service's own journal
  nextbest eval file      --data FILE --policy P   a rule or a model on your own log (CSV, Parquet, DSJSON); or a rounds CSV

Run "nextbest eval <subcommand> -h" for its flags. See docs/evaluation.md.
`

// runEval is "nextbest eval": off-policy evaluation.
func runEval(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, evalUsage)
		return errors.New("eval: missing subcommand")
	}
	switch args[0] {
	case "journal":
		return evalJournal(args[1:], os.Stdout)
	case "obd":
		return evalOBD(args[1:], os.Stdout)
	case "hillstrom":
		return evalHillstrom(args[1:], os.Stdout)
	case "file":
		return evalFile(args[1:], os.Stdin, os.Stdout)
	case "-h", "--help", "help":
		fmt.Fprint(os.Stdout, evalUsage)
		return nil
	}
	fmt.Fprint(os.Stderr, evalUsage)
	return fmt.Errorf("eval: unknown subcommand %q", args[0])
}

// estimatorFlags registers the flags every subcommand shares.
func estimatorFlags(fs *flag.FlagSet, o *eval.Options, asJSON *bool) {
	fs.Float64Var(&o.Level, "level", 0.95, "confidence level of the intervals")
	fs.IntVar(&o.Bootstrap, "bootstrap", 0, "percentile-bootstrap resamples (0: analytic t intervals)")
	fs.Float64Var(&o.Tau, "tau", 0, "Switch-DR weight threshold (0: chosen by the estimated-MSE rule)")
	fs.BoolVar(asJSON, "json", false, "print JSON instead of a table")
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func pct(level float64) string { return fmt.Sprintf("%g%% CI", 100*level) }

// estimateTable prints estimates as a table; extra adds columns per row.
func estimateTable(w io.Writer, ests []eval.Estimate, extraHead []string, extra func(i int) []string) error {
	if len(ests) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := append([]string{"estimator", "value", pct(ests[0].Level), "SE", "ESS"}, extraHead...)
	head = append(head, "interval", "warnings")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for i, e := range ests {
		row := []string{e.Estimator, num(e.Value), "[" + num(e.Lo) + ", " + num(e.Hi) + "]", num(e.SE), fmt.Sprintf("%.0f", e.ESS)}
		if extra != nil {
			row = append(row, extra(i)...)
		}
		interval := e.Interval
		if e.Tau > 0 {
			interval += fmt.Sprintf(" (tau %.3g, %.1f%% switched)", e.Tau, 100*e.Switched)
		}
		warn := "-"
		if len(e.Warnings) > 0 {
			warn = strings.Join(e.Warnings, "; ")
		}
		row = append(row, interval, warn)
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func num(v float64) string {
	if v != 0 && math.Abs(v) < 0.01 {
		return fmt.Sprintf("%.5f", v)
	}
	return fmt.Sprintf("%.4f", v)
}

func evalOBD(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("eval obd", flag.ContinueOnError)
	var cfg eval.OBDConfig
	var asJSON bool
	dir := fs.String("data", "../shared/data/obd", "OBD directory (random/, bts/, prior_bts.yaml)")
	campaign := fs.String("campaign", "men", "campaign: men, women or all (as the data holds)")
	target := fs.String("target", "both", "BTS target: replay (from its prior), empirical (as it ran) or both")
	fs.IntVar(&cfg.Draws, "draws", 1_000_000, "Monte Carlo draws of the BTS replay")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the replay, the folds and the bootstrap")
	fs.IntVar(&cfg.Folds, "folds", 2, "cross-fitting folds of the reward model")
	fs.StringVar(&cfg.Model, "model", eval.OBDModelLogistic, "reward model of DM and the doubly robust estimators: "+eval.OBDModelLogistic+" (user, item and affinity features) or "+eval.OBDModelCells+" (a table of mean clicks)")
	fs.Float64Var(&cfg.L2, "l2", 1, "the logistic reward model's penalty")
	fs.IntVar(&cfg.Options.Refits, "refits", 0, "bootstrap refits of the reward model for DM's interval (0: the default, 200; at least 100)")
	fs.Float64Var(&cfg.Smoothing, "smoothing", 100, "the cells reward model's prior strength (pseudo-rows)")
	estimatorFlags(fs, &cfg.Options, &asJSON)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	cfg.Options.Seed = cfg.Seed
	d, err := eval.LoadOBD(*dir, *campaign)
	if err != nil {
		return err
	}
	targets := []string{*target}
	if *target == "both" {
		targets = []string{eval.OBDTargetReplay, eval.OBDTargetEmpirical}
	}
	var reps []*eval.OBDReport
	for _, t := range targets {
		cfg.Target = t
		rep, err := eval.EvaluateOBD(d, cfg)
		if err != nil {
			return err
		}
		reps = append(reps, rep)
	}
	if asJSON {
		return writeJSON(w, reps)
	}
	for i, rep := range reps {
		if i == 0 {
			on := rep.OnPolicy
			fmt.Fprintf(w, "Open Bandit Dataset, campaign %s: %d items, %d positions; Random log %d rows, BTS log %d rows\n",
				rep.Campaign, rep.Items, rep.Positions, rep.RandomRows, rep.BTSRows)
			fmt.Fprintf(w, "Ground truth, BTS on-policy CTR (mean click of its log): %s, %s [%s, %s], SE %s\n",
				num(on.Value), pct(on.Level), num(on.Lo), num(on.Hi), num(on.SE))
			fmt.Fprintf(w, "Reward model (DM, DR, SNDR, Switch-DR): %s\n", rep.RewardModel)
			fmt.Fprintf(w, "Random's propensities are exact (1/%d per position)\n", rep.Items)
		}
		fmt.Fprintf(w, "\nTarget %q: %s\n", rep.Target, rep.TargetInfo)
		fmt.Fprintf(w, "  target probabilities: largest binomial SE %.2g; vs the propensities BTS logged: mean |diff| %.3f, max %.3f (BTS was updated during the week)\n",
			rep.TargetMaxSE, rep.TargetMeanAbsDiff, rep.TargetMaxAbsDiff)
		ests := make([]eval.Estimate, len(rep.Estimates))
		for j, e := range rep.Estimates {
			ests[j] = e.Estimate
		}
		err := estimateTable(w, ests, []string{"target SE", "rel. error", "z vs on-policy"}, func(j int) []string {
			e := rep.Estimates[j]
			return []string{fmt.Sprintf("%.1g", e.TargetSE), fmt.Sprintf("%.3f", e.RelError), fmt.Sprintf("%+.2f", e.Z)}
		})
		if err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "\nrel. error = |estimate - on-policy CTR| / on-policy CTR; z = difference / sqrt(SE^2 + SE_on^2) (independent logs).")
	fmt.Fprintln(w, "DM's interval comes from a bootstrap that refits the reward model (see the interval column); target SE is the error from estimating the target's probabilities (batch means).")
	return nil
}

// hillstromResult is one policy's evaluation in "nextbest eval hillstrom".
type hillstromResult struct {
	Outcome   string          `json:"outcome"`
	Policy    string          `json:"policy"`
	ArmShares [3]float64      `json:"arm_shares"` // share of half B sent Mens, Womens, no e-mail
	Estimates []eval.Estimate `json:"estimates"`
}

func evalHillstrom(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("eval hillstrom", flag.ContinueOnError)
	var o eval.Options
	var asJSON bool
	path := fs.String("data", "../shared/data/hillstrom", "hillstrom.csv or the directory holding it")
	seed := fs.Uint64("seed", 1, "seed of the 50/50 split (and the bootstrap)")
	outcome := fs.String("outcome", "all", "outcome: visit, conversion, spend or all")
	lambda := fs.Float64("lambda", 1, "ridge penalty of the per-arm response model")
	estimatorFlags(fs, &o, &asJSON)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	o.Seed = *seed
	outcomes := []eval.Outcome{eval.Visit, eval.Conversion, eval.Spend}
	if *outcome != "all" {
		oc, err := eval.ParseOutcome(*outcome)
		if err != nil {
			return err
		}
		outcomes = []eval.Outcome{oc}
	}
	cs, err := eval.LoadHillstrom(*path)
	if err != nil {
		return err
	}
	a, b := eval.SplitHalves(len(cs), *seed)
	var results []hillstromResult
	for _, oc := range outcomes {
		m, err := eval.FitArmModel(cs, a, oc, *lambda)
		if err != nil {
			return err
		}
		lg, err := eval.FitLogisticArmPolicy(cs, a, oc, *lambda)
		if err != nil {
			return err
		}
		for _, p := range []struct {
			name string
			p    eval.Policy
		}{
			{"learned (per-arm ridge, argmax)", m},
			{"learned (per-arm logistic, argmax)", lg},
			{"always Mens", eval.AlwaysMens},
			{"always Womens", eval.AlwaysWomens},
			{"never e-mail", eval.NeverEmail},
		} {
			ests, err := eval.EvaluateHillstrom(cs, b, p.p, oc, m, o)
			if err != nil {
				return err
			}
			r := hillstromResult{Outcome: oc.String(), Policy: p.name}
			for _, i := range b {
				r.ArmShares[p.p.Arm(&cs[i])] += 1 / float64(len(b))
			}
			for _, e := range ests {
				if e.Estimator == "IPS" || e.Estimator == "SNIPS" || e.Estimator == "DR" {
					r.Estimates = append(r.Estimates, e)
				}
			}
			results = append(results, r)
		}
	}
	if asJSON {
		return writeJSON(w, results)
	}
	fmt.Fprintf(w, "Hillstrom e-mail trial: %d customers, arms assigned with probability 1/3 each (exact, by design)\n", len(cs))
	fmt.Fprintf(w, "Split seed %d: half A (%d) fits the response model, half B (%d) evaluates every policy\n", *seed, len(a), len(b))
	fmt.Fprintf(w, "Response models, trained on half A only: one ridge regression per arm (lambda %g; DR uses it as Qhat), and one logistic regression per arm (models.TrainLogistic, L2 %g; for spend: P(conversion) x the arm's mean spend of converters), on recency, history segment, log history, mens, womens, zip, newbie, channel\n", *lambda, *lambda)
	var tw *tabwriter.Writer
	for i, r := range results {
		if i%5 == 0 {
			if tw != nil {
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			fmt.Fprintf(w, "\noutcome: %s (per customer)\n", r.Outcome)
			tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "policy\tsent M/W/none\testimator\tvalue\t%s\tSE\tESS\n", pct(r.Estimates[0].Level))
		}
		for j, e := range r.Estimates {
			name, shares := "", ""
			if j == 0 {
				name = r.Policy
				shares = fmt.Sprintf("%.0f/%.0f/%.0f%%", 100*r.ArmShares[0], 100*r.ArmShares[1], 100*r.ArmShares[2])
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t[%s, %s]\t%s\t%.0f\n", name, shares, e.Estimator, num(e.Value), num(e.Lo), num(e.Hi), num(e.SE), e.ESS)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nIntervals: %s (IPS, DR), %s (SNIPS).\n", results[0].Estimates[0].Interval, results[0].Estimates[1].Interval)
	return nil
}

const evalFileUsage = `Usage:
  nextbest eval file --data FILE --policy uniform|rule:EXPR|model:ARTIFACT [--format csv|parquet|dsjson] [flags]
  nextbest eval file [flags] ROUNDS.csv|-

With --policy, FILE is a decision log of your own, one decision per row
(CSV with a header, Parquet) or per line (DSJSON, as Vowpal Wabbit and
Azure Personalizer write it, and nextbest export): the logged action's
id, its propensity, the reward and context columns; the policy is
evaluated on it:

  uniform         every candidate alike
  rule:EXPR       an expression over the context columns that names the
                  action to take, e.g. rule:'context.page == "cart" ? "free-shipping" : "new-arrivals"'
  model:ARTIFACT  a trained model (.nbm), scored on the context through the
                  feature spec it was trained with (--config or --features,
                  --catalog) and explored with --explorer/--epsilon/--alpha

The columns default to nextbest export's names (action_id, reward,
propensity; rows with slot > 0 are skipped); --columns renames them. A
CSV or Parquet decision's candidates are every action id the file logs,
or --actions. A column that is missing or holds what its role cannot use
is named in the error.

Without --policy, FILE is a rounds CSV: columns logged, propensity,
reward, [position], target_0..target_{N-1}, [qhat_0..], [logging_0..]
(see docs/evaluation.md).

Flags:
`

func evalFile(args []string, stdin io.Reader, w io.Writer) error {
	fs := flag.NewFlagSet("eval file", flag.ContinueOnError)
	var o eval.Options
	var asJSON bool
	cf := addConfigFlags(fs, cfgCatalog|cfgFeatures)
	seed := fs.Uint64("seed", 1, "bootstrap seed")
	data := fs.String("data", "", "the log `file` (or give it as the argument)")
	format := fs.String("format", "", "the log's format: csv, parquet or dsjson (default: from the file name's extension)")
	policy := fs.String("policy", "", "the target policy: uniform, rule:EXPR or model:ARTIFACT (without it, FILE is a rounds CSV)")
	columns := fs.String("columns", "", `the log's columns, as for nextbest train: "context=a,b;action=x;reward=y;propensity=p;slot=s" (defaults: action_id, reward, propensity, slot; context: every other column)`)
	actions := fs.String("actions", "", "CSV and Parquet: every decision's candidate action ids, comma-separated (default: every id the file logs)")
	kind := fs.String("explorer", "epsilon_greedy", "model: the explorer it would serve with: epsilon_greedy, softmax or thompson")
	epsilon := fs.Float64("epsilon", 0.1, "model: epsilon of epsilon_greedy (0: greedy)")
	alpha := fs.Float64("alpha", 0, "model: UCB weight")
	estimatorFlags(fs, &o, &asJSON)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), evalFileUsage)
		fs.PrintDefaults()
	}
	// the FILE argument may come before, between or after the flags
	var positional []string
	for rest := args; ; {
		if help, err := parseFlags(fs, rest); help || err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional, rest = append(positional, fs.Arg(0)), fs.Args()[1:]
	}
	o.Seed = *seed
	name := *data
	switch {
	case name == "" && len(positional) == 1:
		name = positional[0]
	case name != "" && len(positional) == 0:
	default:
		return usageErrorf(fs, "give one FILE: --data FILE or the argument")
	}
	polKind, polArg, _ := strings.Cut(*policy, ":")
	if *policy != "" && *policy != "uniform" && (polArg == "" || (polKind != "rule" && polKind != "model")) {
		return usageErrorf(fs, "--policy %q: want uniform, rule:EXPR or model:ARTIFACT", *policy)
	}
	if *policy == "" {
		if *format != "" || *columns != "" || *actions != "" {
			return usageErrorf(fs, "--format, --columns and --actions are for a decision log with --policy")
		}
		return evalRoundsCSV(name, stdin, w, o, asJSON)
	}
	if *format == "" {
		switch ext := strings.ToLower(filepath.Ext(name)); ext {
		case ".csv":
			*format = eval.LogCSV
		case ".parquet", ".pq":
			*format = eval.LogParquet
		case ".dsjson", ".json", ".jsonl":
			*format = eval.LogDSJSON
		default:
			return usageErrorf(fs, "cannot tell the format of %s from %q: give --format csv, parquet or dsjson", name, ext)
		}
	}
	cols, err := eval.ParseLogColumns(*columns)
	if err != nil {
		return usageErrorf(fs, "--columns: %v", err)
	}
	lf := eval.LogFile{Format: *format, Path: name, Columns: cols}
	if *actions != "" {
		for _, a := range strings.Split(*actions, ",") {
			if a = strings.TrimSpace(a); a != "" {
				lf.Actions = append(lf.Actions, a)
			}
		}
	}
	log, err := eval.ReadLog(lf)
	var ce *eval.ColumnError
	if errors.As(err, &ce) && ce.Row == 0 && ce.Role != "context" {
		return fmt.Errorf("%w; name it with --columns %s=COLUMN", err, ce.Role)
	}
	if err != nil {
		return err
	}
	var pol eval.LogPolicy
	var mp *eval.ModelPolicy
	switch {
	case *policy == "uniform":
		pol = eval.UniformPolicy{}
	case polKind == "rule":
		if pol, err = eval.NewRulePolicy(polArg, name, log.Names); err != nil {
			return err
		}
	default: // model
		cfg, err := cf.load()
		if err != nil {
			return err
		}
		spec, cat, err := cfg.specAndCatalog()
		if err != nil {
			return err
		}
		ex, err := decide.NewExplorer(decide.Explorer{Kind: decide.ExplorerKind(*kind), Epsilon: *epsilon, Alpha: *alpha})
		if err != nil {
			return err
		}
		art, err := models.ReadArtifactFile(polArg)
		if err != nil {
			return err
		}
		if mp, err = eval.NewModelPolicy(art, spec, cat, ex, log); err != nil {
			return fmt.Errorf("%w (give the feature spec the model was trained with: --config or --features)", err)
		}
		pol = mp
	}
	rounds, err := eval.LogRounds(log, pol)
	if err != nil {
		return err
	}
	ests, err := eval.EvaluateAll(rounds, o)
	if err != nil {
		return err
	}
	var mismatch error
	if mp != nil {
		mismatch = mp.Mismatch()
	}
	if asJSON {
		out := map[string]any{"source": log.Source, "policy": pol.Name(), "decisions": len(rounds),
			"later_slots_skipped": log.LaterSlots, "unlabeled_skipped": log.Unlabeled, "actions": log.Actions, "estimates": ests}
		if mismatch != nil {
			out["feature_mismatch"] = mismatch.Error()
		}
		return writeJSON(w, out)
	}
	fmt.Fprintf(w, "%s: %d decisions over %d actions", log.Source, len(rounds), len(log.Actions))
	if log.LaterSlots > 0 {
		fmt.Fprintf(w, " (%d rows of later slots skipped)", log.LaterSlots)
	}
	if log.Unlabeled > 0 {
		fmt.Fprintf(w, " (%d decisions without a reward skipped)", log.Unlabeled)
	}
	fmt.Fprintf(w, "\npolicy %s\n", pol.Name())
	if mismatch != nil {
		fmt.Fprintf(w, "warning: %v; the missing inputs took the spec's defaults\n", mismatch)
	}
	fmt.Fprintln(w)
	return estimateTable(w, ests, nil, nil)
}

// evalRoundsCSV is eval file on a rounds CSV (name "-": stdin).
func evalRoundsCSV(name string, stdin io.Reader, w io.Writer, o eval.Options, asJSON bool) error {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	rs, err := eval.ReadRounds(r)
	if err != nil {
		return err
	}
	ests, err := eval.EvaluateAll(rs, o)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(w, ests)
	}
	fmt.Fprintf(w, "%d rounds\n", len(rs))
	return estimateTable(w, ests, nil, nil)
}
