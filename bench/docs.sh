#!/bin/sh
# shellcheck disable=SC2086,SC2046  # flag lists are split into words on purpose
# bench/docs.sh — co-editing benchmark (design.md "Budgets": 50 editors
# converge with op round trip p99 <= 20 ms; 1,000 editors on one document
# with p95 <= 100 ms on this 2-core machine; Etherpad's published ceiling is
# ~350-400 authors per pad on 4 vCPU), with the same load against a ShareDB
# server (rich-text OT type, npm) on this machine, reported side by side and
# as ratios ShareDB / Bulwark.
#
# For each editor count N in --levels and each server in --only it
#   1. starts the server afresh on 127.0.0.1 pinned to CPU 0 (taskset):
#      Bulwark `serve` on a data directory seeded once with max(N) users
#      (`bulwark loadtest-seed`), or bench/sharedb/server.mjs (ShareDB 7,
#      rich-text, in-memory database; `npm ci` there when node_modules is
#      missing)
#   2. Bulwark: creates a fresh document (POST /api/v1/documents as user 1)
#      that the whole tenant may edit (PUT .../permissions); ShareDB: the
#      document docs/bench does not exist yet
#   3. runs bench/docload.c pinned to CPU 1: N editors connect, the first
#      writes N paragraphs in one op, all open the document, then each makes
#      --rate edits/s in its own paragraph (one op in flight per client,
#      later edits buffered and sent composed on the ack); --warmup s, then
#      --duration s measured, then edits stop and the clients must converge
#   4. compares the server's document (GET /api/v1/documents/{id}, or the
#      ShareDB snapshot) with the text the clients expect, and its revision
#      with theirs
#   5. stops the server by PID
# and prints a markdown report, also written to bench/results/docs-<date>.md.
#
# usage: bench/docs.sh [--levels 50,100,200,400,1000] [--rate 5] [--warmup 5]
#          [--duration 20] [--drain 15] [--only "bulwark sharedb"] [--tls 1|0]
#          [--port-base 27500] [--nice -10] [--rt 0|1] [--out FILE] [--keep]
#          [--tree DIR] [--report-only DIR]
#   --tls 0 runs ShareDB over plain WebSocket (Bulwark is always TLS).
#   --rt 1 runs both servers and the generator SCHED_FIFO (chrt -f 20; root):
#     on a machine shared with other work, nice alone still lets other
#     processes delay the generator by tens of ms (see "measurement").
#   --tree DIR: take build/bulwark and web/dist from DIR (default: this tree).
#   --keep keeps the work directory (JSON, logs); --report-only DIR prints the
#     report of a kept directory again.
#   DOCLOAD_CFLAGS (environment) replaces -O2 when building the generator.
# Everything listens on 127.0.0.1 only, every phase has a time limit, and only
# processes this script started are stopped, by PID.  A full run (5 levels, 2
# servers) takes about 6-7 minutes.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TREE=$ROOT
ARGS="$*"
LEVELS=50,100,200,400,1000 RATE=5 WARMUP=5 DURATION=20 DRAIN=15
ONLY="bulwark sharedb" TLS=1 PORT_BASE=27500 OUT="" OUT_GIVEN="" KEEP=0 REPORT_ONLY="" NICE=-10 RT=0
while [ $# -gt 0 ]; do
	case $1 in
	--levels) LEVELS=$2 ;;
	--rate) RATE=$2 ;;
	--warmup) WARMUP=$2 ;;
	--duration) DURATION=$2 ;;
	--drain) DRAIN=$2 ;;
	--only) ONLY=$2 ;;
	--tls) TLS=$2 ;;
	--port-base) PORT_BASE=$2 ;;
	--nice) NICE=$2 ;;
	--rt) RT=$2 ;;
	--out) OUT=$2 OUT_GIVEN=1 ;;
	--tree) TREE=$(cd "$2" && pwd) ;;
	--keep) KEEP=1; shift; continue ;;
	--report-only) REPORT_ONLY=$2 ;;
	-h|--help) sed -n '2,/^if \[/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "docs: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift 2
