#!/bin/sh
# shellcheck disable=SC2086,SC2046  # flag lists are split into words on purpose
# bench/chat.sh — group-chat benchmark (design.md "Budgets": 10,000 connected
# clients and a 1,000-member group, send->deliver p99 <= 50 ms with the
# message durable and encrypted before ack; idle connection <= 16 KiB), with
# the same workload against ejabberd (XMPP MUC) and mosquitto (MQTT) on this
# machine, reported side by side and as ratios.
#
# For each server in --only (default: bulwark xmpp mqtt) it
#   1. starts the server on 127.0.0.1 pinned to CPU 0 (taskset), with a
#      throwaway config and data directory (bench/ejabberd/, bench/mosquitto/)
#   2. provisions N users and the groups: one big group of G members, N/S
#      groups of S; Bulwark: `bulwark loadtest-seed --data` + POST /conversations
#      (bench/chat-provision.mjs); ejabberd: mod_http_api register and
#      create_room_with_opts; mosquitto: nothing (one topic per group)
#   3. runs bench/chatload.c pinned to CPU 1: it connects N clients, samples
#      the server's VmRSS before and after (-> RSS per connection), sends the
#      workload, takes the server's utime+stime over the measured window, and
#      prints JSON
#   4. stops the server by PID
# and prints a markdown table, also written to bench/results/chat-<date>.md.
#
# usage: bench/chat.sh [--n 10000] [--group 1000] [--small 10] [--senders 50]
#          [--big-rate 10,20,50] [--small-rate 200] [--warmup 5] [--duration 20]
#          [--drain 15] [--body 64] [--only "bulwark xmpp mqtt"] [--tls 1|0]
#          [--port-base 27400] [--nice -10] [--out FILE] [--keep] [--tree DIR]
#          [--report-only DIR]
#   --big-rate: msgs/s into the big group, in total; a comma list gives one
#     measured step per rate on the same connected clients.
#   --tls 0 runs the two peers over plain TCP (Bulwark is always TLS).
#   --tree DIR: take build/bulwark and web/dist from DIR (default: this tree).
#   --keep keeps the work directory (JSON, logs); --report-only DIR prints the
#     report of a kept directory again.
#   CHATLOAD_CFLAGS (environment) replaces -O2 when building the generator,
#     e.g. "-O1 -g -fsanitize=address,undefined" to check it.
# Everything listens on 127.0.0.1 only, every phase has a time limit, and only
# processes this script started are stopped, by PID.  A full run at N = 10,000
# takes about 6-8 minutes.  Needs root for the peers (they run as their own
# system users through setpriv, which keeps the 20,000 open-file limit).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TREE=$ROOT
N=10000 G=1000 S=10 K=50 BIG_RATE=10,20,50 SMALL_RATE=200
WARMUP=5 DURATION=20 DRAIN=15 BODY=64
ONLY="bulwark xmpp mqtt" TLS=1 PORT_BASE=27400 OUT="" OUT_GIVEN="" KEEP=0 REPORT_ONLY="" NICE=-10
while [ $# -gt 0 ]; do
	case $1 in
	--n) N=$2 ;;
	--group) G=$2 ;;
	--small) S=$2 ;;
	--senders) K=$2 ;;
	--big-rate) BIG_RATE=$2 ;;
	--small-rate) SMALL_RATE=$2 ;;
	--warmup) WARMUP=$2 ;;
	--duration) DURATION=$2 ;;
	--drain) DRAIN=$2 ;;
	--body) BODY=$2 ;;
	--only) ONLY=$2 ;;
	--tls) TLS=$2 ;;
	--port-base) PORT_BASE=$2 ;;
	--out) OUT=$2 OUT_GIVEN=1 ;;
	--nice) NICE=$2 ;;
	--tree) TREE=$(cd "$2" && pwd) ;;
	--keep) KEEP=1; shift; continue ;;
	--report-only) REPORT_ONLY=$2 ;;   # DIR kept by --keep: print its report again
	-h|--help) sed -n '2,/^if \[/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "chat: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift 2
