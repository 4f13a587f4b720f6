"""Known bots by user agent (docs/tracker.md): search engines' and social networks' crawlers, monitors,
headless browsers and HTTP libraries. One regular expression, maintained here; a test pins
examples of each kind and of real browsers that must not match.

Events from a bot are stored with ``is_bot`` and left out of every metric unless
``METRICS_INCLUDE_BOTS`` is set."""

from __future__ import annotations

import re

_BOT = re.compile(
    r"(?<!cu)bot\b|bot/|crawl|spider|slurp|mediapartners|adsbot|bingpreview|facebookexternalhit|facebot|"
    r"embedly|quora link preview|outbrain|vkshare|w3c_validator|whatsapp|telegrambot|"
    r"headlesschrome|phantomjs|lighthouse|pagespeed|pingdom|uptimerobot|statuscake|gtmetrix|"
    r"python-requests|python-urllib|aiohttp|go-http-client|curl/|wget/|libwww|java/|okhttp|"
    r"httpclient|scrapy|ahrefs|semrush|mj12|dotbot|baiduspider|bytespider|petalbot|"
    r"applebot|duckduckbot|sogou|exabot|ia_archiver|archive\.org_bot|gptbot|claudebot|ccbot|"
    r"perplexitybot|amazonbot|dataforseo|seznambot|feedfetcher|preview",
    re.IGNORECASE,
)


def is_bot_user_agent(user_agent: str | None) -> bool:
    """True when the user agent names a known crawler, monitor, headless browser or HTTP library."""
    return bool(user_agent) and _BOT.search(user_agent) is not None  # type: ignore[arg-type]
