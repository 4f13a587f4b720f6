from typing import Any

from django import template

register = template.Library()


@register.filter
def pp(value: Any) -> str:
    """A difference of rates in percentage points: 0.012 → "+1.2"."""
    return "—" if value is None else f"{float(value) * 100:+.1f}"
