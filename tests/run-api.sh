#!/bin/sh
# Black-box API tests (tests/api/*.test.mjs): each file starts the real
# server binary on a throwaway data directory and talks HTTPS/WebSocket to
# it.  Same environment as tests/check.sh; one file at a time.
#   BULWARK_BIN   the binary under test (default build/asan/bulwark)
#   BULWARK_KEEP_TEST_DIRS=1 keeps the data directories for inspection
# Extra arguments are passed to node (e.g. a single test file).
set -u
cd "$(dirname "$0")/.."
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export BULWARK_BIN="${BULWARK_BIN:-$PWD/build/asan/bulwark}"
export NODE_PATH="$PWD/web/node_modules"
if [ ! -x "$BULWARK_BIN" ]; then
	echo "run-api: $BULWARK_BIN is missing (make build/asan/bulwark)" >&2
	exit 1
fi
if [ $# -gt 0 ]; then
	exec node --test --test-concurrency=1 "$@"
fi
exec node --test --test-concurrency=1 tests/api/
