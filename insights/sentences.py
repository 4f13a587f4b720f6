"""Insight sentences: what the figures say, in English, each with its figure and a link to its evidence.

Built from the same rollups and selector helpers as the panels that show the evidence, and honest:
nothing is said from too little data (``MIN_TRIALS_FOR_CLAIM``), "highest"/"best" is claimed only where
Wilson 95% intervals separate, and a trend only against a previous period the data covers.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from customers.models import AgeGroup
from insights.charts.common import currency
from insights.filters import MetricFilter, store_today
from insights.recommendations import RECOVERY_MIN_CARTS, abandoned_recently, best_pair, cohort_comparison
from insights.selectors._common import as_count, as_money, channel_cut
from insights.selectors.acquisition import channel_rows
from insights.selectors.customers import age_group_stats
from insights.selectors.freshness import previous_period_comparison
from insights.selectors.kpis import kpi_figures
from insights.selectors.products import product_rows
from insights.selectors.rfm import segment_customer_pks
from insights.selectors.seasonality import events_by_slot
from insights.stats import separated_best, wilson_interval
from products.models import Product

MIN_TRIALS_FOR_CLAIM = 20  # carts, sessions or orders: fewer and a sentence would claim too much
MIN_EVENTS_FOR_PEAK = 100
MIN_REVENUE_CHANGE = 0.05

Insight = dict[str, Any]


@dataclass(frozen=True)
class _Period:
    """What every sentence may read: the filter, its query string for links, its segment's customers and
    the KPI figures (without the costly distinct-customer counts)."""

    f: MetricFilter
    query: str
    segment_pks: list[int] | None
    figures: dict[str, Any]


def percent(x: float) -> str:
    return f"{x * 100:.1f}%".replace(".0%", "%")


def hour_label(hour: int) -> str:
    """0 → '12 AM', 13 → '1 PM'."""
    return f"{(hour % 12) or 12} {'AM' if hour < 12 else 'PM'}"


def _insight(kind: str, text: str, figure: str, page: str, period: _Period, severity: str = "info",
             recommendation: str | None = None) -> Insight:
    return {"kind": kind, "text": text, "figure": figure, "link": f"{page}?{period.query}", "severity": severity,
            "recommendation": recommendation}


def _peak(period: _Period) -> Insight | None:
    """The busiest weekday and hour (store time); ties go to the earliest, as in the seasonality grid."""
    by_slot: dict[tuple[int, int], int] = defaultdict(int)
    for weekday, hour, _month, n, _revenue in events_by_slot(period.f, revenue=False):
        by_slot[(weekday, hour)] += n
    if not by_slot:
        return None
    (weekday, hour), busiest = min(by_slot.items(), key=lambda item: (-item[1], item[0]))
    if sum(by_slot.values()) < MIN_EVENTS_FOR_PEAK or busiest <= 0:
        return None
    return _insight("peak", f"Peak activity occurs at {hour_label(hour)} on {calendar.day_name[weekday]}s.",
                    f"{busiest:,} events", "/seasonality/", period)


def _cart_abandonment(period: _Period) -> Insight | None:
    k = period.figures
    rate = k["cart_abandonment_rate"]
    if rate is None or k["carts_closed"] < MIN_TRIALS_FOR_CLAIM:
        return None
    return _insight("cart_abandonment", f"Cart abandonment rate is {percent(rate)}: "
                    f"{money(k['revenue_left'])} left in carts in this period.", percent(rate), "/carts/", period,
                    "warning" if rate >= 0.5 else "info")


def _product_abandonment(period: _Period) -> Insight | None:
    """Every product with enough carts takes part in the comparison, not only a top ten."""
    rows = {str(r["product_id"]): r for r in product_rows(period.f)}
    best = separated_best([(pk, as_count(r["carts_abandoned"]), as_count(r["cart_sessions"]))
                           for pk, r in rows.items()], min_trials=MIN_TRIALS_FOR_CLAIM)
    if best is None:
        return None
    title = Product.objects.filter(pk=int(best[0])).values_list("title", flat=True).first() or "A product"
    row = rows[best[0]]
    carts, abandoned = as_count(row["cart_sessions"]), as_count(row["carts_abandoned"])
    return _insight("product_abandonment", f"{title} has the highest abandonment rate ({percent(best[1])} of "
                    f"{carts:,} carts, 95% CI {percent(best[2])}–{percent(best[3])}).", percent(best[1]),
                    f"/products/{best[0]}/", period, "warning",
                    f"Review {title}'s price, shipping cost and stock messages: {abandoned:,} carts holding it "
                    f"were left with ${as_money(row['revenue_left']):,.2f} of it in them.")


def _age_conversion(period: _Period) -> Insight | None:
    f, segment_pks = period.f, period.segment_pks
    groups = [(r["age_group"], r["purchasing_sessions"], r["sessions"])
              for r in age_group_stats(f, segment_pks, with_customers=False)
              if r["age_group"] != "unknown"]
    best = separated_best(groups, min_trials=MIN_TRIALS_FOR_CLAIM)
    if best is None:
        return None
    others = [(k, n) for name, k, n in groups if name != best[0]]
    rest = sum(k for k, _ in others) / max(1, sum(n for _, n in others))
    label = AgeGroup(best[0]).label
    return _insight("age_conversion", f"Customers aged {label} convert best "
                    f"({percent(best[1])}, 95% CI {percent(best[2])}–{percent(best[3])}).", percent(best[1]),
                    "/customers/", period, recommendation=f"Aim campaigns at customers aged {label}: "
                    f"{percent(best[1])} of their sessions end in a purchase against {percent(rest)} for the "
                    f"other age groups.")


def money(value: Any) -> str:
    """An amount as the pages show it: the store currency's symbol, to the cent."""
    return f"{currency()}{float(value or 0):,.2f}"


