package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"nextbest/serve"
)

const profilesUsage = `usage: nextbest profiles import FILE [--target URL] [--key KEY] [--config FILE | --features FILE]
       [--batch 1000] [--in-flight 4] [--format csv|jsonl|parquet] [--progress]
   or: nextbest profiles export [--config FILE] [--data DIR] --out FILE.csv|FILE.jsonl`

// runProfiles implements "nextbest profiles import FILE" (profiles from
// another system, a CRM or a warehouse export, sent to a running service
// as POST /v1/profiles:batch) and "nextbest profiles export" (their
// attributes, read from a stopped service's state).
func runProfiles(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "import" {
		return runProfilesImport(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "export" {
		return runProfilesExport(args[1:], stdout)
	}
	return errors.New(profilesUsage)
}

// maxImportBody is the most bytes of one batch: the least any service
// reads (see serve's readLimit), less room for the brackets.
const maxImportBody = 1<<20 - 64

// importBatch is one request's profiles, encoded, and where each came
// from in the file.
type importBatch struct {
	body []byte
	at   []string
}

// runProfilesImport reads FILE twice: once to check every row against the
// feature spec (columns, types, the service's event check), sending
// nothing if one is bad; then to send the rows in batches, --in-flight at
// a time, retrying what the service sheds (503, 429) with backoff.
func runProfilesImport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("profiles import", flag.ContinueOnError)
	cf := addConfigFlags(fs, cfgFeatures)
	target := fs.String("target", "http://127.0.0.1:8080", "base URL of the service (any instance of a cluster)")
	key := fs.String("key", os.Getenv("NEXTBEST_KEY"), "API key with the ingest scope (default $NEXTBEST_KEY)")
	batch := fs.Int("batch", serve.MaxBatchProfiles, fmt.Sprintf("profiles per request, at most %d", serve.MaxBatchProfiles))
	inFlight := fs.Int("in-flight", 4, "requests in flight at once")
	format := fs.String("format", "", "file format: csv, jsonl or parquet (default: from the extension)")
	progress := fs.Bool("progress", false, "show progress on stderr even when it is not a terminal")
	var pos []string
	rest := args
	for {
		if help, err := parseFlags(fs, rest); help || err != nil {
			return err
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		pos, rest = append(pos, rest[0]), rest[1:]
	}
	if len(pos) != 1 {
		return usageErrorf(fs, "one FILE is required")
	}
	path := pos[0]
	if *batch < 1 || *batch > serve.MaxBatchProfiles {
		return usageErrorf(fs, "--batch must be between 1 and %d", serve.MaxBatchProfiles)
	}
	if *inFlight < 1 {
		return usageErrorf(fs, "--in-flight must be at least 1")
	}
	f, err := importFormat(path, *format)
	if err != nil {
		return err
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	spec, err := cfg.spec()
	if err != nil {
		return err
	}
	pr, err := newProfileReader(spec, time.Now().UTC())
	if err != nil {
		return err
	}

	// pass 1: the whole file is checked before anything is sent
	total := 0
	if err := pr.readProfiles(path, f, func(string, *profileRecord) error { total++; return nil }); err != nil {
		return err
	}
	if total == 0 {
		return fmt.Errorf("%s: no profiles in the file", path)
	}

	// pass 2: send
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	cl := &importClient{target: strings.TrimRight(*target, "/"), key: *key, http: &http.Client{Timeout: 60 * time.Second}}
	show := startProgress(stderr, *progress, total)
	var sent atomic.Int64
	var last atomic.Uint64
	batches := make(chan importBatch)
	var wg sync.WaitGroup
	start := time.Now()
	for range *inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if ctx.Err() != nil {
					continue // drain
				}
				lsn, err := cl.send(ctx, b)
				if err != nil {
					cancel(err)
					continue
				}
				for {
					if old := last.Load(); lsn <= old || last.CompareAndSwap(old, lsn) {
						break
					}
				}
				show.add(len(b.at))
				sent.Add(int64(len(b.at)))
			}
		}()
	}
	cur := importBatch{body: []byte(`{"profiles":[`)}
	flush := func() bool {
		if len(cur.at) == 0 {
			return true
		}
		cur.body = append(cur.body, "]}"...)
		select {
		case batches <- cur:
		case <-ctx.Done():
			return false
		}
		cur = importBatch{body: []byte(`{"profiles":[`)}
		return true
	}
	readErr := pr.readProfiles(path, f, func(at string, rec *profileRecord) error {
		row, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if len(cur.at) == *batch || len(cur.body)+len(row)+1 > maxImportBody {
			if !flush() {
				return context.Cause(ctx)
			}
		}
		if len(cur.at) > 0 {
			cur.body = append(cur.body, ',')
		}
		cur.body = append(cur.body, row...)
		cur.at = append(cur.at, at)
		return nil
	})
	if readErr == nil {
		flush()
	}
	close(batches)
	wg.Wait()
	show.done()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("%s: %w (%d of %d profiles were accepted before)", path, err, sent.Load(), total)
	}
	if readErr != nil { // the file changed between the passes
		return readErr
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "imported %d profiles from %s in %s (%.0f profiles/s); journal LSN %d\n",
		sent.Load(), path, el.Round(time.Millisecond), float64(sent.Load())/max(el.Seconds(), 1e-9), last.Load())
	return nil
}