done
case $BIG_RATE in ''|*[!0-9.,]*|,*|*,|*,,*) echo "chat: --big-rate is a rate or a comma list of rates" >&2; exit 2 ;; esac
case $SMALL_RATE in ''|*[!0-9.]*) echo "chat: --small-rate must be a number" >&2; exit 2 ;; esac
for v in N G S K WARMUP DURATION DRAIN BODY PORT_BASE TLS; do
	case ${!v} in ''|*[!0-9]*) echo "chat: --${v,,} must be a whole number" >&2; exit 2 ;; esac
done
if [ "$N" -lt 1 ] || [ "$N" -gt 19000 ] || [ "$G" -gt "$N" ] || [ "$G" -gt 1000 ] ||
	[ "$S" -lt 2 ] || [ "$K" -gt "$G" ] || [ "$DURATION" -gt 600 ] || [ "$WARMUP" -gt 120 ] ||
	[ "$DRAIN" -gt 120 ] || [ "$PORT_BASE" -lt 1024 ] || [ "$PORT_BASE" -gt 32600 ]; then
	echo "chat: need N <= 19,000 (open files), G <= min(N, 1,000), S >= 2, senders <= G," \
		"duration <= 600 s, port base 1024..32600" >&2
	exit 2
fi
if [ -n "$REPORT_ONLY" ]; then
	W=$(cd "$REPORT_ONLY" && pwd)
	# shellcheck source=/dev/null
	. "$W/shape.env"
	KEEP=1
fi
P_BW=$((PORT_BASE + 43)) P_XMPP=$((PORT_BASE + 22)) P_XAPI=$((PORT_BASE + 80))
P_XDIST=$((PORT_BASE + 69)) P_MQTT=$((PORT_BASE + 83))
[ -n "$REPORT_ONLY" ] || for p in $P_BW $P_XMPP $P_XAPI $P_XDIST $P_MQTT; do
	if ss -ltn "sport = :$p" | grep -q LISTEN; then
		echo "chat: port $p is in use; choose another --port-base" >&2
		exit 2
	fi
done
ulimit -n 20000 2>/dev/null || true
if [ -z "$REPORT_ONLY" ] && [ "$(ulimit -n)" -lt $((N + 100)) ]; then
	echo "chat: the open-file limit $(ulimit -n) is below N + 100" >&2
	exit 2
fi
case $NICE in -[0-9]|-1[0-9]|-20|[0-9]|1[0-9]) ;; *) echo "chat: --nice must be -20..19" >&2; exit 2 ;; esac
# other work on a shared machine preempts the measured processes less at a
# lower nice value (root only; the same for every server)
NICE_CMD=""
[ "$NICE" != 0 ] && { [ "$NICE" -gt 0 ] || [ "$(id -u)" -eq 0 ]; } && NICE_CMD="nice -n $NICE"
[ -n "$NICE_CMD" ] || NICE=0
if [ "$(nproc)" -ge 2 ]; then
	PIN_SRV="$NICE_CMD taskset -c 0" PIN_CLI="$NICE_CMD taskset -c 1"
	PINNING="server on CPU 0, load generator on CPU 1 (taskset), both at nice $NICE"
else
	PIN_SRV="$NICE_CMD" PIN_CLI="$NICE_CMD" PINNING="one CPU: not pinned; nice $NICE"
fi

log() { printf 'chat: %s\n' "$*" >&2; }

# ---- peers and tools: install what is missing (as scripts/deps.sh does) ----------
need=""
[ -z "$REPORT_ONLY" ] || ONLY=""
case " $ONLY " in *" xmpp "*) command -v ejabberdctl > /dev/null || need="$need ejabberd" ;; esac
case " $ONLY " in *" mqtt "*) command -v mosquitto > /dev/null || [ -x /usr/sbin/mosquitto ] || need="$need mosquitto" ;; esac
command -v jq > /dev/null || need="$need jq"
command -v curl > /dev/null || need="$need curl"
if [ -n "$need" ]; then
	log "installing$need"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	# keep the packages' own services from starting on their default ports
	POLICY=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d > /dev/null
		$SUDO chmod 755 /usr/sbin/policy-rc.d
		POLICY=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends $need > /dev/null
	[ -n "$POLICY" ] && $SUDO rm -f /usr/sbin/policy-rc.d
