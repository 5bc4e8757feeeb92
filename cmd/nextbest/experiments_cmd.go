package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"nextbest/loop"
)

// runExperiments implements "nextbest experiments list|put FILE|ramp NAME
// ARM=SHARE...|stop NAME|archive NAME [--target URL] [--token TOKEN]": it
// changes a running service's experiments through its admin API
// (/admin/experiments), which validates every change as the service does
// at start and runs it on every instance without a restart.
func runExperiments(args []string, w io.Writer) error {
	const usage = "usage: nextbest experiments list|put FILE|ramp NAME ARM=SHARE...|stop NAME|archive NAME [--target URL] [--token TOKEN]"
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet("experiments "+cmd, flag.ContinueOnError)
	target := fs.String("target", "http://127.0.0.1:8080", "base URL of the service (any instance of a cluster)")
	token := fs.String("token", os.Getenv("NEXTBEST_ADMIN_TOKEN"), "admin token (default $NEXTBEST_ADMIN_TOKEN)")
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
	var method, path string
	var body any
	switch {
	case cmd == "list" && len(pos) == 0:
		method, path = "GET", ""
	case cmd == "put" && len(pos) == 1:
		// a file of one experiment, or an experiments file of several
		data, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		var doc struct {
			Experiments []map[string]any `yaml:"experiments"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Experiments) == 0 {
			var one map[string]any
			if err := yaml.Unmarshal(data, &one); err != nil || one["name"] == nil {
				return fmt.Errorf("%s: neither an experiment (name: ...) nor an experiments file (experiments: [...])", pos[0])
			}
			doc.Experiments = append(doc.Experiments, one)
		}
		for _, e := range doc.Experiments {
			if err := experimentsCall(w, *target, *token, "PUT", "/"+fmt.Sprint(e["name"]), e); err != nil {
				return err
			}
		}
		return nil
	case cmd == "ramp" && len(pos) >= 2:
		shares := map[string]float64{}
		for _, p := range pos[1:] {
			arm, v, ok := strings.Cut(p, "=")
			f, err := strconv.ParseFloat(v, 64)
			if !ok || err != nil {
				return usageErrorf(fs, "%q is not ARM=SHARE", p)
			}
			shares[arm] = f
		}
		method, path, body = "POST", "/"+pos[0]+"/ramp", map[string]any{"shares": shares}
	case cmd == "stop" && len(pos) == 1:
		method, path = "POST", "/"+pos[0]+"/stop"
	case cmd == "archive" && len(pos) == 1:
		method, path = "DELETE", "/"+pos[0]
	default:
		return errors.New(usage)
	}
	return experimentsCall(w, *target, *token, method, path, body)
}

// experimentsCall calls the admin API and prints the live experiments it
// answers with, or returns its error message.
func experimentsCall(w io.Writer, target, token, method, path string, body any) error {
	var ans struct {
		Experiments []struct {
			Name  string    `json:"name"`
			Start time.Time `json:"start"`
			End   time.Time `json:"end"`
			Arms  []struct {
				Name   string  `json:"name"`
				Policy string  `json:"policy"`
				Share  float64 `json:"share"`
			} `json:"arms"`
		} `json:"experiments"`
	}
	svc := &loop.HTTPService{Target: target, Token: token}
	if err := svc.Do(context.Background(), method, "/admin/experiments"+path, body, &ans); err != nil {
		return err
	}
	for _, e := range ans.Experiments {
		end := "open-ended"
		if !e.End.IsZero() {
			end = "until " + e.End.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s  from %s %s\n", e.Name, e.Start.Format(time.RFC3339), end)
		for _, a := range e.Arms {
			fmt.Fprintf(w, "  %-12s %-12s share %g\n", a.Name, a.Policy, a.Share)
		}
	}
	if len(ans.Experiments) == 0 {
		fmt.Fprintln(w, "no live experiments")
	}
	return nil
}
