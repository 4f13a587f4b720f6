"""The priced products the model sells, in column lists, and the product-choice tables shoppers
draw their views from (popularity × age-group affinity × favourite category × price sensitivity)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from events.simulator.shoppers import AGE_AFFINITY, SENSITIVITY_BUCKETS

ChoiceTable = tuple[list[float], float]  # (cumulative weights, total): bisect a uniform draw in it
WireFields = tuple[str | None, float, str | None, str | None]  # product_id, price, title, category
NO_PRODUCT: WireFields = (None, 0.0, None, None)


class Catalogue:
    """Priced products (index = position) and the choice tables built for shoppers as needed."""

    def __init__(self, products: Sequence[Mapping]) -> None:
        priced = [p for p in products if float(p.get("price") or 0) > 0]
        if not priced:
            raise ValueError("the simulator needs a catalogue with priced products")
        self.products = [dict(p) for p in priced]
        self.product_ids = [str(p["product_id"]) for p in priced]
        self.prices = [round(float(p["price"]), 2) for p in priced]
        self.titles = [str(p.get("title") or "") for p in priced]
        self.categories_of = [str(p.get("category") or "") for p in priced]
        self.categories = sorted(set(self.categories_of))
        self.popularity = [float(p.get("popularity") or 100.0) for p in priced]
        self.median_price = sorted(self.prices)[len(self.prices) // 2]
        self.wire_fields: list[WireFields] = list(zip(self.product_ids, self.prices, self.titles,
                                                      self.categories_of, strict=True))
        self.choice_tables: list[ChoiceTable] = []
        self._choice_table_index: dict[tuple[str, int, str], int] = {}

    def choice_table_for(self, group: str, bucket: int, favourite: str) -> int:
        """The index of the choice table for shoppers of this age group, price-sensitivity bucket
        and favourite category (built on first use)."""
        key = (group, bucket, favourite)
        index = self._choice_table_index.get(key)
        if index is None:
            index = len(self.choice_tables)
            self.choice_tables.append(self._choice_table(group, bucket, favourite))
            self._choice_table_index[key] = index
        return index

    def _choice_table(self, group: str, bucket: int, favourite: str) -> ChoiceTable:
        affinity = AGE_AFFINITY.get(group, {})
        sensitivity = (bucket + 0.5) / SENSITIVITY_BUCKETS
        cumulative, total = [], 0.0
        for popularity, price, category in zip(self.popularity, self.prices, self.categories_of, strict=True):
            weight = popularity * affinity.get(category, 1.0) * (2.5 if category == favourite else 1.0)
            weight *= (price / self.median_price) ** (0.4 - 1.6 * sensitivity)
            total += weight
            cumulative.append(total)
        return cumulative, total
