#!/usr/bin/env bash
# scripts/cluster-failover.sh: how fast HAProxy takes a dead instance out of
# the rotation (make cluster-failover), on a cluster that make cluster
# started.
#
# While clients send decisions through HAProxy, it kill -9s one instance
# (FAILOVER_INSTANCE, default b), polls HAProxy's stats until that
# instance is DOWN, and reports: the time to DOWN, what the clients saw
# (answers other than 200, the slowest answer, which instance answered),
# and HAProxy's retries and redispatches. Then it starts the instance
# again (scripts/cluster.sh start-instance) and reports the time until
# HAProxy has it UP again. Exit 1 when the instance is not DOWN within
# FAILOVER_MAX seconds (default 2) or a request sent after the kill got an
# answer other than 200. (A request the instance was serving when it was
# killed gets a 502: HAProxy cannot know whether it was recorded, so it
# does not resend it; a client resends it with the same request_id.)
#
# Traffic goes to 127.0.0.1 only, bounded in time (about 5 s).
set -euo pipefail
CALLER_PWD=$PWD
cd "$(dirname "$0")/.."

HOST=127.0.0.1
PORT=${CLUSTER_PORT:-8080}
STATS_PORT=${CLUSTER_STATS_PORT:-8404}
VICTIM=${FAILOVER_INSTANCE:-b}
MAX=${FAILOVER_MAX:-2}
CLIENTS=${FAILOVER_CLIENTS:-4}
CLUSTER_DIR=${CLUSTER_DIR:-run/cluster}
case $CLUSTER_DIR in
/*) DIR=$CLUSTER_DIR ;;
*) DIR=$CALLER_PWD/$CLUSTER_DIR ;;
esac
PIDFILE=$DIR/pids/$VICTIM.pid
CURL=(curl --noproxy '*' -s -m 15)

die() {
	echo "failover: $*" >&2
	exit 1
}

# stat_of SERVER FIELD: a field of HAProxy's CSV stats for the server of
# backend nextbest (18 status, 16 wretr, 17 wredis, 14 econ, 22 chkfail)
stat_of() {
	"${CURL[@]}" -m 1 "http://$HOST:$STATS_PORT/;csv" |
		awk -F, -v s="$1" -v f="$2" '$1 == "nextbest" && $2 == s { print $f }'
}

now() { echo "$EPOCHREALTIME"; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

[[ -f $PIDFILE ]] || die "no $PIDFILE: start the cluster first (make cluster)"
read -r pid _ <"$PIDFILE"
[[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *"/conf/$VICTIM.yaml"* ]] ||
	die "instance $VICTIM (pid $pid) is not running: make cluster-status"
[[ $(stat_of "$VICTIM" 18) == UP ]] || die "HAProxy does not have $VICTIM UP: http://$HOST:$STATS_PORT/"

work=$(mktemp -d -t nextbest-failover.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# clients: POST /v1/decide through HAProxy until the stop file appears;
# one line per request: start end status instance
client() {
	local i=0 t0 out
	while [[ ! -e $work/stop ]] && ((i < 5000)); do
		t0=$(now)
		out=$("${CURL[@]}" -o /dev/null -D - -w '%{http_code}\n' -XPOST "http://$HOST:$PORT/v1/decide" \
			-H 'Content-Type: application/json' -d "{\"customer_id\":\"c-$((i % 200 + 1))\",\"channel\":\"web\"}" |
			tr -d '\r' | awk 'tolower($1) == "x-nextbest-instance:" { s = $2 } /^[0-9]+$/ { c = $1 } END { print (c ? c : "000"), (s ? s : "-") }') || true
		echo "$t0 $(now) $out"
		i=$((i + 1))
	done >"$work/client.$1"
}

before_retr=$(stat_of "$VICTIM" 16)
before_redis=$(stat_of "$VICTIM" 17)
for ((c = 0; c < CLIENTS; c++)); do client "$c" & done
sleep 1

echo "failover: kill -9 $VICTIM (pid $pid) with $CLIENTS clients sending decisions through http://$HOST:$PORT"
t_kill=$(now)
kill -9 "$pid"
t_down=""
while :; do
	st=$(stat_of "$VICTIM" 18)
	if [[ $st == DOWN* ]]; then
		t_down=$(now)
		break
	fi
	(($(ms "$t_kill" "$(now)") < 10000)) || break
	sleep 0.02
done
sleep 1.5
touch "$work/stop"
wait

cat "$work"/client.* >"$work/all"
after_retr=$(stat_of "$VICTIM" 16)
after_redis=$(stat_of "$VICTIM" 17)
awk -v k="$t_kill" -v v="$VICTIM" '
	{ n++; lat = $2 - $1; if (lat > max) max = lat
	  if ($1 < k && $2 >= k) { inflight++; if ($3 != 200) badin++ }
	  if ($1 >= k) { after++; if ($3 != 200) bad++; if ($4 == v) tov++; if (lat > maxa) maxa = lat } }
	END { printf "failover: %d requests; %d in flight at the kill (%d of them not 200); %d sent after it: %d not 200, %d answered by %s, slowest %.0f ms (%.0f ms over the whole run)\n",
	      n, inflight, badin, after, bad, tov, v, maxa * 1000, max * 1000 }' "$work/all"
echo "failover: HAProxy on $VICTIM: retries +$((after_retr - before_retr)), redispatches +$((after_redis - before_redis))"
awk -v k="$t_kill" '$3 != 200 { printf "failover: answer %s %.0f ms after the kill (took %.0f ms)\n", $3, ($1 - k) * 1000, ($2 - $1) * 1000 }' "$work/all"
bad=$(awk -v k="$t_kill" '$1 >= k && $3 != 200' "$work/all" | wc -l)

rc=0
if [[ -z $t_down ]]; then
	echo "failover: $VICTIM still not DOWN 10 s after the kill" >&2
	rc=1
else
	down_ms=$(ms "$t_kill" "$t_down")
	echo "failover: $VICTIM DOWN in HAProxy ${down_ms} ms after the kill (limit ${MAX}s)"
	(($(ms 0 "$MAX") >= down_ms)) || rc=1
fi
((bad == 0)) || rc=1

echo "failover: starting $VICTIM again"
t_start=$(now)
CLUSTER_DIR=$DIR bash scripts/cluster.sh start-instance "$VICTIM"
t_ready=$(now)
while [[ $(stat_of "$VICTIM" 18) != UP ]]; do
	(($(ms "$t_ready" "$(now)") < 10000)) || {
		echo "failover: $VICTIM not UP in HAProxy 10 s after its /readyz" >&2
		exit 1
	}
	sleep 0.02
done
echo "failover: $VICTIM ready $(ms "$t_start" "$t_ready") ms after its start, UP in HAProxy $(ms "$t_ready" "$(now)") ms after that"
exit $rc
