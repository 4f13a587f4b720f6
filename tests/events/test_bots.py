"""Known bots (DESIGN §8): flagged by user agent, stored, left out of every metric by default (a
setting keeps them), and the count left out is shown."""

from __future__ import annotations

import pytest
from django.test import override_settings

from accounts.roles import Role
from events.bots import is_bot_user_agent
from events.models import Event
from events.services import events_ingest
from insights import selectors
from insights.models import EventHourly, Session
from insights.rebuild import analytics_rebuild
from insights.services import analytics_process_pending

BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.71 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
    "python-requests/2.31.0",
    "curl/8.4.0",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; +https://openai.com/gptbot)",
    "UptimeRobot/2.0 (http://www.uptimerobot.com/)",
]
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "Safari/537.36 Edg/120.0.0.0",
]


@pytest.mark.parametrize("agent", BOTS)
def test_known_bots_are_recognised(agent):
    assert is_bot_user_agent(agent)


@pytest.mark.parametrize("agent", [*BROWSERS, "", None])
def test_browsers_are_not_bots(agent):
    assert not is_bot_user_agent(agent)


def _events(agent_of):
    return [{"event_id": f"e-{who}-{n}", "customer_id": who, "action": action, "product_id": "p-1",
             "product_price": 10, "timestamp": f"2024-05-01T10:0{n}:00Z", "order_id": "o-" + who if n == 2 else None,
             "context": {"user_agent": agent_of[who], "page_url": "https://shop.example/"}}
            for who in agent_of for n, action in enumerate(["view", "add_to_cart", "purchase"])]


@pytest.mark.django_db
def test_bot_events_are_stored_flagged_and_left_out_of_every_metric():
    result = events_ingest(raw_events=_events({"shopper": BROWSERS[0], "crawler": BOTS[0]}))
    assert result.accepted == 6
    assert set(Event.objects.filter(is_bot=True).values_list("customer__external_id", flat=True)) == {"crawler"}
    analytics_process_pending(max_rows=100)
    assert sum(EventHourly.objects.values_list("events", flat=True)) == 3  # the shopper's alone
    assert list(Session.objects.values_list("customer__external_id", flat=True)) == ["shopper"]
    assert selectors.bot_events_excluded() == 3
    analytics_rebuild()  # a rebuild agrees with the live path
    assert sum(EventHourly.objects.values_list("events", flat=True)) == 3
    assert Session.objects.count() == 1


@pytest.mark.django_db
def test_a_setting_keeps_bots_in_the_metrics():
    with override_settings(METRICS_INCLUDE_BOTS=True):
        events_ingest(raw_events=_events({"shopper": BROWSERS[0], "crawler": BOTS[0]}))
        analytics_process_pending(max_rows=100)
        assert sum(EventHourly.objects.values_list("events", flat=True)) == 6
        assert Session.objects.count() == 2
        assert selectors.bot_events_excluded() == 0


@pytest.mark.django_db
def test_the_count_left_out_is_shown_on_the_dashboard(client_for):
    events_ingest(raw_events=_events({"crawler": BOTS[1]}))
    page = client_for(Role.VIEWER).get("/").content.decode()
    assert 'id="bots-excluded"' in page and "3 events from known bots" in page
