#!/usr/bin/env bash
# scripts/bench-rss.sh: the resident memory of "nextbest serve" against the
# number of customer profiles in its embedded store (make bench-rss).
#
# For each count in BENCH_RSS_COUNTS it writes that many JSON-lines
# profiles, starts the service on a fresh data dir with them (--profiles:
# loaded at first start), drives BENCH_RSS_TRAFFIC of decide traffic over
# all of them with wrk (scripts/bench-http.lua), and prints VmRSS (now)
# and VmHWM (the peak) from /proc/PID/status: after the load, after the
# traffic, and after a restart on the same data (the steady state,
# without the load's transient). Everything it started is stopped on exit.
#
# Environment: BIN (bin/nextbest), WRK (wrk), BENCH_RSS_COUNTS
# (100000 1000000), BENCH_RSS_TRAFFIC (10s).
set -euo pipefail

BIN=${BIN:-bin/nextbest}
WRK=${WRK:-wrk}
COUNTS=${BENCH_RSS_COUNTS:-100000 1000000}
TRAFFIC=${BENCH_RSS_TRAFFIC:-10s}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

log() { echo "bench-rss: $*" >&2; }
die() {
	log "$*"
	exit 1
}
command -v "$WRK" >/dev/null 2>&1 || die "$WRK not found: install Debian's wrk (make engines installs it)"
[[ -x $BIN ]] || die "$BIN not found: make build"

tmp=$(mktemp -d -t nextbest-bench-rss.XXXXXX)
pid=
cleanup() {
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start DATA [PROFILES]: nextbest serve on a free port; sets pid and addr
start() {
	local i line args=(serve --data "$1" --addr 127.0.0.1:0 --log-level info)
	[[ -n ${2:-} ]] && args+=(--profiles "$2")
	rm -f "$tmp/serve.log" # the last start's line must not be taken for this one's
	"$BIN" "${args[@]}" 2>"$tmp/serve.log" &
	pid=$!
	for ((i = 0; i < 6000; i++)); do
		line=$(grep -m1 'nextbest started' "$tmp/serve.log" || true)
		if [[ -n $line ]]; then
			addr=$(sed -E 's/.* addr=([^ ]+).*/\1/' <<<"$line")
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; die "nextbest serve exited"; }
		sleep 0.1
	done
	die "nextbest serve did not start in 10 minutes"
}

stop() {
	kill "$pid"
	wait "$pid" || true
	pid=
}

# mem: "RSS HWM" in MiB
mem() { awk '/^VmRSS/ { r = $2 } /^VmHWM/ { h = $2 } END { printf "%.0f %.0f", r / 1024, h / 1024 }' "/proc/$pid/status"; }

export BENCH_CANDIDATES BENCH_CUSTOMERS
BENCH_CANDIDATES=$(grep -oE '^  - id: [^ ]+' "$root/examples/retail/catalog.yaml" | sed 's/^  - id: //' | paste -sd, -)

rows=()
for n in $COUNTS; do
	log "$n profiles: writing them"
	awk -v n="$n" 'BEGIN {
		split("awareness consideration cart purchase retention", st, " ")
		split("bronze silver gold platinum", tier, " ")
		split("north south east west", reg, " ")
		for (i = 1; i <= n; i++)
			printf "{\"customer_id\":\"c-%04d\",\"first_seen\":\"2025-01-%02dT00:00:00Z\",\"updated_at\":\"2026-11-01T00:00:00Z\",\"attributes\":{\"age\":%d,\"region\":\"%s\",\"tier\":\"%s\",\"email_opt_in\":%s},\"counters\":{\"visits_7d\":{\"value\":%.3f,\"at\":\"2026-11-01T00:00:00Z\"},\"product_views_7d\":{\"value\":%.3f,\"at\":\"2026-11-01T00:00:00Z\"},\"purchases_30d\":{\"value\":%d,\"at\":\"2026-11-01T00:00:00Z\"},\"spend_30d\":{\"value\":%.2f,\"at\":\"2026-11-01T00:00:00Z\"}},\"last_event\":{\"page_view\":\"2026-10-18T02:00:00Z\",\"purchase\":\"2026-09-25T00:00:00Z\"},\"last_channel\":\"web\",\"stage\":\"%s\",\"stage_since\":\"2026-10-01T00:00:00Z\"}\n",
				i, 1 + i % 28, 18 + i % 60, reg[1 + i % 4], tier[1 + i % 4], (i % 3 ? "true" : "false"),
				(i % 97) / 10, (i % 89) / 5, i % 7, (i % 500) / 3, st[1 + i % 5]
	}' >"$tmp/profiles.jsonl"
	rm -rf "$tmp/data"
	log "$n profiles: loading them ($(du -h "$tmp/profiles.jsonl" | cut -f1) of JSON lines)"
	t0=$(date +%s)
	start "$tmp/data" "$tmp/profiles.jsonl"
	loaded=$(mem)
	log "$n profiles: loaded in $(($(date +%s) - t0)) s; decide traffic for $TRAFFIC"
	BENCH_CUSTOMERS=$n "$WRK" -t1 -c32 -d"$TRAFFIC" -s "$here/bench-http.lua" "http://$addr" >/dev/null
	traffic=$(mem)
	stop
	start "$tmp/data"
	BENCH_CUSTOMERS=$n "$WRK" -t1 -c32 -d"$TRAFFIC" -s "$here/bench-http.lua" "http://$addr" >/dev/null
	restarted=$(mem)
	stop
	rows+=("$n $loaded $traffic $restarted")
	rm -f "$tmp/profiles.jsonl"
done

printf '\nnextbest serve: resident memory against profiles in the store (MiB; this machine, this run)\n\n'
printf '%10s  %18s  %18s  %18s\n' "profiles" "loaded: RSS/peak" "+ traffic: RSS/peak" "restart: RSS/peak"
for r in "${rows[@]}"; do
	read -r n lr lh tr th rr rh <<<"$r"
	printf '%10d  %8s /%8s  %8s /%8s  %8s /%8s\n' "$n" "$lr" "$lh" "$tr" "$th" "$rr" "$rh"
done
