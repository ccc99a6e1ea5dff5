#!/bin/sh
# web-build.sh — builds the browser client (web/ → web/dist/) when it is
# missing or older than any of its inputs; quiet and fast when up to date,
# so `make` can call it every time.  The build itself (npm run build in web/)
# lints docs/openapi.yaml, regenerates web/src/api-types.ts from it, type-
# checks, bundles with Vite and checks dist/ against the server's CSP.
# A failed build removes web/dist so the next run cannot mistake it for
# fresh.  node_modules normally comes from scripts/deps.sh (npm ci); when it
# is missing this script runs npm ci itself.
set -eu
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
	echo "web-build: npm not found (install Node.js 20.19+ and npm; see scripts/deps.sh)" >&2
	exit 1
fi

if [ ! -d web/node_modules ]; then
	echo "web-build: installing web/node_modules (npm ci)" >&2
	(cd web && npm ci --no-audit --no-fund --loglevel=error) || {
		echo "web-build: npm ci failed" >&2
		exit 1
	}
fi

stamp=web/dist/index.html
stale=0
if [ ! -f "$stamp" ]; then
	stale=1
else
	# Any input newer than the last successful build?
	newer=$(find web/src web/public web/scripts web/index.html web/package.json web/package-lock.json \
		web/vite.config.ts web/tsconfig.json docs/openapi.yaml \
		-newer "$stamp" ! -name api-types.ts -print 2>/dev/null | head -n 1)
	[ -n "$newer" ] && stale=1
fi
[ "$stale" -eq 0 ] && exit 0

echo "web-build: building web/dist" >&2
if ! (cd web && npm run --silent build); then
	rm -rf web/dist
	echo "web-build: FAILED (see the messages above); web/dist removed" >&2
	exit 1
fi
if [ ! -f "$stamp" ]; then
	echo "web-build: FAILED: the build produced no $stamp" >&2
	exit 1
fi
touch "$stamp"
