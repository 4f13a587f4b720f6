#!/usr/bin/env bash
# Create .venv and install the pinned requirements; re-installs only when they change.
# Usage: scripts/bootstrap.sh [runtime|dev]
set -euo pipefail
cd "$(dirname "$0")/.."
# Nothing this script or what it starts writes is for other users to read (.local/ holds the secret
# key and the database; scripts/local-env.sh closes it and its files as well).
umask 077
kind="${1:-runtime}"
req=requirements.txt
[ "$kind" = dev ] && req=requirements-dev.txt
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating virtualenv .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$kind-$(cat requirements.txt "$req" | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "Installing $req into .venv (first run takes a few minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "$req"
  rm -f .venv/.installed-"$kind"-*
  touch "$stamp"
fi
