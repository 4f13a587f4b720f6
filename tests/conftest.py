import os

os.environ.setdefault("TESTING", "1")

import pytest  # noqa: E402
from django.test import Client  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

# Property tests draw the same examples on every run (a seed per test), so a suite that passed passes
# again; HYPOTHESIS_PROFILE=explore draws new ones each run to look for more (docs/development.md).
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
hypothesis_settings.register_profile("explore")
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

from accounts.roles import Role  # noqa: E402
from accounts.services import user_create  # noqa: E402


@pytest.fixture
def make_user(db):
    def _make(role: Role | None, username: str | None = None, password: str = "pw-Secret-123"):
        name = username or (role.value if role else "norole") + "-user"
        if role is None:
            from accounts.models import User

            return User.objects.create_user(username=name, password=password)
        return user_create(username=name, password=password, role=role)

    return _make


@pytest.fixture
def client_for(make_user):
    """A Django test client signed in with the given role (None: anonymous)."""

    def _client(role: Role | None) -> Client:
        client = Client()
        if role is not None:
            client.force_login(make_user(role))
        return client

    return _client
