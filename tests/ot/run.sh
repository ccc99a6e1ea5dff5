#!/bin/sh
# Differential test of src/ot.c against quill-delta 5.1.0: builds the C
# driver (ASan + UBSan) into build/ot-driver and runs tests/ot/differential.mjs.
# Last line: "ot-differential: N passed, M failed"; non-zero exit on failure.
# OT_SEED reproduces a run, OT_CASES sets the number of cases.
set -u
cd "$(dirname "$0")/../.."
mkdir -p build
CC=${CC:-cc}
PKGS="jansson libsodium"
if ! $CC -std=c11 -D_GNU_SOURCE -Isrc -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wformat=2 -Wno-unused-parameter -Wvla -O1 -g -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined -DBW_TESTING $(pkg-config --cflags $PKGS) \
	-o build/ot-driver tests/ot/driver.c src/ot.c src/util.c $(pkg-config --libs $PKGS)
then
	echo "ot-differential: 0 passed, 1 failed (driver did not build)"
	exit 1
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export NODE_PATH="$PWD/web/node_modules"
exec node tests/ot/differential.mjs
