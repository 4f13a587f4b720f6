"""Masking of customers' personal data for roles that may not see it (docs/security.md). Pure.

Applied at the edge, where output is shaped (views, API, exports, sockets), never in selectors.
"""

from __future__ import annotations


def mask_name(name: str) -> str:
    """'Ada Lovelace' → 'A*** L***'."""
    return " ".join(part[0] + "***" for part in name.split() if part) if name else ""


def mask_email(email: str) -> str:
    """'ada@example.com' → 'a***@example.com'; anything without an '@' → '***'."""
    if not email or "@" not in email:
        return "***" if email else ""
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"
