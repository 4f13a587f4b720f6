"""Traffic channels: the one rule table that names a session's channel (DESIGN §4 "Channel").

Pure: takes the first event's context (UTM parameters, referrer, the store's own host) and returns
the channel with its source and medium. ``utm_medium``/``utm_source`` decide first; without them the
referrer's domain does; with neither the visit is Direct. The rules are tried in order, the first that
matches names the channel; tests/insights/test_channels.py pins every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit


class Channel:
    PAID_SEARCH = "Paid Search"
    PAID_SOCIAL = "Paid Social"
    EMAIL = "Email"
    AFFILIATES = "Affiliates"
    DISPLAY = "Display"
    ORGANIC_SEARCH = "Organic Search"
    ORGANIC_SOCIAL = "Organic Social"
    REFERRAL = "Referral"
    DIRECT = "Direct"


CHANNELS = (Channel.PAID_SEARCH, Channel.PAID_SOCIAL, Channel.EMAIL, Channel.AFFILIATES, Channel.DISPLAY,
            Channel.ORGANIC_SEARCH, Channel.ORGANIC_SOCIAL, Channel.REFERRAL, Channel.DIRECT)

# Names as they appear in utm_source values and in referrer host names (any label of the host).
SEARCH_ENGINES = frozenset({"google", "bing", "yahoo", "duckduckgo", "baidu", "yandex", "ecosia", "naver",
                            "seznam", "qwant", "startpage", "ask", "aol", "brave", "search"})
SOCIAL_SITES = frozenset({"facebook", "fb", "instagram", "ig", "twitter", "x", "t", "tiktok", "linkedin", "lnkd",
                          "pinterest", "reddit", "youtube", "snapchat", "tumblr", "threads", "whatsapp",
                          "telegram", "vk", "weibo", "mastodon", "bsky", "quora", "discord"})
PAID_MEDIUMS = frozenset({"cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-search", "paidsocial",
                          "paid_social", "paid-social", "sem", "cpv", "cpa"})
EMAIL_WORDS = frozenset({"email", "e-mail", "e_mail", "newsletter", "mail"})
DISPLAY_MEDIUMS = frozenset({"display", "banner", "cpm", "interstitial"})
WEBMAIL_PREFIXES = frozenset({"mail", "webmail", "email"})
WEBMAIL_HOSTS = frozenset({"outlook.live.com", "outlook.office.com", "outlook.office365.com"})
AFFILIATE_MEDIUMS = frozenset({"affiliate", "affiliates", "partner"})


@dataclass(frozen=True)
class Touch:
    """What the first event of a session says about where it came from (lower-cased, trimmed)."""

    source: str = ""
    medium: str = ""
    campaign: str = ""
    referrer_host: str = ""
    own_host: str = ""

    @property
    def external_referrer(self) -> str:
        """The referrer's host, unless it is the store itself (an internal link is no source)."""
        host = self.referrer_host
        if not host or (self.own_host and (host == self.own_host or host.endswith("." + self.own_host))):
            return ""
        return host


@dataclass(frozen=True)
class Attribution:
    channel: str
    source: str
    medium: str
    campaign: str


def _labels(host_or_name: str) -> set[str]:
    """A host's labels without its www prefix (``l.facebook.com`` → {l, facebook, com})."""
    return set(host_or_name.removeprefix("www.").split("."))


def _is_search(name: str) -> bool:
    return bool(name) and bool(_labels(name) & SEARCH_ENGINES)


def _is_social(name: str) -> bool:
    return bool(name) and bool(_labels(name) & SOCIAL_SITES)


def _is_webmail(t: Touch) -> bool:
    """A click in a web mail client (mail.google.com, outlook.live.com) with no UTM source."""
    host = t.external_referrer
    return not t.source and bool(host) and (host.split(".")[0] in WEBMAIL_PREFIXES or host in WEBMAIL_HOSTS)


def _paid(t: Touch) -> bool:
    return t.medium in PAID_MEDIUMS or t.medium.startswith("paid")


def _place(t: Touch) -> str:
    """Who sent the visit: utm_source if given, else the external referrer's host."""
    return t.source or t.external_referrer


Rule = tuple[str, Callable[[Touch], bool]]

# The rule table, in order. Each row: the channel and when it applies.
RULES: tuple[Rule, ...] = (
    (Channel.PAID_SEARCH, lambda t: _paid(t) and _is_search(_place(t))),
    (Channel.PAID_SOCIAL, lambda t: _paid(t) and _is_social(_place(t))),
    (Channel.EMAIL, lambda t: t.medium in EMAIL_WORDS or t.source in EMAIL_WORDS or _is_webmail(t)),
    (Channel.AFFILIATES, lambda t: t.medium in AFFILIATE_MEDIUMS),
    (Channel.DISPLAY, lambda t: t.medium in DISPLAY_MEDIUMS),
    (Channel.ORGANIC_SEARCH, lambda t: not _paid(t) and _is_search(_place(t))),
    (Channel.ORGANIC_SOCIAL, lambda t: not _paid(t) and _is_social(_place(t))),
    (Channel.REFERRAL, lambda t: bool(t.external_referrer) or bool(t.source)),
    (Channel.DIRECT, lambda t: True),
)


def host_of(url: str) -> str:
    """A URL's host name, lower-cased ('' for anything that is not an absolute http(s) URL)."""
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https"):
        return ""
    return (parts.hostname or "").lower().rstrip(".")


def touch_from_context(context: dict | None, *, own_host: str = "") -> Touch:
    """The Touch of an event's ``context`` (DESIGN §3 round 2 fields); unknown keys are ignored."""
    c = context or {}

    def text(key: str) -> str:
        value = c.get(key)
        return value.strip().lower() if isinstance(value, str) else ""

    return Touch(source=text("utm_source"), medium=text("utm_medium"), campaign=text("utm_campaign"),
                 referrer_host=host_of(c.get("referrer") or ""), own_host=own_host.lower()
                 or host_of(c.get("page_url") or ""))


def classify(touch: Touch) -> Attribution:
    """The channel, source, medium and campaign of a session whose first event carries ``touch``."""
    channel = next(name for name, applies in RULES if applies(touch))
    source = touch.source or touch.external_referrer.removeprefix("www.") or "(direct)"
    if touch.medium:
        medium = touch.medium
    elif channel == Channel.ORGANIC_SEARCH:
        medium = "organic"
    elif touch.external_referrer:
        medium = "referral"
    else:
        medium = "(none)"
    return Attribution(channel=channel, source=source, medium=medium, campaign=touch.campaign or "(not set)")


def classify_context(context: dict | None, *, own_host: str = "") -> Attribution:
    return classify(touch_from_context(context, own_host=own_host))
