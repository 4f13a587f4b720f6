#!/usr/bin/env bash
# One command: set up and start the whole product on embedded defaults (or on PostgreSQL/Redis
# when DATABASE_URL / REDIS_URL are set). Ctrl-C stops every process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh runtime
source scripts/local-env.sh
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"

python manage.py migrate --noinput
python manage.py seed_products
python manage.py seed_customers --count "${DEMO_CUSTOMERS:-500}"
python manage.py create_demo_users --write .local/demo-logins.txt
[ -f .local/demo-logins.txt ] && cat .local/demo-logins.txt
# Live simulated shoppers (issue 4): the beat task, a first month of history when there is none,
# and on the embedded default a key so the worker sends through the server's own ingest API.
python manage.py simulate --schedule
python manage.py simulate --days "${DEMO_DAYS:-30}" --customers 2000 --if-empty
# A first model for the demo (beat retrains it nightly); too little data is not an error here.
python manage.py train_model --if-none-active --verbosity 0 || echo "No model yet: too little data to train."
if [ -z "${REDIS_URL:-}" ]; then
  SIMULATOR_KEY="$(python manage.py create_ingest_key simulator --rotate --quiet)"
  export SIMULATOR_TARGET="http://$HOST:$PORT" SIMULATOR_KEY
fi

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo "Stopping..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

daphne -b "$HOST" -p "$PORT" analytics_site.asgi:application &
pids+=($!)
celery -A analytics_site worker --beat --loglevel INFO --concurrency 2 &
pids+=($!)
echo "Serving on http://$HOST:$PORT/  (logins above, also in .local/demo-logins.txt). Ctrl-C stops."
wait -n
