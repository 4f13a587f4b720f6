"""Panels (docs/configuration.md): how often the figures kept for them are refreshed."""

from analytics_site.env import env

# The least time between two refreshes of the kept RFM scores and segment × day rollup after derivation
# batches (insights.rfm_store.rfm_refresh_if_due); the tests' default refreshes after every batch.
RFM_REFRESH_MIN_SECONDS = env.int("RFM_REFRESH_MIN_SECONDS", 0 if env.bool("TESTING", default=False) else 60)

# Queued ingest batches one drain transaction takes at most (the 20,000-event budget bounds it too:
# docs/derivation.md#live-before-bulk).
DRAIN_ROWS_PER_TRANSACTION = env.int("DRAIN_ROWS_PER_TRANSACTION", 1000)
