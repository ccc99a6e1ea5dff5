#!/bin/sh
# shellcheck disable=SC2086,SC2046  # flag lists are split into words on purpose
# bench/run.sh — `make bench`: builds what it needs, measures the budgets of
# design.md "Budgets" on this machine, prints a summary (see BENCHMARKS.md).
#
#   1. memory per idle authenticated TLS WebSocket (bench/wsload.c), N = 1,000,
#      5,000, 10,000, server and client pinned to different cores
#   2. sign-ins/s through the Argon2id worker queue (bench/signin.mjs), server
#      pinned to one core and not pinned, and three overloads of 200 clients:
#      429s, no errors, no memory growth
#   3. audit appends/s (group commit and one transaction each) and verify
#      records/s (bench/auditbench.c, linked with the release objects)
#   4. start-up time (exec -> /api/v1/health, median of 10) and idle RSS 3 s
#      after start (bench/startup.c)
#
# Everything targets 127.0.0.1 only, is bounded in count and time, stops by
# itself (about 3 minutes here) and stops only the processes it started, by
# PID.  Environment knobs (all optional):
#   BENCH_TREE=DIR        measure the tree in DIR (default: this repository),
#                         e.g. a private copy with an experimental change
#   BENCH_PORT=24443      listening port (below 32768: components.md)
#   BENCH_WS_LEVELS="1000 5000 10000"   (each <= 19,000)
#   BENCH_WS_CONC=256     WebSocket handshakes in flight at once
#   BENCH_SIGNIN_CONC=8 BENCH_SIGNIN_SECS=20 BENCH_OVERLOAD_CONC=200
#   BENCH_OVERLOAD_SECS=10
#   BENCH_WS_HEAP=1       with gdb installed: also read glibc's heap-in-use
#                         (malloc_stats) and RSS after malloc_trim(0) in the
#                         server, outside the measured window (0: skip)
#   BENCH_ONLY="ws signin audit startup"   run a subset
#   BENCH_KEEP=1          keep the work directory (logs, raw results)
#   BENCH_OUT=FILE        also write the raw key=value results to FILE
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TREE=$(cd "${BENCH_TREE:-$ROOT}" && pwd)
PORT=${BENCH_PORT:-24443}
WS_LEVELS=${BENCH_WS_LEVELS:-"1000 5000 10000"}
WS_CONC=${BENCH_WS_CONC:-256}
SIGNIN_CONC=${BENCH_SIGNIN_CONC:-8}
SIGNIN_SECS=${BENCH_SIGNIN_SECS:-20}
OVERLOAD_CONC=${BENCH_OVERLOAD_CONC:-200}
OVERLOAD_SECS=${BENCH_OVERLOAD_SECS:-10}
ONLY=${BENCH_ONLY:-"ws signin audit startup"}
NUSERS=20
TENANT=acme

if [ "$PORT" -ge 32768 ] || [ "$PORT" -lt 1024 ]; then
	echo "bench: BENCH_PORT must be in 1024..32767" >&2
	exit 2
fi
for n in $WS_LEVELS; do
	if [ "$n" -gt 19000 ] || [ "$n" -lt 1 ]; then
		echo "bench: WebSocket levels must be 1..19000 (20,000 open files per process)" >&2
		exit 2
	fi
done
if ss -ltn "sport = :$PORT" | grep -q LISTEN; then
	echo "bench: port $PORT is in use; set BENCH_PORT" >&2
	exit 2
fi

# pin the server and the load generators to different cores when there are two
if [ "$(nproc)" -ge 2 ]; then
	PIN_SRV="taskset -c 0"
	PIN_CLI="taskset -c 1"
	PINNING="server on CPU 0, load generator on CPU 1 (taskset)"
else
	PIN_SRV=""
	PIN_CLI=""
	PINNING="one CPU: not pinned"
fi

W=$(mktemp -d /tmp/bulwark-bench.XXXXXX)
chmod 755 "$W"   # the server drops to an unprivileged user and must reach DATA
DATA=$W/data
RES=$W/results.txt
: > "$RES"
SRV_PID=""
LOAD_PID=""

