#!/bin/sh
# `make run`: initialise the data directory on first run (printing the
# one-time administrator passwords once), then serve.
set -eu
DATA=${1:-var}
LISTEN=${2:-127.0.0.1:8443}
if [ ! -f "$DATA/bulwark.db" ]; then
	./build/bulwark init --data "$DATA" --tenant default
	echo "Sign in at https://$LISTEN/ with tenant \"default\", user \"admin\" and the password above."
	echo "(The certificate is self-signed: your browser will ask you to accept it once.)"
	echo
fi
exec ./build/bulwark serve --data "$DATA" --listen "$LISTEN" --web web/dist
