"""Settings, all read from the environment through ``env``.

With nothing set, the product runs on embedded defaults: a SQLite file, the in-memory channel
layer and Celery on kombu's filesystem transport. ``DATABASE_URL`` switches to PostgreSQL and
``REDIS_URL`` to Redis for the channel layer and the Celery broker.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from analytics_site.env import env

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = Path(env.str("LOCAL_DIR", str(BASE_DIR / ".local")))
LOCAL_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)
TESTING = env.bool("TESTING", default=False)

_secret = env.optional("SECRET_KEY")
if _secret is None:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (DEBUG=1 allows an insecure default)."
        )
    _secret = "insecure-dev-key-only-for-debug-and-tests-" + "x" * 20
SECRET_KEY = _secret

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
    "ml",
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
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = str(DATABASES["default"]["ENGINE"]).endswith("postgresql")

# --- Redis: channel layer and Celery broker ------------------------------------------------
REDIS_URL = env.optional("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1500, "expiry": 10},
        }
    }
else:
    # Exists only inside one process: on the embedded default, dashboards also poll the
    # rollups (DESIGN §2).
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
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
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
# Seasonality is reported in the store's own time zone (DESIGN §4).
STORE_TIME_ZONE = env.str("STORE_TIME_ZONE", "UTC")

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = LOCAL_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
]
# Serve straight from the finders so no collectstatic step is needed to run.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Product settings -----------------------------------------------------------------------
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", 30)
MODEL_DIR = Path(env.str("MODEL_DIR", str(LOCAL_DIR / "models")))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Ingest (DESIGN §3) ---------------------------------------------------------------------
INGEST_MAX_MESSAGE_BYTES = env.int("INGEST_MAX_MESSAGE_BYTES", 1_000_000)
INGEST_MAX_BATCH_EVENTS = env.int("INGEST_MAX_BATCH_EVENTS", 5000)
INGEST_GROUP_COMMIT_MS = env.int("INGEST_GROUP_COMMIT_MS", 50)
# Events a second per ingest key, over every entry point and process (token bucket, shared through
# Redis when REDIS_URL is set); 0 turns the limit off. The burst is at least one full batch.
INGEST_RATE_LIMIT = env.float("INGEST_RATE_LIMIT", 50_000)
INGEST_RATE_BURST = env.int("INGEST_RATE_BURST", 100_000)
# Backpressure on one ingest socket: events received but not yet acknowledged beyond this get a
# retryable "busy" error reply (as do messages beyond the second limit); a client that keeps sending
# past ten times the message limit is disconnected (1013, try again later).
INGEST_MAX_PENDING_EVENTS = env.int("INGEST_MAX_PENDING_EVENTS", 20_000)
INGEST_MAX_PENDING_MESSAGES = env.int("INGEST_MAX_PENDING_MESSAGES", 5_000)
SEGMENT_MAX_EVENT_BYTES = 32 * 1024
SEGMENT_MAX_BATCH_BYTES = 500 * 1024
DASHBOARD_GROUP = "dashboard"

# --- Simulator (issue 4) --------------------------------------------------------------------
# Where the live simulator sends events. Unset: straight through the ingest service (fine with a
# shared Redis channel layer). On the embedded default `make run` sets it to the server's own
# ingest API so its broadcasts reach open dashboards (DESIGN §2).
SIMULATOR_TARGET = env.optional("SIMULATOR_TARGET")
SIMULATOR_KEY = env.optional("SIMULATOR_KEY")
SIMULATOR_RATE = env.float("SIMULATOR_RATE", 2.0)

# --- Explorer (issue 6): django-plotly-dash, served locally, embedded directly (no iframe, so
# X_FRAME_OPTIONS stays DENY) ---------------------------------------------------------------
INSTALLED_APPS += ["django_plotly_dash.apps.DjangoPlotlyDashConfig"]
MIDDLEWARE += ["django_plotly_dash.middleware.BaseMiddleware"]
# django-plotly-dash's finders, subclassed only to survive WhiteNoise's finder.list(None).
STATICFILES_FINDERS += [
    "insights.dash_finders.DashAssetFinder",
    "insights.dash_finders.DashComponentFinder",
    "insights.dash_finders.DashAppDirectoryFinder",
]
PLOTLY_DASH = {"serve_locally": True}
