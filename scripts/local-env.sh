# Sourced by run.sh and manage.sh: the virtualenv and a SECRET_KEY kept in .local/ when none is set.
# shellcheck disable=SC1091
source .venv/bin/activate
# Files made from here on (the secret key, the SQLite database, model artifacts, logs) are readable by
# this user only; .local/ itself is closed to others, which also covers files made before this umask.
umask 077
mkdir -p .local
chmod 700 .local
if [ -z "${SECRET_KEY:-}" ]; then
  [ -s .local/secret_key ] || python -c "import secrets; print(secrets.token_urlsafe(50))" > .local/secret_key
  chmod 600 .local/secret_key
  SECRET_KEY="$(cat .local/secret_key)"
  export SECRET_KEY
fi
export DJANGO_SETTINGS_MODULE=analytics_site.settings