fi
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
MQ_VERSION=$({ "$MOSQUITTO" -h 2>/dev/null || true; } | sed -n 's/^mosquitto version //p' | head -n 1)
EJ_VERSION=$(dpkg-query -W -f='${Version}' ejabberd 2>/dev/null || true)
if [ "$(id -u)" -ne 0 ] && [ -z "$REPORT_ONLY" ]; then
	case " $ONLY " in *" xmpp "*|*" mqtt "*)
		echo "chat: run as root: the peers are started as their own system users" >&2
		exit 2 ;;
	esac
fi

SRV_PID="" SRV_PIDS="" WRAP_PID="" LOAD_PID=""
if [ -z "$REPORT_ONLY" ]; then
	W=$(mktemp -d /tmp/bulwark-chat.XXXXXX)
	chmod 755 "$W"   # servers run as their own users and must reach their directories
	DATE=$(date -u +%Y-%m-%d)
	STAMP=$(date -u +%Y-%m-%dT%H:%MZ)
	for v in N G S K BIG_RATE SMALL_RATE WARMUP DURATION DRAIN BODY TLS DATE STAMP PINNING NICE; do
		printf '%s=%q\n' "$v" "${!v}"
	done > "$W/shape.env"
fi
[ -n "$OUT" ] || OUT=$ROOT/bench/results/chat-$DATE.md

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
	[ -n "$WRAP_PID" ] && stop_pid "$WRAP_PID" 5
	wait 2>/dev/null || true
	SRV_PID="" SRV_PIDS="" WRAP_PID=""
}
cleanup() {
	stop_pid "$LOAD_PID" 10
	stop_server
	if [ "$KEEP" = 1 ]; then log "work directory kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# child_named PID NAME: the first descendant of PID whose command is NAME
child_named() {
	local p q
	for p in $(pgrep -P "$1" || true); do
		if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ]; then echo "$p"; return 0; fi
		q=$(child_named "$p" "$2") && { echo "$q"; return 0; }
	done
	return 1
}
wait_listen() { # PORT SECONDS
	local i
	for i in $(seq 1 $(($2 * 10))); do
		ss -ltn "sport = :$1" | grep -q LISTEN && return 0
		sleep 0.1
	done
	return 1
}

# ---- the load generator and a certificate for the peers ----------------------------
if [ -z "$REPORT_ONLY" ]; then
	log "building chatload"
	cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 \
		-Wno-unused-parameter -Wvla ${CHATLOAD_CFLAGS:--O2} $(pkg-config --cflags openssl) -o "$W/chatload" \
		"$ROOT/bench/chatload.c" $(pkg-config --libs openssl)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$W/peer-key.pem" \
		-out "$W/peer-cert.pem" 2> /dev/null
fi

SHAPE=(--n "$N" --group-size "$G" --small-size "$S" --big-senders "$K" --big-rate "$BIG_RATE"
	--small-rate "$SMALL_RATE" --warmup "$WARMUP" --duration "$DURATION" --drain "$DRAIN"
	--body-size "$BODY")

# run_load NAME ARGS...: chatload pinned to the client CPU; JSON to $W/NAME.json
run_load() {
	local name=$1
	shift
	log "$name: chatload ${SHAPE[*]} $*"
	local rc=0 nsteps
	nsteps=$(tr ',' '\n' <<< "$BIG_RATE" | wc -l)
	# in the background so that a signal reaches the trap at once (cleanup stops it)
	timeout $((nsteps * (WARMUP + DURATION + DRAIN + 5) + 400)) $PIN_CLI "$W/chatload" "${SHAPE[@]}" \
		--server-pid "$SRV_PIDS" "$@" > "$W/$name.json" 2> "$W/$name.err" &
	LOAD_PID=$!
	wait "$LOAD_PID" || rc=$?
	LOAD_PID=""
	grep -v '^chatload: \[' "$W/$name.err" | sed "s/^/  /" >&2 || true
	if ! jq -e . "$W/$name.json" > /dev/null 2>&1; then
		log "$name: no results (exit $rc)"
		rm -f "$W/$name.json"
		return 1
	fi
	log "$name: exit $rc; $(jq -r '[.steps[] | "\(.big_rate)/s: p99 \(.latency_us.deliver_all.p99 / 1000) ms, \(.deliveries_per_s) deliveries/s"] | join("; ")' "$W/$name.json")"
}

