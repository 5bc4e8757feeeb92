package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"nextbest/erasure"
	"nextbest/journal"
	"nextbest/logs"
	"nextbest/loop"
	"nextbest/serve"
)

// runKeys implements "nextbest keys new --name N --scopes S,... [--rate R]":
// it makes a new API key, prints it once (it is never stored) and the
// configuration entry that holds only its SHA-256.
func runKeys(args []string, w io.Writer) error {
	const usage = "usage: nextbest keys new --name NAME --scopes decide,ingest,... [--rate N]"
	if len(args) == 0 || args[0] != "new" {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("keys new", flag.ContinueOnError)
	name := fs.String("name", "", "the key's name, shown in logs, metrics and the audit trail (required)")
	scopeList := fs.String("scopes", "", "comma-separated scopes: decide, ingest, profiles:read, privacy, read, admin (required)")
	rate := fs.Float64("rate", 0, "requests per second the key may make (0: unlimited)")
	if help, err := parseFlags(fs, args[1:]); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	var scopes []string
	for _, s := range strings.Split(*scopeList, ",") {
		if s = strings.TrimSpace(s); s != "" {
			scopes = append(scopes, s)
		}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	key := "nb_" + base64.RawURLEncoding.EncodeToString(b)
	entry := serve.APIKey{Name: *name, SHA256: serve.HashKey(key), Scopes: scopes, RatePerSecond: *rate}
	if err := serve.ValidateKeys([]serve.APIKey{entry}); err != nil {
		return err
	}
	var doc strings.Builder
	enc := yaml.NewEncoder(&doc)
	enc.SetIndent(2)
	if err := enc.Encode(map[string]any{"auth": map[string]any{"keys": []serve.APIKey{entry}}}); err != nil {
		return err
	}
	fmt.Fprintf(w, "key: %s\n\nThe key is shown once; give it to the caller. Add this to the configuration\n(and send the service SIGHUP, or PUT /admin/keys/%s with the same fields):\n\n%s", key, *name, doc.String())
	return nil
}

// runAudit implements "nextbest audit [--target URL --key KEY | --journal
// DIR]": the audit trail, from a running service (GET /v1/audit, a key
// with the admin scope) or read from a journal directory.
func runAudit(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	target := fs.String("target", "http://127.0.0.1:8080", "base URL of the service")
	key := fs.String("key", os.Getenv("NEXTBEST_KEY"), "API key with the admin scope (default $NEXTBEST_KEY)")
	dir := fs.String("journal", "", "read the trail from this journal directory instead of a service")
	limit := fs.Int("limit", 1000, "the latest this many records")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	var recs []journal.Audit
	if *dir != "" {
		_, err := logs.EachRecord(context.Background(), *dir, func(rec *journal.Record) error {
			if rec.Type != journal.TypeAudit && rec.Type != journal.TypeErasure {
				return nil
			}
			v, err := journal.Decode(*rec)
			if err != nil {
				return err
			}
			switch v := v.(type) {
			case *journal.Audit:
				recs = append(recs, *v)
			case *journal.Erasure:
				if v.Replaces == 0 { // a republished one stands for its original, listed already
					recs = append(recs, erasure.AuditEntry(*v))
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(recs) > *limit {
			recs = recs[len(recs)-*limit:]
		}
	} else {
		var ans struct {
			Audit []journal.Audit `json:"audit"`
		}
		h := &loop.HTTPService{Target: *target, Token: *key}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.Do(ctx, "GET", fmt.Sprintf("/v1/audit?limit=%d", *limit), nil, &ans); err != nil {
			return err
		}
		recs = ans.Audit
	}
	for _, a := range recs {
		fmt.Fprintf(w, "%s  %-12s %-22s %s\n", a.Time.UTC().Format(time.RFC3339), a.By, a.Kind, a.Detail)
	}
	return nil
}
