package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"encoding/json"

	"nextbest/models"
)

// runModels implements "nextbest models list|show VERSION|promote VERSION
// --registry DIR".
func runModels(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: nextbest models list|show VERSION|promote VERSION --registry DIR")
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet("models "+cmd, flag.ContinueOnError)
	dir := fs.String("registry", "models", "model registry directory")
	// allow the version before or after the flags
	var pos []string
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		rest = fs.Args()
		if len(rest) > 0 {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
	}
	reg, err := models.OpenRegistry(*dir)
	if err != nil {
		return err
	}
	version := func() (int, error) {
		if len(pos) != 1 {
			return 0, fmt.Errorf("usage: nextbest models %s VERSION --registry DIR", cmd)
		}
		return strconv.Atoi(pos[0])
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
		v, err := version()
		if err != nil {
			return err
		}
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
		v, err := version()
		if err != nil {
			return err
		}
		if err := reg.Promote(v); err != nil {
			return err
		}
		fmt.Printf("promoted version %d in %s\n", v, *dir)
		return nil
	}
	return fmt.Errorf("unknown models command %q (list, show, promote)", cmd)
}
