"""Settings come from the environment; production refuses to start without a secret."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from analytics_site.env import Env, ImproperlyConfiguredEnv

ROOT = Path(__file__).resolve().parent.parent


def _run(code_or_args, extra_env, drop=()):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra_env)
    args = code_or_args if isinstance(code_or_args, list) else ["-c", code_or_args]
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_missing_secret_key_stops_start_up_outside_debug():
    result = _run("import django; django.setup()",
                  {"DJANGO_SETTINGS_MODULE": "analytics_site.settings", "DEBUG": "0", "TESTING": "0"},
                  drop=("SECRET_KEY",))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {"DEBUG": "0", "TESTING": "0", "HTTPS": "1", "SECRET_KEY": "k" * 20 + "-production-secret-9f8e7d6c5b4a3",
         "ALLOWED_HOSTS": "analytics.example.com"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "extra,expected",
    [
        ({}, "sqlite3|InMemoryChannelLayer|filesystem://"),
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "REDIS_URL": "redis://127.0.0.1:6379/0"},
         "postgresql|RedisChannelLayer|redis://127.0.0.1:6379/0"),
    ],
)
def test_environment_switches_database_channel_layer_and_broker(extra, expected):
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.DATABASES['default']['ENGINE'].rsplit('.',1)[-1], "
            "s.CHANNEL_LAYERS['default']['BACKEND'].rsplit('.',1)[-1], s.CELERY_BROKER_URL, sep='|')")
    result = _run(code, {"DJANGO_SETTINGS_MODULE": "analytics_site.settings", "TESTING": "1", **extra},
                  drop=("DATABASE_URL", "REDIS_URL"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


def test_env_parses_and_rejects_values():
    e = Env({"A": "1", "B": "off", "N": "12", "L": "a, b,,c", "BAD": "maybe"})
    assert e.bool("A") is True and e.bool("B") is False and e.bool("MISSING", default=True) is True
    assert e.int("N", 0) == 12 and e.list("L") == ["a", "b", "c"]
    with pytest.raises(ImproperlyConfiguredEnv):
        e.bool("BAD")
    with pytest.raises(ImproperlyConfiguredEnv):
        e.str("MISSING")


def test_models_and_migrations_agree(db):
    """A model change without its migration would reach users only as a broken deploy."""
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # exits non-zero on drift