done
case $LEVELS in ''|*[!0-9,]*|,*|*,|*,,*) echo "docs: --levels is a comma list of editor counts" >&2; exit 2 ;; esac
case $RATE in ''|*[!0-9.]*) echo "docs: --rate must be a number" >&2; exit 2 ;; esac
for v in WARMUP DURATION DRAIN PORT_BASE TLS RT; do
	case ${!v} in ''|*[!0-9]*) echo "docs: --${v,,} must be a whole number" >&2; exit 2 ;; esac
done
NMAX=0
for n in ${LEVELS//,/ }; do
	if [ "$n" -lt 2 ] || [ "$n" -gt 4000 ]; then echo "docs: editor counts are 2..4000" >&2; exit 2; fi
	[ "$n" -gt "$NMAX" ] && NMAX=$n
done
if [ "$DURATION" -lt 1 ] || [ "$DURATION" -gt 600 ] || [ "$WARMUP" -gt 120 ] || [ "$DRAIN" -gt 120 ] ||
	[ "$PORT_BASE" -lt 1024 ] || [ "$PORT_BASE" -gt 65000 ] || [ "$TLS" -gt 1 ] || [ "$RT" -gt 1 ]; then
	echo "docs: need duration 1..600 s, warm-up and drain <= 120 s, port base 1024..65000" >&2
	exit 2
fi
case $NICE in -[0-9]|-1[0-9]|-20|[0-9]|1[0-9]) ;; *) echo "docs: --nice must be -20..19" >&2; exit 2 ;; esac
if [ -n "$REPORT_ONLY" ]; then
	W=$(cd "$REPORT_ONLY" && pwd)
	# shellcheck source=/dev/null
	. "$W/shape.env"
	KEEP=1
fi
P_BW=$((PORT_BASE + 43)) P_SD=$((PORT_BASE + 80))
[ -n "$REPORT_ONLY" ] || for p in $P_BW $P_SD; do
	if ss -ltn "sport = :$p" | grep -q LISTEN; then
		echo "docs: port $p is in use; choose another --port-base" >&2
		exit 2
	fi
done
ulimit -n 20000 2>/dev/null || true
if [ -z "$REPORT_ONLY" ] && [ "$(ulimit -n)" -lt $((NMAX + 200)) ]; then
	echo "docs: the open-file limit $(ulimit -n) is below N + 200" >&2
	exit 2
fi
# other work on a shared machine preempts the measured processes less at a
# lower nice value (root only), or not at all with SCHED_FIFO (--rt 1)
PRIO=""
if [ -z "$REPORT_ONLY" ]; then
	if [ "$RT" = 1 ]; then
		[ "$(id -u)" -eq 0 ] || { echo "docs: --rt 1 needs root" >&2; exit 2; }
		PRIO="chrt -f 20" NICE=0
	elif [ "$NICE" != 0 ] && { [ "$NICE" -gt 0 ] || [ "$(id -u)" -eq 0 ]; }; then
		PRIO="nice -n $NICE"
	else
		NICE=0
	fi
	if [ "$(nproc)" -ge 2 ]; then
		PIN_SRV="$PRIO taskset -c 0" PIN_CLI="$PRIO taskset -c 1"
		PINNING="server on CPU 0, load generator on CPU 1 (taskset)"
	else
		PIN_SRV="$PRIO" PIN_CLI="$PRIO" PINNING="one CPU: not pinned"
	fi
	if [ "$RT" = 1 ]; then PINNING="$PINNING, both SCHED_FIFO 20"; else PINNING="$PINNING, both at nice $NICE"; fi
fi

log() { printf 'docs: %s\n' "$*" >&2; }

need=""
command -v jq > /dev/null || need="$need jq"
command -v curl > /dev/null || need="$need curl"
if [ -n "$need" ] && [ -z "$REPORT_ONLY" ]; then
	log "installing$need"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends $need > /dev/null
fi

