"""Traffic sources (docs/metrics.md): a session's channel, source, medium, campaign and landing page from
its first event's context. PURE: data in, data out; the one place the rule table lives.

UTM parameters decide first (medium, then source), else the referrer's domain:

| channel        | rule                                                                          |
|----------------|-------------------------------------------------------------------------------|
| Paid Search    | paid medium (cpc, ppc, paid, paidsearch, …) and a search engine (source or referrer) |
| Paid Social    | paid medium and a social site (source or referrer)                            |
| Email          | medium email, or source email / newsletter                                    |
| Affiliates     | medium affiliate(s)                                                           |
| Display        | medium display, banner, cpm                                                   |
| Organic Search | a search engine (source or referrer), no paid medium                          |
| Organic Social | a social site (source or referrer), no paid medium                            |
| Referral       | any other referrer (another site than the store's own)                        |
| Direct         | none of these                                                                 |

A paid medium with neither a search engine nor a social site is Display (paid traffic bought on
other sites). Derivation (``insights.derivation``) stores the result on each session and in the
``traffic_daily`` rollup; the Acquisition page reads it (``insights.selectors.acquisition``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

PAID_SEARCH = "Paid Search"
PAID_SOCIAL = "Paid Social"
EMAIL = "Email"
AFFILIATES = "Affiliates"
DISPLAY = "Display"
ORGANIC_SEARCH = "Organic Search"
ORGANIC_SOCIAL = "Organic Social"
REFERRAL = "Referral"
DIRECT = "Direct"
CHANNELS = (PAID_SEARCH, PAID_SOCIAL, EMAIL, AFFILIATES, DISPLAY, ORGANIC_SEARCH, ORGANIC_SOCIAL, REFERRAL, DIRECT)

PAID_MEDIUMS = frozenset({"cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-search", "paidsocial",
                          "paid_social", "paid-social", "cpv", "cpa", "cpp"})
DISPLAY_MEDIUMS = frozenset({"display", "banner", "cpm", "interstitial", "expandable"})
EMAIL_WORDS = frozenset({"email", "e-mail", "e_mail", "newsletter", "mail"})
AFFILIATE_MEDIUMS = frozenset({"affiliate", "affiliates"})
# Search engines and social sites by a label of their domain (google.com, google.co.uk, m.facebook.com).
SEARCH_ENGINES = frozenset({"google", "bing", "yahoo", "duckduckgo", "baidu", "yandex", "ecosia", "qwant",
                            "naver", "seznam", "ask", "aol", "startpage", "brave"})
SOCIAL_SITES = frozenset({"facebook", "fb", "instagram", "twitter", "x", "t", "linkedin", "lnkd", "pinterest",
                          "reddit", "tiktok", "youtube", "snapchat", "tumblr", "vk", "whatsapp", "threads",
                          "mastodon", "quora", "discord", "telegram"})
_SOCIAL_HOSTS = frozenset({"t.co", "x.com", "lnkd.in", "youtu.be", "fb.me", "m.me"})


@dataclass(frozen=True, slots=True)
class Traffic:
    channel: str
    source: str  # utm_source, else the referrer's host, else "(direct)"
    medium: str  # utm_medium, else "organic" / "social" / "referral", else "(none)"
    campaign: str  # utm_campaign or ""
    landing_page: str


def _host(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.lower().removeprefix("www.")


def _labels(name: str) -> set[str]:
    return set(name.lower().replace("_", ".").replace("-", ".").split("."))


def _is_search(name: str) -> bool:
    return bool(name) and bool(_labels(name) & SEARCH_ENGINES) and not name.startswith(("mail.", "maps."))


def _is_social(name: str) -> bool:
    return bool(name) and (name in _SOCIAL_HOSTS or bool(_labels(name) & (SOCIAL_SITES - {"t", "x"})))


def _text(context: dict[str, Any], key: str) -> str:
    value = context.get(key)
    return value.strip() if type(value) is str else ""


def session_traffic(context: dict[str, Any] | None, *, store_hosts: frozenset[str] = frozenset()) -> Traffic:
    """The traffic source of a session whose first event has this ``context`` (utm_*, referrer,
    landing_page / page_url). A referrer on one of ``store_hosts`` (the store's own pages) is no
    referrer."""
    context = context or {}
    source = _text(context, "utm_source")
    medium = _text(context, "utm_medium").lower()
    campaign = _text(context, "utm_campaign")
    landing = _text(context, "landing_page") or _text(context, "page_url")
    referrer_host = _host(_text(context, "referrer"))
    if referrer_host in {h.lower().removeprefix("www.") for h in store_hosts}:
        referrer_host = ""
    source_key = source.lower()
    channel = _channel(medium, source_key, referrer_host)
    if not source:
        source = referrer_host or "(direct)"
    if not medium:
        medium = {ORGANIC_SEARCH: "organic", ORGANIC_SOCIAL: "social", REFERRAL: "referral"}.get(channel, "(none)")
    return Traffic(channel, source, medium, campaign, landing)


def _channel(medium: str, source: str, referrer_host: str) -> str:
    """The rule table of the module docstring, row by row."""
    where = source or referrer_host
    search = _is_search(source) or (not source and _is_search(referrer_host))
    social = _is_social(source) or (not source and _is_social(referrer_host))
    if medium in PAID_MEDIUMS:
        return PAID_SEARCH if search else PAID_SOCIAL if social else DISPLAY
    if medium in EMAIL_WORDS or source in EMAIL_WORDS:
        return EMAIL
    if medium in AFFILIATE_MEDIUMS:
        return AFFILIATES
    if medium in DISPLAY_MEDIUMS:
        return DISPLAY
    if search:
        return ORGANIC_SEARCH
    if social:
        return ORGANIC_SOCIAL
    if referrer_host or (where and medium == "referral"):
        return REFERRAL
    return DIRECT
