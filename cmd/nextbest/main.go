// Command nextbest is the next-best-action service and its tools.
//
//	nextbest serve    [flags]  run the decision service
//	nextbest train    [flags]  train a model from the journal or a data file
//	nextbest models   ...      list, show and promote registry models
//	nextbest eval     ...      off-policy evaluation (journal, OBD, Hillstrom, files)
//	nextbest report   [flags]  experiment report (HTML, JSON, CSV)
//	nextbest report attribution  multi-touch attribution report (HTML, JSON, CSV)
//	nextbest report journeys   journey analytics: funnel, journey map, gaps (HTML, JSON, CSV)
//	nextbest report campaigns  campaign and channel report with intervals and lift (HTML, JSON, CSV)
//	nextbest simulate [flags]  drive a running service with simulated customers
//	nextbest clv fit|report    customer lifetime value (BG/NBD, Gamma-Gamma)
//	nextbest journal  ...      verify and repair the journal (verify|repair --dir DIR)
//	nextbest export   [flags]  the journal as Parquet, CSV, JSON lines, DSJSON or cb_adf
//	nextbest profiles import|export   import profiles (CSV, JSON lines, Parquet) into a running service; export their attributes
//	nextbest version           print the version
//
// Run "nextbest <command> -h" for a command's flags. serve, train, eval
// journal, report and models read the same configuration file (--config,
// nextbest serve's YAML): its catalog, feature spec, outcome types,
// attribution window, default reward, registry and experiments are
// declared once (config.go), and a flag of the same field overrides it.
// Training is one call of training.Run.
//
// Exit status: 0 on success; 1 on any failure, a bad flag or argument
// included, with one line on stderr ("nextbest: ..."); 2 when the command
// is missing or unknown, with this usage.
package main

import (
	"fmt"
	"os"
	"strings"
)

const version = "0.1.0"

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = runServe(os.Args[2:])
	case "eval":
		err = runEval(os.Args[2:])
	case "simulate":
		err = runSimulate(os.Args[2:])
	case "train":
		err = runTrain(os.Args[2:])
	case "models":
		err = runModels(os.Args[2:])
	case "report":
		err = runReport(os.Args[2:])
	case "journal":
		err = runJournal(os.Args[2:])
	case "export":
		err = runExport(os.Args[2:])
	case "experiments":
		err = runExperiments(os.Args[2:], os.Stdout)
	case "loop":
		err = runLoop(os.Args[2:], os.Stdout)
	case "clv":
		err = runCLV(os.Args[2:], os.Stdout, os.Stderr)
	case "keys":
		err = runKeys(os.Args[2:], os.Stdout)
	case "decide":
		err = runDecide(os.Args[2:], os.Stdout)
	case "profiles":
		err = runProfiles(os.Args[2:], os.Stdout, os.Stderr)
	case "audit":
		err = runAudit(os.Args[2:], os.Stdout)
	case "version", "-v", "--version":
		fmt.Println("nextbest", version)
	case "help", "-h", "--help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "nextbest: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nextbest:", oneLine(err.Error()))
		os.Exit(1)
	}
}

// oneLine folds a multi-line error message (a YAML decoder lists one
// problem per line) onto one line, so that a failure is one line of
// stderr: "yaml: unmarshal errors:\n  line 1: ..." becomes
// "yaml: unmarshal errors: line 1: ...", further lines joined with "; ".
func oneLine(msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	var b strings.Builder
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if b.Len() > 0 {
			if strings.HasSuffix(b.String(), ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(l)
	}
	return b.String()
}

func usage() {
	fmt.Fprint(os.Stderr, `nextbest: next-best-action decisioning

Usage:
  nextbest serve [flags]      run the decision service (POST /v1/decide ...)
  nextbest train [flags]      train a model from the journal or a data file
  nextbest models list|history|show|promote|rollback|push   manage the model registry
  nextbest experiments list|put|ramp|stop|archive   change a running service's experiments
  nextbest loop [flags]       the retraining loop: train, gate off-policy, canary, promote or roll back
  nextbest eval journal|obd|hillstrom|file   off-policy evaluation
  nextbest report [flags]     experiment report: HTML, JSON and CSV
  nextbest report attribution [flags]   multi-touch attribution by channel or action: HTML, JSON and CSV
  nextbest report journeys [flags]      journey analytics: stage funnel, journey map, touchpoint gaps
  nextbest report campaigns [flags]     campaigns and channels: rates with intervals, revenue, lift against the holdout
  nextbest simulate [flags]   drive a running service with simulated customers
  nextbest clv fit|report     customer lifetime value: fit BG/NBD and Gamma-Gamma, value each customer
  nextbest journal verify|repair|pull   find and repair journal damage; copy the cluster's
  nextbest decide --batch F   a campaign: decide for every customer of a CSV file (JSON lines out)
  nextbest export [flags]     the journal as Parquet, CSV, JSON lines, DSJSON or cb_adf (docs/export.md)
  nextbest keys new [flags]   make an API key: print it once, and its configuration entry
  nextbest profiles import FILE [flags]   import profiles (CSV, JSON lines, Parquet) into a running service
  nextbest profiles export --out FILE     export the profiles' attributes from a stopped service's --data
  nextbest audit [flags]      the audit trail of administrative changes
  nextbest version            print the version

Run "nextbest <command> -h" for a command's flags. serve, train, eval journal,
report and models read the service's YAML configuration with --config.
`)
}
