#!/bin/sh
# clamd.sh — a private clamd for `make run` and the test suites (RG-IM-a,
# WC-STORE, MI-3; user rule "scan downloaded files for viruses").
#
#   scripts/clamd.sh start DIR    start (or find running) clamd; prints the socket
#   scripts/clamd.sh stop DIR     stop it (by the PID in DIR/clamd.pid)
#   scripts/clamd.sh status DIR   exit 0 when it answers PING with PONG
#
# DIR receives clamd.conf, clamd.sock (mode 0666), clamd.pid, clamd.log,
# db/ and tmp/.  DIR itself is made traversable (o+x, not readable) so an
# unprivileged server user (e.g. `bulwark`) can reach the socket; every parent
# of DIR must be traversable too, which is the caller's business.
#
# Signatures: freshclam cannot reach its mirrors here and clamd refuses to
# start with an empty database directory, so db/ holds a copy of the shipped
# share/clamav/bulwark-test.ndb (BULWARK_CLAMD_DB=FILE ships another single
# signature file instead; production deployments use the system clamd and
# its freshclam database, not this script).  That .ndb has exactly one line:
#   Bulwark.Test.EICAR:0:*:<hex of the 68-byte EICAR test string>
# i.e. name, target type 0 (any file), offset * (anywhere), body = the EICAR
# string "X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*".
# It detects that string and nothing else; clamd reports it as
# "Bulwark.Test.EICAR.UNOFFICIAL" (unsigned databases get that suffix).
#
# clamd runs in the foreground of a background job with no `User` directive:
# it keeps the identity of whoever ran this script (root or an ordinary user);
# it never needs to drop privileges because it only reads what we stream.
#
# Bounds: start waits at most 20 s for PONG (BULWARK_CLAMD_WAIT), stop at most
# 10 s before SIGKILL.  Concurrent start/stop on one DIR are serialised by a
# mkdir lock (stale after 60 s).  POSIX sh; needs clamd and one of clamdscan,
# perl, python3 or socat for PING.
set -eu

usage() {
	echo "usage: $0 start|stop|status DIR" >&2
	exit 2
}

die() {
	echo "clamd.sh: $*" >&2
	exit 1
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2

here=$(cd "$(dirname "$0")" && pwd -P)
ndb_src=${BULWARK_CLAMD_DB:-$here/../share/clamav/bulwark-test.ndb}
wait_max=${BULWARK_CLAMD_WAIT:-20}
case $wait_max in '' | *[!0-9]*) die "BULWARK_CLAMD_WAIT must be a number of seconds" ;; esac
[ "$wait_max" -le 20 ] || wait_max=20

find_clamd() {
	if [ -n "${CLAMD:-}" ]; then
		echo "$CLAMD"
	elif command -v clamd >/dev/null 2>&1; then
		command -v clamd
	elif [ -x /usr/sbin/clamd ]; then
		echo /usr/sbin/clamd
	else
		return 1
	fi
}

# Absolute, canonical DIR with characters clamd.conf can hold unquoted.
prepare_dir() {
	mkdir -p "$dir" || die "cannot create $dir"
	dir=$(cd "$dir" && pwd -P) || die "cannot enter $dir"
	case $dir in *[!A-Za-z0-9._/+-]*) die "DIR may hold only [A-Za-z0-9._/+-]: $dir" ;; esac
	conf=$dir/clamd.conf
	sock=$dir/clamd.sock
	pidf=$dir/clamd.pid
	logf=$dir/clamd.log
	lock=$dir/.clamd.lock
	# sun_path is 108 bytes including the NUL.
	[ ${#sock} -le 100 ] || die "socket path too long (${#sock} > 100): $sock"
}

now() { date +%s; }

nap() { sleep 0.2 2>/dev/null || sleep 1; }

lock_take() {
	deadline=$(($(now) + 60))
	while ! mkdir "$lock" 2>/dev/null; do
		if [ "$(now)" -ge "$deadline" ]; then
			echo "clamd.sh: breaking stale lock $lock" >&2
			rmdir "$lock" 2>/dev/null || true
			deadline=$(($(now) + 60))
		fi
		nap
	done
	trap 'rmdir "$lock" 2>/dev/null || true' EXIT
	trap 'exit 130' INT TERM HUP
}

# PING → PONG on $sock, bounded to a few seconds.  0 when clamd answered.
ping_once() {
	[ -S "$sock" ] || return 1
	to=""
	command -v timeout >/dev/null 2>&1 && to="timeout 5"
	if command -v clamdscan >/dev/null 2>&1 && [ -f "$conf" ]; then
		$to clamdscan --ping 1 --config-file="$conf" 2>/dev/null | grep -qx PONG
	elif command -v perl >/dev/null 2>&1; then
		# shellcheck disable=SC2016 # perl code, not shell
		$to perl -MIO::Socket::UNIX -e '
			my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $ARGV[0]) or exit 1;
			$s->send("zPING\0"); my $r = ""; $s->recv($r, 64);
			exit($r =~ /^PONG\0?$/ ? 0 : 1);' "$sock"
	elif command -v python3 >/dev/null 2>&1; then
		$to python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(4)
s.connect(sys.argv[1]); s.sendall(b"zPING\0")
sys.exit(0 if s.recv(64).rstrip(b"\0") == b"PONG" else 1)' "$sock" 2>/dev/null
	elif command -v socat >/dev/null 2>&1; then
		printf 'PING\n' | $to socat - "UNIX-CONNECT:$sock" 2>/dev/null | grep -qx PONG
	else
		die "need clamdscan, perl, python3 or socat to PING clamd"
	fi
}

