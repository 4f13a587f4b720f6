"""What the channel filter cuts, panel by panel and page by page (docs/metrics.md): the one table the
API's ``channel_ignored`` / ``channel_note`` and the pages' notices read, so neither says more than the
selectors do.

A channel is a property of a session (``insights.channels``), so figures built from sessions are cut
by it: the day × session, hour × session and cart-value rollups and the stored sessions and carts carry
the session's channel. Events, orders and revenue then belong to the channel of the session they came
in, placed by the session's start; refunds come later, often from a server, and are not attributed to
a channel, so a channel's revenue is net of discounts but before refunds. What has no session grain is
not cut: cohorts, product pairs, coupons, and the all-time per-customer CLV and RFM. A
segment's figures come from the day × customer rollup (no channel), so with a segment the channel is
not applied (``insights.selectors._common.channel_cut``).
"""

from __future__ import annotations

from typing import Any

from insights.filters import MetricFilter

SESSIONS = ("Figures are those of sessions from {channel}, placed by each session's start: their events, orders "
            "and revenue. Refunds are not attributed to a channel, so revenue here is before refunds.")
# Panel → (how the channel applies: "cut" | "partly" | "ignored", what to tell the reader or None).
PANELS: dict[str, tuple[str, str | None]] = {
    "kpis": ("cut", SESSIONS),
    "timeseries": ("cut", SESSIONS),
    "funnel": ("cut", None),
    "seasonality": ("cut", SESSIONS.replace("each session's start", "each session's start hour")),
    "carts": ("cut", None),
    "acquisition": ("cut", "Visitors, customers and buyers are counted over every channel: people have no "
                           "single channel."),
    "customers": ("partly", "Conversion by age group and top customers are cut to sessions from {channel} "
                            "(revenue before refunds); CLV and RFM segments are all-time figures per customer "
                            "and are not cut by channel."),
    "insights": ("partly", "Sentences about cohorts and product pairs are left out: their figures are not "
                           "cut by channel."),
    "products": ("cut", "Products are those of sessions from {channel}. Refunds are not attributed to a "
                        "channel, so the refund-rate list is empty."),
    "coupons": ("ignored", "Coupons are not cut by channel."),
    "cohorts": ("ignored", "Cohorts group customers by the month of their first order; they are not cut by "
                           "channel."),
    "affinity": ("ignored", "Product pairs are counted over every basket; they are not cut by channel."),
}
# Page → the panels it shows (in the order their notes are said).
PAGES: dict[str, tuple[str, ...]] = {
    "overview": ("kpis", "coupons"),
    "funnel": ("funnel",),
    "seasonality": ("seasonality",),
    "customers": ("customers",),
    "products": ("products",),
    "cohorts": ("cohorts",),
    "carts": ("carts",),
    "acquisition": ("acquisition",),
    "insights": ("insights",),
}
SEGMENT_NOTE = ("With a segment, figures come from the day × customer rollup, which has no traffic source: the "
                "channel filter is not applied.")
SEGMENT_BLIND = frozenset({"kpis", "timeseries", "funnel", "carts", "customers", "insights"})  # channel_cut
EXPERIMENT_NOTE = ("With an experiment, figures are those of its visitors, taken like a segment's from the day × "
                   "customer rollup, which has no traffic source: the channel filter is not applied.")
EXPERIMENT_BLIND = frozenset({"funnel", "carts"})  # the panels that take an experiment's visitors as a segment


def _applies(panel: str, f: MetricFilter) -> str:
    how = PANELS.get(panel, ("ignored", None))[0]
    if how != "ignored" and f.segment and panel in SEGMENT_BLIND:
        return "ignored"
    if how != "ignored" and f.experiment and panel in EXPERIMENT_BLIND:
        return "ignored"
    return how


def panel_channel_flags(panel: str, f: MetricFilter) -> dict[str, Any]:
    """What an API answer says of the channel filter: nothing without one; else ``channel_ignored`` and,
    where the panel is only partly cut or cut with a caveat, ``channel_note``."""
    if not f.channel:
        return {}
    how = _applies(panel, f)
    out: dict[str, Any] = {"channel_ignored": how == "ignored"}
    note = PANELS.get(panel, ("ignored", None))[1]
    if how == "ignored" and panel in PANELS and PANELS[panel][0] != "ignored":
        note = SEGMENT_NOTE if f.segment and panel in SEGMENT_BLIND else EXPERIMENT_NOTE
    if note:
        out["channel_note"] = note.format(channel=f.channel)
    return out


def page_channel_notes(page: str, f: MetricFilter) -> list[str]:
    """The notices a page shows under its filters when a channel is chosen (none without one)."""
    if not f.channel:
        return []
    notes: list[str] = []
    for panel in PAGES.get(page, ()):
        note = panel_channel_flags(panel, f).get("channel_note")
        if note and note not in notes:
            notes.append(note)
    return notes