cleanup() {
	if [ -n "$LOAD_PID" ] && kill -0 "$LOAD_PID" 2>/dev/null; then
		kill -TERM "$LOAD_PID" 2>/dev/null || true
		wait "$LOAD_PID" 2>/dev/null || true
	fi
	stop_server
	exec 7>&- 8>&- 2>/dev/null || true
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: work directory kept: $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "bench: $*" >&2; }
res() { printf '%s=%s\n' "$1" "$2" >> "$RES"; }
get() { sed -n "s/^$1=//p" "$RES" | tail -n 1; }
kv() { tr ' ' '\n' <<< "$1" | sed -n "s/^$2=//p" | head -n 1; }

# VmRSS, Pss and Private_* (KiB) of one process: "rss pss private"
mem_of() {
	local rss pss priv
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status")
	pss=$(awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup")
	priv=$(awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s }' "/proc/$1/smaps_rollup")
	echo "$rss $pss $priv"
}
# kernel memory for TCP (pages, all sockets) and slab (KiB), machine-wide
kmem() {
	local tcp slab
	tcp=$(awk '$1 == "TCP:" { for (i = 1; i < NF; i++) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat)
	slab=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
	echo "$tcp $slab"
}

# heap_stats PID: glibc malloc_stats() into the server's log (its stderr)
heap_stats() {
	[ "${BENCH_WS_HEAP:-1}" = 1 ] && command -v gdb > /dev/null || return 1
	gdb -p "$1" -batch -ex 'call (void)malloc_stats()' > /dev/null 2>&1
}

health() {
	curl -s --max-time 2 --cacert "$DATA/tls/cert.pem" "https://127.0.0.1:$PORT/api/v1/health" 2>/dev/null |
		grep -q '"status":"ok"'
}

# start_server NAME: serves DATA on PORT, pinned; waits for /health (10 s)
start_server() {
	$PIN_SRV "$BIN" serve --data "$DATA" --listen "127.0.0.1:$PORT" --web "$TREE/web/dist" \
		> "$W/server-$1.log" 2>&1 &
	SRV_PID=$!
	local i
	for i in $(seq 1 200); do
		if health; then return 0; fi
		if ! kill -0 "$SRV_PID" 2>/dev/null; then break; fi
		sleep 0.05
	done
	log "the server did not start; its log:"
	cat "$W/server-$1.log" >&2
	exit 1
}

stop_server() {
	[ -n "$SRV_PID" ] || return 0
	if kill -0 "$SRV_PID" 2>/dev/null; then
		kill -TERM "$SRV_PID" 2>/dev/null || true
		local i
		for i in $(seq 1 100); do
			kill -0 "$SRV_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$SRV_PID" 2>/dev/null; then
			log "server $SRV_PID did not stop on SIGTERM in 10 s: SIGKILL"
			kill -KILL "$SRV_PID" 2>/dev/null || true
		fi
	fi
	wait "$SRV_PID" 2>/dev/null || true
	SRV_PID=""
}

# ---- build ------------------------------------------------------------------
PC="libwebsockets openssl libsodium libgcrypt jansson sqlite3 liboath libqrencode libseccomp"
WARN="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wno-unused-parameter -Wvla"
RELEASE="-O2 -g -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE -fstack-clash-protection -fcf-protection"
log "building the release server in $TREE"
make -s -C "$TREE" build/bulwark >&2
BIN=$TREE/build/bulwark
cc -std=c11 -D_GNU_SOURCE $WARN -O2 $(pkg-config --cflags openssl) -o "$W/wsload" \
	"$ROOT/bench/wsload.c" $(pkg-config --libs openssl)
cc -std=c11 -D_GNU_SOURCE $WARN -O2 $(pkg-config --cflags openssl) -o "$W/startup" \
	"$ROOT/bench/startup.c" $(pkg-config --libs openssl)
LIBOBJS=""
for f in "$TREE"/src/*.c; do
	b=$(basename "$f" .c)
	[ "$b" = main ] || LIBOBJS="$LIBOBJS $TREE/build/obj/$b.o"
done
cc -std=c11 -D_GNU_SOURCE -I"$TREE/src" $WARN $RELEASE $(pkg-config --cflags $PC) -pie \
	-o "$W/auditbench" "$ROOT/bench/auditbench.c" $LIBOBJS $(pkg-config --libs $PC) -lpthread

# ---- machine ----------------------------------------------------------------
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
res machine.nproc "$(nproc)"
res machine.cpu "$CPU"
res machine.kernel "$(uname -r)"
res machine.date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
res machine.mem_total_kib "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
res machine.nofile "$(ulimit -n)"
res machine.pinning "$PINNING"
res versions.lws "$(pkg-config --modversion libwebsockets)"
res versions.openssl "$(pkg-config --modversion openssl)"
res versions.sqlite "$(pkg-config --modversion sqlite3)"
res versions.libsodium "$(pkg-config --modversion libsodium)"
log "machine: $(nproc) x $CPU, Linux $(uname -r); $PINNING"

want() { case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# ---- accounts: 20 members, password changed once, one full ticket each -------
if want ws || want signin || want startup; then
	log "setting up $DATA: tenant $TENANT, $NUSERS members"
	"$BIN" init --data "$DATA" --tenant "$TENANT" --json > "$W/init.json" 2> "$W/init.log"
	: > "$W/members.txt"
	for i in $(seq -w 1 $NUSERS); do
		"$BIN" user add --data "$DATA" --tenant "$TENANT" --username "member$i" --json 2>> "$W/init.log" |
			node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.username+" "+j.password)})' \
			>> "$W/members.txt"
	done
	start_server setup
	$PIN_CLI node "$ROOT/bench/accounts.mjs" "$PORT" "$DATA/tls/cert.pem" "$TENANT" \
		"$W/members.txt" "$W/tickets.txt" "$W/creds.txt" >&2
	stop_server
fi

# ---- 4. start-up time and idle RSS -------------------------------------------
if want startup; then
	log "start-up: 10 runs"
	"$W/startup" --port "$PORT" --ca "$DATA/tls/cert.pem" --log "$W/server-startup.log" \
		--runs 10 --settle-ms 3000 -- $PIN_SRV "$BIN" serve --data "$DATA" \
		--listen "127.0.0.1:$PORT" --web "$TREE/web/dist" > "$W/startup.txt"
	cat "$W/startup.txt" >&2
	S=$(grep '^SUMMARY' "$W/startup.txt")
	res startup.health_median_ms "$(kv "$S" exec_to_health_median_ms)"
	res startup.health_max_ms "$(kv "$S" exec_to_health_max_ms)"
	res startup.log_ready_median_ms "$(kv "$S" log_ready_median_ms)"
	res idle.server_rss_kib "$(kv "$S" server_rss_median_kib)"
	res idle.keyd_rss_kib "$(kv "$S" keyd_rss_median_kib)"
	res idle.pss_both_kib "$(kv "$S" server_plus_keyd_pss_median_kib)"
	res idle.server_hwm_kib "$(kv "$S" server_hwm_median_kib)"
fi

# ---- 1. memory per idle WebSocket ---------------------------------------------
if want ws; then
	mkfifo "$W/hold"
	for N in $WS_LEVELS; do
		log "WebSockets: N = $N"
		start_server "ws$N"
		sleep 1
		read -r b_rss b_pss b_priv <<< "$(mem_of "$SRV_PID")"
		read -r b_tcp b_slab <<< "$(kmem)"
		heap_stats "$SRV_PID" || true
		: > "$W/ws$N.out"
		# wsload holds its sockets until its standard input (a FIFO) ends; the
		# read-write descriptor 7 makes every open below non-blocking
		exec 7<> "$W/hold"
		$PIN_CLI "$W/wsload" --port "$PORT" --ca "$DATA/tls/cert.pem" --tickets "$W/tickets.txt" \
			--n "$N" --per-src 50 --conc "$WS_CONC" --timeout 180 --hold 300 \
			< "$W/hold" > "$W/ws$N.out" 2> "$W/ws$N.err" 7<&- &
		LOAD_PID=$!
		exec 8> "$W/hold"
		exec 7>&-
		for i in $(seq 1 2000); do
			grep -q '^READY' "$W/ws$N.out" && break
			kill -0 "$LOAD_PID" 2>/dev/null || break
			sleep 0.1
		done
		READY=$(grep '^READY' "$W/ws$N.out" || true)
		if [ -z "$READY" ]; then
			log "wsload did not get ready:"
			cat "$W/ws$N.err" >&2
			exit 1
		fi
		sleep 3   # let the server finish the hello writes and free handshake state
		read -r a_rss a_pss a_priv <<< "$(mem_of "$SRV_PID")"
		read -r a_tcp a_slab <<< "$(kmem)"
		fds=$(ls "/proc/$SRV_PID/fd" | wc -l)
		if heap_stats "$SRV_PID"; then
			gdb -p "$SRV_PID" -batch -ex 'call (int)malloc_trim(0)' > /dev/null 2>&1 || true
			sleep 0.5
			read -r t_rss _ _ <<< "$(mem_of "$SRV_PID")"
			read -r h_before h_after <<< "$(awk '/^Total \(incl. mmap\):/ { t = 1; next }
				t && /in use bytes/ { printf "%s ", $NF; t = 0 }' "$W/server-ws$N.log")"
			res "ws.$N.heap_in_use_per_conn_kib" "$(awk -v a="$h_after" -v b="$h_before" -v n="$N" 'BEGIN { printf "%.2f", (a - b) / n / 1024 }')"
			res "ws.$N.rss_trimmed_per_conn_kib" "$(awk -v a="$t_rss" -v b="$b_rss" -v n="$N" 'BEGIN { printf "%.2f", (a - b) / n }')"
		fi
		exec 8>&-   # end of file on wsload's standard input: it closes everything
		wait "$LOAD_PID" || true
		LOAD_PID=""
		cat "$W/ws$N.err" >&2
		stop_server
		ok=$(kv "$READY" ok)
		res "ws.$N.ok" "$ok"
		res "ws.$N.failed" "$(kv "$READY" failed)"
		res "ws.$N.open_ms" "$(kv "$READY" open_ms)"
		res "ws.$N.server_fds" "$fds"
		res "ws.$N.rss_before_kib" "$b_rss"
		res "ws.$N.rss_after_kib" "$a_rss"
		res "ws.$N.pss_before_kib" "$b_pss"
		res "ws.$N.pss_after_kib" "$a_pss"
		res "ws.$N.priv_before_kib" "$b_priv"
		res "ws.$N.priv_after_kib" "$a_priv"
		res "ws.$N.rss_per_conn_kib" "$(awk -v a="$a_rss" -v b="$b_rss" -v n="$ok" 'BEGIN { printf "%.2f", (a - b) / n }')"
		res "ws.$N.pss_per_conn_kib" "$(awk -v a="$a_pss" -v b="$b_pss" -v n="$ok" 'BEGIN { printf "%.2f", (a - b) / n }')"
		res "ws.$N.priv_per_conn_kib" "$(awk -v a="$a_priv" -v b="$b_priv" -v n="$ok" 'BEGIN { printf "%.2f", (a - b) / n }')"
		res "ws.$N.kernel_tcp_per_conn_kib_both_ends" "$(awk -v a="$a_tcp" -v b="$b_tcp" -v n="$ok" 'BEGIN { printf "%.2f", (a - b) * 4 / n }')"
		res "ws.$N.kernel_slab_per_conn_kib_both_ends" "$(awk -v a="$a_slab" -v b="$b_slab" -v n="$ok" 'BEGIN { printf "%.2f", (a - b) / n }')"
		log "N=$N: $READY; server VmRSS $b_rss -> $a_rss KiB ($(get "ws.$N.rss_per_conn_kib") KiB/conn)"
	done
	# marginal cost between the smallest and the largest level (fixed costs cancel)
	lo=$(tr ' ' '\n' <<< "$WS_LEVELS" | grep . | sort -n | head -n 1)
	hi=$(tr ' ' '\n' <<< "$WS_LEVELS" | grep . | sort -n | tail -n 1)
	if [ "$lo" != "$hi" ] && [ "$lo" -ge 1000 ]; then
		res ws.marginal_levels "$lo..$hi"
		res ws.marginal_rss_per_conn_kib "$(awk -v a="$(get "ws.$hi.rss_after_kib")" -v b="$(get "ws.$hi.rss_before_kib")" \
			-v c="$(get "ws.$lo.rss_after_kib")" -v d="$(get "ws.$lo.rss_before_kib")" \
			-v h="$(get "ws.$hi.ok")" -v l="$(get "ws.$lo.ok")" \
			'BEGIN { printf "%.2f", ((a - b) - (c - d)) / (h - l) }')"
	fi
fi

# ---- 2. sign-ins through the Argon2id queue -----------------------------------
if want signin; then
	log "sign-ins: $SIGNIN_CONC clients for ${SIGNIN_SECS}s, $OVERLOAD_CONC clients three times for ${OVERLOAD_SECS}s, then $SIGNIN_CONC clients for ${OVERLOAD_SECS}s unpinned"
	start_server signin
	sleep 0.5
	read -r s0 _ _ <<< "$(mem_of "$SRV_PID")"
	J=$($PIN_CLI node "$ROOT/bench/signin.mjs" "$PORT" "$DATA/tls/cert.pem" "$TENANT" "$W/creds.txt" \
		"$SIGNIN_CONC" "$SIGNIN_SECS")
	echo "$J" > "$W/signin.json"
	read -r s1 _ _ <<< "$(mem_of "$SRV_PID")"
	J1=$($PIN_CLI node "$ROOT/bench/signin.mjs" "$PORT" "$DATA/tls/cert.pem" "$TENANT" "$W/creds.txt" \
		"$OVERLOAD_CONC" "$OVERLOAD_SECS")
	echo "$J1" > "$W/overload1.json"
	read -r s2 _ _ <<< "$(mem_of "$SRV_PID")"
	J2=$($PIN_CLI node "$ROOT/bench/signin.mjs" "$PORT" "$DATA/tls/cert.pem" "$TENANT" "$W/creds.txt" \
		"$OVERLOAD_CONC" "$OVERLOAD_SECS")
	echo "$J2" > "$W/overload2.json"
	read -r s3 _ _ <<< "$(mem_of "$SRV_PID")"
	J3=$($PIN_CLI node "$ROOT/bench/signin.mjs" "$PORT" "$DATA/tls/cert.pem" "$TENANT" "$W/creds.txt" \
		"$OVERLOAD_CONC" "$OVERLOAD_SECS")
	echo "$J3" > "$W/overload3.json"
	read -r s3b _ _ <<< "$(mem_of "$SRV_PID")"
	sleep 5
	read -r s4 _ _ <<< "$(mem_of "$SRV_PID")"
	if health; then res signin.health_after_overload ok; else res signin.health_after_overload FAILED; fi
	stop_server
	# the same load with the server free to use every core (client shares them)
	PIN_SAVE=$PIN_SRV
	PIN_SRV=""
	start_server signin2
	PIN_SRV=$PIN_SAVE
	sleep 0.5
	node "$ROOT/bench/signin.mjs" "$PORT" "$DATA/tls/cert.pem" "$TENANT" "$W/creds.txt" \
		"$SIGNIN_CONC" "$OVERLOAD_SECS" > "$W/signin_allcores.json"
	stop_server
	for f in signin signin_allcores overload1 overload2 overload3; do
		node -e '
			const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
			const p = process.argv[2];
			const s = j.statuses, other = Object.entries(s).filter(([k]) => k !== "200" && k !== "429")
				.reduce((a, [, v]) => a + v, 0);
			for (const [k, v] of Object.entries({ conc: j.conc, secs: j.secs, requests: j.requests,
				ok: s[200] ?? 0, s429: s[429] ?? 0, other_status: other, transport_errors: j.transport_errors,
				per_s: j.signins_per_s, ok_p50_ms: j.ok_p50_ms, ok_p99_ms: j.ok_p99_ms,
				all_p50_ms: j.all_p50_ms, all_p99_ms: j.all_p99_ms,
				error_codes: JSON.stringify(j.error_codes).replace(/\s/g, "") }))
				console.log(`${p}.${k}=${v}`);
		' "$W/$f.json" "signin.$f" >> "$RES"
		log "$f: $(cat "$W/$f.json")"
	done
	res signin.rss_start_kib "$s0"
	res signin.rss_after_signin_kib "$s1"
	res signin.rss_after_overload1_kib "$s2"
	res signin.rss_after_overload2_kib "$s3"
	res signin.rss_after_overload3_kib "$s3b"
	res signin.rss_5s_later_kib "$s4"
fi

# ---- 3. audit append and verify -------------------------------------------------
if want audit; then
	for suite in intl gm; do
		log "audit: suite $suite"
		"$W/auditbench" --dir "$W/audit-$suite" --suite "$suite" --batch-records 200000 \
			--batch-size 1000 --single-records 20000 --verify-runs 5 > "$W/audit-$suite.txt" 2> "$W/audit-$suite.log"
		cat "$W/audit-$suite.txt" >&2
		L=$(grep 'audit_append_group' "$W/audit-$suite.txt")
		res "audit.$suite.group_per_s" "$(kv "$L" per_s)"
		L=$(grep 'audit_append_single' "$W/audit-$suite.txt")
		res "audit.$suite.single_per_s" "$(kv "$L" per_s)"
		L=$(grep 'audit_verify' "$W/audit-$suite.txt")
		res "audit.$suite.verify_per_s" "$(kv "$L" per_s)"
		res "audit.$suite.verify_records" "$(kv "$L" records)"
		rm -rf "$W/audit-$suite"
	done
fi

# ---- summary ------------------------------------------------------------------------
verdict() { # value op limit -> PASS/FAIL
	awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
		if (v == "") { print "n/a"; exit }
		ok = (op == "<=") ? (v + 0 <= l + 0) : (v + 0 >= l + 0); print ok ? "PASS" : "FAIL" }'
}
row() { printf '%-44s %14s %14s  %s\n' "$1" "$2" "$3" "$4"; }
echo
echo "== Bulwark benchmarks: $(get machine.date)"
echo "   $(get machine.nproc) x $(get machine.cpu), Linux $(get machine.kernel); $(get machine.pinning)"
echo "   libwebsockets $(get versions.lws), OpenSSL $(get versions.openssl), SQLite $(get versions.sqlite), libsodium $(get versions.libsodium)"
row "figure" "measured" "budget" "verdict"
if want ws; then
	for N in $WS_LEVELS; do
		v=$(get "ws.$N.rss_per_conn_kib")
		row "idle WebSocket, N=$N: dRSS/N (KiB)" "$v" "<= 16" "$(verdict "$v" '<=' 16)"
		row "   dPss/N, dPrivate/N (KiB)" "$(get "ws.$N.pss_per_conn_kib") $(get "ws.$N.priv_per_conn_kib")" "" ""
		row "   opened / failed, open time (ms)" "$(get "ws.$N.ok")/$(get "ws.$N.failed") $(get "ws.$N.open_ms")" "" ""
		v=$(get "ws.$N.heap_in_use_per_conn_kib")
		[ -n "$v" ] && row "   heap in use/N; dRSS/N after malloc_trim" "$v; $(get "ws.$N.rss_trimmed_per_conn_kib")" "" ""
		row "   kernel TCP+slab, both ends (KiB/conn)" "$(get "ws.$N.kernel_tcp_per_conn_kib_both_ends")+$(get "ws.$N.kernel_slab_per_conn_kib_both_ends")" "not counted" ""
	done
	v=$(get ws.marginal_rss_per_conn_kib)
	[ -n "$v" ] && row "   slope of dRSS, N=$(get ws.marginal_levels) (KiB)" "$v" "" "(report)"
fi
if want signin; then
	row "sign-ins/s, $(get signin.signin.conc) clients" "$(get signin.signin.per_s)" "-" "(report)"
	row "   p50 / p99 latency (ms)" "$(get signin.signin.ok_p50_ms) / $(get signin.signin.ok_p99_ms)" "" ""
	row "sign-ins/s, $(get signin.signin_allcores.conc) clients, server not pinned" "$(get signin.signin_allcores.per_s)" "-" "(report)"
	row "   p50 / p99 latency (ms)" "$(get signin.signin_allcores.ok_p50_ms) / $(get signin.signin_allcores.ok_p99_ms)" "" ""
	for o in overload1 overload2 overload3; do
		e=$(( $(get "signin.$o.other_status") + $(get "signin.$o.transport_errors") ))
		row "overload $(get "signin.$o.conc") clients: 200 / 429 / errors" \
			"$(get "signin.$o.ok")/$(get "signin.$o.s429")/$e" "errors = 0" "$( [ "$e" = 0 ] && echo PASS || echo FAIL)"
	done
	row "   server RSS start/signin/ovl1/ovl2/ovl3/+5s (MiB)" \
		"$(for k in start after_signin after_overload1 after_overload2 after_overload3 5s_later; do
			awk -v v="$(get "signin.rss_${k}_kib")" 'BEGIN { printf "%.1f ", v / 1024 }'; done)" "" ""
	h=$(get signin.health_after_overload)
	row "   /api/v1/health right after the overloads" "$h" "ok" "$( [ "$h" = ok ] && echo PASS || echo FAIL)"
	g=$(( $(get signin.rss_after_overload3_kib) - $(get signin.rss_after_overload2_kib) ))
	row "   RSS growth during the 3rd overload (KiB)" "$g" "<= 2048" "$( [ "$g" -le 2048 ] && echo PASS || echo FAIL)"
fi
if want audit; then
	for suite in intl gm; do
		v=$(get "audit.$suite.group_per_s")
		row "audit appends/s, $suite, txn of 1,000" "$v" ">= 100000" "$(verdict "$v" '>=' 100000)"
		v=$(get "audit.$suite.single_per_s")
		row "audit appends/s, $suite, txn of 1" "$v" "-" "(report)"
		v=$(get "audit.$suite.verify_per_s")
		row "audit verify records/s, $suite" "$v" ">= 1000000" "$(verdict "$v" '>=' 1000000)"
	done
fi
if want startup; then
	v=$(get startup.health_median_ms)
	row "start-up exec->health, median of 10 (ms)" "$v" "<= 200" "$(verdict "$v" '<=' 200)"
	row "   server log \"ms to ready\", median" "$(get startup.log_ready_median_ms)" "" ""
	v=$(awk -v k="$(get idle.server_rss_kib)" 'BEGIN { printf "%.1f", k / 1024 }')
	row "idle server VmRSS (MiB)" "$v" "<= 30" "$(verdict "$v" '<=' 30)"
	row "   server peak VmHWM in its first 3 s (MiB)" "$(awk -v k="$(get idle.server_hwm_kib)" 'BEGIN { printf "%.1f", k / 1024 }')" "" "(report)"
	row "   key process VmRSS; Pss of both (MiB)" "$(awk -v k="$(get idle.keyd_rss_kib)" -v p="$(get idle.pss_both_kib)" 'BEGIN { printf "%.1f; %.1f", k / 1024, p / 1024 }')" "" ""
fi
if [ -n "${BENCH_OUT:-}" ]; then
	cp "$RES" "$BENCH_OUT"
fi
