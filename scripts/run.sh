#!/bin/sh
# `make run`: initialise the data directory on first run (printing the
# one-time administrator passwords once), start the local clamd with the
# shipped test signatures (attachments are scanned before anyone sees them),
# then serve.  Production points --clamd at the system clamd instead
# (docs/operations.md).
set -eu
DATA=${1:-var}
LISTEN=${2:-127.0.0.1:8443}
if [ ! -f "$DATA/bulwark.db" ]; then
	./build/bulwark init --data "$DATA" --tenant default
	echo "Sign in at https://$LISTEN/ with tenant \"default\", user \"admin\" and the password above."
	echo "(The certificate is self-signed: your browser will ask you to accept it once.)"
	echo
fi
CLAMD_DIR="$PWD/$DATA/clamd"
case "$DATA" in /*) CLAMD_DIR="$DATA/clamd" ;; esac
if ! sock=$(sh scripts/clamd.sh start "$CLAMD_DIR"); then
	echo "run: clamd did not start; attachments will be refused until it does" >&2
	sock="$CLAMD_DIR/clamd.sock"
fi
trap 'sh scripts/clamd.sh stop "$CLAMD_DIR" >/dev/null 2>&1 || true' EXIT INT TERM
./build/bulwark serve --data "$DATA" --listen "$LISTEN" --web web/dist --clamd "$sock"
