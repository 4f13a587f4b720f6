"""A channel's distinct people over a long period (docs/metrics.md#channels): the customers with a session
from the channel that started in the period, and those with a purchasing one, per the session's age group.
Whole closed months come from their bitmaps (``ChannelPeopleMonthly``, kept by ``insights.month_copies``),
the period's other hours from the stored sessions; the distinct people are the bits of the OR."""

from __future__ import annotations

from django.contrib.postgres.aggregates import ArrayAgg

from insights.copy_models import ChannelPeopleMonthly
from insights.filters import MetricFilter
from insights.models import Session
from insights.people import as_int, bitmap
from insights.selectors._common import copied_months, of_age_group, of_channel, outside_parts

SOURCE = "channel_people"


def channel_people(f: MetricFilter) -> dict[str, tuple[int, int]] | None:
    """Per age group (of the sessions): the bitmaps of the filter's channel's active customers and of its
    buyers in its period. None when no copied month lies in the period (a short period, SQLite): the
    callers count the sessions' distinct customers themselves, which is then the cheaper read."""
    months = copied_months(SOURCE, f)
    if not months:
        return None
    people: dict[str, list[int]] = {}
    copies = ChannelPeopleMonthly.objects.filter(channel=f.channel, month__in=[month for month, _, _ in months])
    for age_group, kind, bits in of_age_group(copies, f).values_list("age_group", "kind", "bits"):
        people.setdefault(age_group, [0, 0])[kind == "p"] |= as_int(bits)
    for hours in outside_parts(SOURCE, f, months):  # (one range at a time: an index range scan each)
        sessions = of_age_group(of_channel(Session.objects.filter(hours), f), f).order_by()
        # two index-only reads (insights_sess_chan_start_idx and its purchasing twin), not one of the table
        for i, rows in enumerate((sessions, sessions.filter(purchased=True))):
            for row in rows.values("age_group").annotate(pks=ArrayAgg("customer_id", distinct=True)):
                people.setdefault(row["age_group"], [0, 0])[i] |= as_int(bitmap(row["pks"]))
    return {age_group: (active, buying) for age_group, (active, buying) in people.items()}
