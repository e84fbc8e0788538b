#!/usr/bin/env bash
# Installs the S3 server the object storage tests run against (moto, in
# server mode) into a Python venv inside the build folder. Idempotent; the
# tests find it at target/moto-venv/bin/moto_server and start and stop it
# themselves on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/moto-venv
if [ -x "$venv/bin/moto_server" ]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.1.*"
