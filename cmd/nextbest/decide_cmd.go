package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// runDecide implements "nextbest decide --batch FILE": a campaign's
// decisions for every customer of a CSV file, through the running
// service's POST /v1/decide/batch (the same rules, caps and exploration
// as single decisions), written as JSON lines.
func runDecide(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("decide", flag.ContinueOnError)
	file := fs.String("batch", "", "CSV `file` with a header: customer_id, and optionally channel, request_id, limit and context.NAME columns (required)")
	channel := fs.String("channel", "", "the channel of rows without a channel column or value")
	target := fs.String("target", "http://127.0.0.1:8080", "base URL of the service")
	key := fs.String("key", os.Getenv("NEXTBEST_KEY"), "API key with the decide scope (default $NEXTBEST_KEY)")
	out := fs.String("out", "", "write the answers here (default standard output)")
	size := fs.Int("size", 1000, "customers per request (at most 1000)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: nextbest decide --batch customers.csv [--channel email] [--target URL] [--key KEY] [--out FILE]

Decides for every customer of the file through the service's batch
endpoint and writes one JSON line per customer, in file order:
{"row": N, "customer_id": ..., "status": 200, "decision": {...}} or the
error. A context.NAME column's value goes into the request's context
(a number when it reads as one). Give each row a request_id to make a
re-run answer the same decisions instead of new ones.

Flags:
`)
		fs.PrintDefaults()
	}
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *file == "" {
		return usageErrorf(fs, "--batch is required")
	}
	if *size < 1 || *size > 1000 {
		return usageErrorf(fs, "--size must be between 1 and 1000")
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("%s: cannot read the header: %w", *file, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		switch {
		case h == "customer_id", h == "channel", h == "request_id", h == "limit", strings.HasPrefix(h, "context.") && len(h) > len("context."):
		default:
			return fmt.Errorf("%s: column %d %q: want customer_id, channel, request_id, limit or context.NAME", *file, i+1, h)
		}
		col[h] = i
	}
	if _, ok := col["customer_id"]; !ok {
		return fmt.Errorf("%s: no customer_id column", *file)
	}
	dst := w
	var tmp *os.File
	if *out != "" {
		if tmp, err = os.CreateTemp(filepath.Dir(*out), ".decide-*"); err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		dst = tmp
	}
	bw := bufio.NewWriter(dst)
	client := &http.Client{Timeout: 5 * time.Minute}
	var (
		batch []map[string]any
		ids   []string
		row   int
		sent  int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		lines, err := postBatch(client, *target, *key, batch)
		if err != nil {
			return err
		}
		for i, l := range lines {
			l["row"], l["customer_id"] = sent+i+1, ids[i]
			delete(l, "index")
			b, _ := json.Marshal(l)
			bw.Write(b)
			bw.WriteByte('\n')
		}
		sent += len(batch)
		batch, ids = batch[:0], ids[:0]
		return nil
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		row++
		if err != nil {
			return fmt.Errorf("%s: row %d: %w", *file, row, err)
		}
		req := map[string]any{"customer_id": rec[col["customer_id"]], "channel": *channel}
		ctxv := map[string]any{}
		for name, i := range col {
			v := rec[i]
			switch {
			case name == "channel" && v != "":
				req["channel"] = v
			case name == "request_id" && v != "":
				req["request_id"] = v
			case name == "limit" && v != "":
				n, err := strconv.Atoi(v)
				if err != nil {
					return fmt.Errorf("%s: row %d, column limit: %q is not a number", *file, row, v)
				}
				req["limit"] = n
			case strings.HasPrefix(name, "context.") && v != "":
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					ctxv[name[len("context."):]] = x
				} else {
					ctxv[name[len("context."):]] = v
				}
			}
		}
		if len(ctxv) > 0 {
			req["context"] = ctxv
		}
		batch, ids = append(batch, req), append(ids, rec[col["customer_id"]])
		if len(batch) == *size {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if tmp != nil {
		if err := tmp.Close(); err != nil {
			return err
		}
		return os.Rename(tmp.Name(), *out)
	}
	return nil
}

// postBatch sends one batch and returns its lines; a 503 is retried.
func postBatch(c *http.Client, target, key string, batch []map[string]any) ([]map[string]any, error) {
	body, err := json.Marshal(map[string]any{"decisions": batch})
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(context.Background(), "POST", strings.TrimRight(target, "/")+"/v1/decide/batch", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == 503 && try < 5 {
			time.Sleep(time.Duration(100<<try) * time.Millisecond)
			continue
		}
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("POST /v1/decide/batch: %s: %s", resp.Status, bytes.TrimSpace(data))
		}
		var lines []map[string]any
		for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(l, &m); err != nil {
				return nil, fmt.Errorf("POST /v1/decide/batch: a bad line %q: %w", l, err)
			}
			lines = append(lines, m)
		}
		if len(lines) != len(batch) {
			return nil, fmt.Errorf("POST /v1/decide/batch: %d lines for %d customers", len(lines), len(batch))
		}
		return lines, nil
	}
}