def _revenue_trend(period: _Period) -> Insight | None:
    """Only against a previous period the data covers from its first day (the KPI cards' rule,
    previous_period_comparison), with enough orders in both and never over a zero."""
    k = period.figures
    if k["orders"] < MIN_TRIALS_FOR_CLAIM or not previous_period_comparison(period.f)["available"]:
        return None
    prev = kpi_figures(period.f.previous(), period.segment_pks, with_customer_counts=False)
    if not prev["revenue"] or prev["orders"] < MIN_TRIALS_FOR_CLAIM:
        return None
    change = (k["revenue"] - prev["revenue"]) / prev["revenue"]
    if abs(change) < MIN_REVENUE_CHANGE:
        return None
    # KPI revenue is net (gross − discounts − refunds, docs/money.md)
    return _insight("revenue_trend", f"Net revenue is {'up' if change > 0 else 'down'} {percent(abs(change))} on the "
                    f"previous period ({money(k['revenue'])} vs {money(prev['revenue'])}).", percent(change), "/",
                    period, "info" if change > 0 else "warning")


def _average_order(period: _Period) -> Insight | None:
    k = period.figures
    if k["aov"] is None or k["orders"] < MIN_TRIALS_FOR_CLAIM:
        return None
    text = f"The average order is {money(k['aov'])} net over {k['orders']:,} orders"
    if k["refunds"] is None:  # a channel's figures: refunds are not attributed to a channel
        text = (f"The average order from {period.f.channel} is {money(k['aov'])} over {k['orders']:,} orders, net of "
                f"{money(k['discounts'])} of discounts and before refunds (not attributed to a channel)")
    elif k.get("refunds") or k.get("discounts"):
        text += (f" (gross revenue {money(k['gross_revenue'])}, less {money(k['discounts'])} of discounts and "
                 f"{money(k['refunds'])} of refunds)")
    return _insight("aov", text + ".", money(k["aov"]), "/", period)


def _cohort_retention(period: _Period) -> Insight | None:
    c = cohort_comparison(period.f, min_customers=MIN_TRIALS_FOR_CLAIM)
    if c is None:
        return None
    before = f"{c['before'][0]}–{c['before'][-1]}" if len(c["before"]) > 1 else c["before"][0]
    text = (f"{percent(c['rate'])} of the {c['cohort']} cohort ordered again the month after their first order, "
            f"{c['verdict']} than {percent(c['before_rate'])} for the cohorts of {before}.")
    if c["verdict"] == "worse":
        advice = (f"Send the {c['customers'] - c['returned']:,} customers of the {c['cohort']} cohort who have not "
                  f"ordered again a second-order offer.")
    else:
        advice = f"Keep what changed for the {c['cohort']} cohort's first orders: its customers came back more often."
    return _insight("cohort_retention", text, percent(c["rate"]), "/cohorts/", period,
                    "warning" if c["verdict"] == "worse" else "info", advice)


