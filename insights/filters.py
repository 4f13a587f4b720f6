"""The one filter object every insights selector takes (date range, actions, age group, category, segment,
channel, experiment and variant). ``channel`` (insights.channels) is honoured where figures come from
session-level data by traffic source (the Acquisition page); other panels say they ignore it
(``channel_ignored``). ``experiment``/``variant`` cut the funnel, carts and acquisition pages to an A/B
experiment's visitors (``insights.customer_scopes``); other pages say they ignore it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from customers.models import AgeGroup
from events.models import Action
from insights.channels import CHANNELS

DEFAULT_DAYS = 30
# Dates outside these bounds are refused: nothing is stored before 2000, and date arithmetic on the
# extremes (the previous period of 0001-01-01, the day after 9999-12-31) overflows.
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DAYS_AHEAD = 366
MAX_TEXT_LENGTH = 100  # Product.category's max_length
RFM_SEGMENTS = ("Champions", "Loyal", "Potential loyalists", "New", "At risk", "Can't lose", "Hibernating", "Lost")


class FilterError(ValueError):
    """A query parameter could not be read; the message is meant for the user."""

    @property
    def fallback_message(self) -> str:
        """What a page (or the Explorer, or the live socket) says when it shows the default view instead."""
        return f"{self} Showing the last {DEFAULT_DAYS} days instead."


def store_tz() -> ZoneInfo:
    return ZoneInfo(settings.STORE_TIME_ZONE)


def store_today() -> dt.date:
    return timezone.now().astimezone(store_tz()).date()


def _list_values(params: Mapping, name: str) -> list[str]:
    if hasattr(params, "getlist"):
        values = params.getlist(name)
    else:
        raw = params.get(name)
        if raw is None:
            values = []
        elif isinstance(raw, list | tuple):
            values = list(raw)
        else:
            values = [raw]
    out: list[str] = []
    for v in values:
        out.extend(part.strip() for part in str(v).split(",") if part.strip())
    return out


def _last_value(params: Mapping, name: str) -> str | None:
    """The last non-empty value of a single-valued parameter (not split on commas)."""
    if hasattr(params, "getlist"):
        values = params.getlist(name)
    else:
        raw = params.get(name)
        values = list(raw) if isinstance(raw, list | tuple) else ([] if raw is None else [raw])
    values = [str(v).strip() for v in values if str(v).strip()]
    return values[-1] if values else None


def _quoted(value: str) -> str:
    """A value quoted in an error message, cut so a huge parameter does not make a huge page."""
    return repr(value if len(value) <= 40 else value[:39] + "…")


def _parse_date(value: str, name: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{name} must be a date like 2024-01-31, not {_quoted(value)}.") from None
    latest = store_today() + dt.timedelta(days=LATEST_DAYS_AHEAD)
    if not EARLIEST_DATE <= day <= latest:
        raise FilterError(f"{name} must be between {EARLIEST_DATE} and {latest}, not {day}.")
    return day


def _checked_text(value: str | None, name: str) -> str | None:
    """A free-text filter value: no control characters (PostgreSQL refuses NUL), not over-long."""
    if value is None:
        return None
    if len(value) > MAX_TEXT_LENGTH:
        raise FilterError(f"{name} is too long ({len(value)} characters; at most {MAX_TEXT_LENGTH}).")
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in value):
        raise FilterError(f"{name} must not contain control characters.")
    return value


@dataclass(frozen=True)
class MetricFilter:
    start: dt.date | None = None
    end: dt.date | None = None  # inclusive
    actions: tuple[str, ...] = ()
    age_group: str | None = None
    category: str | None = None
    segment: str | None = None
    channel: str | None = None
    experiment: str | None = None  # the visitors exposed to this A/B experiment (insights.customer_scopes)
    variant: str | None = None  # … to this variant of it

    @classmethod
    def default(cls) -> MetricFilter:
        """The last 30 days ending today in STORE_TIME_ZONE."""
        today = store_today()
        return cls(start=today - dt.timedelta(days=DEFAULT_DAYS - 1), end=today)

    @classmethod
    def from_query_or_default(cls, params: Mapping) -> tuple[MetricFilter, str | None]:
        """The filter of ``params``, or the default one with the message saying why (``fallback_message``)."""
        try:
            return cls.from_query(params), None
        except FilterError as exc:
            return cls.default(), exc.fallback_message

    @classmethod
    def from_query(cls, params: Mapping) -> MetricFilter:
        start_raw, end_raw = _last_value(params, "start"), _last_value(params, "end")
        start = _parse_date(start_raw, "start") if start_raw else None
        end = _parse_date(end_raw, "end") if end_raw else None
        if start is None and end is None:
            d = cls.default()
            start, end = d.start, d.end
        elif start is None:
            assert end is not None
            start = end - dt.timedelta(days=DEFAULT_DAYS - 1)
        elif end is None:
            end = max(start, store_today())
        assert start is not None and end is not None
        if start > end:
            raise FilterError(f"start ({start}) is after end ({end}).")
        actions = tuple(dict.fromkeys(_list_values(params, "action")))
        bad = [a for a in actions if a not in Action.values]
        if bad:
            raise FilterError(f"Unknown action {_quoted(bad[0])}; use one of {', '.join(Action.values)}.")
        age_group = _last_value(params, "age_group")
        if age_group is not None and age_group not in AgeGroup.values:
            raise FilterError(f"Unknown age group {_quoted(age_group)}; use one of {', '.join(AgeGroup.values)}.")
        category = _checked_text(_last_value(params, "category"), "category")
        segment = _last_value(params, "segment")
        if segment is not None and segment not in RFM_SEGMENTS:
            raise FilterError(f"Unknown segment {_quoted(segment)}; use one of {', '.join(RFM_SEGMENTS)}.")
        channel = _last_value(params, "channel")
        if channel is not None and channel not in CHANNELS:
            raise FilterError(f"Unknown channel {_quoted(channel)}; use one of {', '.join(CHANNELS)}.")
        experiment = _checked_text(_last_value(params, "experiment"), "experiment")
        variant = _checked_text(_last_value(params, "variant"), "variant")
        if variant is not None and experiment is None:
            raise FilterError("variant needs an experiment.")
        return cls(start=start, end=end, actions=actions, age_group=age_group, category=category, segment=segment,
                   channel=channel, experiment=experiment, variant=variant)

    def to_query(self) -> str:
        pairs: list[tuple[str, str]] = []
        if self.start:
            pairs.append(("start", self.start.isoformat()))
        if self.end:
            pairs.append(("end", self.end.isoformat()))
        pairs.extend(("action", a) for a in self.actions)
        for name in ("age_group", "category", "segment", "channel", "experiment", "variant"):
            value = getattr(self, name)
            if value:
                pairs.append((name, value))
        return urlencode(pairs)

    @property
    def days(self) -> int | None:
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).days + 1

    def previous(self) -> MetricFilter:
        """The period of equal length just before this one (an open range has none: it is returned unchanged
        with ``start=end=None`` being all time — callers check ``has_range``)."""
        if self.start is None or self.end is None:
            return self
        length = (self.end - self.start).days + 1
        end = self.start - dt.timedelta(days=1)
        return replace(self, start=end - dt.timedelta(days=length - 1), end=end)

    @property
    def has_range(self) -> bool:
        return self.start is not None and self.end is not None

    def utc_bounds(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """[start 00:00, day after end 00:00) in the store's time zone, as aware datetimes."""
        tz = store_tz()
        lo = dt.datetime.combine(self.start, dt.time(), tzinfo=tz) if self.start else None
        hi = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=tz) if self.end else None
        return lo, hi
