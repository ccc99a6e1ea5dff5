#!/bin/sh
# Installs what Bulwark needs to build, run and test on Debian 12:
# the Debian -dev packages, the test tools, and the web client's npm packages.
# Idempotent and quiet when everything is present; called by `make`.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential pkg-config clang libclang-rt-14-dev \
libwebsockets-dev libev-dev libssl-dev openssl libsodium-dev libgcrypt20-dev \
libjansson-dev libsqlite3-dev sqlite3 liboath-dev oathtool libqrencode-dev \
libseccomp-dev iproute2 chromium ca-certificates zbar-tools fonts-wqy-microhei \
libcmark-dev libidn2-dev libunistring-dev clamav-daemon clamdscan"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	echo "deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The unprivileged account `bulwark serve` drops to when started as root.
if [ "$(id -u)" -eq 0 ] && ! id bulwark >/dev/null 2>&1; then
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin bulwark
fi

# Web client and test tooling (npm ci only when the lock file changed).
if [ -f web/package-lock.json ]; then
	stamp=web/node_modules/.bulwark-stamp
	if [ ! -f "$stamp" ] || [ web/package-lock.json -nt "$stamp" ]; then
		(cd web && npm ci --no-audit --no-fund --loglevel=error)
		touch "$stamp"
	fi
fi
