#!/usr/bin/env bash
# scripts/cluster.sh: a nextbest cluster on this machine, for development.
#
#   scripts/cluster.sh up                  start it (make cluster), return once every part answers
#   scripts/cluster.sh down                stop what `up` started (make cluster-down), nothing else
#   scripts/cluster.sh status              each part: pid, alive, healthy (make cluster-status)
#   scripts/cluster.sh start-instance NAME start one instance again, with the config `up` wrote
#                                          (after a crash, a failover test)
#   scripts/cluster.sh clean               down, then remove the run directory (make cluster-clean)
#
# `up` starts, as background processes, with every file under one run
# directory ($CLUSTER_DIR, default run/cluster):
#   redis-server   127.0.0.1:6379  shared state (AOF, appendfsync everysec)     deploy/redis.conf
#   nats-server    127.0.0.1:4222  the journal on JetStream (sync always),   deploy/nats.conf
#                                  monitoring on 127.0.0.1:8222
#   nextbest serve 127.0.0.1:8081, 8082, 8083: instances a, b, c (storage: cluster)
#   haproxy        127.0.0.1:8080  roundrobin over the instances' /readyz,   deploy/haproxy.cfg
#                                  stats page on 127.0.0.1:8404
# Run directory: conf/ (the generated config files), data/ (redis, nats,
# one per instance), logs/ (one per part), pids/ (one per part: "PID
# STARTTIME", so that `down` stops only the very process `up` started).
#
# Environment (make passes its variables of the same names):
#   CLUSTER_DIR                run directory (run/cluster)
#   BIN                        the nextbest binary (bin/nextbest; make cluster builds it)
#   CLUSTER_PORT               HAProxy's port (8080)
#   CLUSTER_STATS_PORT         HAProxy's stats page (8404)
#   CLUSTER_INSTANCES          instances as NAME:PORT ("a:8081 b:8082 c:8083")
#   CLUSTER_REDIS_PORT         Redis (6379)
#   CLUSTER_REDIS_PASSWORD     Redis's password (none)
#   CLUSTER_NATS_PORT          NATS clients (4222)
#   CLUSTER_NATS_MONITOR_PORT  NATS monitoring (8222)
#   CLUSTER_NATS_CREDS         a NATS credentials file for the instances (none)
#   CLUSTER_LOG_LEVEL          the instances' log level (info)
#   CLUSTER_EXTRA_CONFIG       a YAML file appended to every instance's config
#                              (catalog, feature_spec, explorer, ...: not addr,
#                              data_dir, storage or cluster)
#   CLUSTER_START_TIMEOUT      seconds each part has to come up (60)
#   CLUSTER_EMBEDDED_TEST=1    the instances without the storage/cluster keys:
#                              three independent embedded instances behind
#                              HAProxy (tests the scripts and the routing, not
#                              shared state)
set -euo pipefail

CALLER_PWD=$PWD
cd "$(dirname "$0")/.."
ROOT=$PWD

