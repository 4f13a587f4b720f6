"""DESIGN §4 channel rules (insights/channels.py): one test per row of the table, and the source /
medium / campaign / landing page read beside it."""

from __future__ import annotations

import pytest

from insights.channels import (
    AFFILIATES,
    DIRECT,
    DISPLAY,
    EMAIL,
    ORGANIC_SEARCH,
    ORGANIC_SOCIAL,
    PAID_SEARCH,
    PAID_SOCIAL,
    REFERRAL,
    session_traffic,
)


def channel(**context) -> str:
    return session_traffic(context, store_hosts=frozenset({"shop.example"})).channel


@pytest.mark.parametrize("context", [
    {"utm_source": "google", "utm_medium": "cpc"},
    {"utm_source": "bing", "utm_medium": "ppc"},
    {"utm_medium": "paid", "referrer": "https://www.google.co.uk/"},
])
def test_paid_search(context):
    assert channel(**context) == PAID_SEARCH


@pytest.mark.parametrize("context", [
    {"utm_source": "facebook", "utm_medium": "paid"},
    {"utm_source": "instagram", "utm_medium": "cpc"},
    {"utm_medium": "paid_social", "referrer": "https://l.facebook.com/"},
])
def test_paid_social(context):
    assert channel(**context) == PAID_SOCIAL


@pytest.mark.parametrize("context", [
    {"utm_medium": "email", "utm_source": "klaviyo"},
    {"utm_source": "newsletter", "utm_medium": "weekly"},
    {"utm_source": "Email"},
])
def test_email(context):
    assert channel(**context) == EMAIL


def test_affiliates():
    assert channel(utm_medium="affiliate", utm_source="partner-blog") == AFFILIATES


@pytest.mark.parametrize("medium", ["display", "banner", "cpm"])
def test_display(medium):
    assert channel(utm_medium=medium, utm_source="some-network") == DISPLAY


def test_a_paid_medium_on_neither_a_search_engine_nor_a_social_site_is_display():
    assert channel(utm_medium="cpc", utm_source="adnetwork") == DISPLAY


@pytest.mark.parametrize("context", [
    {"referrer": "https://www.google.com/"},
    {"referrer": "https://duckduckgo.com/?q=lamps"},
    {"utm_source": "bing"},
])
def test_organic_search(context):
    assert channel(**context) == ORGANIC_SEARCH


@pytest.mark.parametrize("context", [
    {"referrer": "https://t.co/abc"},
    {"referrer": "https://m.facebook.com/"},
    {"utm_source": "pinterest", "utm_medium": "social"},
])
def test_organic_social(context):
    assert channel(**context) == ORGANIC_SOCIAL


def test_referral():
    assert channel(referrer="https://blog.example.org/best-lamps") == REFERRAL


@pytest.mark.parametrize("context", [{}, {"referrer": "https://shop.example/cart"}, {"page_url": "https://shop.example/"}])
def test_direct(context):
    assert channel(**context) == DIRECT


def test_source_medium_campaign_and_landing_page():
    t = session_traffic({"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring",
                         "landing_page": "https://shop.example/?utm_source=newsletter"})
    assert (t.channel, t.source, t.medium, t.campaign, t.landing_page) == (
        EMAIL, "newsletter", "email", "spring", "https://shop.example/?utm_source=newsletter")
    organic = session_traffic({"referrer": "https://www.google.com/", "page_url": "https://shop.example/lamp"})
    assert (organic.source, organic.medium, organic.landing_page) == ("google.com", "organic",
                                                                      "https://shop.example/lamp")
    direct = session_traffic(None)
    assert (direct.channel, direct.source, direct.medium) == (DIRECT, "(direct)", "(none)")
