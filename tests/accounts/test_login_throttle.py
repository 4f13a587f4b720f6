"""Login throttling (django-axes): wrong passwords for one username from one address lock that pair out
for a cool-off, on the site's login page and on Django admin's, with a clear message."""

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.roles import Role

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Secret-123"


def _post(client: Client, url: str, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_twenty_wrong_passwords_then_the_right_one_is_refused(make_user, url):
    make_user(Role.ADMIN, username="ada", password=PASSWORD)
    client = Client()
    answers = [_post(client, url, "ada", f"wrong-{i}").status_code for i in range(20)]
    limit = settings.AXES_FAILURE_LIMIT
    assert answers[: limit - 1] == [200] * (limit - 1)  # the form again, "didn't match"
    assert set(answers[limit - 1:]) == {429}  # locked out from the limit on
    response = _post(client, url, "ada", PASSWORD)
    assert response.status_code == 429
    text = response.content.decode()
    assert 'id="locked-out"' in text and "Too many failed sign-ins" in text
    assert f"{int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)} minutes" in text
    assert "_auth_user_id" not in client.session  # not signed in
    assert client.get("/").status_code == 302


def test_lockout_is_per_username_and_address_and_ends_after_the_cool_off(make_user):
    from axes.models import AccessAttempt

    make_user(Role.VIEWER, username="vera", password=PASSWORD)
    make_user(Role.VIEWER, username="victor", password=PASSWORD)
    url = reverse("login")
    for i in range(settings.AXES_FAILURE_LIMIT):
        _post(Client(), url, "vera", f"wrong-{i}")
    assert _post(Client(), url, "vera", PASSWORD).status_code == 429
    # Another user from the same address, and the same user from another address, still sign in.
    assert _post(Client(), url, "victor", PASSWORD).status_code == 302
    assert _post(Client(), url, "vera", PASSWORD, ip="10.0.0.2").status_code == 302
    # After the cool-off the right password works again (and resets the count).
    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.UTC) - settings.AXES_COOLOFF_TIME
                                 - dt.timedelta(seconds=1))
    assert _post(Client(), url, "vera", PASSWORD).status_code == 302


def test_a_success_resets_the_count(make_user):
    make_user(Role.VIEWER, username="vera", password=PASSWORD)
    url = reverse("login")
    for _ in range(3):
        for i in range(settings.AXES_FAILURE_LIMIT - 1):
            assert _post(Client(), url, "vera", f"wrong-{i}").status_code == 200
        assert _post(Client(), url, "vera", PASSWORD).status_code == 302