HOST=127.0.0.1
CLUSTER_DIR=${CLUSTER_DIR:-run/cluster}
case $CLUSTER_DIR in
/*) DIR=$CLUSTER_DIR ;;
*) DIR=$CALLER_PWD/$CLUSTER_DIR ;;
esac
DIR=${DIR%/}
BIN=${BIN:-bin/nextbest}
case $BIN in
/*) ;;
*) BIN=$CALLER_PWD/$BIN ;;
esac
GO=${GO:-go}
PORT=${CLUSTER_PORT:-8080}
STATS_PORT=${CLUSTER_STATS_PORT:-8404}
INSTANCES=${CLUSTER_INSTANCES:-a:8081 b:8082 c:8083}
REDIS_PORT=${CLUSTER_REDIS_PORT:-6379}
REDIS_PASSWORD=${CLUSTER_REDIS_PASSWORD:-}
NATS_PORT=${CLUSTER_NATS_PORT:-4222}
NATS_MONITOR_PORT=${CLUSTER_NATS_MONITOR_PORT:-8222}
NATS_CREDS=${CLUSTER_NATS_CREDS:-}
LOG_LEVEL=${CLUSTER_LOG_LEVEL:-info}
EXTRA_CONFIG=${CLUSTER_EXTRA_CONFIG:-}
START_TIMEOUT=${CLUSTER_START_TIMEOUT:-60}
EMBEDDED_TEST=${CLUSTER_EMBEDDED_TEST:-}

CURL=(curl --noproxy '*' -s -o /dev/null -m 2)

die() {
	echo "cluster: $*" >&2
	exit 1
}

# shown: the run directory as the user would type it (relative to the
# repository when under it)
shown() {
	case $1 in
	"$ROOT"/*) echo "${1#"$ROOT"/}" ;;
	*) echo "$1" ;;
	esac
}

# ---- the parts -------------------------------------------------------

# instance names and ports, from CLUSTER_INSTANCES
NAMES=()
declare -A IPORT=()
for spec in $INSTANCES; do
	name=${spec%%:*}
	p=${spec#*:}
	[[ $spec == *:* && $name =~ ^[a-z0-9][a-z0-9_-]*$ && $p =~ ^[0-9]+$ ]] ||
		die "CLUSTER_INSTANCES: \"$spec\" is not NAME:PORT (NAME: lower-case letters, digits, - and _)"
	case $name in redis | nats | haproxy) die "CLUSTER_INSTANCES: \"$name\" is the name of another part" ;; esac
	[[ -z ${IPORT[$name]:-} ]] || die "CLUSTER_INSTANCES: instance \"$name\" twice"
	NAMES+=("$name")
	IPORT[$name]=$p
done
((${#NAMES[@]} > 0)) || die "CLUSTER_INSTANCES is empty"
for v in PORT STATS_PORT REDIS_PORT NATS_PORT NATS_MONITOR_PORT START_TIMEOUT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "CLUSTER_$v: \"${!v}\" is not a number"
done

# the config file each part is started with: its absolute path is in the
# part's command line, which is how `down` and `status` recognise it
conf_of() {
	case $1 in
	redis) echo "$DIR/conf/redis.conf" ;;
	nats) echo "$DIR/conf/nats.conf" ;;
	haproxy) echo "$DIR/conf/haproxy.cfg" ;;
	*) echo "$DIR/conf/$1.yaml" ;;
	esac
}

# every part started, in start order (down stops them in reverse)
all_parts() {
	echo redis nats "${NAMES[@]}" haproxy
}

# ---- processes --------------------------------------------------------

# starttime PID: the process's start time in clock ticks since boot
# (field 22 of /proc/PID/stat); set at fork, kept across exec, so a pid
# reused by another process has another one
starttime() {
	local stat rest f
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	rest=${stat##*) }
	read -ra f <<<"$rest"
	echo "${f[19]}"
}

# alive PID: the process exists and is not a zombie
alive() {
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	rest=${stat##*) }
	[[ ${rest:0:1} != Z && ${rest:0:1} != X ]]
}

# ours PART: prints the part's pid when its pid file names a live process
# that is the one `up` started: same start time, and its command line
# holds the part's config file
ours() {
	local pidfile="$DIR/pids/$1.pid" pid st cmd
	[[ -f $pidfile ]] || return 1
	read -r pid st <"$pidfile" || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	alive "$pid" || return 1
	[[ $(starttime "$pid") == "$st" ]] || return 1
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmd == *"$(conf_of "$1")"* ]] || return 1
	echo "$pid"
}

STARTED=() # pids of the children this invocation started
declare -A PID_OF=()

# spawn PART CMD...: start CMD in the background (its own session, so a
# Ctrl-C in the terminal later does not reach it), its output appended to
# logs/PART.log, and write pids/PART.pid. The header line goes through the
# process's own stdout: HAProxy clears O_APPEND on it, and then writes
# where that file position is.
spawn() {
	local part=$1 log="$DIR/logs/$1.log" pid st
	shift
	{
		trap - PIPE INT TERM HUP
		echo "=== cluster.sh: $part starting at $(date '+%F %T'): $*"
		exec setsid "$@"
	} </dev/null >>"$log" 2>&1 &
	pid=$!
	STARTED+=("$pid")
	PID_OF[$part]=$pid
	st=$(starttime "$pid") || st=0
	echo "$pid $st" >"$DIR/pids/$part.pid"
}

# stop_pids PID...: SIGTERM, up to 20 s to exit, then SIGKILL
stop_pids() {
	local pid left i
	for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
	for ((i = 0; i < 200; i++)); do
		left=()
		for pid in "$@"; do alive "$pid" && left+=("$pid"); done
		((${#left[@]} == 0)) && break
		sleep 0.1
	done
	for pid in "${left[@]}"; do
		echo "cluster: pid $pid did not stop in 20 s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	done
	for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

# ---- health checks ----------------------------------------------------

# port_open PORT: something accepts connections on 127.0.0.1:PORT
port_open() {
	(exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# redis_ping: PONG from our Redis (AUTH first when it has a password)
# shellcheck disable=SC2016 # RESP's $N lengths, not expansions
redis_ping() (
	exec 2>/dev/null
	exec 3<>"/dev/tcp/$HOST/$REDIS_PORT" || exit 1
	if [[ -n $REDIS_PASSWORD ]]; then
		printf '*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n' "${#REDIS_PASSWORD}" "$REDIS_PASSWORD" >&3
		IFS= read -r -t 2 line <&3 || exit 1
		[[ $line == +OK* ]] || exit 1
	fi
	printf '*1\r\n$4\r\nPING\r\n' >&3
	IFS= read -r -t 2 line <&3 || exit 1
	[[ $line == +PONG* ]]
)

http_ok() {
	[[ $("${CURL[@]}" -w '%{http_code}' "$1" 2>/dev/null) == 200 ]]
}

# healthy PART: the part answers as a ready one
healthy() {
	case $1 in
	redis) redis_ping ;;
	nats) http_ok "http://$HOST:$NATS_MONITOR_PORT/healthz" ;;
	haproxy) http_ok "http://$HOST:$PORT/readyz" ;;
	*) http_ok "http://$HOST:${IPORT[$1]}/readyz" ;;
	esac
}

where_of() {
	case $1 in
	redis) echo "$HOST:$REDIS_PORT" ;;
	nats) echo "nats://$HOST:$NATS_PORT" ;;
	haproxy) echo "http://$HOST:$PORT" ;;
	*) echo "http://$HOST:${IPORT[$1]}" ;;
	esac
}

# fail PART WHY: which part failed, the end of its log; the EXIT trap
# stops what was started
fail() {
	local log="$DIR/logs/$1.log"
	echo "cluster: $1 did not come up: $2" >&2
	if [[ -f $log ]]; then
		echo "cluster: last lines of $(shown "$log"):" >&2
		tail -n 25 "$log" | sed 's/^/    /' >&2
	fi
	exit 1
}

# wait_healthy PART...: until every part answers, START_TIMEOUT each at most
wait_healthy() {
	local deadline=$((SECONDS + START_TIMEOUT)) part pending
	pending=("$@")
	while ((${#pending[@]} > 0)); do
		local next=()
		for part in "${pending[@]}"; do
			if ! alive "${PID_OF[$part]}"; then
				local rc=0
				wait "${PID_OF[$part]}" 2>/dev/null || rc=$?
				fail "$part" "it exited (status $rc)"
			fi
			healthy "$part" || next+=("$part")
		done
		pending=("${next[@]}")
		((${#pending[@]} == 0)) && break
		((SECONDS < deadline)) || fail "${pending[0]}" "no answer from $(where_of "${pending[0]}") in ${START_TIMEOUT}s"
		sleep 0.1
	done
}

# ---- config files ------------------------------------------------------

# render TEMPLATE OUT KEY VALUE...: the template with each @KEY@ replaced,
# comment lines (#...) as they are; every field of the template must be given
render() {
	local tpl=$1 out=$2 line k field text=""
	shift 2
	local -A val=()
	while (($# >= 2)); do
		val[$1]=$2
		shift 2
	done
	while read -r field; do
		[[ -n $field && -n ${val[${field//@/}]+set} ]] ||
			{ [[ -z $field ]] || die "$tpl: field $field is not filled in (scripts/cluster.sh)"; }
	done < <(grep -v '^[[:space:]]*#' "$tpl" | grep -o '@[A-Z_]*@' | sort -u)
	while IFS= read -r line || [[ -n $line ]]; do
		if ! [[ $line =~ ^[[:space:]]*# ]]; then
			for k in "${!val[@]}"; do line=${line//"@$k@"/"${val[$k]}"}; done
		fi
		text+=$line$'\n'
	done <"$tpl"
	printf '%s' "$text" >"$out"
}

yaml_quote() {
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}

write_configs() {
	local auth="" servers="" name
	[[ -n $REDIS_PASSWORD ]] && auth="requirepass $(yaml_quote "$REDIS_PASSWORD")"
	render deploy/redis.conf "$DIR/conf/redis.conf" \
		REDIS_PORT "$REDIS_PORT" REDIS_DIR "$(yaml_quote "$DIR/data/redis")" REDIS_AUTH "$auth"
	render deploy/nats.conf "$DIR/conf/nats.conf" \
		NATS_PORT "$NATS_PORT" NATS_MONITOR_PORT "$NATS_MONITOR_PORT" NATS_STORE "$DIR/data/nats"
	for name in "${NAMES[@]}"; do
		servers+="    server $name $HOST:${IPORT[$name]}"$'\n'
		write_instance_config "$name"
	done
	render deploy/haproxy.cfg "$DIR/conf/haproxy.cfg" \
		PORT "$PORT" STATS_PORT "$STATS_PORT" SERVERS "${servers%$'\n'}"
}

write_instance_config() {
	local name=$1
	{
		echo "# generated by scripts/cluster.sh; rewritten by every make cluster"
		echo "addr: $HOST:${IPORT[$name]}"
		echo "data_dir: $(yaml_quote "$DIR/data/$name")"
		echo "log_level: $LOG_LEVEL"
		if [[ -z $EMBEDDED_TEST ]]; then
			echo "storage: cluster"
			echo "cluster:"
			echo "  redis: $HOST:$REDIS_PORT"
			[[ -n $REDIS_PASSWORD ]] && echo "  redis_password: $(yaml_quote "$REDIS_PASSWORD")"
			echo "  nats: nats://$HOST:$NATS_PORT"
			[[ -n $NATS_CREDS ]] && echo "  nats_creds: $(yaml_quote "$NATS_CREDS")"
			echo "  instance: $name"
		fi
		if [[ -n $EXTRA_CONFIG ]]; then
			echo "# from $EXTRA_CONFIG"
			cat "$EXTRA_CONFIG"
		fi
	} >"$DIR/conf/$name.yaml"
}

# ---- the binaries --------------------------------------------------------

find_bin() { # NAME [DIR...]: the first NAME on PATH or in the DIRs
	local name=$1 d
	shift
	if command -v "$name" >/dev/null 2>&1; then
		command -v "$name"
		return
	fi
	for d in "$@"; do
		[[ -x $d/$name ]] && {
			echo "$d/$name"
			return
		}
	done
	return 1
}

find_bins() {
	local gobin=$HOME/go/bin gopath
	if gopath=$("$GO" env GOPATH 2>/dev/null) && [[ -n $gopath ]]; then
		gobin=${gopath%%:*}/bin
	fi
	REDIS_SERVER=$(find_bin redis-server /usr/sbin /usr/local/bin) ||
		die "redis-server not found: make engines installs it"
	NATS_SERVER=$(find_bin nats-server "$gobin") ||
		die "nats-server not found on PATH or in $gobin: make engines installs it"
	HAPROXY=$(find_bin haproxy /usr/sbin /usr/local/sbin) ||
		die "haproxy not found: make engines installs it"
	command -v curl >/dev/null 2>&1 || die "curl not found (apt-get install curl)"
	command -v setsid >/dev/null 2>&1 || die "setsid not found (apt-get install util-linux)"
	[[ -x $BIN ]] || die "$BIN not found: make cluster builds it (or: make build)"
}

# ---- commands ----------------------------------------------------------

UP_DONE=
cleanup_up() {
	[[ -n $UP_DONE ]] && return
	set +e
	trap - EXIT INT TERM HUP
	if ((${#STARTED[@]} > 0)); then
		echo "cluster: stopping what was started" >&2 2>/dev/null
		stop_pids "${STARTED[@]}"
		local part
		for part in "${!PID_OF[@]}"; do rm -f "$DIR/pids/$part.pid"; done
	fi
}

cmd_up() {
	local t0=$EPOCHREALTIME part pid
	find_bins
	if [[ -n $EXTRA_CONFIG ]]; then
		case $EXTRA_CONFIG in /*) ;; *) EXTRA_CONFIG=$CALLER_PWD/$EXTRA_CONFIG ;; esac
		[[ -r $EXTRA_CONFIG ]] || die "CLUSTER_EXTRA_CONFIG: cannot read $EXTRA_CONFIG"
	fi

	# already running from this run directory?
	for part in $(all_parts); do
		if pid=$(ours "$part"); then
			die "already running from $(shown "$DIR") ($part: pid $pid); make cluster-down first"
		fi
	done
	# every port free, and no port twice
	local -A seen=()
	local -a ports=("redis:$REDIS_PORT:CLUSTER_REDIS_PORT" "nats:$NATS_PORT:CLUSTER_NATS_PORT"
		"nats monitoring:$NATS_MONITOR_PORT:CLUSTER_NATS_MONITOR_PORT"
		"haproxy:$PORT:CLUSTER_PORT" "haproxy stats:$STATS_PORT:CLUSTER_STATS_PORT")
	for part in "${NAMES[@]}"; do ports+=("instance $part:${IPORT[$part]}:CLUSTER_INSTANCES"); done
	local spec what p var
	for spec in "${ports[@]}"; do
		IFS=: read -r what p var <<<"$spec"
		[[ -z ${seen[$p]:-} ]] || die "port $p is given to both ${seen[$p]} and $what"
		seen[$p]=$what
		if port_open "$p"; then
			die "port $p ($what) is already in use on $HOST: stop what holds it, or choose another port with $var=..."
		fi
	done

	mkdir -p "$DIR"/{conf,logs,pids,data/redis,data/nats}
	for part in "${NAMES[@]}"; do mkdir -p "$DIR/data/$part"; done
	rm -f "$DIR"/pids/*.pid
	write_configs
	"$HAPROXY" -c -q -f "$DIR/conf/haproxy.cfg" >"$DIR/logs/haproxy-check.log" 2>&1 || {
		cat "$DIR/logs/haproxy-check.log" >&2
		die "haproxy refuses $(shown "$DIR/conf/haproxy.cfg")"
	}

	# from here on, whatever ends this script (an error, Ctrl-C, a closed
	# pipe on its output) stops what it started
	trap cleanup_up EXIT
	trap 'echo "cluster: interrupted" >&2; exit 130' INT TERM HUP
	trap '' PIPE

	echo "cluster: starting redis and nats"
	spawn redis "$REDIS_SERVER" "$DIR/conf/redis.conf"
	spawn nats "$NATS_SERVER" -js -c "$DIR/conf/nats.conf"
	wait_healthy redis nats

	echo "cluster: starting instances ${NAMES[*]}${EMBEDDED_TEST:+ (CLUSTER_EMBEDDED_TEST: embedded storage, no shared state)}"
	for part in "${NAMES[@]}"; do
		spawn "$part" "$BIN" serve --config "$DIR/conf/$part.yaml" --addr "$HOST:${IPORT[$part]}" --data "$DIR/data/$part"
	done
	wait_healthy "${NAMES[@]}"

	echo "cluster: starting haproxy"
	spawn haproxy "$HAPROXY" -db -f "$DIR/conf/haproxy.cfg"
	wait_healthy haproxy

	UP_DONE=1
	trap - EXIT INT TERM HUP
	local took
	took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	local d logs
	d=$(shown "$DIR")
	logs=$(all_parts)
	logs=${logs// /,}
	echo
	echo "nextbest cluster up in ${took}s${EMBEDDED_TEST:+ (CLUSTER_EMBEDDED_TEST: embedded instances, no shared state)}"
	row() { printf '  %-26s %s\n' "$1" "$2"; }
	row "http://$HOST:$PORT" "nextbest through HAProxy (roundrobin over ${NAMES[*]})"
	row "http://$HOST:$STATS_PORT/" "HAProxy stats: which instance is UP"
	for part in "${NAMES[@]}"; do
		row "http://$HOST:${IPORT[$part]}" "instance $part (/readyz /metrics /ui/)"
	done
	row "$HOST:$REDIS_PORT" "redis (redis-cli -p $REDIS_PORT)"
	row "nats://$HOST:$NATS_PORT" "nats JetStream (monitoring: http://$HOST:$NATS_MONITOR_PORT/jsz)"
	row "run dir" "$d (conf/ data/ logs/ pids/)"
	row "logs" "$d/logs/{$logs}.log"
	row "try" "curl -s -XPOST $HOST:$PORT/v1/decide -H 'Content-Type: application/json' -d '{\"customer_id\":\"c-0042\",\"channel\":\"web\"}'"
	local mk=""
	[[ $DIR == "$ROOT/run/cluster" ]] || mk=" CLUSTER_DIR='$d'"
	row "status" "make cluster-status$mk"
	row "stop" "make cluster-down$mk (the data stays in $d/data; make cluster-clean$mk removes it)"
}

cmd_down() {
	[[ -d $DIR/pids ]] || {
		echo "cluster: nothing to stop ($(shown "$DIR")/pids does not exist)"
		return 0
	}
	local part pid stopped=0 f extras=()
	# pid files of instances no longer in CLUSTER_INSTANCES are stopped too
	for f in "$DIR"/pids/*.pid; do
		[[ -e $f ]] || continue
		part=$(basename "$f" .pid)
		[[ " $(all_parts) " == *" $part "* ]] || extras+=("$part")
	done
	# in phases, the reverse of up: haproxy (no more traffic), the
	# instances together, nats, redis
	local phase group gparts
	for phase in "haproxy ${extras[*]}" "${NAMES[*]}" nats redis; do
		group=() gparts=()
		for part in $phase; do
			[[ -f $DIR/pids/$part.pid ]] || continue
			if pid=$(ours "$part"); then
				group+=("$pid")
				gparts+=("$part")
				continue
			fi
			read -r pid _ <"$DIR/pids/$part.pid" || pid=unknown
			if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid"; then
				echo "cluster: $part: pid $pid is no longer the process cluster.sh started; left alone"
			else
				echo "cluster: $part: not running (pid $pid gone)"
			fi
			rm -f "$DIR/pids/$part.pid"
		done
		((${#group[@]} > 0)) || continue
		echo "cluster: stopping ${gparts[*]} (pid ${group[*]})"
		stop_pids "${group[@]}"
		for part in "${gparts[@]}"; do rm -f "$DIR/pids/$part.pid"; done
		stopped=$((stopped + ${#group[@]}))
	done
	echo "cluster: stopped $stopped process(es); the data stays in $(shown "$DIR")/data"
}

cmd_status() {
	local part pid state rc=0
	for part in $(all_parts); do
		if pid=$(ours "$part"); then
			if healthy "$part"; then state=healthy; else
				state="running, not answering"
				rc=1
			fi
		else
			pid=- state="not running"
			rc=1
		fi
		printf '%-8s %-8s %-24s %s\n' "$part" "$pid" "$(where_of "$part")" "$state"
	done
	return $rc
}

cmd_start_instance() {
	local name=${1:-} pid
	[[ -n $name && -n ${IPORT[$name]:-} ]] || die "start-instance: NAME is one of: ${NAMES[*]}"
	find_bins
	if pid=$(ours "$name"); then die "$name is running (pid $pid)"; fi
	port_open "${IPORT[$name]}" && die "port ${IPORT[$name]} ($name) is already in use on $HOST"
	# the config file `up` wrote, as it is (the same storage, the same mode)
	[[ -f $(conf_of "$name") ]] || die "no $(shown "$(conf_of "$name")"): start the cluster with make cluster"
	mkdir -p "$DIR/data/$name"
	trap cleanup_up EXIT
	trap 'echo "cluster: interrupted" >&2; exit 130' INT TERM HUP
	trap '' PIPE
	spawn "$name" "$BIN" serve --config "$DIR/conf/$name.yaml" --addr "$HOST:${IPORT[$name]}" --data "$DIR/data/$name"
	wait_healthy "$name"
	UP_DONE=1
	trap - EXIT INT TERM HUP
	echo "cluster: $name up on $(where_of "$name") (pid ${PID_OF[$name]})"
}

# clean: down, then remove the run directory, when it is one (it has
# conf/, data/, logs/ or pids/ and nothing else)
cmd_clean() {
	cmd_down
	[[ -d $DIR ]] || return 0
	local f
	for f in "$DIR"/* "$DIR"/.[!.]*; do
		[[ -e $f ]] || continue
		case ${f##*/} in conf | data | logs | pids) ;; *)
			die "$(shown "$DIR") holds ${f##*/}, which cluster.sh did not make; not removing it"
			;;
		esac
	done
	rm -rf "$DIR"
	echo "cluster: removed $(shown "$DIR")"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
clean) cmd_clean ;;
status) cmd_status ;;
start-instance) cmd_start_instance "${2:-}" ;;
*)
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