# ---- mosquitto -------------------------------------------------------------------------
run_mqtt() {
	local d=$W/mosquitto tlsmark="#"
	mkdir -p "$d"
	[ "$TLS" = 1 ] && tlsmark=""
	cp "$W/peer-cert.pem" "$d/cert.pem"
	cp "$W/peer-key.pem" "$d/key.pem"
	sed -e "s|@PORT@|$P_MQTT|; s|@DIR@|$d|g; s|@TLS@|$tlsmark|" \
		"$ROOT/bench/mosquitto/mosquitto.conf.in" > "$d/mosquitto.conf"
	chown -R mosquitto: "$d"
	chmod 600 "$d/key.pem"
	log "mqtt: starting mosquitto $MQ_VERSION on 127.0.0.1:$P_MQTT"
	$PIN_SRV setpriv --reuid=mosquitto --regid=mosquitto --init-groups \
		"$MOSQUITTO" -c "$d/mosquitto.conf" > "$d/stdout.log" 2>&1 &
	SRV_PID=$! SRV_PIDS=$!
	if ! wait_listen "$P_MQTT" 10; then
		log "mqtt: mosquitto did not listen"; cat "$d/stdout.log" "$d/mosquitto.log" >&2 || true
		stop_server
		return 1
	fi
	sleep 1
	run_load mqtt --proto mqtt --port "$P_MQTT" --tls "$TLS" --ca "$d/cert.pem" \
		--conc 256 --connect-rate 4000 || true
	stop_server
}

# ---- ejabberd ----------------------------------------------------------------------------
# api_batch FILE: POSTs every JSON line of FILE to mod_http_api ($1 = command)
api_batch() {
	local cmd=$1 in=$2 cfg=$W/ejabberd/$1.curl
	awk -v u="http://127.0.0.1:$P_XAPI/api/$cmd" 'NR > 1 { print "next" }
		{ gsub(/"/, "\\\""); print "url = \"" u "\""; print "output = \"/dev/null\"";
		  print "write-out = \"%{http_code}\\n\""; print "data = \"" $0 "\"" }' "$in" > "$cfg"
	curl -s --max-time 300 -H 'Content-Type: application/json' -K "$cfg" | sort | uniq -c
}
run_xmpp() {
	local d=$W/ejabberd i
	mkdir -p "$d/spool" "$d/logs"
	cat "$W/peer-key.pem" "$W/peer-cert.pem" > "$d/ejabberd.pem"
	cp "$W/peer-cert.pem" "$d/cert.pem"
	cp /etc/ejabberd/inetrc "$d/inetrc" 2>/dev/null || echo '{lookup,[file,native]}.' > "$d/inetrc"
	sed -e "s#@DIR@#$d#g; s#@PORT@#$P_XMPP#; s#@APIPORT@#$P_XAPI#; s#@TLS@#$([ "$TLS" = 1 ] && echo true || echo false)#" \
		"$ROOT/bench/ejabberd/ejabberd.yml.in" > "$d/ejabberd.yml"
	sed -e "s#@DIR@#$d#g; s#@NODE@#bwchat$$@localhost#; s#@DISTPORT@#$P_XDIST#" \
		"$ROOT/bench/ejabberd/ejabberdctl.cfg.in" > "$d/ejabberdctl.cfg"
	chown -R ejabberd: "$d"
	chmod 600 "$d/ejabberd.pem"
	log "xmpp: starting ejabberd $EJ_VERSION on 127.0.0.1:$P_XMPP"
	# as the ejabberd user directly: through su its VM would get 1,024 open files
	(cd "$d" && exec $PIN_SRV setpriv --reuid=ejabberd --regid=ejabberd --init-groups \
		env HOME="$d" /usr/sbin/ejabberdctl --ctl-config "$d/ejabberdctl.cfg" --config-dir "$d" \
		--logs "$d/logs" --spool "$d/spool" foreground) > "$d/stdout.log" 2>&1 &
	WRAP_PID=$!
	for i in $(seq 1 300); do
		SRV_PID=$(child_named "$WRAP_PID" beam.smp || true)
		[ -n "$SRV_PID" ] && curl -s --max-time 2 -X POST -d '{}' -H 'Content-Type: application/json' \
			"http://127.0.0.1:$P_XAPI/api/status" 2>/dev/null | grep -q started && break
		kill -0 "$WRAP_PID" 2>/dev/null || break
		sleep 0.1
	done
	SRV_PIDS=$SRV_PID
	if [ -z "$SRV_PID" ] || ! wait_listen "$P_XMPP" 5; then
		log "xmpp: ejabberd did not start"; tail -n 30 "$d/stdout.log" "$d/logs/error.log" >&2 || true
		stop_server
		return 1
	fi
	log "xmpp: registering $N users and $((N / S + 1)) rooms (mod_http_api)"
	for i in $(seq 1 "$N"); do
		printf '{"user":"u%05d","host":"localhost","password":"bench"}\n' "$i"
	done > "$d/users.jsonl"
	api_batch register "$d/users.jsonl" | sed 's/^/  register: /' >&2
	for i in $(seq 0 $((N / S))); do
		printf '{"name":"g%d","service":"conference.localhost","host":"localhost","options":[]}\n' "$i"
	done > "$d/rooms.jsonl"
	api_batch create_room_with_opts "$d/rooms.jsonl" | sed 's/^/  create_room: /' >&2
	sleep 2
	run_load xmpp --proto xmpp --port "$P_XMPP" --tls "$TLS" --ca "$d/cert.pem" \
		--conc 128 --connect-rate 1000 || true
	stop_server
}