// importClient sends batches to POST /v1/profiles:batch.
type importClient struct {
	target, key string
	http        *http.Client
}

// rowField finds the row a service error names: "profiles[3].attributes.age".
var rowField = regexp.MustCompile(`^profiles\[(\d+)\]\.?`)

// send posts b and returns the LSN of its last record. A 503 or 429 (shed,
// journal busy, rate limited) is retried with exponential backoff, as a
// channel system would, at most maxTries times; another failure is an
// error naming the file's line of the row the service refused.
func (c *importClient) send(ctx context.Context, b importBatch) (uint64, error) {
	const maxTries = 10
	backoff := 50 * time.Millisecond
	for try := 1; ; try++ {
		req, err := http.NewRequestWithContext(ctx, "POST", c.target+"/v1/profiles:batch", bytes.NewReader(b.body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return 0, err
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		var ans struct {
			LSN   uint64 `json:"lsn"`
			Error struct {
				Message string `json:"message"`
				Field   string `json:"field"`
			} `json:"error"`
		}
		json.Unmarshal(raw, &ans)
		switch {
		case resp.StatusCode == http.StatusAccepted:
			return ans.LSN, nil
		case (resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests) && try < maxTries:
			wait := backoff
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && try > 3 {
				wait = max(wait, time.Duration(s)*time.Second)
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return 0, context.Cause(ctx)
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		msg := ans.Error.Message
		if msg == "" {
			msg = strings.TrimSpace(string(raw))
		}
		if m := rowField.FindStringSubmatch(ans.Error.Field); m != nil {
			if i, err := strconv.Atoi(m[1]); err == nil && i < len(b.at) {
				return 0, fmt.Errorf("%s: refused by the service: %s %s", b.at[i], resp.Status, msg)
			}
		}
		return 0, fmt.Errorf("%s to %s: %s: %s", b.at[0], b.at[len(b.at)-1], resp.Status, msg)
	}
}

// importProgress shows rows sent and the rate on stderr: a bar on a
// terminal, a line every two seconds with --progress elsewhere, nothing
// otherwise.
type importProgress struct {
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	w     io.Writer
	n     int
	total int
	start time.Time
	last  time.Time
}

func startProgress(w io.Writer, force bool, total int) *importProgress {
	p := &importProgress{total: total, start: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("importing profiles"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("rows"),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	} else if force {
		p.w = w
	}
	return p
}

func (p *importProgress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += n
	switch {
	case p.bar != nil:
		p.bar.Add(n)
	case p.w != nil:
		if now := time.Now(); now.Sub(p.last) >= 2*time.Second || p.n == p.total {
			p.last = now
			fmt.Fprintf(p.w, "importing profiles: %d/%d (%.0f rows/s)\n", p.n, p.total, float64(p.n)/max(now.Sub(p.start).Seconds(), 1e-9))
		}
	}
}

func (p *importProgress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
