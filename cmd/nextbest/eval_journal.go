package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"nextbest/decide"
	"nextbest/eval"
	"nextbest/features"
	"nextbest/logs"
	"nextbest/models"
)

// evalJournal is "nextbest eval journal": what would a candidate policy
// have earned on the service's own logged decisions?
func evalJournal(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("eval journal", flag.ContinueOnError)
	var o eval.Options
	var asJSON bool
	cf := addConfigFlags(fs, cfgCatalog|cfgFeatures|cfgWindow|cfgDefaultReward|cfgRegistry)
	dir := fs.String("journal", "", "the service's journal directory (required)")
	modelPath := fs.String("model", "", "candidate model: an artifact file (.nbm)")
	version := fs.Int("version", 0, "registry version of the candidate model (with --registry or the config's registry)")
	rule := fs.String("rule", "", `candidate without a model: "uniform" (uniform random) or "value" (the fallback ranking, value × weight, explored as the engine explores it: ε-greedy with --epsilon, 0.1 if 0)`)
	kind := fs.String("explorer", "epsilon_greedy", "candidate's explorer: epsilon_greedy, softmax or thompson")
	epsilon := fs.Float64("epsilon", 0.1, "candidate's epsilon (epsilon_greedy); 0 = greedy")
	alpha := fs.Float64("alpha", 1, "candidate's UCB weight")
	seed := fs.Uint64("seed", 1, "bootstrap seed")
	slots := fs.Int("slots", 1, "evaluate the first N slots of each decision as a ranking (cumulative per-slot weights; IPS, SNIPS and DR; and the pseudo-inverse PI/SNPI of the slate reward); 0: every logged slot")
	loggingModel := fs.String("logging-model", "", "--slots: the model that served the decisions (an artifact file), for PI on decisions journaled without an explanation")
	estimatorFlags(fs, &o, &asJSON)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: nextbest eval journal --journal DIR (--model FILE | --registry DIR --version N | --rule uniform|value) [flags]

Estimates the candidate's value on the journal's decisions (first slot;
with --slots, the first N slots as a ranking), with the logged propensities, a per-action ridge reward model cross-fitted
on the other half of the decisions for DM/DR, and the six estimators.
Give the service's --config to join and reward as it does.

Flags:`)
		fs.PrintDefaults()
	}
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	o.Seed = *seed
	if *dir == "" {
		return usageErrorf(fs, "--journal is required")
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	spec, cat, err := cfg.specAndCatalog()
	if err != nil {
		return err
	}
	pol, err := decide.NewExplorer(decide.Explorer{Kind: decide.ExplorerKind(*kind), Epsilon: *epsilon, Alpha: *alpha})
	if err != nil {
		return err
	}
	target := eval.Target{Explorer: pol}
	var art *models.Artifact
	switch {
	case *modelPath != "":
		art, err = models.ReadArtifactFile(*modelPath)
	case cfg.Registry != "" && *version > 0:
		var reg *models.Registry
		if reg, err = cfg.registry(); err == nil {
			art, err = reg.Get(*version)
		}
	case *rule == "uniform":
		target.Name = "uniform"
		target.Explorer, err = decide.NewExplorer(decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: 1})
	case *rule == "value":
		target.Name = "value"
		target.Explorer, err = decide.NewExplorer(decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: *epsilon})
	default:
		return usageErrorf(fs, "name a candidate: --model, --registry with --version, or --rule uniform|value")
	}
	if err != nil {
		return err
	}
	if art != nil {
		ids := make([]string, len(cat.Actions))
		for i, a := range cat.Actions {
			ids[i] = a.ID
		}
		sc, err := models.LoadScorer(art, spec.Hash(), ids)
		if err != nil {
			return err
		}
		target.Scorer, target.Name = sc, sc.Name()
	}
	jc, err := cfg.joinConfig()
	if err != nil {
		return err
	}
	joined, jst, err := logs.Join(context.Background(), *dir, jc)
	if err != nil {
		return err
	}
	if *slots != 1 {
		var logging decide.Scorer
		if *loggingModel != "" {
			la, err := models.ReadArtifactFile(*loggingModel)
			if err != nil {
				return err
			}
			ids := make([]string, len(cat.Actions))
			for i, a := range cat.Actions {
				ids[i] = a.ID
			}
			if logging, err = models.LoadScorer(la, spec.Hash(), ids); err != nil {
				return err
			}
		}
		return evalJournalSlots(w, joined, jst, spec, cat, target, logging, *slots, o, asJSON)
	}
	rounds, st, err := eval.JournalRoundsCrossFit(joined, spec, cat, target)
	if err != nil {
		return err
	}
	ests, err := eval.EvaluateAll(rounds, o)
	if err != nil {
		return err
	}
	// the serving policy's realised value and the candidate's paired
	// difference from it (DR, with the cross-fitted reward model)
	cmp, cmpErr := eval.Compare(rounds, eval.DR, o)
	if asJSON {
		out := map[string]any{"target": target.Name, "explorer": target.Explorer.String(), "join": jst, "rounds": st, "estimates": ests}
		if cmpErr == nil {
			out["comparison"] = cmp
		}
		return writeJSON(w, out)
	}
	fmt.Fprintf(w, "candidate %s, explorer %s\n", target.Name, target.Explorer.String())
	fmt.Fprintf(w, "%d decisions joined (%d late, %d duplicate outcomes ignored); %d rounds used, %d left out (%d other feature spec, %d unknown actions, %d without actions, %d first slots never activated)\n\n",
		jst.Decisions, jst.Late, jst.Duplicate, st.Used, st.Decisions-st.Used, st.OtherSpec, st.Unknown, st.NoActions, st.NotShown)
	if err := estimateTable(w, ests, nil, nil); err != nil {
		return err
	}
	printComparison(w, cmp, cmpErr, "serving policy (realised)", 28)
	return nil
}

// printComparison prints the serving policy's realised value (labelled
// serving), the candidate's DR estimate and their paired difference, the
// labels padded to width, or why there is no comparison.
func printComparison(w io.Writer, cmp eval.Comparison, err error, serving string, width int) {
	if err != nil {
		fmt.Fprintf(w, "\nno comparison with the serving policy: %v\n", err)
		return
	}
	fmt.Fprintf(w, "\n%-*s%.5g [%.5g, %.5g]\n", width, serving, cmp.Serving.Value, cmp.Serving.Lo, cmp.Serving.Hi)
	fmt.Fprintf(w, "%-*s%.5g [%.5g, %.5g]\n", width, "candidate (DR)", cmp.Candidate.Value, cmp.Candidate.Lo, cmp.Candidate.Hi)
	fmt.Fprintf(w, "%-*s%+.5g [%+.5g, %+.5g]\n", width, "difference, paired", cmp.Difference.Value, cmp.Difference.Lo, cmp.Difference.Hi)
	for _, warn := range cmp.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
}

// evalJournalSlots is eval journal over the first slots of each decision:
// the candidate's expected total reward per decision and per slot (IPS,
// SNIPS, DR with cumulative per-slot weights) and DR's paired difference
// from the serving policy's realised total.
func evalJournalSlots(w io.Writer, joined []logs.Joined, jst logs.JoinStats, spec *features.Spec, cat *decide.Catalog, target eval.Target, logging decide.Scorer, slots int, o eval.Options, asJSON bool) error {
	if slots < 0 {
		return fmt.Errorf("--slots %d: want 0 (all) or more", slots)
	}
	rounds, st, err := eval.JournalSlotRoundsCrossFit(joined, spec, cat, target, slots)
	if err != nil {
		return err
	}
	ests := map[string]eval.SlotEstimate{}
	var order []string
	for _, e := range []eval.Estimator{eval.IPS, eval.SNIPS, eval.DR} {
		se, err := eval.EvaluateSlots(rounds, e, o)
		if err != nil {
			return fmt.Errorf("%s: %w", e, err)
		}
		ests[e.String()] = se
		order = append(order, e.String())
	}
	cmp, cmpErr := eval.CompareSlots(rounds, eval.DR, o)
	// the slate reward (the sum over the slots) by the pseudo-inverse,
	// on the decisions whose logging policy can be recovered
	var slate eval.SlateEstimates
	var slateCmp eval.Comparison
	srs, sst, slateErr := eval.JournalSlateRounds(joined, spec, cat, target, logging, slots)
	if slateErr == nil {
		slate, slateErr = eval.EvaluateSlate(srs, o)
	}
	if slateErr == nil {
		slateCmp, slateErr = eval.CompareSlate(srs, o)
	}
	if asJSON {
		out := map[string]any{"target": target.Name, "explorer": target.Explorer.String(), "join": jst, "rounds": st, "slots": ests}
		if cmpErr == nil {
			out["comparison"] = cmp
		}
		if slateErr == nil {
			out["slate"] = map[string]any{"estimates": slate, "comparison": slateCmp, "rounds": sst}
		} else {
			out["slate_error"] = slateErr.Error()
		}
		return writeJSON(w, out)
	}
	fmt.Fprintf(w, "candidate %s, explorer %s, slots as a ranking\n", target.Name, target.Explorer.String())
	fmt.Fprintf(w, "%d decisions joined; %d used\n\n", jst.Decisions, st.Used)
	fmt.Fprintf(w, "%-6s %-28s %s\n", "", "total per decision", "per slot")
	for _, name := range order {
		se := ests[name]
		fmt.Fprintf(w, "%-6s %.5g [%.5g, %.5g]", name, se.Total.Value, se.Total.Lo, se.Total.Hi)
		for k, s := range se.Slots {
			fmt.Fprintf(w, "   slot %d %.4g (ESS %.0f)", k, s.Value, s.ESS)
		}
		fmt.Fprintln(w)
	}
	printComparison(w, cmp, cmpErr, "serving policy (realised total)", 33)
	fmt.Fprintln(w, "\nslate reward, pseudo-inverse (additive over the slots; Swaminathan et al. 2017):")
	if slateErr != nil {
		fmt.Fprintf(w, "  not estimated: %v\n", slateErr)
		return nil
	}
	fmt.Fprintf(w, "  %d decisions (logging policy from %d explanations, %d fallback rankings, %d by the logging model; left out: %d unknown, %d propensity mismatches, %d other)\n",
		sst.Used, sst.FromExplanation, sst.FromFallback, sst.FromModel, sst.Unknown, sst.Mismatch, sst.Other)
	for _, e := range []eval.Estimate{slate.PI, slate.SNPI} {
		fmt.Fprintf(w, "  %-5s %.5g [%.5g, %.5g]  ESS %.0f\n", e.Estimator, e.Value, e.Lo, e.Hi, e.ESS)
	}
	fmt.Fprintf(w, "  %-33s%.5g [%.5g, %.5g]\n", "serving policy (realised slate)", slateCmp.Serving.Value, slateCmp.Serving.Lo, slateCmp.Serving.Hi)
	fmt.Fprintf(w, "  %-33s%+.5g [%+.5g, %+.5g]\n", "difference, paired (PI)", slateCmp.Difference.Value, slateCmp.Difference.Lo, slateCmp.Difference.Hi)
	for _, warn := range slate.PI.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
	return nil
}