# ---- Bulwark ------------------------------------------------------------------------------
run_bulwark() {
	local bin=$TREE/build/bulwark d=$W/bulwark
	if [ ! -x "$bin" ]; then
		log "bulwark: $bin is missing: run \`make build/bulwark\` first"
		return 1
	fi
	if "$bin" loadtest-seed --help 2>&1 | grep -q "unknown command"; then
		log "bulwark: this build has no \`loadtest-seed\` (the chat server side has not landed): skipped"
		return 1
	fi
	mkdir -p "$d"
	chmod 755 "$d"
	"$bin" init --data "$d/data" --tenant bench --json > "$d/init.json" 2> "$d/init.log"
	log "bulwark: seeding $N users (loadtest-seed)"
	if ! "$bin" loadtest-seed --data "$d/data" --tenant bench --users "$N" --out "$d/users.tsv" \
		>> "$d/init.log" 2>&1; then
		log "bulwark: loadtest-seed failed:"; tail -n 5 "$d/init.log" >&2
		return 1
	fi
	log "bulwark: starting $bin on 127.0.0.1:$P_BW"
	$PIN_SRV "$bin" serve --data "$d/data" --listen "127.0.0.1:$P_BW" --web "$TREE/web/dist" \
		> "$d/server.log" 2>&1 &
	SRV_PID=$!
	local i
	for i in $(seq 1 200); do
		curl -s --max-time 2 --cacert "$d/data/tls/cert.pem" "https://127.0.0.1:$P_BW/api/v1/health" \
			2>/dev/null | grep -q '"status":"ok"' && break
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.05
	done
	if ! kill -0 "$SRV_PID" 2>/dev/null; then
		log "bulwark: the server did not start"; tail -n 30 "$d/server.log" >&2
		SRV_PID=""
		return 1
	fi
	# the key process is a child; its CPU counts (message encryption may use it)
	SRV_PIDS=$SRV_PID
	for i in $(pgrep -P "$SRV_PID" || true); do SRV_PIDS="$SRV_PIDS,$i"; done
	log "bulwark: creating groups (REST)"
	if ! timeout 300 $PIN_CLI node "$ROOT/bench/chat-provision.mjs" "$P_BW" "$d/data/tls/cert.pem" \
		"$d/users.tsv" "$N" "$G" "$S" "$d/convs.txt"; then
		stop_server
		return 1
	fi
	sleep 2
	run_load bulwark --proto bulwark --port "$P_BW" --ca "$d/data/tls/cert.pem" \
		--users "$d/users.tsv" --convs "$d/convs.txt" --conc 256 --connect-rate 2000 || true
	tail -n 5 "$d/server.log" | sed 's/^/  server: /' >&2
	stop_server
}

