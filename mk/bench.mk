# Load benchmarks of the running binary (the in-process ones are make
# bench's): decide over HTTP against a bare fasthttp handler, and the
# memory of a service holding many profiles.
BENCH_CONNS    ?= 32
BENCH_DURATION ?= 10s

.PHONY: bench-http

## bench-http: nextbest serve (sample catalog, durable journal) and a bare fasthttp handler under wrk -t1 -cBENCH_CONNS -dBENCH_DURATION in the same run: req/s, ratio, p50/p99, non-2xx; BENCH_PROFILE=dir also takes pprof profiles of the service
bench-http: build
	GO='$(GO)' BIN='$(BIN)' BENCH_CONNS='$(BENCH_CONNS)' BENCH_DURATION='$(BENCH_DURATION)' bash scripts/bench-http.sh

.PHONY: bench-rss

## bench-rss: nextbest serve's resident memory (now and peak) with BENCH_RSS_COUNTS profiles (default 100k and 1M) loaded at first start, under decide traffic, and after a restart
bench-rss: build
	BIN='$(BIN)' bash scripts/bench-rss.sh