def _best_pair(period: _Period) -> Insight | None:
    pair = best_pair(period.f)
    if pair is None:
        return None
    a, b = pair["product_a"].get("title", "A product"), pair["product_b"].get("title", "another")
    lift = f"{pair['lift']:.1f}×"
    return _insight("best_pair", f"{a} and {b} are in {pair['baskets']:,} orders together: {lift} more often "
                    f"than chance.", lift, "/products/", period,
                    recommendation=f"Bundle {a} with {b}: bought together {lift} more often than chance.")


def _abandoned_this_week(period: _Period) -> Insight | None:
    week = abandoned_recently(period.f, period.segment_pks)
    if week["carts"] < RECOVERY_MIN_CARTS:
        return None
    when = "this week" if week["end"] == store_today() else f"in the week to {week['end']:%-d %b %Y}"
    advice = (f"Send recovery e-mails to the {week['reachable']:,} with an e-mail address." if week["reachable"]
              else "None has an e-mail address: ask for one before checkout.")
    return _insight("abandoned_carts", f"{week['carts']:,} carts worth ${week['value']:,.2f} were abandoned {when}.",
                    f"${week['value']:,.2f}", "/carts/", period, "warning", advice)


def channels_compared(rows: list[tuple[str, int, int]], *, min_trials: int = MIN_TRIALS_FOR_CLAIM
                      ) -> tuple[tuple[str, float, float, float], tuple[str, float, float, float]] | None:
    """The best and worst converting channels as (name, rate, low, high) each, only when the best's
    Wilson 95% interval lies wholly above the worst's; ``rows`` are (channel, purchasing sessions, sessions)."""
    scored = []
    for name, k, n in rows:
        if n >= min_trials:
            low, high = wilson_interval(k, n)
            scored.append((k / n, name, low or 0.0, high or 0.0))
    if len(scored) < 2:
        return None
    scored.sort(key=lambda x: (-x[0], x[1]))
    best, worst = scored[0], scored[-1]
    if best[2] <= worst[3]:
        return None
    return (best[1], best[0], best[2], best[3]), (worst[1], worst[0], worst[2], worst[3])


def _channel_conversion(period: _Period) -> Insight | None:
    compared = channels_compared([(r["channel"], r["purchasing_sessions"], r["sessions"])
                                  for r in channel_rows(period.f)])
    if compared is None:
        return None
    (best, b, b_low, b_high), (worst, w, w_low, w_high) = compared
    return _insight("channel_conversion", f"{best} visits convert best ({percent(b)}, 95% CI {percent(b_low)}–"
                    f"{percent(b_high)}) and {worst} visits worst ({percent(w)}, 95% CI {percent(w_low)}–"
                    f"{percent(w_high)}).", percent(b), "/acquisition/", period,
                    recommendation=f"Shift budget from {worst} towards {best}, or fix what {worst} visitors land on.")


SENTENCES: tuple[Callable[[_Period], Insight | None], ...] = (
    _peak, _cart_abandonment, _abandoned_this_week, _product_abandonment, _age_conversion, _channel_conversion,
    _cohort_retention, _best_pair, _revenue_trend, _average_order)


# Sentences whose evidence has no channel (cohorts, baskets: insights.selectors.channel_scope): left out
# when the filter names a channel rather than said of every channel.
CHANNEL_BLIND = frozenset({_cohort_retention, _best_pair})


def insights_list(f: MetricFilter) -> list[Insight]:
    """Sentences from the data, each with its figure (``{"kind", "text", "figure", "link", "severity",
    "recommendation"}``: one concrete computed action, or None),
    in the order of ``SENTENCES``; nothing is said from too little data and "highest"/"best" is only
    claimed where Wilson 95% intervals separate."""
    segment_pks = segment_customer_pks(f)
    link_query = f.to_query()
    f = channel_cut(f, segment_pks)
    period = _Period(f, link_query, segment_pks, kpi_figures(f, segment_pks, with_customer_counts=False))
    sentences = [s for s in SENTENCES if s not in CHANNEL_BLIND] if f.channel else SENTENCES
    return [insight for sentence in sentences if (insight := sentence(period)) is not None]