for p in $ONLY; do
	case $p in
	bulwark) run_bulwark || true ;;
	xmpp) run_xmpp || true ;;
	mqtt) run_mqtt || true ;;
	*) log "unknown server $p (bulwark, xmpp, mqtt)" ;;
	esac
done

# ---- report ----------------------------------------------------------------------------------
j() { # NAME FILTER -> value or "-"
	[ -f "$W/$1.json" ] || { echo "-"; return; }
	jq -r "($2) // \"-\"" "$W/$1.json" 2>/dev/null || echo "-"
}
s() { j "$1" ".steps[$STEP]$2"; }   # a field of the current step
ms() { # NAME HIST PCT -> milliseconds with 1 decimal
	local v
	v=$(s "$1" ".latency_us.$2.$3")
	[ "$v" = "-" ] && { echo "-"; return; }
	awk -v v="$v" 'BEGIN { printf "%.1f", v / 1000 }'
}
kib2mib() { awk -v v="$1" 'BEGIN { if (v == "-" || v < 0) print "-"; else printf "%.1f", v / 1024 }'; }
ratio() { # A B -> A/B with 2 decimals
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a < 0 || b <= 0) print "-"; else printf "%.2f", a / b }'
}
NAMES=(bulwark xmpp mqtt)
TITLES=("Bulwark" "ejabberd $EJ_VERSION (XMPP MUC)" "mosquitto $MQ_VERSION (MQTT 3.1.1)")
TRANSPORT=("WebSocket" "XMPP c2s" "MQTT")
ACK=("\`ack\`: committed to disk, encrypted" "MUC reflection to the sender" "PUBACK (QoS 1)")
row() { printf '| %s |' "$1"; shift; local c; for c in "$@"; do printf ' %s |' "$c"; done; printf '\n'; }
each() { # LABEL FUNC: one row, FUNC run with NAME and K set for each server
	local label=$1 out=() NAME K
	for K in 0 1 2; do NAME=${NAMES[$K]}; out+=("$($2)"); done
	row "$label" "${out[@]}"
}
c_transport() { # what the generator negotiated (direct TLS for c2s: XEP-0368)
	local t
	t=$(j "$NAME" .tls_negotiated)
	[ "$t" = none ] && t="plain TCP"
	echo "${TRANSPORT[$K]}, $t"
}
c_conn() { [ -f "$W/$NAME.json" ] || { echo "not run"; return; }
	echo "$(j "$NAME" .connected) / $(j "$NAME" '.connect_failed + .not_started') / $(j "$NAME" .lost_after_ready) ($(j "$NAME" .connect_s) s)"; }
