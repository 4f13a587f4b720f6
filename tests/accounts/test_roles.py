import pytest
from django.test import Client
from django.urls import reverse

from accounts import roles
from accounts.roles import Role
from tests.factories import EventFactory

ANON = None
PAGES = {
    "home": "/",
    "admin_index": "/admin/",
    "user_admin": "/admin/accounts/user/",
    "user_add": "/admin/accounts/user/add/",
    "event_admin": "/admin/events/event/",
    "customer_admin": "/admin/customers/customer/",
}

# role -> page -> expected status (302 = sent to a login page)
MATRIX = {
    ANON: {"home": 302, "admin_index": 302, "user_admin": 302, "user_add": 302, "event_admin": 302,
           "customer_admin": 302},
    Role.VIEWER: {"home": 200, "admin_index": 403, "user_admin": 403, "user_add": 403, "event_admin": 403,
                  "customer_admin": 403},
    Role.ANALYST: {"home": 200, "admin_index": 403, "user_admin": 403, "user_add": 403, "event_admin": 403,
                   "customer_admin": 403},
    Role.ADMIN: {"home": 200, "admin_index": 200, "user_admin": 200, "user_add": 200, "event_admin": 200,
                 "customer_admin": 200},
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(MATRIX), ids=lambda r: r or "anonymous")
@pytest.mark.parametrize("page", list(PAGES))
def test_role_matrix(client_for, role, page):
    response = client_for(role).get(PAGES[page])
    assert response.status_code == MATRIX[role][page]


@pytest.mark.django_db
def test_anonymous_home_redirects_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role,capabilities",
    [
        (Role.VIEWER, {roles.VIEW_DASHBOARD}),
        (Role.ANALYST, {roles.VIEW_DASHBOARD, roles.VIEW_PERSONAL_DATA, roles.VIEW_CUSTOMER_DETAIL, roles.EXPORT_DATA,
                        roles.RETRAIN_MODEL, roles.VIEW_MODEL_REPORTS}),
        (Role.ADMIN, {code for code, _ in roles.CAPABILITIES}),
    ],
)
def test_capabilities_per_role(make_user, role, capabilities):
    user = make_user(role)
    assert user.role == role
    held = {code for code, _ in roles.CAPABILITIES if user.can(code)}
    assert held == capabilities


@pytest.mark.django_db
def test_login_page_signs_in_and_logout_signs_out(make_user):
    make_user(Role.VIEWER, username="vera", password="pw-Secret-123")
    client = Client()
    response = client.post(reverse("login"), {"username": "vera", "password": "pw-Secret-123"})
    assert response.status_code == 302 and response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert b"vera" in home.content and b"viewer" in home.content
    client.post(reverse("logout"))
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_wrong_password_is_refused(make_user):
    make_user(Role.VIEWER, username="vera", password="pw-Secret-123")
    response = Client().post(reverse("login"), {"username": "vera", "password": "nope"})
    assert response.status_code == 200
    assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content


@pytest.mark.django_db
def test_admin_can_create_a_user_through_admin(client_for):
    client = client_for(Role.ADMIN)
    response = client.post(
        "/admin/accounts/user/add/",
        {"username": "newbie", "password1": "a-Long-pass-987", "password2": "a-Long-pass-987",
         "usable_password": "true"},
    )
    assert response.status_code == 302
    from accounts.models import User

    assert User.objects.filter(username="newbie").exists()


@pytest.mark.django_db
def test_events_are_read_only_for_staff_without_admin_role(make_user):
    """Events are immutable facts: read-only in admin for everyone, the admin role included (issue 10;
    tests/customers/test_admin.py covers the admin role)."""
    event = EventFactory()
    admin_client = Client()
    admin_client.force_login(make_user(Role.ADMIN))
    change_url = f"/admin/events/event/{event.pk}/change/"
    page = admin_client.get(change_url)
    assert page.status_code == 200 and b'name="_save"' not in page.content

    from accounts.models import User

    staff = User.objects.create_user(username="staffer", password="x-Long-pass-1", is_staff=True)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_event", "change_event"]))
    staff_client = Client()
    staff_client.force_login(staff)
    page = staff_client.get(change_url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert staff_client.post(change_url, {"action": "purchase"}).status_code == 403


@pytest.mark.django_db
def test_role_groups_exist_after_migrations():
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {"viewer", "analyst", "admin"}
    assert Group.objects.get(name="admin").permissions.filter(codename="delete_event").exists()
    assert not Group.objects.get(name="viewer").permissions.filter(codename="view_personal_data").exists()
    # DESIGN §5 round 2: a viewer sees no single customer; analysts and admins do.
    assert not Group.objects.get(name="viewer").permissions.filter(codename="view_customer_detail").exists()
    assert Group.objects.get(name="analyst").permissions.filter(codename="view_customer_detail").exists()
    assert Group.objects.get(name="admin").permissions.filter(codename="view_customer_detail").exists()
