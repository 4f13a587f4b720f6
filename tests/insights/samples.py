"""Selector outputs shaped exactly like the metrics contract, for pure chart-builder tests."""

KPIS = {
    "events": 1200, "customers": 80, "sessions": 300, "revenue": 5234.5, "orders": 40, "aov": 130.86,
    "cart_conversion_rate": 0.4, "cart_abandonment_rate": 0.5, "session_conversion_rate": 0.133, "avg_clv": 65.43,
    "previous": {"events": 1000, "customers": 80, "sessions": 250, "revenue": 0.0, "orders": 30, "aov": 120.0,
                 "cart_conversion_rate": 0.35, "cart_abandonment_rate": 0.55, "session_conversion_rate": 0.12,
                 "avg_clv": None,
                 "comparison": {"available": True, "reason": None, "data_starts": "2024-01-01"}},
}

TIMESERIES = {"grain": "day", "points": [
    {"t": "2024-01-01T00:00:00+00:00", "events": 10, "orders": 1, "revenue": 20.0},
    {"t": "2024-01-02T00:00:00+00:00", "events": 30, "orders": 2, "revenue": 55.5},
]}

FUNNEL_STEPS = [
    {"step": "view", "sessions": 100, "rate_from_previous": None, "rate_from_first": 1.0, "dropoff_revenue": 0.0},
    {"step": "add_to_cart", "sessions": 40, "rate_from_previous": 0.4, "rate_from_first": 0.4,
     "dropoff_revenue": 0.0},
    {"step": "checkout", "sessions": 20, "rate_from_previous": 0.5, "rate_from_first": 0.2,
     "dropoff_revenue": 400.0},
    {"step": "purchase", "sessions": 10, "rate_from_previous": 0.5, "rate_from_first": 0.1,
     "dropoff_revenue": 300.0},
]
FUNNEL = {"steps": FUNNEL_STEPS, "breakdown": {"by": "age_group", "groups": [
    {"group": "18-25", "steps": FUNNEL_STEPS},
    {"group": "26-35", "steps": [dict(s, rate_from_first=(s["rate_from_first"] or 0) / 2) for s in FUNNEL_STEPS]},
]}}


def _metrics(i):
    return {"events": 10 + i, "sessions": 3 + i, "orders": i % 3, "revenue": 9.5 * i, "conversion": (i % 3) / 10}


SEASONALITY = {
    "time_zone": "UTC",
    "hour": [{"hour": h, **_metrics(h)} for h in range(24)],
    "weekday": [{"weekday": d, "label": lbl, **_metrics(d)}
                for d, lbl in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])],
    "month": [{"month": m, "label": lbl, **_metrics(m)}
              for m, lbl in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"], start=1)],
    "weekday_hour": [{"weekday": d, "hour": h, **_metrics(d + h)} for d in range(7) for h in range(24)],
}

CUSTOMERS = {
    "age_groups": [
        {"age_group": "18-25", "customers": 10, "sessions": 40, "purchasing_sessions": 4, "conversion": 0.1,
         "ci_low": 0.04, "ci_high": 0.23, "revenue": 400.0},
        {"age_group": "unknown", "customers": 0, "sessions": 0, "purchasing_sessions": 0, "conversion": None,
         "ci_low": None, "ci_high": None, "revenue": 0.0},
    ],
    "top_customers": [{"pk": 1, "customer_id": "42", "name": "J*** D***", "email": "j***@example.com",
                       "revenue": 300.0, "orders": 3, "last_seen": "2024-01-02T10:00:00+00:00"}],
    "clv_distribution": [{"bucket_low": 0, "bucket_high": 50, "customers": 5},
                         {"bucket_low": 50, "bucket_high": 100, "customers": 2}],
    "rfm": [{"segment": "Champions", "customers": 3, "revenue": 900.0}, {"segment": "Lost", "customers": 0,
                                                                          "revenue": 0.0}],
}

CUSTOMER_DETAIL = {
    "profile": {"pk": 1, "customer_id": "42", "name": "J*** D***", "email": "j***@example.com", "age": 30},
    "sessions": [], "carts": [], "orders": [],
    "timeline": [{"event_id": "e1", "action": "view", "product_title": "Backpack", "price": 10.0, "quantity": 1,
                  "timestamp": "2024-01-01T10:00:00+00:00"},
                 {"event_id": "e2", "action": "purchase", "product_title": "Backpack", "price": 10.0, "quantity": 1,
                  "timestamp": "2024-01-01T10:05:00+00:00"}],
}

_P = {"product_id": "p1", "title": "A very long product title that needs shortening", "category": "bags"}
PRODUCTS = {
    "most_viewed": [{**_P, "views": 50}, {"product_id": "p2", "title": "Shirt", "category": "clothing", "views": 20}],
    "top_revenue": [{**_P, "revenue": 120.5, "units": 3}],
    "most_abandoned": [{**_P, "abandoned_carts": 4}],
    "abandonment_rate": [{**_P, "carts": 10, "abandoned_carts": 4, "rate": 0.4}],
    "conversion": [{**_P, "view_sessions": 50, "cart_sessions": 10, "purchase_sessions": 5, "cart_to_view": 0.2,
                    "purchase_to_view": 0.1}],
}

CARTS = {
    "over_time": [{"t": "2024-01-01T00:00:00+00:00", "converted": 3, "abandoned": 5, "emptied": 1,
                   "abandonment_rate": 5 / 9}],
    "revenue_left": 250.0,
    "value_distribution": [{"bucket_low": 0, "bucket_high": 25, "carts": 3}],
    "by_age_group": [{"age_group": "18-25", "carts": 9, "abandoned": 5, "rate": 5 / 9, "ci_low": 0.27,
                      "ci_high": 0.81}],
    "by_category": [{"category": "bags", "carts": 9, "abandoned": 5, "rate": 5 / 9, "ci_low": 0.27, "ci_high": 0.81}],
    "recent_abandoned": [{"cart_pk": 7, "customer_pk": 1, "customer_id": "42", "customer_name": "J*** D***",
                          "customer_email": "j***@example.com", "value": 45.0, "items": 2,
                          "abandoned_at": "2024-01-01T11:00:00+00:00"}],
}

EMPTY = {
    "timeseries": {"grain": "day", "points": []},
    "funnel": {"steps": [{"step": s, "sessions": 0, "rate_from_previous": None, "rate_from_first": None,
                          "dropoff_revenue": 0.0} for s in ("view", "add_to_cart", "checkout", "purchase")],
               "breakdown": None},
    "seasonality": {"time_zone": "UTC", "hour": [], "weekday": [], "month": [], "weekday_hour": []},
    "customers": {"age_groups": [], "top_customers": [], "clv_distribution": [], "rfm": []},
    "products": {"most_viewed": [], "top_revenue": [], "most_abandoned": [], "abandonment_rate": [],
                 "conversion": []},
    "carts": {"over_time": [], "revenue_left": 0.0, "value_distribution": [], "by_age_group": [], "by_category": [],
              "recent_abandoned": []},
}
