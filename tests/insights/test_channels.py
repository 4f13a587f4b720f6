"""The channel rule table (DESIGN §4 "Channel"): a test per row, then source/medium naming."""

from __future__ import annotations

import pytest

from insights.channels import CHANNELS, RULES, Channel, classify_context, host_of

SHOP = "https://shop.example/products/17"


@pytest.mark.parametrize(("context", "channel"), [
    # Paid Search: a paid medium and a search engine (by utm_source, or by referrer without one)
    ({"utm_source": "google", "utm_medium": "cpc"}, Channel.PAID_SEARCH),
    ({"utm_source": "bing", "utm_medium": "ppc"}, Channel.PAID_SEARCH),
    ({"utm_medium": "paid", "referrer": "https://www.google.com/"}, Channel.PAID_SEARCH),
    # Paid Social: a paid medium and a social site
    ({"utm_source": "facebook", "utm_medium": "paid_social"}, Channel.PAID_SOCIAL),
    ({"utm_source": "instagram", "utm_medium": "cpc"}, Channel.PAID_SOCIAL),
    # Email: medium email, or source email/newsletter, or a web mail client
    ({"utm_source": "newsletter", "utm_medium": "email"}, Channel.EMAIL),
    ({"utm_source": "newsletter"}, Channel.EMAIL),
    ({"utm_source": "crm", "utm_medium": "e-mail"}, Channel.EMAIL),
    ({"referrer": "https://mail.google.com/mail/u/0/"}, Channel.EMAIL),
    # Affiliates
    ({"utm_source": "bestdeals", "utm_medium": "affiliate"}, Channel.AFFILIATES),
    # Display: display, banner, cpm
    ({"utm_source": "adnet", "utm_medium": "display"}, Channel.DISPLAY),
    ({"utm_source": "adnet", "utm_medium": "banner"}, Channel.DISPLAY),
    ({"utm_source": "adnet", "utm_medium": "cpm"}, Channel.DISPLAY),
    # Organic Search: a search engine referrer, no paid medium
    ({"referrer": "https://www.google.com/"}, Channel.ORGANIC_SEARCH),
    ({"referrer": "https://duckduckgo.com/"}, Channel.ORGANIC_SEARCH),
    ({"utm_source": "google", "utm_medium": "organic"}, Channel.ORGANIC_SEARCH),
    # Organic Social: a social site without a paid medium
    ({"referrer": "https://l.facebook.com/l.php?u=x"}, Channel.ORGANIC_SOCIAL),
    ({"referrer": "https://t.co/abc"}, Channel.ORGANIC_SOCIAL),
    ({"utm_source": "reddit", "utm_medium": "social"}, Channel.ORGANIC_SOCIAL),
    # Referral: any other referrer (or a source we do not know)
    ({"referrer": "https://blog.example.org/post"}, Channel.REFERRAL),
    ({"utm_source": "partnerblog"}, Channel.REFERRAL),
    # Direct: none of these; the store's own pages are no referrer
    ({}, Channel.DIRECT),
    ({"referrer": "https://shop.example/cart"}, Channel.DIRECT),
    ({"referrer": "not a url"}, Channel.DIRECT),
])
def test_each_rule_of_the_table(context, channel):
    assert classify_context({"page_url": SHOP, **context}).channel == channel


def test_every_channel_has_a_row_and_rows_are_in_design_order():
    assert tuple(name for name, _ in RULES) == CHANNELS


def test_utm_parameters_decide_before_the_referrer():
    ctx = {"page_url": SHOP, "referrer": "https://www.google.com/", "utm_source": "newsletter",
           "utm_medium": "email"}
    assert classify_context(ctx).channel == Channel.EMAIL


def test_source_medium_and_campaign_are_named_as_analytics_tools_name_them():
    a = classify_context({"page_url": SHOP, "referrer": "https://www.google.com/search?q=x"})
    assert (a.source, a.medium, a.campaign) == ("google.com", "organic", "(not set)")
    a = classify_context({"page_url": SHOP, "referrer": "https://blog.example.org/p"})
    assert (a.source, a.medium) == ("blog.example.org", "referral")
    a = classify_context({"page_url": SHOP, "utm_source": "Newsletter", "utm_medium": "Email",
                          "utm_campaign": "Spring"})
    assert (a.channel, a.source, a.medium, a.campaign) == (Channel.EMAIL, "newsletter", "email", "spring")
    a = classify_context(None)
    assert (a.channel, a.source, a.medium) == (Channel.DIRECT, "(direct)", "(none)")


def test_non_text_values_are_ignored_not_fatal():
    assert classify_context({"utm_source": 5, "utm_medium": ["email"], "referrer": None}).channel == Channel.DIRECT


def test_host_of():
    assert host_of("https://WWW.Google.com./x") == "www.google.com"
    assert host_of("javascript:alert(1)") == ""
    assert host_of("http://[::1") == ""
