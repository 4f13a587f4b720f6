"""Settings, all read from the environment through ``env``.

With nothing set, the product runs on embedded defaults: a SQLite file, the in-memory channel
layer and Celery on kombu's filesystem transport. ``DATABASE_URL`` switches to PostgreSQL and
``REDIS_URL`` to Redis for the channel layer and the Celery broker.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

from analytics_site import csp as csp_hashes
from analytics_site.env import env

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = Path(env.str("LOCAL_DIR", str(BASE_DIR / ".local")))
LOCAL_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
# The SQLite file, the secret key, model artifacts and broker messages live here: readable by
# this user only (a directory others cannot enter hides every file in it, whatever its mode).
if LOCAL_DIR.stat().st_uid == os.getuid() and LOCAL_DIR.stat().st_mode & 0o077:
    LOCAL_DIR.chmod(0o700)

DEBUG = env.bool("DEBUG", default=False)
TESTING = env.bool("TESTING", default=False)

_secret = env.optional("SECRET_KEY")
if _secret is None:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY is not set. Set it in the environment (DEBUG=1 allows an insecure "
                                   "default).")
    _secret = "insecure-dev-key-only-for-debug-and-tests-" + "x" * 20
elif not (DEBUG or TESTING) and (len(_secret) < 50 or len(set(_secret)) < 5):
    raise ImproperlyConfigured(
        f"SECRET_KEY is too weak ({len(_secret)} characters, {len(set(_secret))} distinct): use at least 50 "
        "random characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'.")
SECRET_KEY = _secret
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", [])  # earlier keys, still read (docs/security.md)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])

# Behind TLS in production: HTTPS=1 turns on every transport-security setting at once.
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env.bool("BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "daphne",
    "analytics_site.apps.AnalyticsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_celery_beat",
    "accounts",
    "customers",
    "products",
    "events",
    "insights",
    "ml", "demostore",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "analytics_site.urls"
WSGI_APPLICATION = "analytics_site.wsgi.application"
ASGI_APPLICATION = "analytics_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.role",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env.optional("DATABASE_URL")
if DATABASE_URL:
    _db = dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env.int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
else:
    # Embedded default: one SQLite file shared by daphne and the Celery worker. WAL lets readers
    # and a writer work at once; IMMEDIATE transactions plus a busy timeout make writers queue
    # instead of failing with "database is locked".
    _db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env.str("SQLITE_PATH", str(LOCAL_DIR / "db.sqlite3")),
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        },
        # ChannelsLiveServerTestCase refuses an in-memory test database.
        "TEST": {"NAME": str(LOCAL_DIR / "test_db.sqlite3")},
    }
    # Made 0600 before SQLite first opens it (an empty file is a valid new database); SQLite gives its
    # -wal and -shm files the database file's mode.
    _sqlite = Path(_db["NAME"])
    if _db["NAME"] != ":memory:" and _sqlite.parent.is_dir():
        try:
            os.close(os.open(_sqlite, os.O_CREAT | os.O_WRONLY, 0o600))
            if _sqlite.stat().st_uid == os.getuid() and _sqlite.stat().st_mode & 0o077:
                _sqlite.chmod(0o600)
        except OSError:
            pass  # not ours to create or change: SQLite reports what it cannot open
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = str(DATABASES["default"]["ENGINE"]).endswith("postgresql")

# --- Redis: channel layer and Celery broker ------------------------------------------------
REDIS_URL = env.optional("REDIS_URL")
# Every consumer waits for channel messages with BZPOPMIN, which Redis answers after at most
# RedisChannelLayer.brpop_timeout (5 s) on an idle channel. redis-py 8 made socket_timeout default
# to 5 s as well, so the read of every idle receive timed out just as Redis answered: TimeoutError
# inside receive() and close code 1011 for every socket after ~5 s without a channel message
# (channels_redis#422, redis-py#4091). Hence an explicit read timeout well above the 5 s block:
# a live Redis always answers first, and a Redis that went silent (host gone, half-open TCP) is
# still noticed within 15 s. TCP keepalive catches dead idle pooled connections, a PING checks a
# connection idle for more than 10 s before it is used, and connecting gives up after 5 s. No
# retries on purpose: group memberships live in Redis, so a consumer whose Redis went away must
# fail and be reconnected by its client (which rejoins its groups) rather than linger deaf.
REDIS_SOCKET_TIMEOUT = 15
REDIS_CONNECT_TIMEOUT = 5
REDIS_HEALTH_CHECK_INTERVAL = 10
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # A dict host: the address plus keyword arguments for redis.asyncio.ConnectionPool.from_url.
                "hosts": [{
                    "address": REDIS_URL,
                    "socket_timeout": REDIS_SOCKET_TIMEOUT,
                    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
                    "socket_keepalive": True,
                    "health_check_interval": REDIS_HEALTH_CHECK_INTERVAL,
                }],
                "capacity": 1500,
                "expiry": 10,
            },
        }
    }
else:
    # Exists only inside one process: on the embedded default, dashboards also poll the
    # rollups (ARCHITECTURE.md).
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CHANNEL_LAYER_SHARED = REDIS_URL is not None

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = LOCAL_DIR / "celery-broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # kombu's default is ./control
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu's Redis transport is not hit by redis-py 8's 5 s default: it passes its own
    # socket_timeout (None unless set) to redis-py, and its BRPOP blocks only 1 s, read when the
    # socket is readable. But None means a publish (beat, a retrain request) to a Redis that went
    # silent waits for ever, so: the same bounded read timeout as the channel layer (far above the
    # 1 s BRPOP), a connect timeout, TCP keepalive, and kombu's health checks (a PING on idle
    # connections; a BRPOP with no reply for brpop_timeout + 25 s is dropped and reconnected).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_timeout": REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
        "socket_keepalive": True,
        "health_check_interval": 25,
    }
# No result backend: every task ignores its result and nothing waits on one, so Redis has no
# third client here. (Adding one means setting redis_socket_timeout / redis_backend_health_check_interval
# for it too, above any blocking result.get().)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]  # never pickle: a worker started as root (scripts/run.sh) runs no code it is sent
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}

# CustomerDaily's covering index INCLUDEs two columns on PostgreSQL; SQLite makes it without them
# (a plain partial index), which is all it can do: its warning says nothing actionable.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- I18n, time -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STORE_TIME_ZONE = env.str("STORE_TIME_ZONE", "UTC")  # seasonality is reported in it (docs/metrics.md)
STORE_CURRENCY = env.str("STORE_CURRENCY", "USD").upper()  # every amount's; others converted at ingest

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = LOCAL_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
]
WHITENOISE_USE_FINDERS = True  # straight from the finders: no collectstatic step is needed to run
WHITENOISE_ROOT = BASE_DIR / "static" / "root"  # at /: favicon.ico, for pages without <link rel="icon">
WHITENOISE_AUTOREFRESH = DEBUG

# --- Product settings -----------------------------------------------------------------------
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", 30)
MODEL_DIR = Path(env.str("MODEL_DIR", str(LOCAL_DIR / "models")))

# Logging. LOG_LEVEL: what is logged at all (default INFO). LOG_CONSOLE_LEVEL: what of it
# reaches the console (default LOG_LEVEL, so containers log everything to their output; `make run`
# sets WARNING: its console shows warnings and errors). LOG_FILE: also write everything at LOG_LEVEL
# to this file (`make run` gives each process its own under .local/logs/ and keeps the previous run's
# as *.log.1). A plain FileHandler, not a rotating one: Celery's prefork children share the file.
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(name: str, default: str) -> str:
    level = env.str(name, default).upper()
    if level not in _LOG_LEVELS:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(_LOG_LEVELS)}, got {level!r}.")
    return level


LOG_LEVEL = _log_level("LOG_LEVEL", "INFO")
LOG_CONSOLE_LEVEL = _log_level("LOG_CONSOLE_LEVEL", LOG_LEVEL)
LOG_FILE = env.optional("LOG_FILE")
_log_handlers: dict[str, dict[str, object]] = {
    "console": {"class": "logging.StreamHandler", "formatter": "plain", "level": LOG_CONSOLE_LEVEL,
                "filters": ["known_noise"]},
}
if LOG_FILE:
    Path(LOG_FILE).parent.mkdir(parents=True, exist_ok=True)
    _log_handlers["file"] = {"class": "logging.FileHandler", "filename": LOG_FILE, "formatter": "plain",
                             "level": LOG_LEVEL, "encoding": "utf-8"}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"known_noise": {"()": "analytics_site.log_filters.DropKnownNoise"}},
    "handlers": _log_handlers,
    "root": {"handlers": list(_log_handlers), "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Ingest (docs/sending-events.md) --------------------------------------------------------
INGEST_MAX_MESSAGE_BYTES = env.int("INGEST_MAX_MESSAGE_BYTES", 1_000_000)
INGEST_MAX_BATCH_EVENTS = env.int("INGEST_MAX_BATCH_EVENTS", 5000)
INGEST_GROUP_COMMIT_MS = env.int("INGEST_GROUP_COMMIT_MS", 50)
# Events a second per ingest key, all entry points and processes (token bucket, shared through Redis
# when REDIS_URL is set; one token an event); 0: no limit. The burst is at least one full batch.
INGEST_RATE_LIMIT = env.float("INGEST_RATE_LIMIT", 50_000)
INGEST_RATE_BURST = env.int("INGEST_RATE_BURST", 100_000)
# Backpressure on one ingest socket: events received but not yet acknowledged beyond this get a retryable
# "busy" reply (as do messages beyond the second limit); past ten times the message limit: disconnected.
INGEST_MAX_PENDING_EVENTS = env.int("INGEST_MAX_PENDING_EVENTS", 20_000)
INGEST_MAX_PENDING_MESSAGES = env.int("INGEST_MAX_PENDING_MESSAGES", 5_000)
SEGMENT_MAX_EVENT_BYTES = 32 * 1024
# Known bots' events (events/bots.py) are stored flagged and left out of every metric; 1 counts them.
METRICS_INCLUDE_BOTS = env.bool("METRICS_INCLUDE_BOTS", default=False)
# Public (browser) keys (docs/trust.md): events a second per key and per address (REMOTE_ADDR), events one
# request may carry (an order's lines one each), how long browsers may cache a preflight.
PUBLIC_KEY_RATE_LIMIT = env.float("PUBLIC_KEY_RATE_LIMIT", 500)
PUBLIC_KEY_RATE_BURST = env.int("PUBLIC_KEY_RATE_BURST", 2000)
PUBLIC_ADDRESS_RATE_LIMIT = env.float("PUBLIC_ADDRESS_RATE_LIMIT", 20)
PUBLIC_ADDRESS_RATE_BURST = env.int("PUBLIC_ADDRESS_RATE_BURST", 200)
PUBLIC_MAX_BATCH_EVENTS = env.int("PUBLIC_MAX_BATCH_EVENTS", 100)
CORS_MAX_AGE = env.int("CORS_MAX_AGE", 86_400)
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)  # a browser's address: the last X-Forwarded-For hop
SEGMENT_MAX_BATCH_BYTES = 500 * 1024
HISTORY_MOVE_STEP_EVENTS = env.int("HISTORY_MOVE_STEP_EVENTS", 100)  # per step of a history move (ingest waits)
DEMO_STORE_ENABLED = env.bool("DEMO_STORE_ENABLED", default=False)  # /demo-store/ (make run); else 404
# Store connections: a webhook body over these bytes or order/refund lines is refused (413). docs/connections.md
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", 10_000_000)
WEBHOOK_MAX_LINES = env.int("WEBHOOK_MAX_LINES", 5_000)
DASHBOARD_GROUP = "dashboard"

# --- Simulator ------------------------------------------------------------------------------
# Where the live simulator sends events. Unset: straight through the ingest service (fine with a
# shared Redis channel layer). On the embedded default `make run` sets it to the server's own
# ingest API so its broadcasts reach open dashboards (ARCHITECTURE.md).
SIMULATOR_TARGET = env.optional("SIMULATOR_TARGET")
SIMULATOR_KEY = env.optional("SIMULATOR_KEY")
SIMULATOR_RATE = env.float("SIMULATOR_RATE", 2.0)

# --- Explorer: django-plotly-dash, served locally, embedded directly (no iframe: X_FRAME_OPTIONS stays DENY) ---
INSTALLED_APPS += ["django_plotly_dash.apps.DjangoPlotlyDashConfig"]
MIDDLEWARE += ["django_plotly_dash.middleware.BaseMiddleware"]
# django-plotly-dash's finders, subclassed only to survive WhiteNoise's finder.list(None).
STATICFILES_FINDERS += [
    "insights.dash_finders.DashAssetFinder",
    "insights.dash_finders.DashComponentFinder",
    "insights.dash_finders.DashAppDirectoryFinder",
]
PLOTLY_DASH = {"serve_locally": True}

# --- Security (docs/security.md) ------------------------------------------------------------
# Login throttle (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from one
# address, that pair is locked out for AXES_COOLOFF_TIME, on /accounts/login/ and /admin/login/ alike.
# Attempts are kept in the database, so every web process sees the same count.
INSTALLED_APPS += ["axes", "csp"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out pair before checking the password
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.login_locked_out"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
LOGGING["loggers"]["axes"] = {"level": "WARNING"}  # type: ignore[index]  # lockouts only, not every sign-in

# Content-Security-Policy (django-csp). Scripts only from this origin, or inline with the request's
# nonce or a listed hash (the one line that starts Dash's renderer); no 'unsafe-eval'. Styles only
# from this origin, plus the few fixed inline styles plotly.js makes (by hash; the Explorer page
# allows inline styles for Dash's components). Every other source is this origin or nothing.
# What was measured and why: analytics_site/csp.py and README "Security".
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE, *csp_hashes.SCRIPT_HASHES],
        "style-src": ["'self'", "'unsafe-hashes'", *csp_hashes.STYLE_HASHES],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
# Personal data must not stay in a browser's or proxy's cache: every response but static files
# (served by WhiteNoise before this middleware) is Cache-Control: no-store.
MIDDLEWARE.insert(MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware") + 1,
                  "accounts.middleware.NoStoreMiddleware")
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last: turns a lockout into the login page's answer
from analytics_site.settings_alerts import *  # noqa: E402,F403
