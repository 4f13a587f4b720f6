import datetime as dt

import pytest
from django.http import QueryDict

from insights.filters import FilterError, MetricFilter, store_today


def test_from_query_reads_every_parameter_and_round_trips():
    q = QueryDict("start=2024-01-01&end=2024-01-31&action=view,purchase&action=checkout&age_group=26-35"
                  "&category=men's clothing&segment=Champions")
    f = MetricFilter.from_query(q)
    assert f.start == dt.date(2024, 1, 1) and f.end == dt.date(2024, 1, 31)
    assert f.actions == ("view", "purchase", "checkout")
    assert (f.age_group, f.category, f.segment) == ("26-35", "men's clothing", "Champions")
    assert MetricFilter.from_query(QueryDict(f.to_query())) == f


def test_missing_dates_give_the_default_window():
    f = MetricFilter.from_query({})
    assert f.end == store_today() and f.days == 30 and f == MetricFilter.default()


@pytest.mark.parametrize("query, message", [
    ({"start": "2024-13-01"}, "start must be a date"),
    ({"start": "2024-02-01", "end": "2024-01-01"}, "is after end"),
    ({"action": "buy"}, "Unknown action"),
    ({"age_group": "12-17"}, "Unknown age group"),
    ({"segment": "Whales"}, "Unknown segment"),
])
def test_bad_input_raises_readable_error(query, message):
    with pytest.raises(FilterError, match=message):
        MetricFilter.from_query(query)


def test_previous_period_has_equal_length():
    f = MetricFilter(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 10))
    p = f.previous()
    assert (p.start, p.end) == (dt.date(2024, 2, 20), dt.date(2024, 2, 29))
