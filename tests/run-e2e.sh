#!/bin/sh
# Browser tests (tests/e2e/*.test.mjs): each file starts the real server
# binary on a throwaway data directory, serving the built web client, and
# drives headless Chromium (/usr/bin/chromium) through it with playwright-
# core from web/node_modules.  Screenshots of every step land in
# build/e2e-shots/.  Same environment as tests/check.sh; one file at a time.
#   BULWARK_BIN             the binary under test (default build/asan/bulwark)
#   BULWARK_E2E_FAST_CLOCK=1  move the server's test clock to the next 30 s
#                           TOTP step instead of waiting for it (needs a
#                           -DBW_TESTING build; saves up to 30 s)
#   BULWARK_KEEP_TEST_DIRS=1  keeps the data directories for inspection
# Extra arguments are passed to node (e.g. a single test file).
set -u
cd "$(dirname "$0")/.."
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export BULWARK_BIN="${BULWARK_BIN:-$PWD/build/asan/bulwark}"
export NODE_PATH="$PWD/web/node_modules"
if [ ! -x "$BULWARK_BIN" ]; then
	echo "run-e2e: $BULWARK_BIN is missing (make build/asan/bulwark)" >&2
	exit 1
fi
for tool in /usr/bin/chromium oathtool node; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "run-e2e: $tool not found (see scripts/deps.sh)" >&2
		exit 1
	fi
done
# The client the server serves: rebuilt only when its inputs changed.
sh scripts/web-build.sh || exit 1
rm -rf build/e2e-shots
mkdir -p build/e2e-shots
if [ $# -gt 0 ]; then
	exec node --test --test-concurrency=1 "$@"
fi
exec node --test --test-concurrency=1 tests/e2e/