# The PID in the pid file when that process is alive and is clamd.
running_pid() {
	[ -f "$pidf" ] || return 1
	p=""
	read -r p <"$pidf" || true
	case $p in '' | *[!0-9]*) return 1 ;; esac
	kill -0 "$p" 2>/dev/null || return 1
	if [ -r "/proc/$p/cmdline" ]; then
		# A recycled PID must not be taken for ours: clamd -c $conf.
		tr '\000' '\n' <"/proc/$p/cmdline" | grep -qxF "$conf" || return 1
		comm=$(cat "/proc/$p/comm")
	else
		comm=$(ps -p "$p" -o comm= 2>/dev/null || true)
	fi
	case $comm in *clamd*) echo "$p" ;; *) return 1 ;; esac
}

# Waits (bounded) until $1 answers PING; fails when it dies or times out.
wait_ready() {
	deadline=$(($(now) + wait_max))
	while :; do
		ping_once && return 0
		kill -0 "$1" 2>/dev/null || return 1
		[ "$(now)" -lt "$deadline" ] || return 1
		nap
	done
}

write_conf() {
	cat >"$conf.tmp" <<EOF
# Written by scripts/clamd.sh; rewritten on every start.
Foreground yes
LocalSocket $sock
LocalSocketMode 666
FixStaleSocket yes
DatabaseDirectory $dir/db
TemporaryDirectory $dir/tmp
PidFile $pidf
StreamMaxLength 25M
SelfCheck 0
MaxThreads 4
EOF
	mv -f "$conf.tmp" "$conf"
}

stop_pid() {
	kill -TERM "$1" 2>/dev/null || true
	deadline=$(($(now) + 10))
	while kill -0 "$1" 2>/dev/null; do
		if [ "$(now)" -ge "$deadline" ]; then
			kill -KILL "$1" 2>/dev/null || true
			break
		fi
		nap
	done
}

do_start() {
	clamd_bin=$(find_clamd) || die "clamd not found (install clamav-daemon)"
	[ -r "$ndb_src" ] || die "signature file not found: $ndb_src"
	prepare_dir
	lock_take
	chmod u+rwx,go+x "$dir"
	if pid=$(running_pid); then
		wait_ready "$pid" || die "clamd (pid $pid) runs but does not answer on $sock"
		echo "$sock"
		return 0
	fi
	rm -f "$pidf" "$sock"
	mkdir -p "$dir/db" "$dir/tmp"
	chmod 0755 "$dir/db"
	chmod 0700 "$dir/tmp"
	rm -f "$dir"/db/*
	cp "$ndb_src" "$dir/db/$(basename "$ndb_src")"
	write_conf
	: >>"$logf"
	"$clamd_bin" -c "$conf" </dev/null >>"$logf" 2>&1 &
	pid=$!
	echo "$pid" >"$pidf"
	if ! wait_ready "$pid"; then
		stop_pid "$pid"
		rm -f "$pidf" "$sock"
		tail -n 20 "$logf" >&2 || true
		die "clamd did not answer PING within ${wait_max}s"
	fi
	chmod 0666 "$sock"
	echo "$sock"
}

do_stop() {
	[ -d "$dir" ] || return 0
	prepare_dir
	lock_take
	if pid=$(running_pid); then
		stop_pid "$pid"
	fi
	rm -f "$pidf" "$sock"
}

do_status() {
	[ -d "$dir" ] || exit 1
	prepare_dir
	pid=$(running_pid) || exit 1
	ping_once || exit 1
	echo "$sock (pid $pid)"
}

case $cmd in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
*) usage ;;
esac
