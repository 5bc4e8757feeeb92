#!/usr/bin/env bash
# scripts/install-engines.sh [DEBIAN_PACKAGE...]: the engines of nextbest's
# cluster storage path, for its tests and for make cluster (make engines):
#
#   redis-server, haproxy  Debian packages (apt-get)
#   wrk                    Debian package (apt-get): the load generator of make bench-http
#   nodejs                 Debian package (apt-get): node runs the official Personalizer
#                          client SDK against the service (serve's TestPersonalizerSDK)
#   nats-server v2.15.2    go install, into $(go env GOPATH)/bin
#
# Extra Debian packages named as arguments are installed in the same
# apt-get run (.ci/run passes chromium), so apt-get update runs once.
# Idempotent: what is present is skipped (a package whose binary is found
# or that dpkg has installed; a nats-server whose --version reports the
# version), so a second run installs nothing and needs no network. Every
# download is retried. Runs apt-get as root, or through sudo.
#
# A package this run installs on a machine with systemd gets its service
# stopped and disabled (INSTALL_ENGINES_KEEP_SERVICES=1 keeps it): make
# cluster and the tests start their own redis-server and haproxy, and a
# system Redis would hold port 6379. What was there before is not touched.
#
# Environment: GO (go), NATS_SERVER_VERSION (2.15.2), INSTALL_ENGINES_TRIES (3).
set -euo pipefail

GO=${GO:-go}
NATS_VERSION=${NATS_SERVER_VERSION:-2.15.2}
NATS_VERSION=${NATS_VERSION#v}
TRIES=${INSTALL_ENGINES_TRIES:-3}

log() { echo "install-engines: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# ---- Debian packages ----------------------------------------------------

# present PKG: its binary (of the same name; node for nodejs) is found, or
# dpkg has it installed
present() {
	local d
	command -v "$1" >/dev/null 2>&1 && return 0
	[[ $1 == nodejs ]] && command -v node >/dev/null 2>&1 && return 0
	for d in /usr/sbin /usr/local/sbin /sbin /usr/local/bin; do
		[[ -x $d/$1 ]] && return 0
	done
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

SUDO=()
if [[ $(id -u) != 0 ]]; then
	SUDO=(sudo)
fi

apt() {
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get \
		-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3 "$@"
}

missing=()
for pkg in redis-server haproxy wrk nodejs "$@"; do
	[[ $pkg =~ ^[a-z0-9][a-z0-9.+-]*$ ]] || die "not a Debian package name: $pkg"
	if present "$pkg"; then
		log "$pkg: present"
	elif [[ " ${missing[*]} " != *" $pkg "* ]]; then
		missing+=("$pkg")
	fi
done

if ((${#missing[@]} > 0)); then
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${missing[*]} with your package manager"
	if ((${#SUDO[@]} > 0)) && ! command -v sudo >/dev/null 2>&1; then
		die "installing ${missing[*]} needs root (or sudo)"
	fi
	log "apt-get install ${missing[*]}"
	ok=
	for ((try = 1; try <= TRIES; try++)); do
		if apt update && apt install -y "${missing[@]}"; then
			ok=1
			break
		fi
		log "apt-get failed (try $try of $TRIES)"
		((try < TRIES)) || break
		# an install cut short leaves dpkg half-done; finish it before the retry
		"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive dpkg --configure -a || true
		sleep $((10 * try))
	done
	[[ -n $ok ]] || die "apt-get install ${missing[*]} failed $TRIES times"
	for pkg in "${missing[@]}"; do
		present "$pkg" || die "$pkg: apt-get succeeded but it is not installed"
	done

	# the services of what was installed now: make cluster and the tests
	# run their own, as child processes
	if [[ -z ${INSTALL_ENGINES_KEEP_SERVICES:-} && -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
		for pkg in "${missing[@]}"; do
			case $pkg in redis-server | haproxy) ;; *) continue ;; esac
			if systemctl is-enabled --quiet "$pkg" 2>/dev/null || systemctl is-active --quiet "$pkg" 2>/dev/null; then
				log "$pkg: stopping and disabling the service the package started (make cluster runs its own; INSTALL_ENGINES_KEEP_SERVICES=1 keeps it)"
				"${SUDO[@]}" systemctl disable --now "$pkg" || log "$pkg: could not disable its service; make cluster may find port 6379 taken"
			fi
		done
	fi
fi

# ---- nats-server ---------------------------------------------------------

command -v "$GO" >/dev/null 2>&1 || die "$GO not found: nats-server is installed with go install"
gopath=$("$GO" env GOPATH) || die "$GO env GOPATH failed"
[[ -n $gopath ]] || die "$GO env GOPATH is empty"
gobin=${gopath%%:*}/bin

# nats_version BIN: true when BIN --version reports NATS_VERSION
nats_version() {
	[[ -x $1 ]] || return 1
	local v
	v=$("$1" --version 2>/dev/null) || return 1
	[[ $v =~ (^|[^0-9.])v?${NATS_VERSION//./\\.}([[:space:]]|$) ]]
}

on_path=$(command -v nats-server 2>/dev/null || true)
nats_at=$gobin/nats-server
if nats_version "$gobin/nats-server"; then
	log "nats-server: v$NATS_VERSION present in $gobin"
elif [[ -n $on_path ]] && nats_version "$on_path"; then
	log "nats-server: v$NATS_VERSION present at $on_path"
	nats_at=$on_path
else
	log "go install github.com/nats-io/nats-server/v2@v$NATS_VERSION into $gobin"
	mkdir -p "$gobin"
	ok=
	for ((try = 1; try <= TRIES; try++)); do
		# outside any module or workspace, without the caller's GOFLAGS
		if (cd / && GOBIN=$gobin GOFLAGS='' GOWORK=off "$GO" install "github.com/nats-io/nats-server/v2@v$NATS_VERSION"); then
			ok=1
			break
		fi
		log "go install failed (try $try of $TRIES)"
		((try < TRIES)) || break
		sleep $((10 * try))
	done
	[[ -n $ok ]] || die "go install nats-server v$NATS_VERSION failed $TRIES times"
	nats_version "$gobin/nats-server" || die "$gobin/nats-server does not report v$NATS_VERSION"
	if [[ -n $on_path && $on_path != "$gobin/nats-server" ]]; then
		log "note: $on_path (on PATH, another version) comes before $gobin/nats-server"
	fi
fi

redis_v=$(redis-server --version 2>/dev/null | awk '{ print $3 }' || true)
haproxy_bin=$(command -v haproxy 2>/dev/null || echo /usr/sbin/haproxy)
haproxy_v=$("$haproxy_bin" -v 2>/dev/null | awk 'NR == 1 { print $3 }' || true)
log "ready: redis-server ${redis_v#v=}, haproxy $haproxy_v, nats-server v$NATS_VERSION ($nats_at), node $(node --version 2>/dev/null || echo '?')"
case ":$PATH:" in
*":$gobin:"*) ;;
*) log "note: $gobin is not on PATH (make cluster and the tests look there too)" ;;
esac
