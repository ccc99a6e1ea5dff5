#!/bin/sh
# Smoke-runs every libFuzzer target for a bounded time on its corpus.
set -e
secs=${FUZZ_SECONDS:-15}
for f in "$@"; do
	name=$(basename "$f")
	corpus=fuzz/corpus/$name
	mkdir -p build/fuzz/work/$name
	echo "== $name (${secs}s)"
	"$f" -max_total_time="$secs" -max_len=4096 -print_final_stats=0 \
		build/fuzz/work/$name $( [ -d "$corpus" ] && echo "$corpus" ) 2>build/fuzz/$name.log \
		|| { tail -50 build/fuzz/$name.log; exit 1; }
done