c_rss() { j "$NAME" .server_rss_per_conn_kib; }
c_rssm() { echo "$(kib2mib "$(j "$NAME" .server_rss_idle_kib)") / $(kib2mib "$(j "$NAME" .server_rss_connected_kib)") / $(kib2mib "$(j "$NAME" .server_rss_end_kib)")"; }
c_load() { echo "$(j "$NAME" .loadavg_start) / $(j "$NAME" .loadavg_end)"; }
c_lat() { echo "**$(ms "$NAME" deliver_all p50) / $(ms "$NAME" deliver_all p99)**"; }
c_latbig() { echo "$(ms "$NAME" deliver_big p50) / $(ms "$NAME" deliver_big p99)"; }
c_latsmall() { echo "$(ms "$NAME" deliver_small p50) / $(ms "$NAME" deliver_small p99)"; }
c_tail() { echo "$(ms "$NAME" deliver_all p999) / $(ms "$NAME" deliver_all max)"; }
c_ack() { echo "$(ms "$NAME" ack p50) / $(ms "$NAME" ack p99)"; }
c_ackwhat() { echo "${ACK[$K]}"; }
c_deliv() { echo "**$(s "$NAME" .deliveries_per_s)** ($(s "$NAME" .offered_deliveries_per_s))"; }
c_miss() { echo "$(s "$NAME" .missing) of $(s "$NAME" .expected)"; }
c_cpu() { echo "**$(s "$NAME" .server_cpu_pct)** / $(s "$NAME" .client_cpu_pct)"; }
c_cpud() { s "$NAME" .server_cpu_us_per_delivery; }
c_pre() { echo "$(s "$NAME" .server_preempted) / $(s "$NAME" .client_preempted)"; }
c_gen() { echo "$(ms "$NAME" send_schedule_lag p99) / $(ms "$NAME" generator_batch max)"; }
c_noise() { # the generator fell behind: its core was shared, or it saturated
	local lag batch
	lag=$(s "$NAME" .latency_us.send_schedule_lag.p99)
	batch=$(s "$NAME" .latency_us.generator_batch.max)
	[ "$lag" = "-" ] && { echo "-"; return; }
	awk -v l="$lag" -v b="$batch" 'BEGIN { if (l > 10000 || b > 50000) print "**noisy**: generator delayed"; else print "ok" }'
}
c_marg() { # server CPU per extra delivery: first step -> last step that kept up
	[ -f "$W/$NAME.json" ] || { echo "-"; return; }
	jq -r '[.steps[] | select(.missing == 0 and .deliveries_per_s >= 0.98 * .offered_deliveries_per_s)] as $k
		| if ($k | length) < 2 then "-" else $k[0] as $a | $k[-1] as $b
		| "\((($b.server_cpu_s / $b.window_s) - ($a.server_cpu_s / $a.window_s)) * 1e6 /
		     (($b.deliveries / $b.window_s) - ($a.deliveries / $a.window_s)) * 100 | round / 100) (\($a.big_rate) -> \($b.big_rate)/s)"
		  end' "$W/$NAME.json" 2>/dev/null || echo "-"
}
c_nack() { echo "$(j "$NAME" .nacked) $(j "$NAME" '.nack_codes | tojson') / $(j "$NAME" .unexpected_frames)"; }
verdict() { # VALUE OP LIMIT
	awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { if (v == "-" || v == "") { print "n/a"; exit }
		ok = (op == "<=") ? (v + 0 <= l + 0) : (v + 0 >= l + 0); print ok ? "PASS" : "FAIL" }'
}
report() {
	local CPU STEP nsteps b m
	CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	echo "# Group chat: Bulwark, ejabberd and mosquitto ($STAMP)"
	echo
	echo "Produced by \`bench/chat.sh\` (load generator \`bench/chatload.c\`) on $(nproc) x $CPU,"
	echo "Linux $(uname -r); $PINNING; OpenSSL $(pkg-config --modversion openssl)."
	echo
	echo "Workload: $N connected users, one connection each; one group of $G members"
	echo "in which $K senders send the \"big-group rate\" in total; $((N / S)) groups of $S"
	echo "members with $SMALL_RATE msgs/s in total (a random group, a random member); $BODY-byte"
	echo "bodies. Sends are open-loop. Each big-group rate is one step on the same"
	echo "connected clients: ${WARMUP} s warm-up, ${DURATION} s measured, then a drain of up to ${DRAIN} s."
	echo "Latency is send->deliver on one CLOCK_MONOTONIC for every delivery of a"
	echo "message sent in the measured window (not the sender's own copy). Server CPU"
	echo "is utime+stime of the server process(es) over the window, 100% = one core."
	echo "RSS per connection = (VmRSS after every client connected and joined, and"
	echo "traffic settled - VmRSS before connecting) / connections."
	echo
	row "" "${TITLES[@]}"
	row "---" "---" "---" "---"
	each "transport" c_transport
	each "connected / failed / lost (connect time)" c_conn
	each "**server RSS per connection (KiB)**" c_rss
	each "server RSS idle / connected / end (MiB)" c_rssm
	each "nacks / unexpected frames" c_nack
	each "load average at start / end (machine)" c_load
	each "server CPU per extra delivery between steps that kept up (us)" c_marg
	nsteps=$(for n in "${NAMES[@]}"; do j "$n" '.steps | length'; done | grep -v -- - | sort -n | tail -n 1)
	for STEP in $(seq 0 $((${nsteps:-0} - 1))); do
		b=$(for n in "${NAMES[@]}"; do j "$n" ".steps[$STEP].big_rate"; done | grep -v -- - | head -n 1)
		echo
		echo "### Step $((STEP + 1)): $b msgs/s into the $G-member group + $SMALL_RATE msgs/s into small groups"
		echo
		row "" "${TITLES[@]}"
		row "---" "---" "---" "---"
		each "**send->deliver p50 / p99 (ms)**" c_lat
		each "  big group p50 / p99 (ms)" c_latbig
		each "  small groups p50 / p99 (ms)" c_latsmall
		each "  p99.9 / max (ms)" c_tail
		each "send->ack p50 / p99 (ms)" c_ack
		each "  the ack is" c_ackwhat
		each "deliveries/s (offered)" c_deliv
		each "missing deliveries" c_miss
		each "server CPU / generator CPU (% of a core)" c_cpu
		each "server CPU per delivery (us)" c_cpud
		each "preempted: server / generator (involuntary switches)" c_pre
		each "generator: send lag p99 / longest batch (ms)" c_gen
		each "measurement" c_noise
		echo
		row "peer / Bulwark" "ejabberd / Bulwark" "mosquitto / Bulwark" "ejabberd / mosquitto"
		row "---" "---" "---" "---"
		for m in "send->deliver p50:.latency_us.deliver_all.p50" "send->deliver p99:.latency_us.deliver_all.p99" \
			"deliveries/s:.deliveries_per_s" "server CPU per delivery:.server_cpu_us_per_delivery"; do
			row "${m%%:*}" "$(ratio "$(s xmpp "${m#*:}")" "$(s bulwark "${m#*:}")")" \
				"$(ratio "$(s mqtt "${m#*:}")" "$(s bulwark "${m#*:}")")" \
				"$(ratio "$(s xmpp "${m#*:}")" "$(s mqtt "${m#*:}")")"
		done
		row "RSS per connection" "$(ratio "$(j xmpp .server_rss_per_conn_kib)" "$(j bulwark .server_rss_per_conn_kib)")" \
			"$(ratio "$(j mqtt .server_rss_per_conn_kib)" "$(j bulwark .server_rss_per_conn_kib)")" \
			"$(ratio "$(j xmpp .server_rss_per_conn_kib)" "$(j mqtt .server_rss_per_conn_kib)")"
	done
	echo
	echo "### Budgets (design.md), Bulwark"
	echo
	row "budget" "measured" "verdict"
	row "---" "---" "---"
	local p99 r note=""
	[ "$N" -lt 10000 ] && note=" (N below 10,000: not the budget's shape)"
	for STEP in $(seq 0 $((${nsteps:-0} - 1))); do
		p99=$(s bulwark .latency_us.deliver_all.p99)
		[ "$p99" != "-" ] && p99=$(awk -v v="$p99" 'BEGIN { printf "%.1f", v / 1000 }')
		row "send->deliver p99 <= 50 ms, $N users, $(s bulwark .big_rate) msgs/s into the $G-member group, durable encrypted writes" \
			"$p99 ms" "$(verdict "$p99" '<=' 50)$note"
	done
	r=$(j bulwark .server_rss_per_conn_kib)
	row "<= 16 KiB server memory per idle connection (here: connected, joined, idle)" "$r KiB" "$(verdict "$r" '<=' 16)"
	echo
	echo "Notes: the peers keep messages in memory only (no MUC history or archive;"
	echo "mosquitto without persistence); Bulwark acks only after the message is"
	echo "committed to disk, encrypted. ejabberd runs with shapers off and room limits"
	echo "raised (bench/ejabberd/ejabberd.yml.in); its RSS per connection includes the"
	echo "MUC occupant state. Join presence (O(G^2) in the big room) is broadcast during"
	echo "the connect phase, before the measurement. Server and generator run at nice"
	echo "$NICE; other work on the machine still shows as preemptions and load average."
	echo "A column marked **noisy** had its load generator delayed (send schedule lag"
	echo "p99 over 10 ms or a batch over 50 ms: its core was shared or saturated), so"
	echo "its latencies include the generator's delay: rerun before trusting them."
	echo "\"Server CPU per extra delivery\" is the slope between the first and the last"
	echo "step in which the server kept up (nothing missing, >= 98% of the offered"
	echo "deliveries/s): fixed and per-message costs cancel out of it."
}
if [ -z "$REPORT_ONLY" ] || [ -n "$OUT_GIVEN" ]; then
	mkdir -p "$(dirname "$OUT")"
	report | tee "$OUT"
	log "results written to $OUT"
else
	report
fi
