"""A/B experiments (docs/experiments.md#settings): the conversion window, when a result may be called,
and the sample-ratio check's threshold."""

from analytics_site.env import env

EXPERIMENT_WINDOW_DAYS = env.int("EXPERIMENT_WINDOW_DAYS", 14)
EXPERIMENT_MIN_DAYS = env.int("EXPERIMENT_MIN_DAYS", 7)
EXPERIMENT_SRM_P = env.float("EXPERIMENT_SRM_P", 0.001)
EXPERIMENT_WIN_PROBABILITY = env.float("EXPERIMENT_WIN_PROBABILITY", 0.95)
# Simulated shoppers run this experiment (name:lift[:value_lift], e.g. "hero-banner:0.1:0.05"); empty: none.
SIMULATOR_EXPERIMENT = env.optional("SIMULATOR_EXPERIMENT") or ""
# What one public (browser) key may create (docs/experiments.md#what-a-browser-key-may-create).
EXPERIMENT_BROWSER_MAX_EXPERIMENTS = env.int("EXPERIMENT_BROWSER_MAX_EXPERIMENTS", 20)
EXPERIMENT_BROWSER_MAX_VARIANTS = env.int("EXPERIMENT_BROWSER_MAX_VARIANTS", 8)
