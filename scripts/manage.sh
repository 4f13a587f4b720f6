#!/usr/bin/env bash
# manage.py in the same environment as `make run` (its virtualenv and secret key), e.g.
#   scripts/manage.sh simulate --days 30      scripts/manage.sh train_model
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/bootstrap.sh runtime
source scripts/local-env.sh
exec python manage.py "$@"
