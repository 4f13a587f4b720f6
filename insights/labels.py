"""Labels shown with the figures: the one place for weekday and month names (selectors and charts)."""

from __future__ import annotations

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]  # Monday is 0, as in datetime.weekday()
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
