"""Findings of the security review on the dashboards (issue 10): HTML in chart labels, CSV formula
injection, hostile filter values on pages / API / CSV / socket, Dash callbacks with wrong types,
django-plotly-dash's extra routes, and dashboard sockets that outlive their login."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from accounts.roles import Role
from analytics_site.routing import websocket_application
from insights import charts
from insights.views import _cell, _csv_lines
from tests.insights.pages_data import HOSTILE, hostile_product_history, store_history


@pytest.fixture
def hostile(db):
    history = store_history()
    return {**history, "hostile": hostile_product_history()}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _page_figures(response) -> dict[str, Any]:
    text = response.content.decode()
    found = re.findall(r'<script type="application/json" id="figure-([\w-]+)">(.*?)</script>', text, re.S)
    return {name: json.loads(body) for name, body in found}


# --- 3. Plotly renders HTML in labels ----------------------------------------------------------

@pytest.mark.parametrize("path", ["/products/", "/carts/", "/funnel/?breakdown=category", "/customers/{hostile}/"])
def test_html_in_product_titles_and_categories_never_reaches_a_figure_as_markup(client_for, hostile, path):
    response = client_for(Role.ANALYST).get(path.format(**hostile))
    assert response.status_code == 200
    figures = _page_figures(response)
    assert figures, path
    strings = [s for fig in figures.values() for s in _strings(fig)]
    assert not [s for s in strings if "<a" in s.lower()], path
    # ...and it is still there, as text Plotly shows literally.
    assert any(html.escape(HOSTILE, quote=False) in s or html.escape(HOSTILE, quote=False)[:20] in s
               for s in strings), path


def test_label_text_escapes_what_plotly_would_parse():
    assert charts.label_text('<a href="x">y</a> & <b>') == '&lt;a href="x"&gt;y&lt;/a&gt; &amp; &lt;b&gt;'
    assert charts.label_text(None) == "—"
    fig = charts.product_bar_figure([{"title": "<b>bold</b>", "category": "<i>c</i>", "views": 3}], "views",
                                    label="Views")
    assert list(fig.data[0].y) == ["&lt;b&gt;bold&lt;/b&gt;"]
    assert list(fig.data[0].customdata) == ["&lt;i&gt;c&lt;/i&gt;"]


def test_model_report_figures_escape_feature_names():
    from ml import charts as ml_charts

    fig = ml_charts.importances_figure([{"feature": "<a href='x'>f</a>", "importance": 0.1, "std": 0.01}])
    assert not [s for s in _strings(fig) if "<a" in s]


# --- 4. CSV formula injection ----------------------------------------------------------------

@pytest.mark.parametrize("value", ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", "\n=1", "\0x", "＝1+1",
                                   "=HYPERLINK(\"https://evil\")", "-", "+"])
def test_cells_a_spreadsheet_would_run_are_prefixed(value):
    assert _cell(value) == "'" + value


@pytest.mark.parametrize("value,expected", [(-5, -5), (2.5, 2.5), ("-5", "-5"), ("+1.5e3", "+1.5e3"), (".5", ".5"),
                                            ("plain", "plain"), (None, ""), ("a=b", "a=b")])
def test_numbers_stay_numbers_and_plain_text_is_untouched(value, expected):
    assert _cell(value) == expected


def test_csv_lines_prefix_hostile_cells_but_keep_numbers():
    rows = list(csv.reader(io.StringIO("".join(_csv_lines([
        {"title": "\t=cmd|' /C calc'!A0", "views": -3, "rate": 0.25},
        {"title": "\r@SUM(1)", "views": 4, "rate": -0.5},
    ])))))
    assert rows[1] == ["'\t=cmd|' /C calc'!A0", "-3", "0.25"]
    assert rows[2] == ["'\r@SUM(1)", "4", "-0.5"]


def test_an_export_with_a_formula_title_is_defused(client_for, db):
    from events.services import events_ingest
    from insights.services import analytics_process_pending

    store_history()
    result = events_ingest(raw_events=[{
        "event_id": "formula-1", "customer_id": "4", "session_id": "s-4", "action": "view", "product_id": "p-f",
        "product_title": "=HYPERLINK(\"https://evil\",\"x\")", "product_price": 1.0, "quantity": 1,
        "timestamp": timezone.now().isoformat()}], broadcast=False)
    assert result.accepted == 1, result.as_ack()
    analytics_process_pending()
    response = client_for(Role.ANALYST).get("/export/products_most_viewed.csv?start=2000-01-01")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    title = rows[0].index("title")
    assert "'=HYPERLINK(\"https://evil\",\"x\")" in {r[title] for r in rows[1:]}


# --- 5. hostile filter values ------------------------------------------------------------------

HOSTILE_QUERIES = ["end=0001-01-01", "start=9999-12-31", "category=%00", "start=0001-01-01&end=0001-01-31",
                   "end=9999-12-31", "category=" + "x" * 5000, "category=a%0Ab", "start=2024-01-01%00",
                   "age_group=%00", "action=%00"]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_filters_give_a_message_on_pages(client_for, hostile, query):
    client = client_for(Role.ANALYST)
    for path in ("/", "/funnel/", "/customers/", "/products/", "/carts/", "/insights/", "/seasonality/"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 200, (path, query)
        assert "Showing the last 30 days instead." in response.content.decode()


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_filters_are_400_on_the_api_and_csv(client_for, hostile, query):
    client = client_for(Role.ANALYST)
    for panel in ("kpis", "funnel", "customers", "products", "carts", "insights", "seasonality", "timeseries"):
        response = client.get(f"/api/v1/metrics/{panel}?{query}")
        assert response.status_code == 400, (panel, query)
        assert response.json()["error"]
    for table in ("funnel", "top_customers", "products_most_viewed", "abandoned_carts"):
        assert client.get(f"/export/{table}.csv?{query}").status_code == 400, (table, query)


def test_dates_inside_the_bounds_still_work(client_for, hostile):
    client = client_for(Role.VIEWER)
    assert client.get("/api/v1/metrics/kpis?start=2000-01-01&end=2000-01-31").status_code == 200
    assert client.get("/api/v1/metrics/kpis?end=2000-01-05").status_code == 200  # start derived before 2000
    response = client.get("/api/v1/metrics/kpis?start=1999-12-31")
    assert response.status_code == 400 and "between 2000-01-01" in response.json()["error"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("query", ["end=0001-01-01", "start=9999-12-31", "category=%00", "category=" + "y" * 500])
def test_hostile_filters_on_the_dashboard_socket_fall_back_to_the_default_view(make_user, query):
    client = Client()
    client.force_login(make_user(Role.VIEWER))
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver"),
               (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]

    async def run():
        comm = WebsocketCommunicator(websocket_application, f"/ws/dashboard/?{query}", headers=headers)
        connected, _ = await comm.connect()
        assert connected
        hello = await comm.receive_json_from(timeout=5)
        assert hello["type"] == "hello" and hello["filter_error"]
        await comm.send_json_to({"type": "refresh"})
        update = await comm.receive_json_from(timeout=5)
        assert update["type"] == "update"
        await comm.disconnect()

    async_to_sync(run)()


# --- 5. Dash callbacks with wrong types --------------------------------------------------------

OUTPUTS = [("x-timeseries", "figure"), ("x-funnel", "figure"), ("x-hour", "figure"), ("x-products", "figure"),
           ("x-status", "children")]
UPDATE_URL = "/django_plotly_dash/app/Explorer/_dash-update-component"


def _update_body(start: Any, end: Any, actions: Any, age: Any, category: Any) -> str:
    return json.dumps({
        "output": ".." + "...".join(f"{i}.{p}" for i, p in OUTPUTS) + "..",
        "outputs": [{"id": i, "property": p} for i, p in OUTPUTS],
        "inputs": [{"id": "x-dates", "property": "start_date", "value": start},
                   {"id": "x-dates", "property": "end_date", "value": end},
                   {"id": "x-actions", "property": "value", "value": actions},
                   {"id": "x-age", "property": "value", "value": age},
                   {"id": "x-category", "property": "value", "value": category}],
        "changedPropIds": ["x-category.value"], "state": []})


@pytest.mark.parametrize("args,message", [
    ((5, None, None, None, None), "start must be text"),
    (("2024-01-01", ["x"], None, None, None), "end must be text"),
    ((None, None, {"a": 1}, None, None), "actions must be a list"),
    ((None, None, [1, 2], None, None), "actions must be a list"),
    ((None, None, None, ["26-35"], None), "age group must be text"),
    ((None, None, None, None, 7), "category must be text"),
    ((None, None, None, None, "\x00"), "control characters"),
    (("0001-01-01", None, None, None, None), "between 2000-01-01"),
    ((None, "9999-12-31", None, None, None), "between 2000-01-01"),
])
def test_dash_callbacks_with_wrong_types_answer_with_a_message(client_for, hostile, args, message):
    client = client_for(Role.VIEWER)
    assert client.get("/explorer/").status_code == 200
    response = client.post(UPDATE_URL, _update_body(*args), content_type="application/json")
    assert response.status_code == 200
    status = json.loads(response.content)["response"]["x-status"]["children"]
    assert message in status and "Showing the last 30 days instead." in status


def test_dash_callback_with_good_input_follows_the_filter(client_for, hostile):
    client = client_for(Role.VIEWER)
    client.get("/explorer/")
    response = client.post(UPDATE_URL, _update_body(None, None, ["view"], None, "bags"),
                           content_type="application/json")
    assert json.loads(response.content)["response"]["x-status"]["children"].endswith("view · bags")


# --- 9. only the Dash routes the Explorer needs -----------------------------------------------

def test_add_stateless_apps_is_not_routed_and_a_viewer_get_writes_nothing(client_for, db):
    from django_plotly_dash.models import DashApp, StatelessApp

    viewer = client_for(Role.VIEWER)
    before = (StatelessApp.objects.count(), DashApp.objects.count())
    for path in ("/django_plotly_dash/add_stateless_apps", "/django_plotly_dash/add_stateless_apps/",
                 "/django_plotly_dash/instance/Explorer/_dash-layout", "/django_plotly_dash/app/Explorer/"):
        assert viewer.get(path).status_code == 404, path
    assert (StatelessApp.objects.count(), DashApp.objects.count()) == before


def test_dash_routes_need_the_dashboard_capability(client_for, make_user, hostile):
    viewer = client_for(Role.VIEWER)
    assert viewer.get("/django_plotly_dash/app/Explorer/_dash-layout").status_code == 200
    assert viewer.get("/django_plotly_dash/app/Explorer/_dash-dependencies").status_code == 200
    no_role = Client()
    no_role.force_login(make_user(None))
    assert no_role.get("/django_plotly_dash/app/Explorer/_dash-layout").status_code == 403
    assert no_role.post(UPDATE_URL, _update_body(None, None, None, None, None),
                        content_type="application/json").status_code == 403
    assert Client().get("/django_plotly_dash/app/Explorer/_dash-layout").status_code == 302  # to the login page


# --- 7. the dashboard socket ends with its login ------------------------------------------------

def _signed_in(make_user, role=Role.VIEWER) -> tuple[Client, list[tuple[bytes, bytes]]]:
    client = Client()
    client.force_login(make_user(role))
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver"),
               (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]
    return client, headers


@pytest.mark.django_db(transaction=True)
def test_logging_out_closes_that_sessions_dashboard_socket(make_user):
    client, headers = _signed_in(make_user)
    other_client, other_headers = _signed_in(make_user, Role.ANALYST)

    async def run():
        mine = WebsocketCommunicator(websocket_application, "/ws/dashboard/", headers=headers)
        other = WebsocketCommunicator(websocket_application, "/ws/dashboard/", headers=other_headers)
        assert (await mine.connect())[0] and (await other.connect())[0]
        await mine.receive_json_from(timeout=5)  # hello
        await other.receive_json_from(timeout=5)
        response = await sync_to_async(client.post)("/accounts/logout/")
        assert response.status_code == 302
        # The logout signal's group message closes this session's socket at once...
        closed = await mine.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": 4401}
        # ...and only that one: another login's socket still gets its updates.
        await other.send_json_to({"type": "refresh"})
        assert (await other.receive_json_from(timeout=5))["type"] == "update"
        await other.disconnect()

    async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_a_socket_whose_session_ended_elsewhere_stops_before_its_next_push(make_user):
    """A logout another process handled (no group message reaches this one) still ends the socket: the
    session is read again before every push."""
    from django.contrib.sessions.models import Session

    client, headers = _signed_in(make_user)
    key = client.cookies["sessionid"].value

    async def run():
        comm = WebsocketCommunicator(websocket_application, "/ws/dashboard/", headers=headers)
        assert (await comm.connect())[0]
        await comm.receive_json_from(timeout=5)  # hello
        await comm.send_json_to({"type": "refresh"})
        assert (await comm.receive_json_from(timeout=5))["type"] == "update"
        await sync_to_async(lambda: Session.objects.filter(session_key=key).delete())()
        await comm.send_json_to({"type": "refresh"})
        output = await comm.receive_output(timeout=5)
        assert output == {"type": "websocket.close", "code": 4401}

    async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_a_socket_whose_user_lost_the_dashboard_role_is_closed_with_4403(make_user):
    from django.contrib.auth.models import Group

    client, headers = _signed_in(make_user)
    user_pk = int(client.session["_auth_user_id"])

    async def run():
        comm = WebsocketCommunicator(websocket_application, "/ws/dashboard/", headers=headers)
        assert (await comm.connect())[0]
        await comm.receive_json_from(timeout=5)  # hello

        def demote():
            Group.objects.get(name="viewer").user_set.remove(user_pk)

        await sync_to_async(demote)()
        await comm.send_json_to({"type": "refresh"})
        assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}

    async_to_sync(run)()
