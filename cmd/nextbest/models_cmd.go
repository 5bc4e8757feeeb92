package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"nextbest/cluster/stream"
	"nextbest/decide"
	"nextbest/models"
)

// modelRegistry is a registry the models commands work on: a directory
// (models.Registry) or the cluster's (stream.Registry).
type modelRegistry interface {
	models.Promotable
	List() ([]models.Entry, error)
	Save(*models.Artifact) (int, error)
}

// runModels implements "nextbest models list|history|show VERSION|promote
// VERSION|rollback [VERSION]|push VERSION [--registry DIR | --config
// FILE]": the registry is the cluster's with a config of storage: cluster,
// else --registry, else the config's registry, else ./models. promote and
// rollback validate the version as a serving instance would (the config's
// feature spec and catalog) and record the step in the registry's history;
// push copies a version of the directory registry (--registry, else
// ./models) into the cluster's.
func runModels(args []string) error {
	const usage = "usage: nextbest models list|history|show VERSION|promote VERSION|rollback [VERSION]|push VERSION [--registry DIR] [--config FILE] [--reason TEXT]"
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "list", "history", "show", "promote", "rollback", "push":
	default:
		return fmt.Errorf("unknown models command %q (list, history, show, promote, rollback, push)", cmd)
	}
	fs := flag.NewFlagSet("models "+cmd, flag.ContinueOnError)
	cf := addConfigFlags(fs, cfgRegistry|cfgCatalog|cfgFeatures)
	reason := fs.String("reason", "", "why (promote, rollback): recorded in the registry's history")
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
	case (cmd == "list" || cmd == "history") && len(pos) > 0:
		return usageErrorf(fs, "unexpected argument %q", pos[0])
	case cmd == "rollback" && len(pos) > 1:
		return usageErrorf(fs, "want at most one VERSION")
	case cmd == "rollback" && len(pos) == 0:
	case cmd != "list" && cmd != "history" && len(pos) != 1:
		return usageErrorf(fs, "want one VERSION")
	case cmd != "list" && cmd != "history":
		if v, err = strconv.Atoi(pos[0]); err != nil || v < 1 {
			return usageErrorf(fs, "version %q is not a number ≥ 1", pos[0])
		}
	}
	dir := cmp.Or(cfg.Registry, "models")
	var reg modelRegistry
	where := dir
	cc, err := clusterOf(cfg.path, cfg.fileConfig)
	if err != nil {
		return err
	}
	if cmd == "push" && cc == nil {
		return usageErrorf(fs, "push needs --config with storage: cluster")
	}
	if cc != nil {
		st, err := stream.Open(context.Background(), cc.NATS)
		if err != nil {
			return err
		}
		defer st.Close()
		creg, err := st.Registry(context.Background())
		if err != nil {
			return err
		}
		reg, where = creg, "the cluster registry at "+cc.NATS.URL
	}
	if reg == nil || cmd == "push" {
		dreg, err := models.OpenRegistry(dir)
		if err != nil {
			return err
		}
		if cmd == "push" {
			a, err := dreg.Get(v)
			if err != nil {
				return err
			}
			nv, err := reg.Save(a)
			if err != nil {
				return err
			}
			fmt.Printf("pushed version %d of %s as version %d of %s\n", v, dir, nv, where)
			return nil
		}
		reg = dreg
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
	case "promote", "rollback":
		spec, cat, err := cfg.specAndCatalog()
		if err != nil {
			return err
		}
		check := func(a *models.Artifact) error { _, err := decide.ServableModel(a, spec, cat); return err }
		if cmd == "promote" {
			from, err := models.PromoteChecked(reg, v, check, "cli", *reason)
			if err != nil {
				return err
			}
			fmt.Printf("promoted version %d in %s (was %d)\n", v, where, from)
			return nil
		}
		to, err := models.Rollback(reg, v, check, "cli", *reason)
		if err != nil {
			return err
		}
		fmt.Printf("rolled back to version %d in %s\n", to, where)
		return nil
	case "history":
		hist, err := reg.History()
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tKIND\tVERSION\tFROM\tBY\tREASON")
		for _, e := range hist {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Kind, e.Version, e.From, e.By, e.Reason)
		}
		return tw.Flush()
	}
	panic("BUG: models command " + cmd + " checked but not run")
}
