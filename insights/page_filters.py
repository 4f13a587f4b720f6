"""Which filters each dashboard page applies, and what the navigation carries from page to page. PURE.

Every page but Cohorts reads one *period* (``start``–``end``) and the shared filters (actions, age
group, category, channel, RFM segment); following the navigation keeps them all. The Cohorts page
picks cohorts by first-order month with a range of its own (without dates, the last 12 months): a
link to it does not carry the period as its range but as ``period_start``/``period_end``, which the
Cohorts page passes on, so the next page gets the period back. A filter a page does not apply stays in
its links and, as a hidden input, in its filter form; the page says it ignores it (``ignored_notes``).
The channel filter's own notes are ``insights.selectors.channel_scope``'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from urllib.parse import urlencode

from insights.filters import FilterError, MetricFilter, _last_value, _parse_date

OWN_RANGE = frozenset({"cohorts"})  # pages whose start–end is not the period of the others
SHARED = ("action", "age_group", "category", "channel", "segment", "experiment", "variant")
# The shared filters each page's form shows; the others it is given stay as hidden inputs.
DEFAULT_FIELDS = ("action", "age_group", "category", "channel")
EXPERIMENT_FIELDS = ("experiment", "variant")
EXPERIMENT_PAGES = frozenset({"funnel", "carts", "acquisition"})  # the pages an experiment filter cuts
FIELDS: dict[str, tuple[str, ...]] = {
    "customers": (*DEFAULT_FIELDS, "segment"),
    "cohorts": ("age_group", "segment"),
    "acquisition": ("channel", *EXPERIMENT_FIELDS),
    "funnel": (*DEFAULT_FIELDS, *EXPERIMENT_FIELDS),
    "carts": (*DEFAULT_FIELDS, *EXPERIMENT_FIELDS),
}
EXPERIMENT_WHY = "an A/B experiment cuts the funnel, carts and acquisition pages only"
# Page → (shared filters it does not apply, why). The selectors of cohorts and acquisition list the same
# ones in their API answers (``ignored_filters``).
IGNORED: dict[str, tuple[tuple[str, ...], str]] = {
    "cohorts": (("action", "category"), "a cohort is about a customer's orders of anything"),
    "acquisition": (("action", "age_group", "category", "segment"),
                    "traffic sources have no such dimension"),
    "products": (("segment",), "product figures are not cut by RFM segment"),
    "seasonality": (("segment",), "seasonality is not cut by RFM segment"),
}
NAMES = {"action": "actions", "age_group": "age group", "category": "category", "channel": "channel",
         "segment": "RFM segment", "experiment": "experiment", "variant": "variant"}

Period = tuple[dt.date, dt.date]


def _shared_pairs(f: MetricFilter) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = [("action", a) for a in f.actions]
    pairs.extend((name, getattr(f, name)) for name in SHARED[1:] if getattr(f, name))
    return pairs


def carried_period(page: str, f: MetricFilter, params: Mapping) -> Period | None:
    """The period the other pages show: the page's own range, or on a page with a range of its own the
    ``period_start``/``period_end`` it was given (None when missing or unreadable)."""
    if page not in OWN_RANGE:
        return (f.start, f.end) if f.start and f.end else None
    start, end = _last_value(params, "period_start"), _last_value(params, "period_end")
    if not start or not end:
        return None
    try:
        period = _parse_date(start, "period_start"), _parse_date(end, "period_end")
    except FilterError:
        return None
    return period if period[0] <= period[1] else None


def nav_query(target: str, page: str, f: MetricFilter, period: Period | None) -> str:
    """The query string of the link to page ``target`` from page ``page`` (its filter ``f``)."""
    pairs: list[tuple[str, str]] = []
    if target in OWN_RANGE and target == page and f.start and f.end:
        pairs += [("start", f.start.isoformat()), ("end", f.end.isoformat())]
    if period is not None:
        names = ("period_start", "period_end") if target in OWN_RANGE else ("start", "end")
        pairs += [(names[0], period[0].isoformat()), (names[1], period[1].isoformat())]
    return urlencode(pairs + _shared_pairs(f))


def form_fields(page: str) -> tuple[str, ...]:
    return FIELDS.get(page, DEFAULT_FIELDS)


def hidden_inputs(page: str, f: MetricFilter, period: Period | None) -> list[tuple[str, str]]:
    """What the page's filter form keeps without showing it: the shared filters it has no field for and,
    on a page with its own range, the period of the others."""
    shown = form_fields(page)
    pairs = [(name, value) for name, value in _shared_pairs(f) if name not in shown]
    if page in OWN_RANGE and period is not None:
        pairs = [("period_start", period[0].isoformat()), ("period_end", period[1].isoformat()), *pairs]
    return pairs


def ignored_names(page: str, f: MetricFilter) -> list[str]:
    """The shared filters set in ``f`` that ``page`` does not apply."""
    names, _why = IGNORED.get(page, ((), ""))
    out = [name for name in names if name == "action" and f.actions or name != "action" and getattr(f, name)]
    return out + _experiment_ignored(page, f)


def _experiment_ignored(page: str, f: MetricFilter) -> list[str]:
    return [] if page in EXPERIMENT_PAGES else [name for name in EXPERIMENT_FIELDS if getattr(f, name)]


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def ignored_notes(page: str, f: MetricFilter, period: Period | None) -> list[str]:
    """What the page says of the filters it was given and does not use."""
    notes = []
    if page in OWN_RANGE and period is not None and (period[0], period[1]) != (f.start, f.end):
        notes.append(f"Cohorts have their own range (first-order months): the other pages' period, "
                     f"{_day(period[0])} – {_day(period[1])}, is not used here and is kept for them.")
    experiment = _experiment_ignored(page, f)
    names = [n for n in ignored_names(page, f) if n not in experiment]
    for group, why in ((names, IGNORED.get(page, ((), ""))[1]), (experiment, EXPERIMENT_WHY)):
        if group:
            notes.append(f"Not used on this page: {', '.join(NAMES[n] for n in group)} ({why}); "
                         f"kept for the other pages.")
    return notes
