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
# PDF reports (WeasyPrint) need Pango and a font from the system.
if ! ldconfig -p 2>/dev/null | grep -q libpangoft2; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Pango and DejaVu fonts for PDF reports"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 \
      fonts-dejavu-core >/dev/null) || echo "Pango could not be installed; PDF reports will fail" >&2
  else
    echo "PDF reports need Pango: install libpango-1.0-0 and libpangoft2-1.0-0 (Debian/Ubuntu)" >&2
  fi
fi
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
