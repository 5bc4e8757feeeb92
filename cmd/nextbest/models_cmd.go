package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"nextbest/models"
)

// runModels implements "nextbest models list|show VERSION|promote VERSION
// [--registry DIR | --config FILE]": the registry is --registry, else the
// config's registry, else ./models.
func runModels(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: nextbest models list|show VERSION|promote VERSION --registry DIR")
	}
	cmd, rest := args[0], args[1:]
	if cmd != "list" && cmd != "show" && cmd != "promote" {
		return fmt.Errorf("unknown models command %q (list, show, promote)", cmd)
	}
	fs := flag.NewFlagSet("models "+cmd, flag.ContinueOnError)
	cf := addConfigFlags(fs, cfgRegistry)
	// allow the version before or after the flags
	var pos []string
	for len(rest) > 0 {
		if help, err := parseFlags(fs, rest); help || err != nil {
			return err
		}
		rest = fs.Args()
		if len(rest) > 0 {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	var v int // show, promote
	switch {
	case cmd == "list" && len(pos) > 0:
		return usageErrorf(fs, "unexpected argument %q", pos[0])
	case cmd != "list" && len(pos) != 1:
		return usageErrorf(fs, "want one VERSION")
	case cmd != "list":
		if v, err = strconv.Atoi(pos[0]); err != nil || v < 1 {
			return usageErrorf(fs, "version %q is not a number ≥ 1", pos[0])
		}
	}
	dir := cmp.Or(cfg.Registry, "models")
	reg, err := models.OpenRegistry(dir)
	if err != nil {
		return err
	}
	switch cmd {
	case "list":
		list, err := reg.List()
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tPROMOTED\tTYPE\tNAME\tEXAMPLES\tAUC\tLOG LOSS\tCREATED\tSOURCE")
		for _, e := range list {
			if e.Err != nil {
				fmt.Fprintf(tw, "%d\t\tCORRUPT\t%v\n", e.Version, e.Err)
				continue
			}
			p := ""
			if e.Promoted {
				p = "*"
			}
			m := e.Meta
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%.4f\t%.5f\t%s\t%s\n", e.Version, p, m.Type, m.Name, m.Examples,
				m.Metrics["auc"], m.Metrics["log_loss"], m.Created.Format(time.RFC3339), m.Source)
		}
		return tw.Flush()
	case "show":
		a, err := reg.Get(v)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			models.Metadata
			PayloadBytes int `json:"payload_bytes"`
		}{a.Meta, len(a.Payload)})
	case "promote":
		if err := reg.Promote(v); err != nil {
			return err
		}
		fmt.Printf("promoted version %d in %s\n", v, dir)
		return nil
	}
	panic("BUG: models command " + cmd + " checked but not run")
}
