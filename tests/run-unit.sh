#!/bin/sh
# Runs every unit-test binary given; prints one total line at the end.
pass=0; fail=0; rc=0
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "$@"; do
	echo "== $t"
	out=$("$t" 2>&1); st=$?
	echo "$out"
	line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
	if [ -n "$line" ]; then
		pass=$((pass + $(echo "$line" | cut -d' ' -f1)))
		fail=$((fail + $(echo "$line" | cut -d' ' -f3)))
	fi
	[ $st -eq 0 ] || { rc=1; [ -n "$line" ] || fail=$((fail + 1)); }
done
echo "unit: $pass passed, $fail failed"
exit $rc
