"""Distinct people over any range of store days (docs/metrics.md), exactly and fast: for each store
day the customers who were active (kind ``v``: events that day), bought (``p``: revenue that day) and,
among those, are anonymous visitors not linked to a customer (``a``), each as a bitmap of customer pks
(bit i = customer pk i). The distinct visitors of a period are the set bits of the OR of its days.

PURE (no ORM): the bitmaps as bytes and ints. ``insights.rollup_store.people_days_refresh`` keeps the
``DailyPeople`` rows from the day × customer rollup; ``insights.selectors._common.people_bits`` reads
them. Counting a month then reads ~30 short rows instead of a distinct over every customer-day.
"""

from __future__ import annotations

from collections.abc import Iterable

KINDS = ("v", "p", "a")  # visitors, purchasers, anonymous among them


def bitmap(pks: Iterable[int]) -> bytes:
    """The customer pks as a little-endian bitmap (bit pk set), as short as the highest pk allows."""
    pks = list(pks)
    if not pks:
        return b""
    bits = bytearray(max(pks) // 8 + 1)
    for pk in pks:
        bits[pk >> 3] |= 1 << (pk & 7)
    return bytes(bits)


def as_int(bits: bytes | memoryview) -> int:
    return int.from_bytes(bytes(bits), "little")


def as_bytes(bits: int) -> bytes:
    """An OR of bitmaps (``as_int``) stored back as a bitmap."""
    return bits.to_bytes((bits.bit_length() + 7) // 8, "little")


def members(bits: int) -> list[int]:
    """The pks set in an OR of bitmaps (for tests and drill-downs)."""
    out, pk = [], 0
    while bits:
        if bits & 1:
            out.append(pk)
        bits >>= 1
        pk += 1
    return out
