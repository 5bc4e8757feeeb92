#!/usr/bin/env bash
# scripts/bench-http.sh: decide over HTTP against a bare fasthttp handler,
# on this machine, in this run (make bench-http).
#
# Starts "nextbest serve" (BIN) on a free loopback port with the shipped
# sample (examples/retail, a temporary data dir, the default durable
# journal: every decision fsynced before it is answered) and
# internal/barehttp (a fasthttp handler answering a fixed JSON body), warms
# both, then runs wrk with scripts/bench-http.lua (POST /v1/decide, the
# whole sample catalog as candidates, customers cycling over the sample's
# profiles) against each in turn, and prints req/s, the ratio, p50/p99 and
# the non-2xx count. Everything it started is stopped on exit.
#
# Environment: BIN (bin/nextbest), GO (go), WRK (wrk), BENCH_THREADS (1),
# BENCH_CONNS (32), BENCH_DURATION (10s), BENCH_WARMUP (3s),
# BENCH_PROFILE (a directory: also take CPU, heap, allocs, block and mutex
# profiles of the service from /debug/pprof during the decide run; the
# service then samples blocking and contention: NEXTBEST_PROFILE_CONTENTION).
set -euo pipefail

GO=${GO:-go}
BIN=${BIN:-bin/nextbest}
WRK=${WRK:-wrk}
THREADS=${BENCH_THREADS:-1}
CONNS=${BENCH_CONNS:-32}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-3s}
PROFILE=${BENCH_PROFILE:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
lua=$here/bench-http.lua

log() { echo "bench-http: $*" >&2; }
die() {
	log "$*"
	exit 1
}

command -v "$WRK" >/dev/null 2>&1 || die "$WRK not found: install Debian's wrk (make engines installs it)"
[[ -x $BIN ]] || die "$BIN not found: make build"

tmp=$(mktemp -d -t nextbest-bench-http.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$GO" build -o "$tmp/barehttp" "$root/internal/barehttp"

# wait_line FILE PATTERN PID: the first line of FILE matching PATTERN,
# waiting up to 60 s while PID lives
wait_line() {
	local i line
	for ((i = 0; i < 600; i++)); do
		line=$(grep -m1 -E "$2" "$1" 2>/dev/null || true)
		if [[ -n $line ]]; then
			echo "$line"
			return 0
		fi
		kill -0 "$3" 2>/dev/null || { cat "$1" >&2; die "process $3 exited"; }
		sleep 0.1
	done
	die "timed out waiting for /$2/ in $1"
}

contention=
if [[ -n $PROFILE ]]; then
	contention=1
fi
NEXTBEST_PROFILE_CONTENTION=$contention "$BIN" serve --data "$tmp/data" --addr 127.0.0.1:0 --log-level info 2>"$tmp/serve.log" &
pids+=($!)
serve_pid=$!
"$tmp/barehttp" >"$tmp/bare.addr" 2>"$tmp/bare.log" &
pids+=($!)
bare_pid=$!

line=$(wait_line "$tmp/serve.log" 'nextbest started' "$serve_pid")
serve_addr=$(sed -E 's/.* addr=([^ ]+).*/\1/' <<<"$line")
bare_addr=$(wait_line "$tmp/bare.addr" '^127\.' "$bare_pid")
log "nextbest serve on $serve_addr (pid $serve_pid, data $tmp/data), barehttp on $bare_addr (pid $bare_pid)"

export BENCH_CANDIDATES BENCH_CUSTOMERS
BENCH_CANDIDATES=$(grep -oE '^  - id: [^ ]+' "$root/examples/retail/catalog.yaml" | sed 's/^  - id: //' | paste -sd, -)
BENCH_CUSTOMERS=$(grep -c . "$root/examples/retail/profiles.jsonl")

# run NAME ADDR DURATION: wrk against ADDR; prints its RESULT line
run() {
	local out
	out=$("$WRK" -t"$THREADS" -c"$CONNS" -d"$3" -s "$lua" "http://$2") || die "wrk against $1 failed: $out"
	grep '^RESULT ' <<<"$out" || die "wrk against $1 printed no RESULT line: $out"
}

log "warm-up: $WARMUP each"
run decide "$serve_addr" "$WARMUP" >/dev/null
run bare "$bare_addr" "$WARMUP" >/dev/null

log "measuring: wrk -t$THREADS -c$CONNS -d$DURATION, decide then bare"
if [[ -n $PROFILE ]]; then
	mkdir -p "$PROFILE"
	secs=${DURATION%s}
	secs=$((secs > 2 ? secs - 2 : 1))
	(
		sleep 1
		base="http://$serve_addr/debug/pprof"
		curl -sf -o "$PROFILE/cpu.pb.gz" "$base/profile?seconds=$secs" &
		curl -sf -o "$PROFILE/block.pb.gz" "$base/block?seconds=$secs" &
		curl -sf -o "$PROFILE/mutex.pb.gz" "$base/mutex?seconds=$secs" &
		curl -sf -o "$PROFILE/allocs.pb.gz" "$base/allocs?seconds=$secs" &
		wait
		curl -sf -o "$PROFILE/heap.pb.gz" "$base/heap"
	) &
	prof_pid=$!
fi
read -r _ d_n d_s d_p50 d_p99 d_bad d_err < <(run decide "$serve_addr" "$DURATION")
if [[ -n $PROFILE ]]; then
	wait "$prof_pid" || log "some profiles could not be taken"
	cp "$BIN" "$PROFILE/nextbest"
fi
read -r _ b_n b_s b_p50 b_p99 b_bad b_err < <(run bare "$bare_addr" "$DURATION")
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$serve_pid/status")

awk -v dn="$d_n" -v ds="$d_s" -v dp50="$d_p50" -v dp99="$d_p99" -v dbad="$d_bad" -v derr="$d_err" \
	-v bn="$b_n" -v bs="$b_s" -v bp50="$b_p50" -v bp99="$b_p99" -v bbad="$b_bad" -v berr="$b_err" \
	-v conns="$CONNS" -v threads="$THREADS" -v dur="$DURATION" -v rss="$rss" 'BEGIN {
	drps = dn / ds; brps = bn / bs
	printf "\ndecide over HTTP vs bare fasthttp (wrk -t%d -c%d -d%s, this machine, this run)\n\n", threads, conns, dur
	printf "%-22s %10s %9s %9s %8s %8s\n", "", "req/s", "p50 ms", "p99 ms", "non-2xx", "errors"
	printf "%-22s %10.0f %9.2f %9.2f %8d %8d\n", "POST /v1/decide", drps, dp50 / 1000, dp99 / 1000, dbad, derr
	printf "%-22s %10.0f %9.2f %9.2f %8d %8d\n", "bare fasthttp", brps, bp50 / 1000, bp99 / 1000, bbad, berr
	printf "\nratio decide / bare: %.2f (target >= 0.5); decide p99 %.2f ms (target < 5); service RSS %.0f MiB\n", drps / brps, dp99 / 1000, rss / 1024
}'
if [[ -n $PROFILE ]]; then
	log "profiles in $PROFILE (go tool pprof $PROFILE/nextbest $PROFILE/cpu.pb.gz)"
fi
