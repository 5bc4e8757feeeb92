// Command benchtab reads "go test -bench" output on stdin and prints the
// nextbest performance table: the headline benchmarks with their units,
// and ratios between benchmarks measured in the same run.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

type result struct {
	pkg     string
	name    string
	metrics map[string]float64
	order   []string
}

// ratios are the comparisons the performance targets are stated in:
// numerator / denominator of one metric.
var ratios = []struct {
	label, num, den, metric, target string
}{
	{"decide over HTTP / bare fasthttp handler (throughput)", "BenchmarkHTTPDecide", "BenchmarkHTTPBare", "req/s", ">= 0.5"},
}

// targets are DESIGN.md's performance targets on single benchmarks: a
// metric that must stay at or below (max) or at or above (min) a bound.
var targets = []struct {
	label, bench, metric string
	bound                float64
	max                  bool
}{
	{"decide in process, ε-greedy, 20×64 (ns)", "BenchmarkDecide20x64/epsilon_greedy", "ns/op", 10000, true},
	{"decide in process, ε-greedy (allocs)", "BenchmarkDecide20x64/epsilon_greedy", "allocs/op", 4, true},
	{"decide in process, Thompson exact (ns)", "BenchmarkDecide20x64/thompson", "ns/op", 25000, true},
	{"decide over HTTP, p99 (ms)", "BenchmarkHTTPDecide", "p99-ms", 5, true},
	{"512 connections: accepted p99, client side (ms)", "BenchmarkHTTPOverload", "ok-p99-ms", 10, true},
	{"512 connections: shed p99, client side (ms)", "BenchmarkHTTPOverload", "shed-p99-ms", 1, true},
	{"journal group commit, fsynced (appends/s)", "BenchmarkAppend/fsync", "appends/s", 100000, false},
	{"ridge batch training, linear (examples/s)", "BenchmarkRidgeBatch64/actions=0", "examples/s", 500000, false},
	{"cb_adf text reader (examples/s)", "BenchmarkFastCBProgressive/parse", "examples/s", 400000, false},
	{"training from binary cache, -q sa (examples/s)", "BenchmarkFastCBProgressive/cache", "examples/s", 1000000, false},
	// decide over HTTP at an offered 1,000 decisions/s, open loop, latency
	// from the scheduled send: one instance on Redis + JetStream, and one
	// embedded (Pebble + journal) under the same bound for comparison
	{"cluster: decide at 1,000/s, p99 (ms)", "BenchmarkClusterDecideAtRate/cluster", "p99-ms", 5, true},
	{"embedded: decide at 1,000/s, p99 (ms)", "BenchmarkClusterDecideAtRate/embedded", "p99-ms", 5, true},
	// 64 publishers each waiting for its ack, on a nats-server with
	// sync_interval always (engines.NATS): an fsync per ack
	{"JetStream publish, fsync per ack (records/s)", "BenchmarkJetStreamPublish", "records/s", 5000, false},
	// a campaign: 100k customers in under a minute
	{"batch decide, 1,000 per request (decisions/s)", "BenchmarkDecideBatch", "decisions/s", 1667, false},
	// 1M decisions (and 200k outcomes) joined and written in under 30 s,
	// the journal read included
	{"export of the journal to parquet (decisions/s)", "BenchmarkExport/parquet", "decisions/s", 33334, false},
	// 1M profiles in under a minute: POST /v1/profiles:batch, batches of
	// 1,000, 4 in flight over loopback, fsynced journal and Pebble state
	{"profiles import over HTTP batches (profiles/s)", "BenchmarkProfilesImport", "profiles/s", 16667, false},
}

func main() {
	var results []*result
	pkg := ""
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(p, "nextbest/")
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		r := &result{pkg: pkg, name: trimProcs(f[0]), metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			r.metrics[f[i+1]] = v
			r.order = append(r.order, f[i+1])
		}
		results = append(results, r)
	}
	if len(results) == 0 {
		fmt.Println("benchtab: no benchmark results on stdin")
		os.Exit(1)
	}
	fmt.Println()
	fmt.Println("nextbest performance (this machine, this run)")
	fmt.Println()
	fmt.Printf("%-14s %-44s %14s %10s %10s  %s\n", "package", "benchmark", "ns/op", "B/op", "allocs/op", "other")
	fmt.Println(strings.Repeat("-", 124))
	for _, r := range results {
		var other []string
		for _, k := range r.order {
			switch k {
			case "ns/op", "B/op", "allocs/op":
				continue
			}
			other = append(other, fmt.Sprintf("%s %s", human(r.metrics[k]), k))
		}
		fmt.Printf("%-14s %-44s %14s %10s %10s  %s\n", r.pkg, r.name, human(r.metrics["ns/op"]),
			human(r.metrics["B/op"]), human(r.metrics["allocs/op"]), strings.Join(other, ", "))
	}
	byName := map[string]*result{}
	for _, r := range results {
		byName[r.name] = r
	}
	fmt.Println()
	fmt.Println("targets (DESIGN.md; ratio > 1 means the target is met by that factor)")
	fmt.Printf("  %-52s %12s %12s %8s\n", "target", "bound", "measured", "ratio")
	for _, t := range targets {
		r := byName[t.bench]
		if r == nil {
			continue
		}
		v, ok := r.metrics[t.metric]
		if !ok {
			continue
		}
		bound, ratio := ">= "+human(t.bound), v/t.bound
		if t.max {
			bound = "<= " + human(t.bound)
			ratio = t.bound / v
		}
		fmt.Printf("  %-52s %12s %12s %8.2f\n", t.label, bound, human(v), ratio)
	}
	printed := false
	for _, q := range ratios {
		n, d := byName[q.num], byName[q.den]
		if n == nil || d == nil || d.metrics[q.metric] == 0 {
			continue
		}
		if !printed {
			fmt.Println()
			fmt.Println("ratios (same run)")
			printed = true
		}
		fmt.Printf("  %-60s %.2f   (target %s)\n", q.label, n.metrics[q.metric]/d.metrics[q.metric], q.target)
	}
}

func trimProcs(name string) string {
	if i := strings.LastIndex(name, "-"); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			return name[:i]
		}
	}
	return name
}

func human(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