SRV_PID="" SRV_PIDS="" LOAD_PID=""
if [ -z "$REPORT_ONLY" ]; then
	W=$(mktemp -d /tmp/bulwark-docs.XXXXXX)
	chmod 755 "$W"   # the server's store cannot be opened below a 0700 directory
	DATE=$(date -u +%Y-%m-%d)
	STAMP=$(date -u +%Y-%m-%dT%H:%MZ)
	SD_VERSION="" RT_VERSION="" NODE_VERSION=$(node --version 2>/dev/null || echo none)
	for v in LEVELS RATE WARMUP DURATION DRAIN TLS DATE STAMP PINNING NICE RT NODE_VERSION ARGS; do
		printf '%s=%q\n' "$v" "${!v}"
	done > "$W/shape.env"
fi
[ -n "$OUT" ] || OUT=$ROOT/bench/results/docs-$DATE.md

# stop_pid PID [SECONDS]: TERM, wait, then KILL -- only this one process
stop_pid() {
	local pid=$1 t=${2:-10} i
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 $((t * 10))); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "process $pid did not stop in ${t}s: KILL"
	kill -KILL "$pid" 2>/dev/null || true
}
stop_server() {
	stop_pid "$SRV_PID" 20
	wait 2>/dev/null || true
	SRV_PID="" SRV_PIDS=""
}
cleanup() {
	stop_pid "$LOAD_PID" 10
	stop_server
	if [ "$KEEP" = 1 ]; then log "work directory kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the load generator, a certificate for ShareDB, ShareDB itself --------------------
if [ -z "$REPORT_ONLY" ]; then
	log "building docload"
	cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 \
		-Wno-unused-parameter -Wvla ${DOCLOAD_CFLAGS:--O2} $(pkg-config --cflags openssl) -o "$W/docload" \
		"$ROOT/bench/docload.c" $(pkg-config --libs openssl)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$W/peer-key.pem" \
		-out "$W/peer-cert.pem" 2> /dev/null
	case " $ONLY " in *" sharedb "*)
		if ! command -v node > /dev/null; then
			log "sharedb: node is missing (scripts/deps.sh installs it): skipped"
			ONLY=${ONLY//sharedb/}
		elif [ ! -d "$ROOT/bench/sharedb/node_modules/sharedb" ]; then
			log "sharedb: npm ci (bench/sharedb)"
			(cd "$ROOT/bench/sharedb" && timeout 300 npm ci --ignore-scripts --no-audit --no-fund > /dev/null) ||
				{ log "sharedb: npm ci failed: skipped"; ONLY=${ONLY//sharedb/}; }
		fi
		SD_VERSION=$(jq -r .version "$ROOT/bench/sharedb/node_modules/sharedb/package.json" 2>/dev/null || echo "?")
		RT_VERSION=$(jq -r .version "$ROOT/bench/sharedb/node_modules/rich-text/package.json" 2>/dev/null || echo "?")
		QD_VERSION=$(jq -r .version "$ROOT/bench/sharedb/node_modules/quill-delta/package.json" 2>/dev/null || echo "?")
		printf 'SD_VERSION=%q\nRT_VERSION=%q\nQD_VERSION=%q\n' "$SD_VERSION" "$RT_VERSION" "$QD_VERSION" >> "$W/shape.env"
		;;
	esac
fi

# run_load NAME N ARGS...: docload pinned to the client CPU; JSON to $W/NAME.json
SRC_BASE=0
run_load() {
	local name=$1 n=$2 rc=0
	shift 2
	log "$name: docload --n $n --rate $RATE $*"
	# fresh client addresses for every run (servers throttle upgrades per address)
	timeout $((WARMUP + DURATION + DRAIN + 300)) $PIN_CLI "$W/docload" --n "$n" --rate "$RATE" \
		--warmup "$WARMUP" --duration "$DURATION" --drain "$DRAIN" --per-src 20 --src-base "$SRC_BASE" \
		--server-pid "$SRV_PIDS" --expect-out "$W/$name.expect" "$@" > "$W/$name.json" 2> "$W/$name.err" &
	LOAD_PID=$!
	wait "$LOAD_PID" || rc=$?
	LOAD_PID=""
	SRC_BASE=$((SRC_BASE + n / 20 + 1))
	grep -v '^docload: \[' "$W/$name.err" | sed "s/^/  /" >&2 || true
	if ! jq -e . "$W/$name.json" > /dev/null 2>&1; then
		log "$name: no results (exit $rc)"
		rm -f "$W/$name.json"
		return 1
	fi
	log "$name: exit $rc; $(jq -r '"rtt p50/p95/p99 \(.window.latency_us.rtt.p50/1000)/\(.window.latency_us.rtt.p95/1000)/\(.window.latency_us.rtt.p99/1000) ms, \(.window.committed_per_s) ops/s, server CPU \(.window.server_cpu_pct)%, converged \(.converged)"' "$W/$name.json")"
}

# verify NAME REV TEXTFILE: the server's revision and text against the clients'
verify() {
	local name=$1 srev=$2 text=$3 crev same="no"
	crev=$(jq -r '.final.max_rev' "$W/$name.json" 2>/dev/null || echo "-")
	[ -f "$W/$name.expect" ] && cmp -s "$text" "$W/$name.expect" && same="yes"
	printf '{"server_rev": %s, "server_len": %s, "expected_len": %s, "text_matches": "%s", "client_rev": %s}\n' \
		"${srev:-null}" "$(wc -c < "$text" | tr -d ' ')" \
		"$( [ -f "$W/$name.expect" ] && wc -c < "$W/$name.expect" | tr -d ' ' || echo null)" "$same" \
		"${crev:-null}" > "$W/$name.verify"
	log "$name: server revision ${srev:-?}, clients ${crev}, text matches: $same"
}

# ---- Bulwark ------------------------------------------------------------------------------
BW_SEEDED=""
bw_curl() { # METHOD PATH [BODY]
	curl -s --max-time 15 --cacert "$W/bulwark/data/tls/cert.pem" -H "Authorization: Bearer $BW_TICKET" \
		-H 'Content-Type: application/json' -X "$1" ${3:+-d "$3"} "https://127.0.0.1:$P_BW/api/v1$2"
}
run_bulwark() {
	local n=$1 bin=$TREE/build/bulwark d=$W/bulwark i name=bulwark-$1
	if [ ! -x "$bin" ]; then
		log "bulwark: $bin is missing: run \`make build/bulwark\` first"
		return 1
	fi
	if [ -z "$BW_SEEDED" ]; then
		mkdir -p "$d"
		"$bin" init --data "$d/data" --tenant bench --json > "$d/init.json" 2> "$d/init.log"
		log "bulwark: seeding $NMAX users (loadtest-seed)"
		if ! "$bin" loadtest-seed --data "$d/data" --tenant bench --users "$NMAX" --out "$d/users.tsv" \
			>> "$d/init.log" 2>&1; then
			log "bulwark: loadtest-seed failed:"; tail -n 5 "$d/init.log" >&2
			return 1
		fi
		BW_SEEDED=1
	fi
	BW_TICKET=$(head -n 1 "$d/users.tsv" | cut -f 3)
	log "bulwark: starting $bin on 127.0.0.1:$P_BW ($n editors)"
	$PIN_SRV "$bin" serve --data "$d/data" --listen "127.0.0.1:$P_BW" --web "$TREE/web/dist" \
		> "$d/server-$n.log" 2>&1 &
	SRV_PID=$!
	for i in $(seq 1 200); do
		curl -s --max-time 2 --cacert "$d/data/tls/cert.pem" "https://127.0.0.1:$P_BW/api/v1/health" \
			2>/dev/null | grep -q '"status":"ok"' && break
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.05
	done
	if ! kill -0 "$SRV_PID" 2>/dev/null; then
		log "bulwark: the server did not start"; tail -n 30 "$d/server-$n.log" >&2
		SRV_PID=""
		return 1
	fi
	# the key process is a child; its CPU and memory count
	SRV_PIDS=$SRV_PID
	for i in $(pgrep -P "$SRV_PID" || true); do SRV_PIDS="$SRV_PIDS,$i"; done
	local doc
	doc=$(bw_curl POST /documents "{\"title\":\"bench $n editors\"}" | jq -r '.document.id // empty')
	if [ -z "$doc" ] || ! bw_curl PUT "/documents/$doc/permissions" \
		'{"grants":[{"kind":"tenant","id":0,"role":"editor"}]}' | grep -q '"editor"'; then
		log "bulwark: cannot create the document"
		stop_server
		return 1
	fi
	run_load "$name" "$n" --proto bulwark --port "$P_BW" --ca "$d/data/tls/cert.pem" --users "$d/users.tsv" \
		--doc "$doc" || true
	bw_curl GET "/documents/$doc" > "$W/$name.server.json" || true
	jq -j '[.content.ops[] | .insert | strings] | join("")' "$W/$name.server.json" > "$W/$name.server.txt" 2>/dev/null || true
	verify "$name" "$(jq -r '.rev // empty' "$W/$name.server.json" 2>/dev/null)" "$W/$name.server.txt"
	grep -iE 'error|warn' "$d/server-$n.log" | grep -v common-password | tail -n 5 | sed 's/^/  server: /' >&2 || true
	stop_server
}

# ---- ShareDB --------------------------------------------------------------------------------
run_sharedb() {
	local n=$1 d=$W/sharedb i name=sharedb-$1 scheme=http tlsargs=()
	mkdir -p "$d"
	if [ "$TLS" = 1 ]; then
		scheme=https
		tlsargs=(--cert "$W/peer-cert.pem" --key "$W/peer-key.pem")
	fi
	log "sharedb: starting ShareDB $SD_VERSION (rich-text $RT_VERSION) on 127.0.0.1:$P_SD ($n editors)"
	$PIN_SRV node "$ROOT/bench/sharedb/server.mjs" --port "$P_SD" "${tlsargs[@]}" > "$d/server-$n.log" 2>&1 &
	SRV_PID=$! SRV_PIDS=$!
	for i in $(seq 1 200); do
		curl -s --max-time 2 --cacert "$W/peer-cert.pem" "$scheme://127.0.0.1:$P_SD/health" 2>/dev/null |
			grep -q '"status":"ok"' && break
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.05
	done
	if ! kill -0 "$SRV_PID" 2>/dev/null; then
		log "sharedb: the server did not start"; tail -n 30 "$d/server-$n.log" >&2
		SRV_PID=""
		return 1
	fi
	run_load "$name" "$n" --proto sharedb --port "$P_SD" --tls "$TLS" --ca "$W/peer-cert.pem" || true
	curl -s --max-time 30 --cacert "$W/peer-cert.pem" "$scheme://127.0.0.1:$P_SD/doc?c=docs&d=bench" \
		> "$W/$name.server.json" || true
	jq -j '[.data.ops[] | .insert | strings] | join("")' "$W/$name.server.json" > "$W/$name.server.txt" 2>/dev/null || true
	verify "$name" "$(jq -r '.v // empty' "$W/$name.server.json" 2>/dev/null)" "$W/$name.server.txt"
	grep -v 'ShareDB on' "$d/server-$n.log" | tail -n 5 | sed 's/^/  server: /' >&2 || true
	stop_server
}

if [ -z "$REPORT_ONLY" ]; then
	for n in ${LEVELS//,/ }; do
		for p in $ONLY; do
			case $p in
			bulwark) run_bulwark "$n" || true ;;
			sharedb) run_sharedb "$n" || true ;;
			*) log "unknown server $p (bulwark, sharedb)" ;;
			esac
		done
	done
fi

# ---- report ------------------------------------------------------------------------------------
j() { # NAME FILTER -> value or "-" (also for the generator's -1: not measured)
	[ -f "$W/$1.json" ] || { echo "-"; return; }
	jq -r "($2) // \"-\" | if type == \"number\" and . < 0 then \"-\" else . end" "$W/$1.json" 2>/dev/null || echo "-"
}
ms() { # NAME HIST PCT -> milliseconds, 1 decimal ("-" without samples)
	local v
	v=$(j "$1" ".window.latency_us.$2.$3")
	[ "$(j "$1" ".window.latency_us.$2.count")" = 0 ] && v="-"
	[ "$v" = "-" ] && { echo "-"; return; }
	awk -v v="$v" 'BEGIN { printf "%.1f", v / 1000 }'
}
mib() { awk -v v="$1" 'BEGIN { if (v == "-" || v < 0) print "-"; else printf "%.1f", v / 1024 }'; }
ratio() { # A B -> A/B, 2 decimals
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a <= 0 || b <= 0) print "-"; else printf "%.2f", a / b }'
}
row() { printf '|'; local c; for c in "$@"; do printf ' %s |' "$c"; done; printf '\n'; }
noise() { # NAME -> ok / noisy: the generator was delayed (shared core) or saturated
	local lag batch cpu
	lag=$(j "$1" .window.latency_us.edit_schedule_lag.p99)
	batch=$(j "$1" .window.latency_us.generator_batch.max)
	cpu=$(j "$1" .window.client_cpu_pct)
	[ "$lag" = "-" ] || [ "$(j "$1" .window.acks_arrived)" = 0 ] && { echo "-"; return; }
	awk -v l="$lag" -v b="$batch" -v c="$cpu" 'BEGIN {
		if (c > 90) print "**generator saturated**";
		else if (l > 10000 || b > 50000) print "**noisy**";
		else print "ok" }'
}
correct() { # NAME -> a short verdict of convergence and refusals
	[ -f "$W/$1.json" ] || { echo "not run"; return; }
	local v m
	v=$(jq -r 'if .setup_error != "" then "set-up failed: \(.setup_error)" else
		"\(if .converged and .final.consistent then "converged" else "**not converged**" end), \(.final.live)/\(.n) live" +
		(if .lost_after_ready > 0 then ", **\(.lost_after_ready) closed by the server** \(.close_codes | tojson) \(.first_loss_s)-\(.last_loss_s) s after the edits began (revision \(.rev_at_first_loss))" else "" end) +
		(if .nacks > 0 then ", **\(.nacks) nacks** \(.nack_codes | tojson)" else "" end) +
		(if .broken_editors > 0 then ", **\(.broken_editors) broken** \(.error_codes | tojson)" else "" end) +
		(if .gaps > 0 then ", \(.gaps) gaps" else "" end) end' "$W/$1.json" 2>/dev/null || echo "?")
	m=$(jq -r '"server rev \(.server_rev) = clients \(.client_rev): \(if .server_rev == .client_rev then "yes" else "**no**" end); text \(.text_matches)"' \
		"$W/$1.verify" 2>/dev/null || echo "no server check")
	echo "$v; $m"
}
NAMES=(bulwark sharedb)
report() {
	local CPU n s
	# shellcheck source=/dev/null
	. "$W/shape.env"
	CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	echo "# Co-editing one document: Bulwark and ShareDB ($STAMP)"
	echo
	echo "Produced by \`bench/docs.sh\` (load generator \`bench/docload.c\`) on $(nproc) x $CPU,"
	echo "Linux $(uname -r); $PINNING; OpenSSL $(pkg-config --modversion openssl); node $NODE_VERSION."
	echo "Command: \`bench/docs.sh${ARGS:+ $ARGS}\`."
	echo "ShareDB ${SD_VERSION:-?} with rich-text ${RT_VERSION:-?} (quill-delta ${QD_VERSION:-?}), MemoryDB, ws + @teamwork/websocket-json-stream"
	echo "(bench/sharedb/server.mjs), over $([ "$TLS" = 1 ] && echo "TLS (wss)" || echo "plain WebSocket"); Bulwark over TLS (wss, /api/v1/events)."
	echo
	echo "Workload: N editors, one WebSocket each, on one document of N paragraphs (one"
	echo "per editor, written by the first editor in one op before the measurement)."
	echo "Each editor makes $RATE edits/s (open loop, evenly spaced) in its own paragraph:"
	echo "typing 1-3 characters (65%) or deleting 1-2 at a random offset. Like a real"
	echo "client it has at most one op in flight and sends the edits made meanwhile"
	echo "composed into one op when the ack arrives, based on the acked revision;"
	echo "incoming ops shift its paragraph (see bench/docload.c). ${WARMUP} s warm-up, ${DURATION} s"
	echo "measured, then edits stop and every client must reach the server's revision"
	echo "(drain, at most ${DRAIN} s); the server's text must equal what the clients expect."
	echo "A fresh server per level. Latency: **rtt** = op sent -> its ack; **bcast** ="
	echo "op sent -> received by another editor (every receiver); edit->remote adds the"
	echo "time the edit waited in the client's buffer. Server CPU = utime+stime over the"
	echo "window (100% = one core). RSS: after all opened / peak in the window."
	echo
	echo "**The two acks differ**: Bulwark acknowledges an op only after it is committed"
	echo "to disk, encrypted (SQLite, synchronous=FULL, group commit), and keeps the"
	echo "document's history; ShareDB's MemoryDB persists nothing (a restart loses the"
	echo "document) and encrypts nothing. ShareDB clones the snapshot on every commit."
	echo
	for s in 0 1; do
		local NAME=${NAMES[$s]} title
		title=$([ $s = 0 ] && echo "Bulwark" || echo "ShareDB ${SD_VERSION:-} (rich-text)")
		echo "### $title"
		echo
		row "editors" "rtt p50 / p95 / p99 (ms)" "bcast p50 / p95 (ms)" "edit->remote p95 (ms)" \
			"ops/s committed (edits/s of offered)" "edits per op" "server CPU %" "server RSS opened / peak (MiB)" \
			"generator CPU %" "measurement"
		row "---" "---" "---" "---" "---" "---" "---" "---" "---" "---"
		for n in ${LEVELS//,/ }; do
			local x=$NAME-$n
			[ -f "$W/$x.json" ] || { row "$n" "not run" "" "" "" "" "" "" "" ""; continue; }
			row "$n" "**$(ms "$x" rtt p50) / $(ms "$x" rtt p95) / $(ms "$x" rtt p99)**" \
				"$(ms "$x" bcast p50) / $(ms "$x" bcast p95)" "$(ms "$x" edit_remote p95)" \
				"$(j "$x" .window.committed_per_s) ($(j "$x" .window.edits_per_s) of $(j "$x" .window.offered_edits_per_s))" \
				"$(j "$x" .window.edits_per_op)" "**$(j "$x" .window.server_cpu_pct)**" \
				"$(mib "$(j "$x" .server_rss_opened_kib)") / $(mib "$(j "$x" .server_rss_peak_kib)")" \
				"$(j "$x" .window.client_cpu_pct)" "$(noise "$x")"
		done
		echo
		row "editors" "correctness" "deliveries/s" "server CPU per op (us)" "connect / open (s)"
		row "---" "---" "---" "---" "---"
		for n in ${LEVELS//,/ }; do
			local x=$NAME-$n
			[ -f "$W/$x.json" ] || continue
			row "$n" "$(correct "$x")" "$(j "$x" .window.deliveries_per_s)" "$(j "$x" .window.server_cpu_us_per_op)" \
				"$(j "$x" .connect_s) / $(j "$x" .open_s)"
		done
		echo
	done
	echo "### ShareDB / Bulwark"
	echo
	row "editors" "rtt p50" "rtt p95" "rtt p99" "bcast p95" "ops/s" "server CPU" "server CPU per op" "server RSS peak"
	row "---" "---" "---" "---" "---" "---" "---" "---" "---"
	for n in ${LEVELS//,/ }; do
		local a=sharedb-$n b=bulwark-$n
		if [ "$(j $a .window.acks_arrived)" = 0 ] || [ "$(j $b .window.acks_arrived)" = 0 ]; then
			# one of them committed nothing in the window (disconnected): no ratio but memory
			row "$n" "-" "-" "-" "-" "-" "-" "-" "$(ratio "$(j $a .server_rss_peak_kib)" "$(j $b .server_rss_peak_kib)")"
			continue
		fi
		row "$n" "$(ratio "$(j $a .window.latency_us.rtt.p50)" "$(j $b .window.latency_us.rtt.p50)")" \
			"$(ratio "$(j $a .window.latency_us.rtt.p95)" "$(j $b .window.latency_us.rtt.p95)")" \
			"$(ratio "$(j $a .window.latency_us.rtt.p99)" "$(j $b .window.latency_us.rtt.p99)")" \
			"$(ratio "$(j $a .window.latency_us.bcast.p95)" "$(j $b .window.latency_us.bcast.p95)")" \
			"$(ratio "$(j $a .window.committed_per_s)" "$(j $b .window.committed_per_s)")" \
			"$(ratio "$(j $a .window.server_cpu_pct)" "$(j $b .window.server_cpu_pct)")" \
			"$(ratio "$(j $a .window.server_cpu_us_per_op)" "$(j $b .window.server_cpu_us_per_op)")" \
			"$(ratio "$(j $a .server_rss_peak_kib)" "$(j $b .server_rss_peak_kib)")"
	done
	echo
	echo "### Budgets (design.md) and ceilings"
	echo
	row "budget" "measured" "verdict"
	row "---" "---" "---"
	local x p c
	for n in ${LEVELS//,/ }; do
		x=bulwark-$n
		[ -f "$W/$x.json" ] || continue
		c=$(jq -r 'if .converged and .final.consistent and .lost_after_ready == 0 and .nacks == 0 then "yes" else "no" end' "$W/$x.json")
		[ -f "$W/$x.verify" ] && ! jq -e '.text_matches == "yes" and .server_rev == .client_rev' "$W/$x.verify" > /dev/null && c=no
		if [ "$n" = 50 ]; then
			p=$(ms "$x" rtt p99)
			row "50 editors converge, op round trip p99 <= 20 ms" "$p ms, converged: $c" \
				"$([ "$c" = yes ] && awk -v v="$p" 'BEGIN { print (v != "-" && v + 0 <= 20) ? "PASS" : "FAIL" }' || echo FAIL)"
		fi
		if [ "$n" = 1000 ]; then
			p=$(ms "$x" rtt p95)
			row "1,000 editors, $RATE edits/s each, op round trip p95 <= 100 ms" "$p ms, converged: $c, $(j "$x" .window.committed_per_s) ops/s" \
				"$([ "$c" = yes ] && awk -v v="$p" 'BEGIN { print (v != "-" && v + 0 <= 100) ? "PASS" : "FAIL" }' || echo FAIL)"
		fi
	done
	# the highest level at which every editor stayed, converged, and p95 <= 100 ms
	local s2 best ok95
	for s2 in bulwark sharedb; do
		best="-" ok95="-"
		for n in ${LEVELS//,/ }; do
			x=$s2-$n
			[ -f "$W/$x.json" ] || continue
			if jq -e '.converged and .final.consistent and .lost_after_ready == 0 and .nacks == 0' "$W/$x.json" > /dev/null &&
				{ [ ! -f "$W/$x.verify" ] || jq -e '.text_matches == "yes"' "$W/$x.verify" > /dev/null; }; then
				best=$n
				p=$(ms "$x" rtt p95)
				awk -v v="$p" 'BEGIN { exit !(v != "-" && v + 0 <= 100) }' && ok95=$n
			fi
		done
		row "$([ $s2 = bulwark ] && echo "Bulwark" || echo "ShareDB"): most editors (of $LEVELS) that all stayed connected and converged / that also kept rtt p95 <= 100 ms (Etherpad publishes ~350-400 authors per pad on 4 vCPU)" \
			"$best / $ok95" "-"
	done
	echo
	echo "Notes: a column marked **noisy** had its load generator delayed (edit schedule"
	echo "lag p99 over 10 ms or one batch over 50 ms: its core was shared with other work),"
	echo "**generator saturated** means the generator used over 90% of its core; either"
	echo "way the latencies include the generator's own delay. Ops/s below the offered"
	echo "edits/s is the clients composing edits while an op is in flight (edits per op"
	echo "> 1), which is what a real client does when round trips grow. Deliveries/s ="
	echo "ops/s x (N - 1) broadcasts. Close code 4008 is Bulwark's slow-consumer limit"
	echo "(256 queued frames or 1 MiB per connection, docs/realtime.md); the generator"
	echo "does not reconnect an editor the server closed (a real client would, and reload)."
	[ "$RT" = 1 ] && echo "With SCHED_FIFO the kernel's RT throttling (sched_rt_runtime_us $(cat /proc/sys/kernel/sched_rt_runtime_us 2>/dev/null || echo ?) of 1 s) caps each process at ~95% of its core."
	return 0
}
if [ -z "$REPORT_ONLY" ] || [ -n "$OUT_GIVEN" ]; then
	mkdir -p "$(dirname "$OUT")"
	report | tee "$OUT"
	log "results written to $OUT"
else
	report
fi
