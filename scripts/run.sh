#!/usr/bin/env bash
# One command: set up and start the whole product on embedded defaults (or on PostgreSQL/Redis
# when DATABASE_URL / REDIS_URL are set). Ctrl-C stops every process.
#
# The console shows what a person needs: one line per setup step, where to log in, then only
# warnings and errors. Full logs go to .local/logs/ (LOGGING in settings.py, driven by LOG_FILE and
# LOG_CONSOLE_LEVEL): setup.log (the setup commands), web.log (daphne), access.log (daphne's
# requests), worker.log (Celery worker + beat). Each run starts them afresh and keeps the previous
# run's as *.log.1. LOG_CONSOLE_LEVEL=INFO shows everything on the console again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh runtime
source scripts/local-env.sh
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
URL="http://$HOST:$PORT/"
LOGS=.local/logs
mkdir -p "$LOGS"
chmod 700 "$LOGS"  # request paths and errors: for your eyes only
for name in setup web access worker; do
  if [ -f "$LOGS/$name.log" ]; then mv -f "$LOGS/$name.log" "$LOGS/$name.log.1"; fi
done
export LOG_CONSOLE_LEVEL="${LOG_CONSOLE_LEVEL:-WARNING}"

# --- setup: each command's one-line summary on the console, its logging in setup.log ------------
export LOG_FILE="$LOGS/setup.log"
echo "Preparing the database ($([ -n "${DATABASE_URL:-}" ] && echo "DATABASE_URL" || echo ".local/db.sqlite3"))..."
python manage.py migrate --noinput --verbosity 0
python manage.py seed_products
python manage.py import_rates --sample  # the simulator sends some orders in EUR
python manage.py seed_customers --count "${DEMO_CUSTOMERS:-500}"
python manage.py create_demo_users --write .local/demo-logins.txt --url "$URL"
# The demo store (/demo-store/, served only with DEMO_STORE_ENABLED) loads /tracker.js with a public
# key allowed from this server's origin.
export DEMO_STORE_ENABLED="${DEMO_STORE_ENABLED:-1}"
# Simulated shoppers run an A/B experiment with a known true lift (docs/experiments.md#the-simulator).
export SIMULATOR_EXPERIMENT="${SIMULATOR_EXPERIMENT:-hero-banner:0.1:0.05}"
python manage.py demo_store_key --origin "http://$HOST:$PORT" \
  $([ "$HOST" = "127.0.0.1" ] && echo "--origin http://localhost:$PORT")
# Live simulated shoppers: the beat task, a first month of history when there is none,
# and on the embedded default a key so the worker sends through the server's own ingest API.
# The demo's shoppers behave with thresholds and interactions, so the model families have something to
# learn (docs/retention-and-predictions.md#simulator-ground-truth); SIMULATOR_BEHAVIOUR=linear for the old ones.
export SIMULATOR_BEHAVIOUR="${SIMULATOR_BEHAVIOUR:-nonlinear}"
python manage.py simulate --schedule
python manage.py simulate --days "${DEMO_DAYS:-30}" --customers 2000 --if-empty
# A first model for the demo (beat retrains it nightly); too little data is not an error here.
python manage.py create_alert_rules
python manage.py train_model --if-none-active --verbosity 0 || echo "No model yet: too little data to train."
# Customer predictions: GA4 wants 1,000 customers with and without each outcome; the demo's few hundred
# active customers get lower thresholds (said on /model/ with the counts).
export ML_PREDICTION_MIN_POSITIVES="${ML_PREDICTION_MIN_POSITIVES:-30}" ML_PREDICTION_MIN_NEGATIVES="${ML_PREDICTION_MIN_NEGATIVES:-30}"
python manage.py train_predictions --verbosity 0 >/dev/null || echo "Customer predictions failed: see the log."
if [ -z "${REDIS_URL:-}" ]; then
  SIMULATOR_KEY="$(python manage.py create_ingest_key simulator --rotate --quiet)"
  export SIMULATOR_TARGET="http://$HOST:$PORT" SIMULATOR_KEY
fi

# --- serve ------------------------------------------------------------------------------------
pids=()
history_pid=""
cleanup() {
  trap - INT TERM EXIT
  echo "Stopping..."
  if [ -n "$history_pid" ]; then pkill -P "$history_pid" 2>/dev/null || true; fi  # the backfill's children
  for pid in "${pids[@]}" $history_pid; do kill "$pid" 2>/dev/null || true; done
  # A Celery worker's warm shutdown has been seen to hang after beat stops: give every process 15 s,
  # then stop what is left (the worker's pool processes included) for good.
  for _ in $(seq 30); do
    alive=""
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.5
  done
  for pid in "${pids[@]}"; do
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap 'cleanup; exit 0' INT TERM  # Ctrl-C is the normal way to stop
trap cleanup EXIT

LOG_FILE="$LOGS/web.log" daphne -b "$HOST" -p "$PORT" --access-log "$LOGS/access.log" \
  analytics_site.asgi:application &
pids+=($!)
# The worker runs as whoever ran `make run`. As root (a container) Celery repeats a many-line
# superuser warning: it accepts JSON only (CELERY_ACCEPT_CONTENT), so one line here says so instead.
WORKER_WARNINGS=""
if [ "$(id -u)" = "0" ]; then
  echo "Running as root: so is the Celery worker (it accepts JSON messages only). Run as an ordinary user to avoid it."
  WORKER_WARNINGS="ignore:You're running the worker with superuser privileges"
fi
LOG_FILE="$LOGS/worker.log" PYTHONWARNINGS="$WORKER_WARNINGS" \
  celery -A analytics_site --quiet worker --beat --loglevel INFO --concurrency 2 &
pids+=($!)

# Say where to log in once the server answers (or stop if it could not start).
for _ in $(seq 1 120); do
  if python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "${URL}healthz" \
      2>/dev/null; then
    echo
    echo "Ready: $URL"
    echo "  Log in as viewer, analyst or admin: passwords in .local/demo-logins.txt"
    echo "  Full logs: $LOGS/web.log, access.log, worker.log, setup.log. Warnings and errors also show here."
    echo "  Ctrl-C stops."
    break
  fi
  kill -0 "${pids[0]}" 2>/dev/null || { echo "The web server did not start: see $LOGS/web.log" >&2; break; }
  sleep 0.5
done

# --- 13 months of history, filled in behind the running server ------------------------------
# The first pages come from the 30 days above; the year before them is backfilled now (about a minute),
# then predicted CLV is fitted on it (beat refits nightly). DEMO_HISTORY_DAYS=0 skips this.
if [ "${DEMO_HISTORY_DAYS:-395}" != "0" ]; then
  ( export LOG_FILE="$LOGS/setup.log"
    python manage.py simulate --extend-back --days "${DEMO_HISTORY_DAYS:-395}" --customers 2000 >/dev/null \
      && python manage.py fit_clv --verbosity 0 >/dev/null \
      || echo "Backfilling 13 months of demo history or fitting predicted CLV failed: see $LOGS/setup.log" >&2
  ) &
  history_pid=$!
  disown "$history_pid"  # not one of the servers: "wait -n" below must not end when it does
fi
wait -n
