#!/usr/bin/env bash
# One command: install what the tests need and run the whole suite. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh dev
# Browser tests drive Debian's Chromium (never a downloaded browser). Install it when we can;
# without it they skip (except under CI, where they fail).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "chromium could not be installed; browser tests will skip outside CI" >&2
fi
# PDF reports: WeasyPrint needs Pango and a font; the tests read PDFs with poppler's pdftotext.
if ! command -v pdftotext >/dev/null || ! ldconfig -p 2>/dev/null | grep -q libpangoft2; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Pango, DejaVu fonts and poppler-utils for the PDF report tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 \
      fonts-dejavu-core poppler-utils >/dev/null) || echo "PDF packages could not be installed" >&2
  fi
fi
export TESTING=1 DJANGO_SETTINGS_MODULE=analytics_site.settings
# Test runs keep their own local state (SQLite files, broker folders) apart from the demo's.
export LOCAL_DIR="${LOCAL_DIR:-$PWD/.local/test}"
# TEST_WORKERS=N (N > 1) runs the suite in N pytest-xdist workers, each with its own test database,
# LOCAL_DIR and Redis database, whole files in the order tests/conftest.py sets
# (docs/development.md#parallel-tests); the default is 2 on a machine with two or more cores, else 1
# (one process).
cores=$(nproc 2>/dev/null || echo 1)
workers="${TEST_WORKERS:-$([ "$cores" -ge 2 ] && echo 2 || echo 1)}"
parallel=()
if [ "$workers" -gt 1 ]; then parallel=(-n "$workers" --dist loadfile --no-loadscope-reorder); fi
echo "Database: ${DATABASE_URL:-SQLite (embedded)}; channel layer: ${REDIS_URL:-in-memory}; workers: $workers"
exec .venv/bin/python -m pytest ${parallel[@]+"${parallel[@]}"} "$@"
